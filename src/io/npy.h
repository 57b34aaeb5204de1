/* .npy reading and writing (little-endian, C order; f32, f64, f16, i32, i64, bool, u8, i8). */
#ifndef HM_NPY_H
#define HM_NPY_H
#include "base/base.h"

typedef struct hm_npy {
  hm_dtype dtype;
  int n_dims;
  int64_t shape[8];
  int64_t n_elems;
  void *data; /* owned, hm_malloc_aligned */
} hm_npy;

hm_status hm_npy_read(const char *path, hm_npy *out);
/* Reads and converts to f32 (from f32/f64/f16/bf16/ints) or to i32 (from any integer/bool). */
hm_status hm_npy_read_f32(const char *path, hm_npy *out);
hm_status hm_npy_read_i32(const char *path, hm_npy *out);
void hm_npy_free(hm_npy *a);
/* Writes to path.tmp then renames. */
hm_status hm_npy_write(const char *path, hm_dtype dtype, int n_dims, const int64_t *shape, const void *data);

#endif
