/* Whisper model parity on the tiny F16 fixture model: encoder output,
 * first-step logits, greedy decodes (token ids exact) and long-form windows. */
#include "harness.h"
#include "io/audio.h"
#include "io/json.h"
#include "io/npy.h"
#include "transcriptor/whisper.h"
#include <stdlib.h>

static double max_abs_diff(const float *a, const float *b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

static float *load_npy(const char *rel, int64_t expect_n) {
  char path[1024];
  hm_npy a;
  if (hm_npy_read_f32(hm_test_path(path, sizeof path, rel), &a) != HM_OK) { CHECK_OK(HM_ERR_IO); return NULL; }
  CHECK(a.n_elems == expect_n);
  return a.data; /* hm_free_aligned */
}

static int32_t *json_ids(const json_t *a, int *n) {
  *n = (int)json_array_size(a);
  int32_t *v = malloc(sizeof(int32_t) * (size_t)(*n + 1));
  for (int i = 0; i < *n; i++) v[i] = (int32_t)json_integer_value(json_array_get(a, (size_t)i));
  return v;
}

/* prompt logits: run the prompt through the decoder, compare the last logits */
static void check_prompt_logits(hm_whisper_state *s, const int32_t *prompt, int n, const char *ref_rel) {
  const int V = s->m->cfg.n_vocab;
  float *ref = load_npy(ref_rel, V);
  hm_whisper_cross_kv(s);
  for (int i = 0; i < n; i++) CHECK_OK(hm_whisper_decoder_step(s, prompt[i]));
  if (ref) {
    double d = max_abs_diff(s->logits, ref, V);
    CHECK_MSG(d <= 1e-3, "%s: max abs diff %g", ref_rel, d);
    printf("%s: max abs diff %.3g\n", ref_rel, d);
  }
  hm_free_aligned(ref);
}

static void check_greedy(hm_whisper_state *s, const json_t *g, const char *mode) {
  const json_t *c = json_object_get(g, mode);
  int n_ref;
  int32_t *ref = json_ids(json_object_get(c, "tokens"), &n_ref);
  bool ts = !strcmp(mode, "timestamps");
  hm_whisper_window_result r;
  CHECK_OK(hm_whisper_decode_window(s, 50259, false, ts, 30, NULL, NULL, &r));
  CHECK_MSG(r.n_tokens == n_ref, "%s: %d tokens, expected %d", mode, r.n_tokens, n_ref);
  int first_bad = -1;
  for (int i = 0; i < n_ref && i < r.n_tokens; i++)
    if (r.tokens[i] != ref[i]) { first_bad = i; break; }
  CHECK_MSG(first_bad < 0, "%s: token %d is %d, expected %d", mode, first_bad, first_bad >= 0 ? r.tokens[first_bad] : 0,
            first_bad >= 0 ? ref[first_bad] : 0);
  CHECK(r.ended_with_eot == json_is_true(json_object_get(c, "ended_with_eot")));
  CHECK_NEAR(r.avg_logprob, json_real_value(json_object_get(c, "avg_logprob")), 1e-3);
  CHECK_NEAR(r.no_speech_prob, json_real_value(json_object_get(c, "no_speech_prob")), 1e-6);
  printf("greedy %s: %d tokens, %s; avg_logprob %.6f (ref %.6f)\n", mode, r.n_tokens,
         first_bad < 0 ? "all equal" : "MISMATCH", r.avg_logprob, json_real_value(json_object_get(c, "avg_logprob")));
  hm_whisper_window_result_free(&r);
  free(ref);
}

void hm_test_main(void) {
  char path[1024];
  hm_whisper_model *m = NULL;
  CHECK_OK(hm_whisper_load(hm_test_path(path, sizeof path, "fixtures-whisper"), &m));
  if (!m) return;
  const hm_whisper_config *c = &m->cfg;
  CHECK(c->d_model == 64 && c->enc_layers == 2 && c->dec_layers == 2 && c->n_mels == 128 && c->n_vocab == 51866);
  CHECK(c->sot == 50258 && c->eot == 50257 && c->no_timestamps == 50364 && c->timestamp_begin == 50365);
  CHECK(c->transcribe == 50360 && c->translate == 50359 && c->no_speech == 50363);
  CHECK(c->lang_first == 50259 && c->n_langs == 100);
  CHECK(c->n_suppress == 88 && c->n_begin_suppress == 2);
  hm_whisper_state *s = NULL;
  CHECK_OK(hm_whisper_state_create(m, 2, &s));
  if (!s) { hm_whisper_free(m); return; }
  /* encoder on the fixture mel */
  float *mel = load_npy("fixtures-whisper/jfk_mel128.npy", 128 * 3000);
  float *enc_ref = load_npy("fixtures-whisper/jfk_encoder_out.npy", 1500 * 64);
  if (mel && enc_ref) {
    CHECK_OK(hm_whisper_encode(s, mel, -1));
    double d = max_abs_diff(s->enc_out, enc_ref, 1500 * 64);
    CHECK_MSG(d <= 1e-3, "encoder out max abs diff %g", d);
    printf("encoder out: max abs diff %.3g\n", d);
    int32_t p1[4] = {50258, 50259, 50360, 50364};
    check_prompt_logits(s, p1, 4, "fixtures-whisper/jfk_prompt_logits_last.npy");
    int32_t p2[3] = {50258, 50259, 50360};
    check_prompt_logits(s, p2, 3, "fixtures-whisper/jfk_prompt_ts_logits_last.npy");
    json_t *g = NULL;
    CHECK_OK(hm_json_load(hm_test_path(path, sizeof path, "fixtures-whisper/jfk_greedy.json"), &g));
    if (g) {
      check_greedy(s, g, "notimestamps");
      check_greedy(s, g, "timestamps");
      json_decref(g);
    }
  }
  hm_free_aligned(mel);
  hm_free_aligned(enc_ref);
  /* long-form windows: the HF layout and each window's greedy tokens */
  json_t *lw = NULL;
  CHECK_OK(hm_json_load(hm_test_path(path, sizeof path, "fixtures-whisper/long_windows.json"), &lw));
  hm_audio a;
  CHECK_OK(hm_audio_read(hm_test_path(path, sizeof path, "fixtures-whisper/long.wav"), &a));
  if (lw && a.data) {
    hm_whisper_window w[8];
    int64_t nw = hm_whisper_windows(a.n_frames, 480000, 80000, 80000, w, 8);
    const json_t *wins = json_object_get(lw, "windows");
    CHECK(nw == (int64_t)json_array_size(wins));
    for (int64_t i = 0; i < nw && i < (int64_t)json_array_size(wins); i++) {
      const json_t *wj = json_array_get(wins, (size_t)i);
      CHECK(json_integer_value(json_object_get(wj, "start")) == w[i].start);
      CHECK(json_integer_value(json_object_get(wj, "end")) == w[i].start + w[i].len);
      CHECK(json_is_true(json_object_get(wj, "is_last")) == w[i].is_last);
      const json_t *st = json_object_get(wj, "stride");
      CHECK(json_integer_value(json_array_get(st, 0)) == w[i].len);
      CHECK(json_integer_value(json_array_get(st, 1)) == w[i].stride_left);
      CHECK(json_integer_value(json_array_get(st, 2)) == w[i].stride_right);
      CHECK_OK(hm_mel_compute(s->mel_ctx, a.data + w[i].start, w[i].len, s->mel));
      CHECK_OK(hm_whisper_encode(s, s->mel, -1));
      hm_whisper_window_result r;
      CHECK_OK(hm_whisper_decode_window(s, 50259, false, false, 30, NULL, NULL, &r));
      int n_ref;
      int32_t *ref = json_ids(json_object_get(wj, "tokens_notimestamps"), &n_ref);
      bool same = r.n_tokens == n_ref;
      for (int k = 0; same && k < n_ref; k++) same = r.tokens[k] == ref[k];
      CHECK_MSG(same, "long window %lld: tokens differ", (long long)i);
      printf("long window %lld: %d tokens %s\n", (long long)i, r.n_tokens, same ? "all equal" : "MISMATCH");
      free(ref);
      hm_whisper_window_result_free(&r);
    }
  }
  hm_audio_free(&a);
  json_decref(lw);
  hm_whisper_state_free(s);
  hm_whisper_free(m);
}
