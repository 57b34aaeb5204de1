/* HeartCodec stages against the golden fixtures (tiny random codec):
 * RVQ, cond_feature_emb, estimator, Euler (CFG 1.25 and 1.0), ScalarModel.decode. */
#include "harness.h"
#include "codec/codec_internal.h"
#include "io/npy.h"

#include "tensor/ops.h"
#include <stdlib.h>


static bool rd(const char *name, hm_npy *a) {
  char p[1024], rel[256];
  snprintf(rel, sizeof rel, "fixtures/%s", name);
  hm_status st = hm_npy_read_f32(hm_test_path(p, sizeof p, rel), a);
  CHECK_MSG(st == HM_OK, "%s: %s", name, hm_last_error());
  return st == HM_OK;
}

static bool rd_i32(const char *name, hm_npy *a) {
  char p[1024], rel[256];
  snprintf(rel, sizeof rel, "fixtures/%s", name);
  hm_status st = hm_npy_read_i32(hm_test_path(p, sizeof p, rel), a);
  CHECK_MSG(st == HM_OK, "%s: %s", name, hm_last_error());
  return st == HM_OK;
}

static void test_rvq(hm_codec_model *m) {
  hm_npy codes, ref, cond;
  if (!rd_i32("codec_rvq_codes.npy", &codes) || !rd("codec_rvq_out.npy", &ref) || !rd("codec_cond_feature.npy", &cond)) return;
  int64_t n = codes.shape[1];
  int dim = m->cfg.dim;
  float *out = malloc((size_t)n * dim * sizeof(float)), *ce = malloc((size_t)n * dim * sizeof(float));
  CHECK_OK(cx_rvq(m, (const int32_t *)codes.data, n, n, out));
  double e = hm_max_rel_err(out, (const float *)ref.data, n * dim);
  printf("rvq rel err %.3g\n", e);
  CHECK(e < 1e-4);
  hm_linear(NULL, &m->cond_emb.w, m->cond_emb.b, n, out, ce);
  e = hm_max_rel_err(ce, (const float *)cond.data, n * dim);
  printf("cond_feature rel err %.3g\n", e);
  CHECK(e < 1e-4);
  free(out); free(ce);
  hm_npy_free(&codes); hm_npy_free(&ref); hm_npy_free(&cond);
}

static void test_estimator(hm_codec_model *m, hm_pool *pool, double tol) {
  hm_npy in, t, ref;
  if (!rd("codec_est_in.npy", &in) || !rd("codec_est_t.npy", &t) || !rd("codec_est_out.npy", &ref)) return;
  int B = (int)in.shape[0], T = (int)in.shape[1], Cin = (int)in.shape[2];
  CHECK(Cin == m->cfg.in_channels);
  cx_work w;
  CHECK_OK(cx_work_init(&w, m, B, T));
  for (int b = 0; b < B; b++)
    for (int i = 0; i < T; i++)
      memcpy(cx_in_row(&w, b, i), (const float *)in.data + ((int64_t)b * T + i) * Cin, (size_t)Cin * sizeof(float));
  cx_estimator(m, pool, &w, (const float *)t.data);
  double e = hm_max_rel_err(w.out, (const float *)ref.data, (int64_t)B * T * 256);
  printf("estimator (%s) rel err %.3g\n", m->amx ? "BF16 AMX" : "F32", e);
  CHECK(e < tol);
  cx_work_free(&w);
  hm_npy_free(&in); hm_npy_free(&t); hm_npy_free(&ref);
}

static void test_euler(hm_codec_model *m, hm_pool *pool, float g, const char *ref_name) {
  hm_npy noise, ic, mu, ref;
  if (!rd("codec_euler_noise.npy", &noise) || !rd("codec_euler_incontext.npy", &ic) || !rd("codec_euler_mu.npy", &mu) ||
      !rd(ref_name, &ref))
    return;
  int T = (int)noise.shape[1];
  cx_work w;
  CHECK_OK(cx_work_init(&w, m, g > 1.0f ? 2 : 1, T));
  float *x = (float *)noise.data;
  CHECK_OK(cx_solve_euler(m, pool, &w, x, (const float *)ic.data, 10, (const float *)mu.data, 10, g, NULL, NULL, NULL, NULL));
  double e = hm_max_rel_err(x, (const float *)ref.data, (int64_t)T * 256);
  printf("euler g=%.2f rel err %.3g\n", g, e);
  CHECK(e < 1e-4);
  cx_work_free(&w);
  hm_npy_free(&noise); hm_npy_free(&ic); hm_npy_free(&mu); hm_npy_free(&ref);
}

static void test_sq(hm_codec_model *m, hm_pool *pool, int chunk, double tol) {
  hm_npy lat, ref;
  if (!rd("codec_sq_latent.npy", &lat) || !rd("codec_sq_out.npy", &ref)) return;
  int B = (int)lat.shape[0], C = (int)lat.shape[1], T = (int)lat.shape[2];
  int64_t n = (int64_t)T * m->sq.hop;
  CHECK(ref.shape[2] == n);
  cx_sq_work *sw = NULL;
  CHECK_OK(cx_sq_work_create(m, T, chunk, &sw));
  if (!sw) return;
  float *out = malloc((size_t)B * n * sizeof(float));
  for (int b = 0; b < B; b++) cx_sq_decode(m, pool, sw, (const float *)lat.data + (int64_t)b * C * T, T, out + b * n);
  double e = hm_max_rel_err(out, (const float *)ref.data, B * n);
  printf("sq decode (%s, chunk %d, context %d) rel err %.3g\n", m->amx ? "BF16 AMX" : "F32", chunk, m->sq.rf_frames, e);
  CHECK(e < tol);
  free(out);
  cx_sq_work_free(sw);
  hm_npy_free(&lat); hm_npy_free(&ref);
}

static void test_plan(hm_codec_model *m) {
  cx_plan p;
  cx_make_plan(m, 40, &p);
  CHECK(p.padded_len == 372 && p.n_windows == 1 && p.out_samples == 40 * 3840);
  cx_make_plan(m, 380, &p);
  CHECK(p.padded_len == 692 && p.n_windows == 2 && p.out_samples == 380 * 3840);
  /* upstream's mixed-unit test: 424 = 104 + 320 is not padded and loses its tail */
  cx_make_plan(m, 424, &p);
  CHECK(p.padded_len == 424 && p.n_windows == 1 && p.out_samples == 1428480);
  cx_make_plan(m, 372, &p);
  CHECK(p.n_windows == 1 && p.out_samples == 372 * 3840);
  float ls[11];
  cx_linspace01(ls, 11);
  CHECK(ls[0] == 0.0f && ls[10] == 1.0f && fabsf(ls[3] - 0.3f) < 1e-7f);
  int32_t codes[8 * 5];
  for (int i = 0; i < 40; i++) codes[i] = i;
  CHECK(cx_padded_code(codes, 5, 1, 7) == 5 + 2);
  CHECK(cx_padded_code(codes, 5, 0, 371) == 371 % 5);
}

void hm_test_main(void) {
  char dir[1024];
  hm_codec_model *m = NULL;
  CHECK_OK(hm_codec_load(hm_test_path(dir, sizeof dir, "fixtures/heartcodec"), NULL, &m));
  if (!m) return;
  hm_pool *pool = hm_pool_create(2);
  test_plan(m);
  test_rvq(m);
  test_estimator(m, pool, 1e-4);
  test_euler(m, pool, 1.25f, "codec_euler_g125_out.npy");
  test_euler(m, pool, 1.0f, "codec_euler_g100_out.npy");
  test_sq(m, pool, 0, 1e-4);
  test_sq(m, pool, 3, 1e-4);
  test_sq(m, pool, 7, 1e-4);
  /* BF16 weights (AMX tiles where the CPU has them): BF16-level agreement */
  hm_codec_model *mb = NULL;
  hm_codec_params p = hm_codec_default_params();
  p.bf16_weights = true;
  CHECK_OK(hm_codec_load(dir, &p, &mb));
  if (mb) {
    printf("bf16 load: AMX %s\n", mb->amx ? "used" : "not available");
    test_estimator(mb, pool, 3e-2);
    test_sq(mb, pool, 0, 3e-2);
    hm_codec_free(mb);
  }
  hm_pool_free(pool);
  hm_codec_free(m);
}
