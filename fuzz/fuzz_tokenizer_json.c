/* tokenizer.json loading (model vocab / merges, added tokens, normalizer,
 * pre-tokenizer regexes, post-processor), then a short encode / decode with
 * whatever loaded. */
#include "fuzz_common.h"
#include "text/tokenizer.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  hm_tokenizer *t = NULL;
  if (hm_tokenizer_load_json((const char *)data, size, "fuzz.json", &t) != HM_OK) {
    FUZZ_ASSERT(t == NULL && hm_last_error()[0]);
    return 0;
  }
  static const char text[] = "Hello world, it's 2026!  \xc3\xa9t\xc3\xa9 <|end_of_text|> 123456 \n\n la";
  for (int special = 0; special < 2; special++) {
    int32_t *ids = NULL;
    int64_t n = 0;
    if (hm_tokenizer_encode(t, text, sizeof text - 1, special, &ids, &n) == HM_OK) {
      int64_t vs = hm_tokenizer_vocab_size(t);
      for (int64_t i = 0; i < n; i++) FUZZ_ASSERT(ids[i] >= 0 && ids[i] < vs);
      char *s = NULL;
      size_t sn = 0;
      (void)hm_tokenizer_decode(t, ids, n, special, &s, &sn);
      free(s);
    }
    free(ids);
  }
  hm_tokenizer_free(t);
  return 0;
}
