/* ACE-Step text path: the Unigram tokenizer (fixture tokenizer.json and hand-made ones),
 * the UMT5 encoder's loading rules and its bad input (missing folder, missing / wrong-shape
 * tensors, the embedding under either name, empty prompt, ids out of range). Stage-by-stage
 * numbers are checked by `heartmula parity fixtures-acestep` (acestep.cli_parity). */
#include "harness.h"
#include "acestep/umt5.h"
#include "io/fs.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>

static const char *umt5_dir(char *buf, size_t n) { return hm_test_path(buf, n, "fixtures-acestep/ACE-Step-v1-3.5B/umt5-base"); }

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static void copy_file(const char *from, const char *to) {
  char *data = NULL;
  size_t len = 0;
  CHECK_OK(hm_read_file(from, &data, &len));
  FILE *f = fopen(to, "wb");
  CHECK(f != NULL);
  if (f) { fwrite(data, 1, len, f); fclose(f); }
  free(data);
}

static bool ids_equal(const int32_t *a, int64_t na, const int32_t *b, int64_t nb) {
  if (na != nb) return false;
  for (int64_t i = 0; i < na; i++)
    if (a[i] != b[i]) return false;
  return true;
}

static void test_fixture_tokenizer(const char *dir) {
  char path[4096];
  hm_path_join(path, sizeof path, dir, "tokenizer.json");
  hm_unigram *t = NULL;
  CHECK_OK(hm_unigram_load(path, &t));
  if (!t) return;
  CHECK(hm_unigram_vocab_size(t) == 1024);
  CHECK(hm_unigram_token_id(t, "</s>") == 1);
  CHECK(hm_unigram_pad_id(t) == 0);
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_OK(hm_unigram_encode(t, "", 0, true, 256, &ids, &n));
  CHECK(n == 1 && ids && ids[0] == 1); /* just </s> */
  free(ids);
  const char *tags = "pop, rock, electric guitar, male vocal, 120 bpm, energetic";
  static const int32_t want[] = {203, 5, 256, 5, 268, 183, 5, 247, 273, 5, 46, 4, 5, 290, 1};
  CHECK_OK(hm_unigram_encode(t, tags, strlen(tags), true, 256, &ids, &n));
  CHECK(ids_equal(ids, n, want, 15));
  free(ids);
  /* truncation counts the </s>: body cut to 4, then </s> */
  CHECK_OK(hm_unigram_encode(t, tags, strlen(tags), true, 5, &ids, &n));
  CHECK(n == 5 && ids_equal(ids, 4, want, 4) && ids[4] == 1);
  free(ids);
  CHECK_OK(hm_unigram_encode(t, tags, strlen(tags), false, 0, &ids, &n));
  CHECK(ids_equal(ids, n, want, 14));
  free(ids);
  /* whitespace runs, tabs and newlines vanish; a literal </s> is the added token */
  const char *ws = "  pop,\t\nrock  </s>";
  CHECK_OK(hm_unigram_encode(t, ws, strlen(ws), false, 0, &ids, &n));
  static const int32_t want_ws[] = {203, 5, 256, 1};
  CHECK(ids_equal(ids, n, want_ws, 4));
  free(ids);
  /* full-width letters are NFKC-folded by the precompiled charsmap */
  const char *fw = "\xef\xbc\xb0\xef\xbc\xaf\xef\xbc\xb0";   /* ＰＯＰ */
  int32_t *ids2 = NULL;
  int64_t n2 = 0;
  CHECK_OK(hm_unigram_encode(t, fw, strlen(fw), false, 0, &ids, &n));
  CHECK_OK(hm_unigram_encode(t, "POP", 3, false, 0, &ids2, &n2));
  CHECK(ids_equal(ids, n, ids2, n2));
  free(ids);
  free(ids2);
  CHECK_ERR(hm_unigram_encode(t, "ab\xff", 3, true, 256, &ids, &n), "byte 2");
  hm_unigram_free(t);
}

/* A hand-made tokenizer.json: newer Metaspace spelling, no normalizer, unk fusing. */
static void test_small_tokenizer(void) {
  char path[4096];
  snprintf(path, sizeof path, "%s/small_unigram.json", hm_test_tmpdir());
  write_text(path,
             "{\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true}],\"normalizer\":null,"
             "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\","
             "\"split\":true},\"post_processor\":null,"
             "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"<unk>\",0],[\"\\u2581ab\",-1],[\"\\u2581a\",-2],"
             "[\"b\",-2],[\"\\u2581\",-3],[\"a\",-4]]}}");
  hm_unigram *t = NULL;
  CHECK_OK(hm_unigram_load(path, &t));
  if (!t) return;
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_OK(hm_unigram_encode(t, "ab a", 4, true, 0, &ids, &n));
  static const int32_t w1[] = {1, 2};
  CHECK(ids_equal(ids, n, w1, 2));
  free(ids);
  /* "xyz" has no piece: one fused <unk> after the ▁ */
  CHECK_OK(hm_unigram_encode(t, "xyzb", 4, false, 0, &ids, &n));
  static const int32_t w2[] = {4, 0, 3};
  CHECK(ids_equal(ids, n, w2, 3));
  free(ids);
  hm_unigram_free(t);
  write_text(path, "{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}");
  CHECK_ERR(hm_unigram_load(path, &t), "not 'Unigram'");
  write_text(path, "{\"normalizer\":{\"type\":\"NFKD\"},\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0]]}}");
  CHECK_ERR(hm_unigram_load(path, &t), "'NFKD' is not supported");
}

/* A copy of umt5-base in tmp with one tensor changed by edit (NULL: unchanged). */
typedef void (*edit_fn)(hm_st_entry *e, int n);
static const char *bad_copy(const char *src, const char *name, edit_fn edit) {
  static char dst[4096];
  snprintf(dst, sizeof dst, "%s/%s", hm_test_tmpdir(), name);
  CHECK_OK(hm_mkdir_p(dst));
  char a[4096], b[4096];
  static const char *const files[] = {"config.json", "tokenizer.json"};
  for (int i = 0; i < 2; i++) {
    hm_path_join(a, sizeof a, src, files[i]);
    hm_path_join(b, sizeof b, dst, files[i]);
    copy_file(a, b);
  }
  hm_st *st = NULL;
  CHECK_OK(hm_st_open(src, &st));
  if (!st) return dst;
  int n = hm_st_count(st);
  hm_st_entry *e = calloc((size_t)n, sizeof *e);
  for (int i = 0; i < n; i++) e[i] = hm_st_entry_of(hm_st_at(st, i));
  edit(e, n);
  hm_path_join(b, sizeof b, dst, "model.safetensors");
  CHECK_OK(hm_st_write(b, e, n, NULL));
  free(e);
  hm_st_close(st);
  return dst;
}

static void edit_shape(hm_st_entry *e, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(e[i].name, "encoder.block.3.layer.0.SelfAttention.q.weight")) e[i].shape[1] = e[i].shape[1] / 2;
}
static void edit_rename(hm_st_entry *e, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(e[i].name, "shared.weight")) e[i].name = "encoder.embed_tokens.weight";
}
static void edit_drop_embed(hm_st_entry *e, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(e[i].name, "shared.weight")) e[i].name = "decoder.embed_tokens.weight";
}

static void test_encoder(const char *dir) {
  hm_umt5 *m = NULL;
  char miss[4096];
  snprintf(miss, sizeof miss, "%s/no-umt5-base", hm_test_tmpdir());
  CHECK_ERR(hm_umt5_load(miss, &m), "no-umt5-base");
  CHECK_ERR(hm_umt5_load(bad_copy(dir, "shape", edit_shape), &m), "encoder.block.3.layer.0.SelfAttention.q.weight");
  CHECK_ERR(hm_umt5_load(bad_copy(dir, "noembed", edit_drop_embed), &m), "encoder.embed_tokens.weight");

  CHECK_OK(hm_umt5_load(dir, &m));
  if (!m) return;
  float *h = NULL, *hn = NULL;
  int32_t *ids = NULL;
  int64_t L = 0;
  CHECK_ERR(hm_umt5_embed_prompt(m, "", false, NULL, &h, &ids, &L), "prompt");
  CHECK_ERR(hm_umt5_embed_prompt(m, " \t\n", false, NULL, &h, &ids, &L), "prompt is empty");
  CHECK_OK(hm_umt5_embed_prompt(m, "pop, rock", false, NULL, &h, &ids, &L));
  CHECK(L == 4 && ids && ids[L - 1] == 1);
  int32_t *ids2 = NULL;
  int64_t L2 = 0;
  CHECK_OK(hm_umt5_embed_prompt(m, "pop, rock", true, NULL, &hn, &ids2, &L2));
  double diff = 0;
  for (int64_t i = 0; h && hn && i < L * m->cfg.d_model; i++) diff = fmax(diff, fabs(h[i] - hn[i]));
  CHECK_MSG(diff > 1e-3, "the null (ERG-tag) pass should move the output, max diff %g", diff);
  int32_t bad_ids[2] = {5, 5000};
  float out[64];
  CHECK_ERR(hm_umt5_encode_ids(m, bad_ids, NULL, 2, NULL, out), "outside the vocabulary");

  /* the same weights with the embedding named encoder.embed_tokens.weight */
  hm_umt5 *m2 = NULL;
  CHECK_OK(hm_umt5_load(bad_copy(dir, "renamed", edit_rename), &m2));
  if (m2 && h) {
    float *h2 = malloc((size_t)(L * m->cfg.d_model) * sizeof *h2);
    hm_umt5_run run = {0};
    CHECK_OK(hm_umt5_encode_ids(m2, ids, NULL, L, &run, h2));
    CHECK(memcmp(h2, h, (size_t)(L * m->cfg.d_model) * sizeof *h2) == 0);
    free(h2);
  }
  hm_umt5_free(m2);
  free(h);
  free(hn);
  free(ids);
  free(ids2);
  hm_umt5_free(m);
}

void hm_test_main(void) {
  char dir[4096];
  umt5_dir(dir, sizeof dir);
  test_small_tokenizer();
  if (!hm_dir_exists(dir)) hm_test_skip("no %s", dir);
  test_fixture_tokenizer(dir);
  test_encoder(dir);
}
