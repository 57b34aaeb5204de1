/* The tokenizer on arbitrary text: the Llama 3 tokenizer of the fixtures (or
 * Whisper's, by the first byte), encode with and without specials, decode, the
 * byte-level round trip decode(encode(x)) == x for valid UTF-8, and the
 * prompt's Unicode lowercasing. */
#include "fuzz_common.h"
#include "text/tokenizer.h"

#include <string.h>

#ifndef HM_FUZZ_SHARED_DIR
#define HM_FUZZ_SHARED_DIR "../shared"
#endif

static hm_tokenizer *toks[2];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const char *shared = getenv("HM_SHARED_DIR");
  if (!shared || !*shared) shared = HM_FUZZ_SHARED_DIR;
  static const char *rel[2] = {"tokenizer/tokenizer.json", "fixtures-whisper/tokenizer.json"};
  for (int i = 0; i < 2; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", shared, rel[i]);
    if (hm_tokenizer_load(p, &toks[i]) != HM_OK) { fprintf(stderr, "fuzz_tokenize: %s\n", hm_last_error()); abort(); }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const hm_tokenizer *t = toks[data[0] & 1];
  const bool special = (data[0] >> 1) & 1;
  const char *text = (const char *)data + 1;
  const size_t n = size - 1;
  size_t bad;
  const bool valid = hm_utf8_valid(text, n, &bad);
  int32_t *ids = NULL;
  int64_t nid = 0;
  hm_status st = hm_tokenizer_encode(t, text, n, special, &ids, &nid);
  if (st == HM_OK) {
    const int64_t vs = hm_tokenizer_vocab_size(t);
    for (int64_t i = 0; i < nid; i++) FUZZ_ASSERT(ids[i] >= 0 && ids[i] < vs);
    char *back = NULL;
    size_t nb = 0;
    FUZZ_ASSERT(hm_tokenizer_decode(t, ids, nid, false, &back, &nb) == HM_OK);
    if (valid && !special) FUZZ_ASSERT(nb == n && !memcmp(back, text, n));
    free(back);
    back = NULL;
    (void)hm_tokenizer_decode(t, ids, nid, true, &back, &nb);
    free(back);
  }
  free(ids);
  char *low = NULL;
  size_t nl = 0;
  if (hm_utf8_lower(text, n, &low, &nl) == HM_OK) FUZZ_ASSERT(low && hm_utf8_valid(low, nl, &bad));
  else FUZZ_ASSERT(!valid);
  free(low);
  return 0;
}
