/* The one weight loader every model uses (the analogue of llama.cpp's model
 * loader): opens a checkpoint (one .safetensors file, a sharded
 * model.safetensors.index.json, or a folder holding either), looks tensors up
 * by name with the shape and dtype the model expects, converts them once at
 * load into the layout the kernels want (f32 copies, bf16 / q8_0 / q4_0
 * matrices, matrices packed for hm_gemm or AMX tiles), releases the file
 * pages of what it converted, and owns everything it hands out until
 * hm_weights_close. Every error names the file and the tensor.
 *
 * It sits above src/tensor (it produces hm_mat / hm_pmat / hm_bmat, the
 * kernels' own layouts) and below the models. Not thread-safe while loading;
 * what it hands out is read-only afterwards. */
#ifndef HM_WEIGHTS_H
#define HM_WEIGHTS_H
#include "base/base.h"
#include "io/safetensors.h"
#include "tensor/ops.h"
#include "tensor/gemm.h"
#include "tensor/gemm_amx.h"

typedef struct hm_weights hm_weights;

/* path: as hm_st_open (a file, an index, or a folder holding one). */
hm_status hm_weights_open(const char *path, hm_weights **out);
/* Frees everything handed out, then unmaps the files. NULL is fine. */
void hm_weights_close(hm_weights *w);
/* Threads for conversions and packing (NULL: the calling thread). Borrowed: set it back to
 * NULL before the pool goes. */
void hm_weights_set_pool(hm_weights *w, hm_pool *pool);

const char *hm_weights_path(const hm_weights *w);
const char *hm_weights_metadata(const hm_weights *w, const char *key);
/* The tensor's view, NULL if absent (no error recorded). */
const hm_tensor_view *hm_weights_find(const hm_weights *w, const char *name);
/* Checked lookup (hm_st_get): present, n_dims/shape (entries < 0 match any), dtype in
 * allowed_mask (0 = any). */
hm_status hm_weights_get(const hm_weights *w, const char *name, uint32_t allowed_mask, int n_dims,
                         const int64_t *shape, const hm_tensor_view **out);

/* A float tensor (F32/BF16/F16) as an owned, aligned f32 copy; its file pages are released. */
hm_status hm_weights_f32(hm_weights *w, const char *name, int n_dims, const int64_t *shape, float **out);
hm_status hm_weights_vec(hm_weights *w, const char *name, int64_t n, float **out);

/* A [rows, cols] matrix used in place (mmapped). allowed_mask as hm_weights_get; a Q8_0 / Q4_0
 * tensor must be marked with the kernels' interleaved layout (HM_QUANT_LAYOUT). */
hm_status hm_weights_mat(hm_weights *w, const char *name, int64_t rows, int64_t cols, uint32_t allowed_mask,
                         hm_mat *out);
/* The same, converted to `to` when it is stored otherwise (an owned copy; the source pages are
 * released). */
hm_status hm_weights_mat_as(hm_weights *w, const char *name, int64_t rows, int64_t cols, uint32_t allowed_mask,
                            hm_dtype to, hm_mat *out);
/* Converts *W (mapped or owned by w) in place to `to`: an owned copy over the pool's threads;
 * name is for messages. A mapped source's pages are released, an owned one freed. */
hm_status hm_weights_convert(hm_weights *w, hm_mat *W, hm_dtype to, const char *name);

/* W packed for hm_gemm as `to` (F32 or BF16), owned by w. */
hm_status hm_weights_pack(hm_weights *w, const hm_mat *W, hm_dtype to, hm_pmat **out);
/* W [N][K] f32 packed into AMX BF16 tiles, owned by w. */
hm_status hm_weights_pack_amx(hm_weights *w, const float *W, int64_t N, int64_t K, hm_bmat **out);

/* An owned, 64-byte aligned buffer of `bytes` (for re-layouts made at load). */
hm_status hm_weights_alloc(hm_weights *w, size_t bytes, void **out);
/* Hands p (freed with free_fn at close) to w; on failure p is freed at once. */
hm_status hm_weights_adopt(hm_weights *w, void *p, void (*free_fn)(void *));
/* Frees an owned buffer now (a copy a re-layout replaced); p not owned: nothing. */
void hm_weights_drop(hm_weights *w, const void *p);
/* [data, data + nbytes) will not be read again: its file pages leave the resident set when it
 * is mapped (a later read faults them back in); anything else is left alone. */
void hm_weights_release(const hm_weights *w, const void *data, size_t nbytes);
/* Bytes of W's data (rows x row bytes). */
static inline size_t hm_mat_nbytes(const hm_mat *W) { return (size_t)W->rows * hm_dtype_bytes(W->type, W->cols); }

#endif
