/* HeartMuLa prompt rows against tokenizer/heartmula_prompt_ids.json and the
 * rules of heartlib's preprocess (lowercase, <tag> wrapping, bos/eos), the CLI's
 * file reading, and text naming a file taken as text. */
#include "harness.h"
#include "text/prompt.h"

#include <jansson.h>
#include <stdlib.h>

static bool ids_equal(const int32_t *a, int64_t n, const json_t *arr) {
  if ((size_t)n != json_array_size(arr)) return false;
  for (int64_t i = 0; i < n; i++)
    if (a[i] != json_integer_value(json_array_get(arr, (size_t)i))) return false;
  return true;
}

static void check_layout(const hm_prompt *p) {
  CHECK(p->n_cols == 9);
  CHECK(p->n_rows == p->n_tags + 1 + p->n_lyrics);
  CHECK(p->muq_idx == p->n_tags);
  bool ok = true;
  for (int64_t r = 0; r < p->n_rows; r++) {
    for (int c = 0; c < 8; c++) ok &= p->tokens[r * 9 + c] == 0 && p->mask[r * 9 + c] == 0;
    ok &= p->mask[r * 9 + 8] == 1;
    int32_t want = r < p->n_tags ? p->tags_ids[r] : r == p->n_tags ? 0 : p->lyrics_ids[r - p->n_tags - 1];
    ok &= p->tokens[r * 9 + 8] == want;
  }
  CHECK(ok);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) { CHECK_MSG(0, "cannot write %s", path); return; }
  fputs(text, f);
  fclose(f);
}

void hm_test_main(void) {
  char p[512];
  hm_tokenizer *t = NULL;
  CHECK_OK(hm_tokenizer_load(hm_test_path(p, sizeof p, "tokenizer/tokenizer.json"), &t));
  if (!t) return;
  json_error_t err;
  json_t *g = json_load_file(hm_test_path(p, sizeof p, "tokenizer/heartmula_prompt_ids.json"), 0, &err);
  CHECK_MSG(json_is_object(g), "heartmula_prompt_ids.json: %s", err.text);
  if (!g) { hm_tokenizer_free(t); return; }
  const char *tags = json_string_value(json_object_get(g, "tags"));
  const char *lyrics = json_string_value(json_object_get(g, "lyrics"));
  const json_t *want_tags = json_object_get(g, "tags_ids"), *want_lyrics = json_object_get(g, "lyrics_ids");

  hm_prompt_params pp = hm_prompt_default_params();
  CHECK(pp.text_bos_id == 128000 && pp.text_eos_id == 128001 && pp.n_codebooks == 8);
  hm_prompt pr;
  CHECK_OK(hm_prompt_build(t, tags, lyrics, &pp, &pr));
  CHECK(ids_equal(pr.tags_ids, pr.n_tags, want_tags));
  CHECK(ids_equal(pr.lyrics_ids, pr.n_lyrics, want_lyrics));
  check_layout(&pr);
  CHECK(pr.muq_idx == 15);
  hm_prompt_free(&pr);

  /* the same prompt from mixed-case input without the <tag> wrapping */
  char *up_lyrics = strdup(lyrics);
  for (char *c = up_lyrics; *c; c++) if (*c >= 'a' && *c <= 'z' && (c - up_lyrics) % 3 == 0) *c = (char)(*c - 32);
  CHECK_OK(hm_prompt_build(t, "Pop, Female Vocal, PIANO, happy", up_lyrics, &pp, &pr));
  CHECK(ids_equal(pr.tags_ids, pr.n_tags, want_tags));
  CHECK(ids_equal(pr.lyrics_ids, pr.n_lyrics, want_lyrics));
  hm_prompt_free(&pr);
  /* only the missing half of the wrapping is added */
  CHECK_OK(hm_prompt_build(t, "<tag>pop, female vocal, piano, happy", lyrics, &pp, &pr));
  CHECK(ids_equal(pr.tags_ids, pr.n_tags, want_tags));
  hm_prompt_free(&pr);
  CHECK_OK(hm_prompt_build(t, "pop, female vocal, piano, happy</tag>", lyrics, &pp, &pr));
  CHECK(ids_equal(pr.tags_ids, pr.n_tags, want_tags));
  hm_prompt_free(&pr);

  /* files: the CLI reads tags / lyrics files with hm_text_file_read (CRLF and
   * CR read as LF); the result builds the same prompt as the text */
  char tp[512], lp[512];
  snprintf(tp, sizeof tp, "%s/tags.txt", hm_test_tmpdir());
  snprintf(lp, sizeof lp, "%s/lyrics.txt", hm_test_tmpdir());
  write_file(tp, "POP, female vocal, piano, happy");
  char *crlf = malloc(strlen(lyrics) * 2 + 1), *w = crlf;
  for (const char *c = lyrics; *c; c++) { if (*c == '\n') *w++ = '\r'; *w++ = *c; }
  *w = 0;
  write_file(lp, crlf);
  free(crlf);
  char *ft = NULL, *fl = NULL;
  size_t ftn = 0, fln = 0;
  CHECK_OK(hm_text_file_read(tp, "tags", &ft, &ftn));
  CHECK_OK(hm_text_file_read(lp, "lyrics", &fl, &fln));
  CHECK(fl && fln == strlen(lyrics) && !strcmp(fl, lyrics));
  if (ft && fl) {
    CHECK_OK(hm_prompt_build(t, ft, fl, &pp, &pr));
    CHECK(ids_equal(pr.tags_ids, pr.n_tags, want_tags));
    CHECK(ids_equal(pr.lyrics_ids, pr.n_lyrics, want_lyrics));
    hm_prompt_free(&pr);
  }
  free(ft);
  free(fl);
  char bp[512];
  snprintf(bp, sizeof bp, "%s/bad.txt", hm_test_tmpdir());
  write_file(bp, "ok \xff");
  CHECK_ERR(hm_text_file_read(bp, "lyrics", &fl, &fln), "bad.txt");
  CHECK_ERR(hm_text_file_read(bp, "lyrics", &fl, &fln), "offset 3");
  CHECK_ERR(hm_text_file_read("/nonexistent/lyrics.txt", "lyrics", &fl, &fln), "/nonexistent/lyrics.txt");

  /* security: the library never opens a file named by its text. Lyrics / tags
   * equal to the path of an existing file are tokenized as that literal text
   * (the file's content never reaches the prompt). */
  CHECK_OK(hm_prompt_build(t, tp, lp, &pp, &pr));
  CHECK(!ids_equal(pr.tags_ids, pr.n_tags, want_tags));
  CHECK(!ids_equal(pr.lyrics_ids, pr.n_lyrics, want_lyrics));
  {
    /* the expected ids: bos + encode(lowercased path) + eos */
    char low[512];
    size_t k = 0;
    for (const char *c = lp; *c && k + 1 < sizeof low; c++) low[k++] = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    low[k] = 0;
    int32_t *ids = NULL;
    int64_t nid = 0;
    CHECK_OK(hm_tokenizer_encode(t, low, k, true, &ids, &nid));
    bool same = ids && pr.n_lyrics >= 2 && pr.lyrics_ids[0] == 128000 && pr.lyrics_ids[pr.n_lyrics - 1] == 128001;
    int64_t off = (nid > 0 && ids[0] == 128000) ? 0 : 1; /* the post-processor's bos, when it adds one */
    same = same && pr.n_lyrics == nid + off + 1;
    for (int64_t i = 0; same && i < nid; i++) same = pr.lyrics_ids[i + off] == ids[i];
    CHECK_MSG(same, "lyrics naming a file were not tokenized as the literal path '%s'", lp);
    free(ids);
  }
  hm_prompt_free(&pr);
  /* /etc/passwd as lyrics: the text "/etc/passwd", a handful of tokens, whatever the file holds */
  CHECK_OK(hm_prompt_build(t, "pop", "/etc/passwd", &pp, &pr));
  CHECK_MSG(pr.n_lyrics >= 3 && pr.n_lyrics <= 8, "/etc/passwd as lyrics gave %lld ids", (long long)pr.n_lyrics);
  hm_prompt_free(&pr);

  /* empty lyrics: bos then eos; a bos/eos already present is not doubled */
  CHECK_OK(hm_prompt_build(t, "", "", &pp, &pr));
  CHECK(pr.n_lyrics == 2 && pr.lyrics_ids[0] == 128000 && pr.lyrics_ids[1] == 128001);
  CHECK(pr.n_tags >= 3 && pr.tags_ids[0] == 128000 && pr.tags_ids[pr.n_tags - 1] == 128001 && pr.tags_ids[1] != 128000);
  check_layout(&pr);
  hm_prompt_free(&pr);
  CHECK_OK(hm_prompt_build(t, "pop", "la la<|end_of_text|>", &pp, &pr));
  CHECK(pr.n_lyrics == 4 && pr.lyrics_ids[0] == 128000 && pr.lyrics_ids[3] == 128001);
  hm_prompt_free(&pr);

  /* tags are lower-cased but never stripped (as upstream): the newline that ends
   * a tags.txt stays in the text and adds id 198 before "</tag>" (docs/cli.md) */
  {
    static const int32_t plain[] = {128000, 17224, 29, 8539, 7385, 13389, 20393, 11392, 524, 4681, 29, 128001};
    static const int32_t newline[] = {128000, 17224, 29, 8539, 7385, 13389, 20393, 11392, 198, 524, 4681, 29, 128001};
    CHECK_OK(hm_prompt_build(t, "pop,piano,happy", "la", &pp, &pr));
    CHECK(pr.n_tags == 12 && !memcmp(pr.tags_ids, plain, sizeof plain));
    hm_prompt_free(&pr);
    CHECK_OK(hm_prompt_build(t, "Pop,Piano,Happy\n", "la", &pp, &pr));
    CHECK(pr.n_tags == 13 && !memcmp(pr.tags_ids, newline, sizeof newline));
    hm_prompt_free(&pr);
  }

  /* Unicode lowercasing (not ASCII-only): "ÜBER" == "über" */
  hm_prompt a, b;
  CHECK_OK(hm_prompt_build(t, "x", "\xc3\x9c" "BER \xce\x9b\xce\x91", &pp, &a));
  CHECK_OK(hm_prompt_build(t, "x", "\xc3\xbc" "ber \xce\xbb\xce\xb1", &pp, &b));
  CHECK(a.n_lyrics == b.n_lyrics && !memcmp(a.lyrics_ids, b.lyrics_ids, (size_t)a.n_lyrics * sizeof(int32_t)));
  hm_prompt_free(&a);
  hm_prompt_free(&b);

  /* bad input: invalid UTF-8 names the field and the offset; bad params */
  CHECK_ERR(hm_prompt_build(t, "pop", "la la \xff", &pp, &pr), "lyrics");
  CHECK_ERR(hm_prompt_build(t, "pop", "la la \xff", &pp, &pr), "offset 6");
  CHECK_ERR(hm_prompt_build(t, "p\xc3", "la", &pp, &pr), "tags");
  CHECK(pr.tokens == NULL && pr.n_rows == 0);
  CHECK_ERR(hm_prompt_build(t, NULL, "x", &pp, &pr), "tags");
  hm_prompt_params bad = pp;
  bad.text_eos_id = 999999;
  CHECK_ERR(hm_prompt_build(t, "pop", "x", &bad, &pr), "text_eos_id");
  bad = pp;
  bad.n_codebooks = 0;
  CHECK_ERR(hm_prompt_build(t, "pop", "x", &bad, &pr), "n_codebooks");

  /* gen_config.json of the fixture checkpoint (text bos 1000, eos 1001) */
  hm_prompt_params gp = hm_prompt_default_params();
  CHECK_OK(hm_prompt_params_load(hm_test_path(p, sizeof p, "fixtures/gen_config.json"), &gp));
  CHECK(gp.text_bos_id == 1000 && gp.text_eos_id == 1001 && gp.n_codebooks == 8);
  CHECK_ERR(hm_prompt_params_load(hm_test_path(p, sizeof p, "tokenizer/tokenizer_config.json"), &gp), "text_bos_id");

  free(up_lyrics);
  json_decref(g);
  hm_tokenizer_free(t);
}
