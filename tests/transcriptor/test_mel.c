/* Log-mel parity: Slaney filterbanks and Whisper log-mel vs the fixtures. */
#include "harness.h"
#include "io/audio.h"
#include "io/npy.h"
#include "transcriptor/whisper.h"
#include <stdlib.h>

static double max_abs_diff(const float *a, const float *b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= m)) m = d; /* NaN counts as a failure */
  }
  return m;
}

static void check_filters(int n_mels) {
  char path[1024], name[64];
  snprintf(name, sizeof name, "fixtures-whisper/mel_filters_%d.npy", n_mels);
  hm_npy ref;
  CHECK_OK(hm_npy_read_f32(hm_test_path(path, sizeof path, name), &ref));
  CHECK(ref.n_elems == (int64_t)n_mels * 201);
  float *f = malloc(sizeof(float) * (size_t)n_mels * 201);
  CHECK_OK(hm_whisper_mel_filters(16000, 400, n_mels, f));
  double d = max_abs_diff(f, ref.data, ref.n_elems);
  CHECK_MSG(d < 1e-7, "mel_filters_%d max abs diff %g", n_mels, d);
  printf("mel filters %d: max abs diff %.3g\n", n_mels, d);
  free(f);
  hm_npy_free(&ref);
}

static float *read_wav(const char *rel, int64_t *n) {
  char path[1024];
  hm_audio a;
  *n = 0;
  if (hm_audio_read(hm_test_path(path, sizeof path, rel), &a) != HM_OK) { CHECK_OK(HM_ERR_IO); return NULL; }
  float *pcm = NULL;
  CHECK_OK(hm_audio_to_mono(&a, 16000, &pcm, n));
  CHECK(a.sample_rate_hz == 16000 && a.n_channels == 1);
  hm_audio_free(&a);
  return pcm;
}

static void check_mel(const float *pcm, int64_t n, int n_mels, const char *ref_name, double tol) {
  char path[1024];
  hm_npy ref;
  CHECK_OK(hm_npy_read_f32(hm_test_path(path, sizeof path, ref_name), &ref));
  CHECK(ref.n_elems == (int64_t)n_mels * 3000);
  hm_mel_ctx *m = NULL;
  CHECK_OK(hm_mel_ctx_create(16000, 400, 160, n_mels, 480000, &m));
  if (!m) { hm_npy_free(&ref); return; }
  CHECK(hm_mel_ctx_frames(m) == 3000);
  float *mel = malloc(sizeof(float) * (size_t)n_mels * 3000);
  CHECK_OK(hm_mel_compute(m, pcm, n, mel));
  double d = max_abs_diff(mel, ref.data, ref.n_elems);
  CHECK_MSG(d <= tol, "%s: max abs diff %g > %g", ref_name, d, tol);
  printf("%s: max abs diff %.3g (tol %g)\n", ref_name, d, tol);
  free(mel);
  hm_mel_ctx_free(m);
  hm_npy_free(&ref);
}

void hm_test_main(void) {
  check_filters(80);
  check_filters(128);
  int64_t n = 0;
  float *jfk = read_wav("fixtures-whisper/jfk.wav", &n);
  CHECK(n == 176000);
  if (jfk) {
    check_mel(jfk, n, 128, "fixtures-whisper/jfk_mel128.npy", 1e-4);
    check_mel(jfk, n, 80, "fixtures-whisper/jfk_mel80.npy", 1e-4);
  }
  free(jfk);
  float *lng = read_wav("fixtures-whisper/long.wav", &n);
  CHECK(n == 800000);
  if (lng) {
    /* windows as the HF pipeline lays them out */
    hm_whisper_window w[4];
    int64_t nw = hm_whisper_windows(n, 480000, 80000, 80000, w, 4);
    CHECK(nw == 2);
    CHECK(w[0].start == 0 && w[0].len == 480000 && w[0].stride_left == 0 && w[0].stride_right == 80000 && !w[0].is_last);
    CHECK(w[1].start == 320000 && w[1].len == 480000 && w[1].stride_left == 80000 && w[1].stride_right == 0 && w[1].is_last);
    check_mel(lng + w[0].start, w[0].len, 128, "fixtures-whisper/long_win0_mel128_f16.npy", 1e-3);
    check_mel(lng + w[1].start, w[1].len, 128, "fixtures-whisper/long_win1_mel128_f16.npy", 1e-3);
  }
  free(lng);
  /* bad arguments */
  hm_mel_ctx *m = NULL;
  CHECK_ERR(hm_mel_ctx_create(16000, 400, 160, 0, 480000, &m), "n_mels");
  CHECK(m == NULL);
}
