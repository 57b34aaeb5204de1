/* Safetensors reader (mmap, zero copy) for single files and sharded
 * checkpoints (model.safetensors.index.json), and a writer. */
#ifndef HM_SAFETENSORS_H
#define HM_SAFETENSORS_H
#include "base/base.h"

#define HM_MAX_DIMS 8

typedef struct hm_tensor_view {
  const char *name;
  hm_dtype dtype;
  int n_dims;
  int64_t shape[HM_MAX_DIMS];
  int64_t n_elems;
  const void *data; /* points into the mmapped file */
  size_t nbytes;
  const char *file; /* path of the file that holds it */
} hm_tensor_view;

typedef struct hm_st hm_st;

/* path: a .safetensors file, a model.safetensors.index.json, or a directory
 * holding model.safetensors.index.json or model.safetensors (in that order).
 * Validates every header: JSON, dtypes, shapes, offsets inside the file,
 * no overlaps, sizes = dtype x shape. Errors name the file and the tensor. */
hm_status hm_st_open(const char *path, hm_st **out);
void hm_st_close(hm_st *st);

int hm_st_count(const hm_st *st);
const hm_tensor_view *hm_st_at(const hm_st *st, int i);
const hm_tensor_view *hm_st_find(const hm_st *st, const char *name); /* NULL if absent */
/* Metadata value of "__metadata__" in the (first) file, NULL if absent. */
const char *hm_st_metadata(const hm_st *st, const char *key);
/* Short description of where the tensors come from (path), for messages. */
const char *hm_st_path(const hm_st *st);
/* True when [data, data + nbytes) lies inside one of st's file mappings (not a copy). */
bool hm_st_is_mapped(const hm_st *st, const void *data, size_t nbytes);

/* Looks up a tensor and checks it: error (naming tensor and file) if missing,
 * if n_dims/shape differ (shape entries < 0 are wildcards) or if its dtype is
 * not one of the allowed (allowed_mask = bitmask of 1u << hm_dtype; 0 = any). */
hm_status hm_st_get(const hm_st *st, const char *name, uint32_t allowed_mask,
                    int n_dims, const int64_t *shape, const hm_tensor_view **out);
#define HM_DTMASK(t) (1u << (t))
#define HM_DTMASK_FLOAT (HM_DTMASK(HM_DT_F32) | HM_DTMASK(HM_DT_BF16) | HM_DTMASK(HM_DT_F16))

/* Tells the OS that mapped tensor bytes [data, data + nbytes) are not needed any
 * more (they were copied or converted): their whole pages leave the process's
 * resident set; a later read faults them back in from the file, so it is always
 * safe. Use it on views of this loader's mappings only. */
void hm_tensor_release(const void *data, size_t nbytes);

/* Copies a float tensor (F32/BF16/F16) into dst as f32 (n_elems floats). */
hm_status hm_tensor_to_f32(const hm_tensor_view *t, float *dst);

/* ---- writer ---- */
typedef struct hm_st_entry {
  const char *name;
  hm_dtype dtype;
  int n_dims;
  int64_t shape[HM_MAX_DIMS];
  const void *data; /* hm_dtype_bytes(dtype, n_elems) bytes */
} hm_st_entry;
/* An entry that writes tensor t as it is (name, dtype, shape, data): the start of
 * a modified copy of a checkpoint. */
hm_st_entry hm_st_entry_of(const hm_tensor_view *t);
/* Writes one .safetensors file (to path.tmp, then renamed). metadata: NULL or
 * NULL-terminated key, value, key, value, ... list of strings. */
hm_status hm_st_write(const char *path, const hm_st_entry *entries, int n, const char *const *metadata);

#endif
