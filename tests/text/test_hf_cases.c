/* Differential cases made outside this project (tests/text/data): ids from
 * Hugging Face tokenizers (Rust) for 800 random texts per tokenizer, and
 * Python's str.lower() on every code point it changes plus final-sigma contexts. */
#include "harness.h"
#include "testkit.h"
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

static bool same_ids(const int32_t *a, int64_t n, const json_t *want) {
  if ((size_t)n != json_array_size(want)) return false;
  for (int64_t k = 0; k < n; k++)
    if (a[k] != json_integer_value(json_array_get(want, (size_t)k))) return false;
  return true;
}

/* fixtures-whisper/tokenizer.json with other settings: each variant replaces
 * top-level keys ("patch") and appends added tokens ("add") */
static void run_variants(void) {
  json_t *vs = load("hf_variants.json");
  if (!vs) return;
  char p[512];
  json_error_t err;
  json_t *base = json_load_file(hm_test_path(p, sizeof p, "fixtures-whisper/tokenizer.json"), 0, &err);
  CHECK_MSG(base != NULL, "%s", err.text);
  size_t vi, n_var_ok = 0;
  const json_t *v, *variants = json_object_get(vs, "variants");
  json_array_foreach(variants, vi, v) {
    if (!base) break;
    json_t *j = json_deep_copy(base);
    const char *key;
    json_t *val;
    json_object_foreach(json_object_get(v, "patch"), key, val) json_object_set(j, key, val);
    size_t ai;
    json_array_foreach(json_object_get(v, "add"), ai, val) json_array_append(json_object_get(j, "added_tokens"), val);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    const char *name = json_string_value(json_object_get(v, "name"));
    hm_tokenizer *t = NULL;
    CHECK_OK(hm_tokenizer_load_json(text, strlen(text), name, &t));
    free(text);
    if (!t) continue;
    size_t ci, ok = 0;
    const json_t *c, *cases = json_object_get(v, "cases");
    json_array_foreach(cases, ci, c) {
      const json_t *jt = json_object_get(c, "text");
      int32_t *a = NULL, *b = NULL;
      int64_t na = 0, nb = 0;
      bool eq = hm_tokenizer_encode(t, json_string_value(jt), json_string_length(jt), false, &a, &na) == HM_OK &&
                hm_tokenizer_encode(t, json_string_value(jt), json_string_length(jt), true, &b, &nb) == HM_OK &&
                same_ids(a, na, json_object_get(c, "ids")) && same_ids(b, nb, json_object_get(c, "ids_special"));
      if (eq) ok++;
      else if (ok + 3 > ci) {
        fprintf(stderr, "variant %s case %zu differs: '%s'\n  got", name, ci, json_string_value(jt));
        for (int64_t k = 0; k < na; k++) fprintf(stderr, " %d", a[k]);
        fprintf(stderr, "\n");
      }
      free(a);
      free(b);
    }
    CHECK_MSG(ok == json_array_size(cases), "variant %s: %zu of %zu cases match HF", name, ok, json_array_size(cases));
    n_var_ok += ok == json_array_size(cases);
    hm_tokenizer_free(t);
  }
  printf("variants: %zu/%zu pre-tokenizer / added-token / post-processor variants match HF exactly\n", n_var_ok,
         json_array_size(variants));
  json_decref(base);
  json_decref(vs);
}

/* the demo tokenizer (hm_tokenizer_write_demo) as HF tokenizers reads it */
static void run_demo(void) {
  json_t *d = load("hf_demo.json");
  if (!d) return;
  char path[512];
  snprintf(path, sizeof path, "%s/demo_tokenizer.json", hm_test_tmpdir());
  hm_tokenizer *t = NULL;
  CHECK_OK(hm_tokenizer_write_demo(path, 1024, 1000, 1001, true));
  CHECK_OK(hm_tokenizer_load(path, &t));
  if (t) {
    CHECK(hm_tokenizer_vocab_size(t) == json_integer_value(json_object_get(d, "vocab_size")));
    size_t i, ok = 0;
    const json_t *c, *cases = json_object_get(d, "cases");
    json_array_foreach(cases, i, c) {
      const json_t *jt = json_object_get(c, "text");
      int32_t *ids = NULL;
      int64_t n = 0;
      if (hm_tokenizer_encode(t, json_string_value(jt), json_string_length(jt), true, &ids, &n) == HM_OK &&
          same_ids(ids, n, json_object_get(c, "ids")))
        ok++;
      else fprintf(stderr, "demo case %zu differs from HF\n", i);
      free(ids);
    }
    CHECK_MSG(ok == json_array_size(cases) && ok > 0, "demo: %zu of %zu match HF", ok, json_array_size(cases));
    printf("demo tokenizer: %zu/%zu HF cases exact\n", ok, json_array_size(cases));
  }
  hm_tokenizer_free(t);
  json_decref(d);
}

void hm_test_main(void) {
  run_demo();
  run_variants();
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
