/* Our XLM-R tokenizer (hm_clap_spm_*, the sentencepiece shim + XLM-R's id mapping) against Debian's
 * `spm_encode` on the fixture's sentencepiece model, for multilingual strings (Latin with accents,
 * Chinese, Japanese, Korean, Cyrillic, Arabic, emoji, full-width forms and ligatures that NFKC folds,
 * runs of spaces): the same pieces, and ids = <s> (spm id + 1, its <unk> 0 -> 3) </s>. Skipped (77)
 * when spm_encode is not installed. */
#include "harness.h"
#include "clap/clap.h"
#include "io/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const texts[] = {
  "classical genres, hopeful mood, piano.",
  "upbeat pop song with female vocals and drums",
  "一首适合海边风景的小提琴曲，节奏欢快",
  "canción triste con guitarra acústica, voz de niño",
  "Fröhliche Blasmusik für das Oktoberfest",
  "静かなピアノのバラード、切ない気持ち",
  "신나는 케이팝 댄스 곡",
  "грустная песня под гитару",
  "أغنية حزينة",
  "lo-fi hip hop 🎧 beats to relax/study to",
  "ＦＵＬＬ　ＷＩＤＴＨ ｔｅｘｔ and the ﬁne ligature",
  "  many    spaces\tand a tab  ",
};
#define N_TEXTS ((int)(sizeof texts / sizeof texts[0]))

static bool on_path(const char *prog, char *out, size_t n) {
  const char *path = getenv("PATH");
  if (!path) path = "/usr/bin:/bin";
  while (*path) {
    size_t len = strcspn(path, ":");
    snprintf(out, n, "%.*s/%s", (int)len, path, prog);
    if (len && access(out, X_OK) == 0) return true;
    path += len + (path[len] == ':');
  }
  return false;
}

/* Runs spm_encode over the texts (one a line) with --output_format=fmt; the output's lines in *lines. */
static char *run_spm(const char *spm, const char *model, const char *in, const char *fmt) {
  char out[1024], cmd[4096];
  snprintf(out, sizeof out, "%s/spm_%s.txt", hm_test_tmpdir(), fmt);
  snprintf(cmd, sizeof cmd, "'%s' --model='%s' --output_format=%s < '%s' > '%s'", spm, model, fmt, in, out);
  if (system(cmd) != 0) { CHECK_MSG(false, "'%s' failed", cmd); return NULL; }
  char *text = NULL;
  size_t n = 0;
  if (hm_read_file(out, &text, &n) != HM_OK) { CHECK_OK(HM_ERR_IO); return NULL; }
  return text;
}

void hm_test_main(void) {
  char spm[1024], model[1024], in[1024];
  if (!on_path("spm_encode", spm, sizeof spm)) hm_test_skip("spm_encode is not installed (Debian package sentencepiece)");
  hm_test_path(model, sizeof model, "fixtures-clap/tokenizer/sentencepiece.bpe.model");
  if (!hm_file_exists(model)) hm_test_skip("no %s", model);
  hm_clap_spm *s = NULL;
  CHECK_OK(hm_clap_spm_load(model, &s));
  if (!s) return;
  snprintf(in, sizeof in, "%s/texts.txt", hm_test_tmpdir());
  FILE *f = fopen(in, "wb");
  if (!f) { CHECK(false); hm_clap_spm_free(s); return; }
  for (int i = 0; i < N_TEXTS; i++) fprintf(f, "%s\n", texts[i]);
  fclose(f);
  char *ids_out = run_spm(spm, model, in, "id"), *pieces_out = run_spm(spm, model, in, "piece");
  char *il = ids_out, *pl = pieces_out;
  int n_unk = 0;
  for (int i = 0; i < N_TEXTS && il && pl; i++) {
    char *ie = strchr(il, '\n'), *pe = strchr(pl, '\n');
    if (!ie || !pe) { CHECK_MSG(false, "spm_encode gave fewer lines than texts (%d)", i); break; }
    *ie = 0;
    *pe = 0;
    /* ids: ours = <s> (spm + 1, unk 0 -> 3) </s> */
    int32_t *ids = NULL;
    int64_t n = 0;
    CHECK_OK(hm_clap_spm_encode(s, texts[i], &ids, &n));
    int64_t k = 1;
    bool same = ids && n >= 2 && ids[0] == 0 && ids[n - 1] == 2;
    for (char *p = il, *end; same && *p; p = end) {
      long v = strtol(p, &end, 10);
      if (end == p) break;
      int32_t want = v > 0 ? (int32_t)v + 1 : 3;
      n_unk += v == 0;
      same = k < n - 1 && ids[k++] == want;
    }
    same = same && k == n - 1;
    CHECK_MSG(same, "text %d '%s': ids differ from spm_encode's '%s'", i, texts[i], il);
    free(ids);
    /* pieces */
    char *pieces = NULL;
    int np = 0;
    CHECK_OK(hm_clap_spm_pieces(s, texts[i], &pieces, &np));
    bool psame = pieces != NULL;
    const char *q = pieces;
    char *p = pl;
    for (int j = 0; psame && j < np; j++) {
      size_t len = strcspn(p, " ");
      psame = strlen(q) == len && !memcmp(q, p, len);
      q += strlen(q) + 1;
      p += len + (p[len] == ' ');
    }
    psame = psame && *p == 0;
    CHECK_MSG(psame, "text %d '%s': pieces differ from spm_encode's '%s'", i, texts[i], pl);
    free(pieces);
    il = ie + 1;
    pl = pe + 1;
  }
  CHECK(n_unk > 0); /* the tiny model does not know every script: <unk> is mapped too */
  free(ids_out);
  free(pieces_out);
  hm_clap_spm_free(s);
}
