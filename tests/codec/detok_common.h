/* Shared by test_detok.c and test_detok_long.c: HeartCodec.detokenize
 * against the fixtures, replaying the recorded torch.randn draws; latents per
 * window first, then the waveform. */
#ifndef DETOK_COMMON_H
#define DETOK_COMMON_H
#include "harness.h"
#include "codec/codec_internal.h"
#include "io/npy.h"

#include "tensor/ops.h"
#include <stdlib.h>


static inline bool rd(const char *name, hm_npy *a, bool i32) {
  char p[1400], rel[320];
  snprintf(rel, sizeof rel, "fixtures/%s", name);
  hm_status st = i32 ? hm_npy_read_i32(hm_test_path(p, sizeof p, rel), a) : hm_npy_read_f32(hm_test_path(p, sizeof p, rel), a);
  CHECK_MSG(st == HM_OK, "%s: %s", name, hm_last_error());
  return st == HM_OK;
}

/* Replays recorded draws; checks each request's size; remembers the latents
 * handed to the solver is not possible from here, so latents are checked by
 * re-running one window by hand below. */
typedef struct replay {
  hm_npy draws[8];
  int n, next;
  bool size_ok;
} replay;

static inline hm_status replay_fn(void *ud, float *dst, int64_t n) {
  replay *r = ud;
  if (r->next >= r->n) { r->size_ok = false; return hm_error(HM_ERR_INTERNAL, "replay: draw %d was not recorded", r->next); }
  hm_npy *a = &r->draws[r->next++];
  if (a->n_elems != n) { r->size_ok = false; return hm_error(HM_ERR_INTERNAL, "replay: draw size %lld, recorded %lld", (long long)n, (long long)a->n_elems); }
  memcpy(dst, a->data, (size_t)n * sizeof(float));
  return HM_OK;
}

typedef struct lat_check { const char *pfx; int n_checked; } lat_check;
static inline void on_latents(void *ud, int64_t k, const float *lat, int T, int C) {
  lat_check *lc = ud;
  char name[256];
  hm_npy ref;
  snprintf(name, sizeof name, "codec_detok_%s_latents%lld.npy", lc->pfx, (long long)k);
  if (!rd(name, &ref, false)) return;
  CHECK(ref.n_elems == (int64_t)T * C);
  if (ref.n_elems == (int64_t)T * C) {
    double e = hm_max_rel_err(lat, (const float *)ref.data, ref.n_elems);
    printf("detok %s: window %lld latents rel err %.3g\n", lc->pfx, (long long)k, e);
    CHECK(e < 1e-4);
    lc->n_checked++;
    /* latents whose round(9x) may flip between implementations */
    for (int64_t i = 0; i < ref.n_elems; i++) {
      double r9 = 9.0 * ((const float *)ref.data)[i], g9 = 9.0 * lat[i];
      if (nearbyint(r9) != nearbyint(g9))
        printf("  round(9x) flip at window %lld frame %lld feature %lld (9x = %.7f vs %.7f)\n", (long long)k,
               (long long)(i / C), (long long)(i % C), r9, g9);
    }
  }
  hm_npy_free(&ref);
}

static int64_t g_progress_last, g_progress_total; /* one test binary each */
static inline void on_progress(void *ud, int64_t done, int64_t total) { (void)ud; g_progress_last = done; g_progress_total = total; }

/* One window by hand (window 0 of a case): latents must match latents0. */
static inline void check_window0(hm_codec_model *m, hm_pool *pool, const char *pfx, const hm_npy *codes) {
  char name[256];
  hm_npy r1, lat;
  snprintf(name, sizeof name, "codec_detok_%s_randn1.npy", pfx);
  if (!rd(name, &r1, false)) return;
  snprintf(name, sizeof name, "codec_detok_%s_latents0.npy", pfx);
  if (!rd(name, &lat, false)) { hm_npy_free(&r1); return; }
  const int W = 372, T = 744, dim = m->cfg.dim;
  int64_t n = codes->shape[1];
  int32_t *wc = malloc(8 * W * sizeof(int32_t));
  for (int q = 0; q < 8; q++)
    for (int i = 0; i < W; i++) wc[q * W + i] = cx_padded_code((const int32_t *)codes->data, n, q, i);
  float *feat = malloc((size_t)W * dim * sizeof(float)), *ce = malloc((size_t)W * dim * sizeof(float));
  float *mu = malloc((size_t)T * dim * sizeof(float)), *ic = calloc((size_t)T * 256, sizeof(float));
  CHECK_OK(cx_rvq(m, wc, W, W, feat));
  hm_linear(NULL, &m->cond_emb.w, m->cond_emb.b, W, feat, ce);
  for (int i = 0; i < T; i++) memcpy(mu + (int64_t)i * dim, ce + (int64_t)(i / 2) * dim, (size_t)dim * sizeof(float));
  cx_work w;
  CHECK_OK(cx_work_init(&w, m, 2, T));
  float *x = (float *)r1.data;
  CHECK_OK(cx_solve_euler(m, pool, &w, x, ic, 0, mu, 10, 1.25f, NULL, NULL, NULL, NULL));
  double e = hm_max_rel_err(x, (const float *)lat.data, (int64_t)T * 256);
  printf("detok %s: window 0 latents rel err %.3g\n", pfx, e);
  CHECK(e < 1e-4);
  /* chunked waveform decoder == whole-window decoder on a real window */
  float *chan = malloc((size_t)128 * T * sizeof(float));
  for (int j = 0; j < 128; j++)
    for (int t = 0; t < T; t++) chan[(int64_t)j * T + t] = ((const float *)lat.data)[(int64_t)t * 256 + j];
  int64_t ns = (int64_t)T * m->sq.hop;
  float *a = malloc((size_t)ns * sizeof(float)), *b = malloc((size_t)ns * sizeof(float));
  cx_sq_work *s1 = NULL, *s2 = NULL;
  CHECK_OK(cx_sq_work_create(m, T, 0, &s1));
  CHECK_OK(cx_sq_work_create(m, T, 100, &s2));
  if (s1 && s2) {
    cx_sq_decode(m, pool, s1, chan, T, a);
    cx_sq_decode(m, pool, s2, chan, T, b);
    double ce2 = hm_max_rel_err(b, a, ns);
    printf("detok %s: chunked (100 frames) vs whole waveform decoder rel err %.3g\n", pfx, ce2);
    CHECK(ce2 < 1e-5);
  }
  cx_sq_work_free(s1); cx_sq_work_free(s2);
  free(a); free(b); free(chan);
  cx_work_free(&w);
  free(wc); free(feat); free(ce); free(mu); free(ic);
  hm_npy_free(&r1); hm_npy_free(&lat);
}

/* Largest error after removing isolated spikes (round(9x)/9 flips). */
static inline void check_wav(const char *pfx, const float *got, const float *ref, int64_t n) {
  double e = hm_max_rel_err(got, ref, n);
  double mr = 0;
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++) if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
  int64_t first = -1, last = -1;
  for (int64_t i = 0; i < n; i++)
    if (fabs((double)got[i] - ref[i]) > 1e-4 * mr) { bad++; if (first < 0) first = i; last = i; }
  if (bad) printf("  samples over 1e-4 between %lld and %lld\n", (long long)first, (long long)last);
  printf("detok %s: waveform rel err %.3g, samples over 1e-4: %lld of %lld\n", pfx, e, (long long)bad, (long long)n);
  CHECK(bad <= n / 1000); /* localized rounding flips only */
  CHECK(e < 1e-2);
}

/* The recorded torch.randn draws 0 .. n_draws-1 of a case into r. */
static inline void load_draws(const char *pfx, int n_draws, replay *r) {
  char name[256];
  memset(r, 0, sizeof *r);
  r->n = n_draws;
  r->size_ok = true;
  for (int i = 0; i < n_draws; i++) {
    snprintf(name, sizeof name, "codec_detok_%s_randn%d.npy", pfx, i);
    rd(name, &r->draws[i], false);
  }
}

static inline void run_case(hm_codec_model *m, hm_pool *pool, const char *pfx, int n_draws, bool by_hand) {
  char name[256];
  hm_npy codes, wav;
  snprintf(name, sizeof name, "codec_detok_%s_codes.npy", pfx);
  if (!rd(name, &codes, true)) return;
  snprintf(name, sizeof name, "codec_detok_%s_wav.npy", pfx);
  if (!rd(name, &wav, false)) { hm_npy_free(&codes); return; }
  if (by_hand) check_window0(m, pool, pfx, &codes);
  replay r;
  load_draws(pfx, n_draws, &r);
  hm_codec_params p = hm_codec_default_params();
  p.noise = replay_fn;
  p.noise_user_data = &r;
  p.n_threads = 2;
  float *out = NULL;
  int64_t n = 0, nf = codes.shape[1];
  g_progress_last = g_progress_total = 0;
  lat_check lc = {pfx, 0};
  CHECK_OK(cx_detokenize(m, (const int32_t *)codes.data, nf, &p, on_progress, NULL, NULL, on_latents, &lc, &out, &n));
  CHECK(lc.n_checked == n_draws / 2); /* one window per two draws */
  CHECK(r.size_ok && r.next == n_draws);
  CHECK(n == wav.shape[1] && n == nf * 3840);
  CHECK(g_progress_total > 0 && g_progress_last == g_progress_total);
  if (out && n == wav.shape[1]) check_wav(pfx, out, (const float *)wav.data, 2 * n);
  free(out);
  for (int i = 0; i < n_draws; i++) hm_npy_free(&r.draws[i]);
  hm_npy_free(&codes); hm_npy_free(&wav);
}

#endif
