/* HeartCLAP on the tiny MuQ-MuLan fixture (../shared/fixtures-clap): the
 * public embeddings against the fixture, upstream's clip rule, and bad input
 * (silent / short / NaN audio, empty text, a model folder missing a tensor or
 * holding one of the wrong shape, no tokenizer) failing cleanly with a message
 * that names the problem. Parity of every stage is `heartmula parity`
 * (clap.cli_parity). */
#include "harness.h"
#include "clap/clap.h"
#include "io/fs.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include <stdio.h>
#include <stdlib.h>

static char mdir[1024];

static float *load_npy(const char *rel, int64_t n) {
  char path[1024];
  hm_npy a;
  if (hm_npy_read_f32(hm_test_path(path, sizeof path, rel), &a) != HM_OK) { CHECK_OK(HM_ERR_IO); return NULL; }
  CHECK(a.n_elems == n);
  return a.data;
}

static void test_embeddings(hm_clap_model *m) {
  const int d = hm_clap_dim(m);
  CHECK(d == 512);
  CHECK(hm_clap_sample_rate(m) == 24000);
  hm_npy wav;
  char path[1024];
  if (hm_npy_read_f32(hm_test_path(path, sizeof path, "fixtures-clap/audio_wav24k.npy"), &wav) != HM_OK) {
    CHECK_OK(HM_ERR_IO);
    return;
  }
  float *ref = load_npy("fixtures-clap/audio_embedding.npy", d), e[512];
  CHECK_OK(hm_clap_embed_audio(m, wav.data, wav.n_elems, e));
  if (ref) CHECK(hm_max_rel_err(e, ref, d) < 1e-4);
  hm_free_aligned(ref);
  /* texts alone and batched */
  static const char *texts[4] = {"classical genres, hopeful mood, piano.", "upbeat pop song with female vocals and drums",
                                 "一首适合海边风景的小提琴曲，节奏欢快", "sad slow guitar ballad"};
  float *single = load_npy("fixtures-clap/text_embedding_single.npy", 4 * d);
  float *batched = load_npy("fixtures-clap/text_embedding.npy", 4 * d);
  float got[4 * 512];
  for (int i = 0; i < 4 && single; i++) {
    CHECK_OK(hm_clap_embed_text(m, texts[i], got + i * d));
    CHECK(hm_max_rel_err(got + i * d, single + i * d, d) < 1e-4);
  }
  CHECK_OK(hm_clap_embed_texts_batched(m, texts, 4, got));
  if (batched) CHECK(hm_max_rel_err(got, batched, 4 * d) < 1e-4);
  /* the unpadded text (index 2 is the longest) is the same alone and batched */
  float one[512];
  CHECK_OK(hm_clap_embed_text(m, texts[2], one));
  CHECK(hm_max_rel_err(one, got + 2 * d, d) < 1e-5);
  double nrm = 0;
  for (int i = 0; i < d; i++) nrm += (double)one[i] * one[i];
  CHECK_NEAR(nrm, 1.0, 1e-5);
  hm_free_aligned(single);
  hm_free_aligned(batched);
  hm_npy_free(&wav);
}

/* _get_all_clips: 10 s clips, the remainder wrapped to the start; shorter inputs give one clip of
 * min(2n, 10 s) samples. */
static void test_clips(hm_clap_model *m) {
  const int64_t sr = 24000, delta = 10 * sr;
  float *pcm = malloc(sizeof(float) * (size_t)(25 * sr));
  for (int64_t i = 0; i < 25 * sr; i++) pcm[i] = (float)(i % 1000) / 1000.0f + 0.001f;
  struct { int64_t n; int clips; int64_t len; } cases[] = {
    {sr, 1, 2 * sr}, {(int64_t)(1.5 * sr), 1, 3 * sr}, {7 * sr, 1, delta}, {10 * sr, 1, delta}, {25 * sr, 3, delta}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    float *clips = NULL;
    int nc = 0;
    int64_t len = 0;
    CHECK_OK(hm_clap_clips(m, pcm, cases[c].n, &clips, &nc, &len));
    CHECK_MSG(nc == cases[c].clips && len == cases[c].len, "n %lld: %d clips of %lld", (long long)cases[c].n, nc,
              (long long)len);
    if (clips && nc == 3) { /* tail: pcm[20 s .. 25 s] then pcm[0 .. 5 s] */
      CHECK(clips[2 * len] == pcm[2 * delta]);
      CHECK(clips[2 * len + 5 * sr] == pcm[0]);
      CHECK(clips[3 * len - 1] == pcm[5 * sr - 1]);
    }
    if (clips && cases[c].n == (int64_t)(1.5 * sr)) CHECK(clips[cases[c].n] == pcm[0]);
    free(clips);
  }
  /* a short (1.5 s) input embeds */
  float e[512];
  CHECK_OK(hm_clap_embed_audio(m, pcm, (int64_t)(1.5 * sr), e));
  free(pcm);
}

static void test_bad_input(hm_clap_model *m) {
  float e[512];
  float *z = calloc(48000, sizeof(float));
  CHECK_ERR(hm_clap_embed_audio(m, z, 48000, e), "silent");
  z[10] = 0.5f;
  CHECK_ERR(hm_clap_embed_audio(m, z, 12000, e), "shorter than 1 s");
  CHECK_ERR(hm_clap_embed_audio(m, z, 0, e), "shorter than 1 s");
  z[11] = NAN;
  CHECK_ERR(hm_clap_embed_audio(m, z, 48000, e), "NaN");
  free(z);
  CHECK_ERR(hm_clap_embed_text(m, "", e), "empty");
  CHECK_ERR(hm_clap_embed_text(m, "  \n", e), "empty");
  CHECK_ERR(hm_clap_embed_texts_batched(m, NULL, 0, e), "no texts");
  char path[1024];
  CHECK_ERR(hm_clap_embed_audio_file(m, hm_test_path(path, sizeof path, "fixtures-clap/text_cases.json"), e), "text_cases.json");
  CHECK_ERR(hm_clap_embed_audio_file(m, "/nonexistent/x.wav", e), "x.wav");
  /* a text longer than XLM-R's positions (66 in the tiny model) */
  char long_text[2048] = "";
  for (int i = 0; i < 100; i++) strcat(long_text, "piano ");
  CHECK_ERR(hm_clap_embed_text(m, long_text, e), "positions");
}

static hm_status copy_file(const char *from, const char *to) {
  char *buf;
  size_t n;
  HM_TRY(hm_read_file(from, &buf, &n));
  FILE *f = fopen(to, "wb");
  if (!f) { free(buf); return hm_error(HM_ERR_IO, "cannot write %s", to); }
  fwrite(buf, 1, n, f);
  fclose(f);
  free(buf);
  return HM_OK;
}

/* A copy of the fixture model whose tensor `name` is dropped (shape NULL) or reshaped to [rows, cols]. */
static hm_status broken_copy(const char *dir, const char *name, const int64_t *shape) {
  char a[1100], b[1100];
  static const char *cfgs[] = {"config.json", "muq_config.json", "xlmr_config.json"};
  HM_TRY(hm_mkdir_p(dir));
  for (int i = 0; i < 3; i++) {
    snprintf(a, sizeof a, "%s/%s", mdir, cfgs[i]);
    snprintf(b, sizeof b, "%s/%s", dir, cfgs[i]);
    HM_TRY(copy_file(a, b));
  }
  hm_st *st;
  snprintf(a, sizeof a, "%s/model.safetensors", mdir);
  HM_TRY(hm_st_open(a, &st));
  int n = hm_st_count(st), k = 0;
  hm_st_entry *e = calloc((size_t)n, sizeof *e);
  float *zeros = calloc(shape ? (size_t)(shape[0] * shape[1]) : 1, sizeof(float));
  for (int i = 0; i < n; i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    if (!strcmp(t->name, name)) {
      if (!shape) continue;
      e[k] = hm_st_entry_of(t);
      e[k].n_dims = 2;
      e[k].shape[0] = shape[0];
      e[k].shape[1] = shape[1];
      e[k].dtype = HM_DT_F32;
      e[k++].data = zeros;
      continue;
    }
    e[k++] = hm_st_entry_of(t);
  }
  snprintf(b, sizeof b, "%s/model.safetensors", dir);
  hm_status s = hm_st_write(b, e, k, NULL);
  free(e);
  free(zeros);
  hm_st_close(st);
  return s;
}

static void test_bad_model(void) {
  hm_clap_model *m = NULL;
  char dir[1100];
  CHECK_ERR(hm_clap_load("/nonexistent/clap", NULL, &m), "does not exist");
  CHECK(m == NULL);
  snprintf(dir, sizeof dir, "%s/missing", hm_test_tmpdir());
  CHECK_OK(broken_copy(dir, "mulan.audio.proj.weight", NULL));
  CHECK_ERR(hm_clap_load(dir, NULL, &m), "mulan.audio.proj.weight");
  snprintf(dir, sizeof dir, "%s/shape", hm_test_tmpdir());
  int64_t bad[2] = {512, 31};
  CHECK_OK(broken_copy(dir, "mulan.text_to_latents.weight", bad));
  CHECK_ERR(hm_clap_load(dir, NULL, &m), "mulan.text_to_latents.weight");
  /* the audio tower alone loads from the same folder; a folder without a tokenizer embeds audio only */
  hm_clap_params p = hm_clap_default_params();
  p.load_text = false;
  p.n_threads = 2;
  CHECK_OK(hm_clap_load(dir, &p, &m));
  float e[512];
  if (m) CHECK_ERR(hm_clap_embed_text(m, "piano", e), "without its text tower");
  hm_clap_free(m);
  m = NULL;
  snprintf(dir, sizeof dir, "%s/notok", hm_test_tmpdir());
  CHECK_OK(broken_copy(dir, "mulan.audio.aggregator.bias", NULL)); /* unused at inference */
  CHECK_OK(hm_clap_load(dir, NULL, &m));
  if (m) CHECK_ERR(hm_clap_embed_text(m, "piano", e), "sentencepiece.bpe.model");
  hm_clap_free(m);
  /* no config */
  snprintf(dir, sizeof dir, "%s/empty", hm_test_tmpdir());
  CHECK_OK(hm_mkdir_p(dir));
  m = NULL;
  CHECK_ERR(hm_clap_load(dir, NULL, &m), "config.json");
}

void hm_test_main(void) {
  hm_test_path(mdir, sizeof mdir, "fixtures-clap/muq_mulan");
  if (!hm_dir_exists(mdir)) hm_test_skip("no fixtures-clap/muq_mulan");
  hm_clap_params p = hm_clap_default_params();
  p.n_threads = 2;
  hm_clap_model *m = NULL;
  CHECK_OK(hm_clap_load(mdir, &p, &m));
  if (!m) return;
  test_embeddings(m);
  test_clips(m);
  test_bad_input(m);
  hm_clap_free(m);
  test_bad_model();
}
