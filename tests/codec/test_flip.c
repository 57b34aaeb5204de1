/* One latent nudged across a round(9x) boundary, through ScalarModel.decode
 * (the fixture's tiny codec, chunked decode): every sample outside
 * cx_sq_flip_reach is bit-identical, the change stays inside it, and its size
 * is what the parity runner allows there (FLIP_TOL of tools/parity_codec.c). */
#include "harness.h"
#include "codec/codec_internal.h"

#include <stdlib.h>

static void decode(hm_codec_model *m, hm_pool *pool, const float *lat, int T, int chunk, float *out) {
  cx_sq_work *sw = NULL;
  CHECK_OK(cx_sq_work_create(m, T, chunk, &sw));
  if (sw) cx_sq_decode(m, pool, sw, lat, T, out);
  cx_sq_work_free(sw);
}

void hm_test_main(void) {
  char dir[1024];
  hm_codec_model *m = NULL;
  CHECK_OK(hm_codec_load(hm_test_path(dir, sizeof dir, "fixtures/heartcodec"), NULL, &m));
  if (!m) return;
  hm_pool *pool = hm_pool_create(2);
  const int L = m->cfg.latent_hidden_dim, T = 120, f = 50, ch = 7;
  const int64_t n = (int64_t)T * m->sq.hop;
  float *lat = malloc((size_t)L * T * sizeof(float));
  float *a = malloc((size_t)n * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
  hm_rng rng;
  hm_rng_seed(&rng, 17, 0);
  for (int64_t i = 0; i < (int64_t)L * T; i++) lat[i] = 0.3f * hm_rng_normal(&rng);
  /* just below and just above the boundary between levels 3 and 4 of round(9x) */
  lat[(int64_t)ch * T + f] = 3.5f / 9.0f - 1e-4f;
  decode(m, pool, lat, T, 32, a);
  lat[(int64_t)ch * T + f] = 3.5f / 9.0f + 1e-4f;
  decode(m, pool, lat, T, 32, b);
  int64_t s0, s1;
  cx_sq_flip_reach(m, f, &s0, &s1);
  printf("flip at latent frame %d: reach samples [%lld, %lld) = %lld samples (%.1f latent frames of %d)\n", f,
         (long long)s0, (long long)s1, (long long)(s1 - s0), (double)(s1 - s0) / m->sq.hop, m->sq.hop);
  int64_t first = -1, last = -1, outside = 0;
  double mr = 0, in_err = 0;
  for (int64_t i = 0; i < n; i++) mr = fabs(a[i]) > mr ? fabs(a[i]) : mr;
  for (int64_t i = 0; i < n; i++) {
    if (a[i] == b[i]) continue;
    if (first < 0) first = i;
    last = i;
    if (i < s0 || i >= s1) outside++;
    double d = fabs((double)a[i] - b[i]) / mr;
    in_err = d > in_err ? d : in_err;
  }
  printf("changed samples [%lld, %lld]; max change %.3g of the waveform's max\n", (long long)first, (long long)last, in_err);
  CHECK_MSG(first >= 0, "the nudge changed nothing: the latent did not cross a level");
  CHECK_MSG(outside == 0, "%lld changed samples outside the derived reach [%lld, %lld)", (long long)outside,
            (long long)s0, (long long)s1);
  CHECK_MSG(in_err <= 2e-2, "change %.3g inside the reach exceeds the parity allowance 2e-2", in_err);
  /* the reach is not loose by more than the margin it adds (2 frames) plus decay: the
   * change must still be seen in its second half */
  CHECK_MSG(last >= s0 + (s1 - s0) / 2, "last changed sample %lld lies in the first half of the reach [%lld, %lld)",
            (long long)last, (long long)s0, (long long)s1);
  free(lat); free(a); free(b);
  hm_pool_free(pool);
  hm_codec_free(m);
}
