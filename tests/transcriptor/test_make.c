/* The random checkpoint maker: a tiny model folder with the stand-in
 * tokenizer loads, has the published layout, transcribes, and is refused
 * a second time; progress and abort callbacks. */
#include "harness.h"
#include "testkit.h"
#include "io/safetensors.h"
#include "transcriptor/whisper.h"
#include <stdlib.h>

static int64_t last_done = -1, last_total = -1;
static void on_progress(void *ud, int64_t done, int64_t total) { (void)ud; last_done = done; last_total = total; }
static bool abort_now(void *ud) { return ud != NULL; }

void hm_test_main(void) {
  char dir[1024], path[1100];
  snprintf(dir, sizeof dir, "%s/tiny_whisper", hm_test_tmpdir());
  CHECK_ERR(hm_whisper_make_checkpoint(dir, "medium", 1), "medium");
  CHECK_OK(hm_whisper_make_checkpoint(dir, "tiny", 11));
  CHECK_ERR(hm_whisper_make_checkpoint(dir, "tiny", 11), "already exists");
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  hm_st *st = NULL;
  CHECK_OK(hm_st_open(path, &st));
  if (st) {
    CHECK(hm_st_count(st) == 89); /* the fixture model's 89 tensors: proj_out tied, not stored */
    CHECK(hm_st_find(st, "proj_out.weight") == NULL);
    const hm_tensor_view *t = hm_st_find(st, "model.decoder.embed_tokens.weight");
    CHECK(t && t->dtype == HM_DT_F16 && t->shape[0] == 51866 && t->shape[1] == 64);
    t = hm_st_find(st, "model.encoder.embed_positions.weight");
    if (t) { /* sinusoids: row 0 = [sin 0 ..., cos 0 ...] = [0 x 32, 1 x 32] */
      const uint16_t *h = t->data;
      CHECK(hm_f16_to_f32(h[0]) == 0.0f && hm_f16_to_f32(h[32]) == 1.0f);
    }
    hm_st_close(st);
  }
  hm_whisper_model *m = NULL;
  CHECK_OK(hm_whisper_load(dir, &m));
  if (!m) return;
  CHECK(m->cfg.d_model == 64 && m->cfg.n_suppress == 88 && m->cfg.no_speech == 50363 && m->cfg.n_langs == 100);
  CHECK(hm_tokenizer_token_id(m->tok, "<|30.00|>") == 51865 && hm_tokenizer_token_id(m->tok, "<|yue|>") == 50358);
  float *pcm = calloc(48000, sizeof(float));
  for (int i = 0; i < 48000; i++) pcm[i] = 0.2f * sinf(0.05f * i);
  hm_whisper_params p = hm_whisper_default_params();
  p.max_new_tokens = 5;
  p.n_threads = 1;
  hm_transcript *t = NULL;
  CHECK_OK(hm_whisper_transcribe(m, pcm, 48000, &p, on_progress, NULL, NULL, &t));
  CHECK(last_done == 1 && last_total == 1);
  CHECK(t && t->n_segments <= 1 && t->duration_s == 3.0);
  if (t && t->n_segments == 1) CHECK(t->segments[0].n_tokens <= 5);
  hm_transcript_free(t);
  t = NULL;
  CHECK_ERR(hm_whisper_transcribe(m, pcm, 48000, &p, NULL, abort_now, (void *)1, &t), "aborted");
  CHECK(t == NULL);
  /* temperature fallback: the random model is never sure, so every window is
   * re-sampled; the same seed gives the same tokens */
  p.max_new_tokens = 8;
  p.temperature_fallback = true;
  p.seed = 5;
  hm_transcript *t1 = NULL, *t2 = NULL;
  CHECK_OK(hm_whisper_transcribe(m, pcm, 48000, &p, NULL, NULL, NULL, &t1));
  CHECK_OK(hm_whisper_transcribe(m, pcm, 48000, &p, NULL, NULL, NULL, &t2));
  if (t1 && t2) {
    int n1 = t1->n_segments ? t1->segments[0].n_tokens : 0, n2 = t2->n_segments ? t2->segments[0].n_tokens : 0;
    bool same = t1->n_segments == t2->n_segments && n1 == n2;
    for (int i = 0; same && i < n1; i++) same = t1->segments[0].tokens[i] == t2->segments[0].tokens[i];
    CHECK(same);
  }
  hm_transcript_free(t1);
  hm_transcript_free(t2);
  free(pcm);
  hm_whisper_free(m);
  /* whisper.cpp's entropy of the last 32 tokens */
  int32_t same4[4] = {7, 7, 7, 7}, two[2] = {1, 2}, many[40];
  for (int i = 0; i < 40; i++) many[i] = i < 8 ? 99 : i; /* the last 32 are distinct */
  CHECK_NEAR(hm_whisper_tokens_entropy(same4, 4), 0.0, 1e-12);
  CHECK_NEAR(hm_whisper_tokens_entropy(two, 2), log(2.0), 1e-12);
  CHECK_NEAR(hm_whisper_tokens_entropy(many, 40), log(32.0), 1e-12);
}
