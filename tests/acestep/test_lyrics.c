/* ACE-Step lyric tokenizer: the vocab lookup (model folder, explicit path, the error naming
 * where the vocab comes from), language prefixes and the default language, hand-checked
 * ids, and bad input (empty lyrics, a zh/ja/ko line, Han/kana/hangul in a line, numbers in a
 * language whose num2words is not ported, an unknown default language, too few line_langs).
 * Every fixture case is checked by `heartmula parity fixtures-acestep` (acestep.cli_parity). */
#include "harness.h"
#include "acestep/lyrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *lyrics_dir(char *buf, size_t n) { return hm_test_path(buf, n, "fixtures-acestep/lyrics"); }

static void test_vocab_path(void) {
  char dir[3072], out[4096], miss[4096];
  lyrics_dir(dir, sizeof dir);
  CHECK_OK(hm_lyrics_vocab_path(dir, NULL, out, sizeof out));
  CHECK(strstr(out, "lyrics/vocab.json") != NULL);
  /* an explicit path wins */
  char expl[3200];
  snprintf(expl, sizeof expl, "%s/vocab.json", dir);
  CHECK_OK(hm_lyrics_vocab_path("/nowhere", expl, out, sizeof out));
  CHECK(!strcmp(out, expl));
  /* missing: named, and the error says where the vocab comes from */
  snprintf(miss, sizeof miss, "%s/no-model", hm_test_tmpdir());
  CHECK_ERR(hm_lyrics_vocab_path(miss, NULL, out, sizeof out), "no-model/vocab.json': no such file");
  CHECK_ERR(hm_lyrics_vocab_path(miss, NULL, out, sizeof out), "acestep/models/lyrics_utils/vocab.json");
  CHECK_ERR(hm_lyrics_vocab_path(NULL, "/nowhere/vocab.json", out, sizeof out), "'/nowhere/vocab.json': no such file");
  hm_lyrics *lx = NULL;
  CHECK_ERR(hm_lyrics_load("/nowhere/vocab.json", &lx), "upstream's Python package");
  CHECK(lx == NULL);
}

static bool same(const int32_t *a, int64_t n, const int32_t *b, int64_t m) {
  return n == m && (n == 0 || !memcmp(a, b, (size_t)n * sizeof *a));
}

static void test_tokenize(const hm_lyrics *lx) {
  int32_t *ids = NULL, *ref = NULL;
  int64_t n = 0, nr = 0;
  /* "[inst]" -> [START] [en] [inst] [SPACE] (fixture case inst_only) */
  CHECK_OK(hm_lyrics_tokenize(lx, "[inst]", 6, NULL, &ids, &n));
  const int32_t inst[] = {261, 259, 6688, 2};
  CHECK(same(ids, n, inst, 4));
  free(ids);
  /* a language prefix is the same as giving the language */
  const char *fr = "Bonjour mon ami";
  const char *lf[] = {"fr"};
  hm_lyrics_opts of = {.line_langs = lf, .n_line_langs = 1};
  CHECK_OK(hm_lyrics_tokenize(lx, fr, strlen(fr), &of, &ref, &nr));
  hm_lyrics_opts op = {.lang_prefix = true};
  CHECK_OK(hm_lyrics_tokenize(lx, "[fr] Bonjour mon ami", 20, &op, &ids, &n));
  CHECK(same(ids, n, ref, nr));
  CHECK(n > 2 && ids[1] == 262); /* [fr] */
  free(ids);
  /* and the default language */
  hm_lyrics_opts od = {.default_lang = "fr"};
  CHECK_OK(hm_lyrics_tokenize(lx, fr, strlen(fr), &od, &ids, &n));
  CHECK(same(ids, n, ref, nr));
  free(ids);
  free(ref);
  /* without lang_prefix a "[fr]" line is a structure line (en, [fr] an added token) */
  CHECK_OK(hm_lyrics_tokenize(lx, "[fr] oui", 8, NULL, &ids, &n));
  CHECK(n > 3 && ids[1] == 259 && ids[2] == 262);
  free(ids);
  /* empty lines: one [SPACE] each */
  CHECK_OK(hm_lyrics_tokenize(lx, "\n \n", 3, NULL, &ids, &n));
  const int32_t empties[] = {261, 2, 2, 2};
  CHECK(same(ids, n, empties, 4));
  free(ids);
  /* English numbers */
  char *clean = NULL;
  size_t cl = 0;
  CHECK_OK(hm_lyrics_clean("In 1999 I paid $20.15 for the 2nd row & 3.10 kg", 47, "en", &clean, &cl));
  CHECK(clean && !strcmp(clean, "in one thousand, nine hundred and ninety-nine i paid twenty dollars, fifteen cents for "
                                "the second row and three point one kg"));
  free(clean);
  /* cs: upstream never expands numbers (num2words has no 'cz') */
  CHECK_OK(hm_lyrics_clean("Mám 12 koček", strlen("Mám 12 koček"), "cs", &clean, &cl));
  CHECK(clean && !strcmp(clean, "mám 12 koček"));
  free(clean);
}

static void test_bad_input(const hm_lyrics *lx) {
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_ERR(hm_lyrics_tokenize(lx, "", 0, NULL, &ids, &n), "lyrics: empty");
  CHECK(ids == NULL && n == 0);
  /* a zh / ja / ko line: the romanisers are not implemented; the line is named */
  const char *zh = "hello\n[zh] 我爱你";
  hm_lyrics_opts op = {.lang_prefix = true};
  CHECK_ERR(hm_lyrics_tokenize(lx, zh, strlen(zh), &op, &ids, &n), "lyrics line 2");
  CHECK_ERR(hm_lyrics_tokenize(lx, zh, strlen(zh), &op, &ids, &n), "Han characters");
  const char *ko = "사랑해요";
  CHECK_ERR(hm_lyrics_tokenize(lx, ko, strlen(ko), NULL, &ids, &n), "hangul characters need upstream's romanisers");
  const char *lj[] = {"ja"};
  hm_lyrics_opts oj = {.line_langs = lj, .n_line_langs = 1};
  CHECK_ERR(hm_lyrics_tokenize(lx, "konnichiwa", 10, &oj, &ids, &n), "language 'ja' needs upstream's romaniser (cutlet)");
  /* numbers in a language without a num2words port */
  hm_lyrics_opts ode = {.default_lang = "de"};
  CHECK_ERR(hm_lyrics_tokenize(lx, "Ich bin 21", 10, &ode, &ids, &n), "number expansion for language 'de'");
  /* ... but the same line without digits is fine */
  CHECK_OK(hm_lyrics_tokenize(lx, "Ich bin hier", 12, &ode, &ids, &n));
  free(ids);
  ids = NULL;
  hm_lyrics_opts obad = {.default_lang = "xx"};
  CHECK_ERR(hm_lyrics_tokenize(lx, "la la", 5, &obad, &ids, &n), "lyrics_lang: 'xx'");
  const char *l1[] = {"en"};
  hm_lyrics_opts ofew = {.line_langs = l1, .n_line_langs = 1};
  CHECK_ERR(hm_lyrics_tokenize(lx, "a\nb", 3, &ofew, &ids, &n), "line_langs has 1 entries");
  CHECK_ERR(hm_lyrics_tokenize(lx, "\xff", 1, NULL, &ids, &n), "invalid UTF-8");
  CHECK(ids == NULL);
}

void hm_test_main(void) {
  char dir[3072], path[3200];
  lyrics_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/vocab.json", dir);
  FILE *f = fopen(path, "rb");
  if (!f) hm_test_skip("no %s", path);
  fclose(f);
  test_vocab_path();
  hm_lyrics *lx = NULL;
  CHECK_OK(hm_lyrics_load(path, &lx));
  if (!lx) return;
  CHECK(hm_tokenizer_vocab_size(hm_lyrics_tokenizer(lx)) == HM_LYRICS_VOCAB_SIZE);
  test_tokenize(lx);
  test_bad_input(lx);
  hm_lyrics_free(lx);
}
