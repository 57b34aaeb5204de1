/* .npy reading: magic, version, header dict (descr, fortran_order, shape),
 * data size; the f32 / i32 converting readers. */
#include "fuzz_common.h"
#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("x.npy", data, size);
  hm_npy a;
  if (hm_npy_read(path, &a) == HM_OK) {
    FUZZ_ASSERT(a.n_dims >= 0 && a.n_dims <= 8 && a.n_elems >= 0);
    int64_t n = 1;
    for (int d = 0; d < a.n_dims; d++) { FUZZ_ASSERT(a.shape[d] >= 0); n *= a.shape[d]; }
    FUZZ_ASSERT(n == a.n_elems);
    FUZZ_ASSERT(hm_dtype_bytes(a.dtype, a.n_elems) <= size);
    const unsigned char *b = a.data;
    unsigned s = 0;
    for (size_t i = 0; i < hm_dtype_bytes(a.dtype, a.n_elems); i++) s += b[i];
    (void)s;
    hm_npy_free(&a);
  }
  if (hm_npy_read_f32(path, &a) == HM_OK) {
    FUZZ_ASSERT(a.dtype == HM_DT_F32);
    hm_npy_free(&a);
  }
  if (hm_npy_read_i32(path, &a) == HM_OK) {
    FUZZ_ASSERT(a.dtype == HM_DT_I32);
    hm_npy_free(&a);
  }
  return 0;
}
