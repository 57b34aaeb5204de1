/* PyTorch zip checkpoints (io/torch_bin): the stored-zip reader (zip64 fields, local headers) and the
 * restricted pickle machine on arbitrary bytes; every accepted tensor lies inside the input. */
#include "fuzz_common.h"
#include "io/torch_bin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hm_torch_bin *b = NULL;
  if (hm_torch_bin_parse(data, size, "fuzz.bin", &b) == HM_OK) {
    const hm_st_entry *e = hm_torch_bin_entries(b);
    for (int i = 0; i < hm_torch_bin_count(b); i++) {
      int64_t n = 1;
      for (int d = 0; d < e[i].n_dims; d++) { FUZZ_ASSERT(e[i].shape[d] >= 0); n *= e[i].shape[d]; }
      size_t bytes = hm_dtype_bytes(e[i].dtype, n);
      const uint8_t *p = e[i].data;
      unsigned s = 0;
      for (size_t k = 0; k < bytes; k++) s += p[k]; /* ASan: every byte readable */
      (void)s;
    }
    hm_torch_bin_free(b);
  }
  return 0;
}
