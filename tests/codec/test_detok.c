/* HeartCodec.detokenize, short case (40 frames: repetition padding to one
 * 29.76 s window): window 0 by hand and through the API with replayed draws;
 * the chunked waveform decoder on a full window; the seeded default noise. */
#include "detok_common.h"

static bool abort_now(void *ud) { (void)ud; return true; }

static void test_seeded(hm_codec_model *m) {
  int32_t codes[8 * 30];
  for (int i = 0; i < 8 * 30; i++) codes[i] = (i * 37) % 512;
  hm_codec_params p = hm_codec_default_params();
  p.seed = 42;
  p.steps = 2;
  float *a = NULL, *b = NULL, *c = NULL;
  int64_t na = 0, nb = 0, nc = 0;
  CHECK_OK(hm_codec_decode(m, codes, 30, &p, NULL, NULL, NULL, &a, &na));
  CHECK_OK(hm_codec_decode(m, codes, 30, &p, NULL, NULL, NULL, &b, &nb));
  p.seed = 43;
  CHECK_OK(hm_codec_decode(m, codes, 30, &p, NULL, NULL, NULL, &c, &nc));
  CHECK(na == 30 * 3840 && nb == na && nc == na);
  if (a && b && c) {
    CHECK(memcmp(a, b, (size_t)2 * na * sizeof(float)) == 0);
    CHECK(memcmp(a, c, (size_t)2 * na * sizeof(float)) != 0);
    bool finite = true;
    for (int64_t i = 0; i < 2 * na; i++) if (!isfinite(a[i])) finite = false;
    CHECK(finite);
  }
  free(a); free(b); free(c);
  float *d = NULL;
  int64_t nd = 0;
  CHECK_ERR(hm_codec_decode(m, codes, 30, &p, NULL, abort_now, NULL, &d, &nd), "abort");
  CHECK(d == NULL && nd == 0);
  CHECK(hm_codec_output_samples(m, 424) == 1428480);
}

void hm_test_main(void) {
  char dir[1024];
  hm_codec_model *m = NULL;
  CHECK_OK(hm_codec_load(hm_test_path(dir, sizeof dir, "fixtures/heartcodec"), NULL, &m));
  if (!m) return;
  hm_pool *pool = hm_pool_create(2);
  run_case(m, pool, "short", 2, true);
  test_seeded(m);
  hm_pool_free(pool);
  hm_codec_free(m);
}
