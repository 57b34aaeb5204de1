/* Differential cases made outside this project (tests/text/data): ids from
 * Hugging Face tokenizers (Rust) for 800 random texts per tokenizer, and
 * Python's str.lower() on every code point it changes plus final-sigma contexts. */
#include "harness.h"
#include "text/tokenizer.h"

#include <jansson.h>
#include <stdlib.h>

#ifndef HM_TEXT_DATA_DIR
#define HM_TEXT_DATA_DIR "tests/text/data"
#endif

static json_t *load(const char *file) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", HM_TEXT_DATA_DIR, file);
  json_error_t err;
  json_t *j = json_load_file(p, JSON_ALLOW_NUL, &err);
  CHECK_MSG(j != NULL, "%s: %s", p, err.text);
  return j;
}

static void run_cases(const char *tok_rel, const json_t *cases, const char *label) {
  char p[512];
  hm_tokenizer *t = NULL;
  CHECK_OK(hm_tokenizer_load(hm_test_path(p, sizeof p, tok_rel), &t));
  if (!t) return;
  size_t i, n_ok = 0, n_fail_shown = 0;
  const json_t *c;
  json_array_foreach(cases, i, c) {
    const json_t *jt = json_object_get(c, "text"), *want = json_object_get(c, "ids");
    const char *text = json_string_value(jt);
    size_t len = json_string_length(jt);
    int32_t *ids = NULL;
    int64_t n = 0;
    hm_status st = hm_tokenizer_encode(t, text, len, false, &ids, &n);
    bool eq = st == HM_OK && (size_t)n == json_array_size(want);
    for (int64_t k = 0; eq && k < n; k++) eq = ids[k] == json_integer_value(json_array_get(want, (size_t)k));
    char *dec = NULL;
    size_t dl = 0;
    if (eq) eq = hm_tokenizer_decode(t, ids, n, false, &dec, &dl) == HM_OK && dl == len && !memcmp(dec, text, len);
    if (eq) n_ok++;
    else if (n_fail_shown++ < 5) fprintf(stderr, "%s case %zu differs from HF tokenizers\n", label, i);
    free(ids);
    free(dec);
  }
  CHECK_MSG(n_ok == json_array_size(cases), "%s: %zu of %zu cases match", label, n_ok, json_array_size(cases));
  printf("%s: %zu/%zu HF tokenizers cases exact (ids and decode)\n", label, n_ok, json_array_size(cases));
  hm_tokenizer_free(t);
}

void hm_test_main(void) {
  json_t *hf = load("hf_cases.json");
  if (hf) {
    CHECK(json_array_size(json_object_get(hf, "llama3")) == 800);
    CHECK(json_array_size(json_object_get(hf, "whisper")) == 800);
    run_cases("tokenizer/tokenizer.json", json_object_get(hf, "llama3"), "llama3");
    run_cases("fixtures-whisper/tokenizer.json", json_object_get(hf, "whisper"), "whisper");
  }
  json_decref(hf);
  json_t *lw = load("python_lower.json");
  size_t i, ok = 0;
  const json_t *c, *cases = json_object_get(lw, "cases");
  json_array_foreach(cases, i, c) {
    const json_t *jt = json_object_get(c, "text");
    char *o = NULL;
    size_t n = 0;
    if (hm_utf8_lower(json_string_value(jt), json_string_length(jt), &o, &n) == HM_OK &&
        n == json_string_length(json_object_get(c, "lower")) && !memcmp(o, json_string_value(json_object_get(c, "lower")), n))
      ok++;
    else fprintf(stderr, "lower case %zu differs from Python\n", i);
    free(o);
  }
  CHECK(json_array_size(cases) > 1000);
  CHECK_MSG(ok == json_array_size(cases), "lower: %zu of %zu match Python", ok, json_array_size(cases));
  printf("lower: %zu/%zu Python str.lower() cases exact\n", ok, json_array_size(cases));
  json_decref(lw);
}
