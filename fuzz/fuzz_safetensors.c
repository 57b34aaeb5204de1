/* safetensors file: header JSON, dtypes, shapes, offsets; every view the
 * loader accepts must lie inside the file and hold dtype x shape bytes. */
#include "fuzz_common.h"
#include "io/safetensors.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("x.safetensors", data, size);
  hm_st *st = NULL;
  if (hm_st_open(path, &st) != HM_OK) { FUZZ_ASSERT(st == NULL && hm_last_error()[0]); return 0; }
  unsigned sum = 0;
  for (int i = 0; i < hm_st_count(st); i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    FUZZ_ASSERT(t && t->name && t->n_dims >= 0 && t->n_dims <= HM_MAX_DIMS && t->n_elems >= 0);
    FUZZ_ASSERT(hm_st_find(st, t->name) != NULL);
    FUZZ_ASSERT(t->nbytes <= size);
    /* the element count and the byte count agree, without wrap-around */
    if (t->dtype == HM_DT_Q8_0 || t->dtype == HM_DT_Q4_0) FUZZ_ASSERT(t->n_elems % HM_QBLOCK == 0);
    else FUZZ_ASSERT(t->nbytes / hm_dtype_bytes(t->dtype, 1) == (size_t)t->n_elems && t->nbytes % hm_dtype_bytes(t->dtype, 1) == 0);
    const unsigned char *b = t->data;
    for (size_t k = 0; k < t->nbytes; k++) sum += b[k];
    if ((t->dtype == HM_DT_F32 || t->dtype == HM_DT_BF16 || t->dtype == HM_DT_F16) && t->n_elems <= (1 << 20)) {
      float *f = malloc(sizeof(float) * (size_t)(t->n_elems ? t->n_elems : 1));
      if (f) { hm_tensor_to_f32(t, f); free(f); }
    }
    const hm_tensor_view *g = NULL;
    (void)hm_st_get(st, t->name, HM_DTMASK_FLOAT, t->n_dims, t->shape, &g);
  }
  (void)hm_st_metadata(st, "format");
  (void)hm_st_find(st, "");
  hm_st_close(st);
  return (int)(sum & 0);
}
