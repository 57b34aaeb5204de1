/* HeartCodec parity: every codec_* case of a fixture folder (layout of
 * ../shared/fixtures, HeartCodec in heartcodec/): RVQ + cond_feature_emb,
 * one estimator forward, the Euler solver with and without CFG,
 * ScalarModel.decode and detokenize (recorded torch.randn draws replayed in
 * call order; each window's latents within 1e-4 before the waveform). */
#include "parity.h"
#include "codec/codec_internal.h"
#include "io/npy.h"

#include <math.h>
#include <stdlib.h>

#define TOL 1e-4

typedef struct pc {
  parity_ctx *p;
  hm_codec_model *m;
  hm_pool *pool;
} pc;

static bool load(pc *c, const char *name, hm_npy *a, bool i32) {
  char path[4096];
  parity_file(c->p, name, path, sizeof path);
  hm_status st = i32 ? hm_npy_read_i32(path, a) : hm_npy_read_f32(path, a);
  return st == HM_OK;
}

static bool have(pc *c, const char *name) {
  return json_object_get(json_object_get(parity_manifest(c->p), "files"), name) != NULL;
}

static void case_rvq(pc *c) {
  const char *cn = "codec_rvq";
  hm_npy codes, ref, cond;
  if (!load(c, "codec_rvq_codes.npy", &codes, true)) { parity_fail(c->p, cn, "%s", hm_last_error()); return; }
  if (!load(c, "codec_rvq_out.npy", &ref, false)) { hm_npy_free(&codes); parity_fail(c->p, cn, "%s", hm_last_error()); return; }
  bool have_cond = load(c, "codec_cond_feature.npy", &cond, false);
  int dim = c->m->cfg.dim;
  int64_t n = codes.n_dims == 2 ? codes.shape[1] : 0;
  if (codes.n_dims != 2 || codes.shape[0] != c->m->cfg.num_quantizers || ref.n_elems != n * dim) {
    parity_fail(c->p, cn, "unexpected shapes");
  } else {
    float *out = malloc((size_t)n * dim * sizeof(float)), *ce = malloc((size_t)n * dim * sizeof(float));
    if (cx_rvq(c->m, (const int32_t *)codes.data, n, n, out) != HM_OK) parity_fail(c->p, cn, "%s", hm_last_error());
    double e1 = parity_rel_err(out, (const float *)ref.data, n * dim), e2 = 0;
    if (have_cond) {
      hm_linear(c->pool, &c->m->cond_emb.w, c->m->cond_emb.b, n, out, ce);
      e2 = parity_rel_err(ce, (const float *)cond.data, n * dim);
    }
    double e = e1 > e2 ? e1 : e2;
    if (e <= TOL && have_cond) parity_pass(c->p, cn, e, "%lld frames (rvq %.2e, cond_feature_emb %.2e)", (long long)n, e1, e2);
    else parity_fail(c->p, cn, "rel err rvq %.2e, cond_feature_emb %.2e%s", e1, e2, have_cond ? "" : " (no codec_cond_feature.npy)");
    free(out); free(ce);
  }
  hm_npy_free(&codes); hm_npy_free(&ref);
  if (have_cond) hm_npy_free(&cond);
}

static void case_est(pc *c) {
  const char *cn = "codec_est";
  hm_npy in, t, ref;
  if (!load(c, "codec_est_in.npy", &in, false)) { parity_fail(c->p, cn, "%s", hm_last_error()); return; }
  if (!load(c, "codec_est_t.npy", &t, false)) { hm_npy_free(&in); parity_fail(c->p, cn, "%s", hm_last_error()); return; }
  if (!load(c, "codec_est_out.npy", &ref, false)) { hm_npy_free(&in); hm_npy_free(&t); parity_fail(c->p, cn, "%s", hm_last_error()); return; }
  int B = (int)in.shape[0], T = (int)in.shape[1], Cin = (int)in.shape[2], Co = c->m->cfg.out_channels;
  cx_work w;
  if (in.n_dims != 3 || Cin != c->m->cfg.in_channels || t.n_elems != B || ref.n_elems != (int64_t)B * T * Co)
    parity_fail(c->p, cn, "unexpected shapes");
  else if (cx_work_init(&w, c->m, B, T) != HM_OK)
    parity_fail(c->p, cn, "%s", hm_last_error());
  else {
    for (int b = 0; b < B; b++)
      for (int i = 0; i < T; i++)
        memcpy(cx_in_row(&w, b, i), (const float *)in.data + ((int64_t)b * T + i) * Cin, (size_t)Cin * sizeof(float));
    cx_estimator(c->m, c->pool, &w, (const float *)t.data);
    double e = parity_rel_err(w.out, (const float *)ref.data, ref.n_elems);
    if (e <= TOL) parity_pass(c->p, cn, e, "batch %d x %d frames", B, T);
    else parity_fail(c->p, cn, "rel err %.2e > %.0e", e, TOL);
    cx_work_free(&w);
  }
  hm_npy_free(&in); hm_npy_free(&t); hm_npy_free(&ref);
}

static void case_euler(pc *c, const char *cn, const char *ref_name, float g) {
  hm_npy noise, ic, mu, ref;
  memset(&noise, 0, sizeof noise); memset(&ic, 0, sizeof ic); memset(&mu, 0, sizeof mu); memset(&ref, 0, sizeof ref);
  if (!load(c, "codec_euler_noise.npy", &noise, false) || !load(c, "codec_euler_incontext.npy", &ic, false) ||
      !load(c, "codec_euler_mu.npy", &mu, false) || !load(c, ref_name, &ref, false)) {
    parity_fail(c->p, cn, "%s", hm_last_error());
  } else {
    int T = (int)noise.shape[1], Co = c->m->cfg.out_channels;
    /* in-context length: the frames where incontext_x is not all zero (10 in the fixtures) */
    int icl = 0;
    for (int t = 0; t < T; t++)
      for (int j = 0; j < Co; j++)
        if (((const float *)ic.data)[(int64_t)t * Co + j] != 0.0f) icl = t + 1;
    cx_work w;
    if (noise.n_elems != (int64_t)T * Co || ic.n_elems != noise.n_elems || ref.n_elems != noise.n_elems ||
        mu.n_elems != (int64_t)T * c->m->cfg.dim)
      parity_fail(c->p, cn, "unexpected shapes");
    else if (cx_work_init(&w, c->m, g > 1.0f ? 2 : 1, T) != HM_OK)
      parity_fail(c->p, cn, "%s", hm_last_error());
    else {
      float *x = (float *)noise.data;
      hm_status st = cx_solve_euler(c->m, c->pool, &w, x, (const float *)ic.data, icl, (const float *)mu.data, 10, g,
                                    NULL, NULL, NULL, NULL);
      double e = st ? INFINITY : parity_rel_err(x, (const float *)ref.data, ref.n_elems);
      if (e <= TOL) parity_pass(c->p, cn, e, "10 steps, guidance %.2f, %d in-context frames", g, icl);
      else parity_fail(c->p, cn, "rel err %.2e > %.0e", e, TOL);
      cx_work_free(&w);
    }
  }
  hm_npy_free(&noise); hm_npy_free(&ic); hm_npy_free(&mu); hm_npy_free(&ref);
}

/* Max-abs error after round(9x)/9, as a count of samples over tolerance. */
static void case_sq(pc *c) {
  const char *cn = "codec_sq";
  hm_npy lat, ref;
  if (!load(c, "codec_sq_latent.npy", &lat, false)) { parity_fail(c->p, cn, "%s", hm_last_error()); return; }
  if (!load(c, "codec_sq_out.npy", &ref, false)) { hm_npy_free(&lat); parity_fail(c->p, cn, "%s", hm_last_error()); return; }
  int B = (int)lat.shape[0], L = (int)lat.shape[1], T = (int)lat.shape[2];
  int64_t n = (int64_t)T * c->m->sq.hop;
  cx_sq_work *sw = NULL;
  if (lat.n_dims != 3 || L != c->m->cfg.latent_hidden_dim || ref.n_elems != B * n) parity_fail(c->p, cn, "unexpected shapes");
  else if (cx_sq_work_create(c->m, T, 0, &sw) != HM_OK) parity_fail(c->p, cn, "%s", hm_last_error());
  else {
    float *out = malloc((size_t)B * n * sizeof(float));
    for (int b = 0; b < B; b++) cx_sq_decode(c->m, c->pool, sw, (const float *)lat.data + (int64_t)b * L * T, T, out + b * n);
    double e = parity_rel_err(out, (const float *)ref.data, B * n);
    if (e <= TOL) parity_pass(c->p, cn, e, "%d x %d latent frames -> %lld samples", B, T, (long long)n);
    else parity_fail(c->p, cn, "rel err %.2e > %.0e", e, TOL);
    free(out);
    cx_sq_work_free(sw);
  }
  hm_npy_free(&lat); hm_npy_free(&ref);
}

/* ---- detokenize ---- */

#define MAX_DRAWS 64
#define MAX_FLIPS 64
/* Inside a flip's reach the waveform may differ by up to this (relative to its max). */
#define FLIP_TOL 2e-2
typedef struct detok {
  pc *c;
  const char *name;
  hm_npy draws[MAX_DRAWS];
  int n_draws, next;
  char msg[256];
  double lat_err;
  int n_lat, flips;
  bool lat_bad;
  /* where each flip is: window, latent frame, stereo channel (the first MAX_FLIPS) */
  int64_t flip_win[MAX_FLIPS], flip_frame[MAX_FLIPS];
  int flip_ch[MAX_FLIPS];
} detok;

static hm_status replay(void *ud, float *dst, int64_t n) {
  detok *d = ud;
  if (d->next >= d->n_draws) return hm_error(HM_ERR_FORMAT, "randn draw #%d of %lld values was not recorded", d->next, (long long)n);
  hm_npy *a = &d->draws[d->next];
  if (a->n_elems != n)
    return hm_error(HM_ERR_FORMAT, "randn draw #%d: requested %lld values, recorded %lld", d->next, (long long)n, (long long)a->n_elems);
  memcpy(dst, a->data, (size_t)n * sizeof(float));
  d->next++;
  return HM_OK;
}

static void on_latents(void *ud, int64_t k, const float *lat, int T, int C) {
  detok *d = ud;
  char name[160];
  hm_npy ref;
  snprintf(name, sizeof name, "codec_detok_%.60s_latents%lld.npy", d->name, (long long)k);
  if (!have(d->c, name)) return; /* not recorded for this window */
  if (!load(d->c, name, &ref, false) || ref.n_elems != (int64_t)T * C) {
    d->lat_bad = true;
    snprintf(d->msg, sizeof d->msg, "%s: unreadable or wrong size", name);
    return;
  }
  double e = parity_rel_err(lat, (const float *)ref.data, ref.n_elems);
  if (e > d->lat_err) d->lat_err = e;
  if (e > TOL) { d->lat_bad = true; snprintf(d->msg, sizeof d->msg, "window %lld latents rel err %.2e", (long long)k, e); }
  for (int64_t i = 0; i < ref.n_elems; i++)
    if (nearbyintf(9.0f * lat[i]) != nearbyintf(9.0f * ((const float *)ref.data)[i])) {
      if (d->flips < MAX_FLIPS) {
        d->flip_win[d->flips] = k;
        d->flip_frame[d->flips] = i / C;
        d->flip_ch[d->flips] = (int)((i % C) / d->c->m->cfg.latent_hidden_dim); /* [0,128): left, [128,256): right */
      }
      d->flips++;
    }
  d->n_lat++;
  hm_npy_free(&ref);
}

static void case_detok(pc *c, const char *name) {
  char cn[96], fn[160];
  snprintf(cn, sizeof cn, "codec_detok_%.60s", name);
  if (!parity_selected(c->p, cn)) return;
  detok d;
  memset(&d, 0, sizeof d);
  d.c = c;
  d.name = name;
  hm_npy codes, wav;
  snprintf(fn, sizeof fn, "codec_detok_%.60s_codes.npy", name);
  if (!load(c, fn, &codes, true)) { parity_fail(c->p, cn, "%s", hm_last_error()); return; }
  snprintf(fn, sizeof fn, "codec_detok_%.60s_wav.npy", name);
  if (!load(c, fn, &wav, false)) { hm_npy_free(&codes); parity_fail(c->p, cn, "%s", hm_last_error()); return; }
  for (;;) {
    snprintf(fn, sizeof fn, "codec_detok_%.60s_randn%d.npy", name, d.n_draws);
    if (d.n_draws >= MAX_DRAWS || !have(c, fn)) break;
    if (!load(c, fn, &d.draws[d.n_draws], false)) break;
    d.n_draws++;
  }
  /* upstream's defaults: 10 steps, guidance 1.25 */
  hm_codec_params prm = hm_codec_default_params();
  prm.noise = replay;
  prm.noise_user_data = &d;
  prm.n_threads = parity_threads(c->p);
  float *out = NULL;
  int64_t n = 0, nf = codes.n_dims == 2 ? codes.shape[1] : 0;
  hm_status st = codes.n_dims == 2 && codes.shape[0] == c->m->cfg.num_quantizers
                     ? cx_detokenize(c->m, (const int32_t *)codes.data, nf, &prm, NULL, NULL, NULL, on_latents, &d, &out, &n)
                     : hm_error(HM_ERR_FORMAT, "%s: expected codes [%d, frames]", fn, c->m->cfg.num_quantizers);
  if (st) parity_fail(c->p, cn, "cannot run: %s", hm_last_error());
  else if (d.next != d.n_draws) parity_fail(c->p, cn, "used %d of %d recorded randn draws", d.next, d.n_draws);
  else if (d.lat_bad || d.n_lat == 0) parity_fail(c->p, cn, "%s", d.n_lat ? d.msg : "no latents file to compare");
  else if (wav.n_dims != 2 || wav.shape[0] != 2 || wav.shape[1] != n)
    parity_fail(c->p, cn, "waveform has %lld samples per channel, expected %lld", (long long)n,
                (long long)(wav.n_dims == 2 ? wav.shape[1] : -1));
  else if (d.flips > MAX_FLIPS)
    parity_fail(c->p, cn, "%d round(9x) flips in the latents (more than %d: not float noise)", d.flips, MAX_FLIPS);
  else {
    double e = parity_rel_err(out, (const float *)wav.data, 2 * n);
    /* A latent within float noise of a round(9x) boundary flips one level. Its
     * reach through the decoder (cx_sq_flip_reach: look-ahead frames before,
     * the causal receptive field after) is placed in the output as the window
     * is (k * hop_samples); there the waveform may differ by FLIP_TOL, and
     * everywhere else it must meet TOL. */
    const float *ref = (const float *)wav.data;
    uint8_t *reach = calloc((size_t)(2 * n > 0 ? 2 * n : 1), 1);
    cx_plan P;
    cx_make_plan(c->m, nf, &P);
    for (int f = 0; reach && f < d.flips; f++) {
      int64_t s0, s1;
      cx_sq_flip_reach(c->m, d.flip_frame[f], &s0, &s1);
      s0 = s0 < 0 ? 0 : s0;
      s1 = s1 > P.win_samples ? P.win_samples : s1;
      for (int64_t i = d.flip_win[f] * P.hop_samples + s0; i < d.flip_win[f] * P.hop_samples + s1 && i < n; i++)
        reach[(int64_t)d.flip_ch[f] * n + i] = 1;
    }
    double mr = 0, out_err = 0, in_err = 0;
    int64_t n_reach = 0;
    for (int64_t i = 0; i < 2 * n; i++) mr = fabs(ref[i]) > mr ? fabs(ref[i]) : mr;
    for (int64_t i = 0; reach && i < 2 * n; i++) {
      double dd = fabs((double)out[i] - ref[i]) / (mr > 0 ? mr : 1.0);
      if (dd != dd) dd = INFINITY;
      if (reach[i]) { n_reach++; in_err = dd > in_err ? dd : in_err; }
      else out_err = dd > out_err ? dd : out_err;
    }
    if (!reach) parity_fail(c->p, cn, "out of memory");
    else if (e <= TOL)
      parity_pass(c->p, cn, d.lat_err, "%lld frames, %d windows, latents and waveform (%.2e) within 1e-4", (long long)nf,
                  d.n_lat, e);
    else if (d.flips > 0 && out_err <= TOL && in_err <= FLIP_TOL)
      parity_pass(c->p, cn, d.lat_err,
                  "%lld frames, %d windows; %d round(9x) flip(s): waveform within 1e-4 outside their reach (%.2e), "
                  "%.2e inside (%lld samples)", (long long)nf, d.n_lat, d.flips, out_err, in_err, (long long)n_reach);
    else
      parity_fail(c->p, cn, "waveform rel err %.2e outside the reach of %d round(9x) flip(s) (limit 1e-4), %.2e inside "
                  "(limit %.0e)", out_err, d.flips, in_err, FLIP_TOL);
    free(reach);
  }
  free(out);
  for (int i = 0; i < d.n_draws; i++) hm_npy_free(&d.draws[i]);
  hm_npy_free(&codes); hm_npy_free(&wav);
}

int parity_codec(parity_ctx *p) {
  const json_t *files = json_object_get(parity_manifest(p), "files");
  if (!json_is_object(files)) return -1;
  /* the cases present in this manifest */
  const char *key;
  json_t *val;
  char detoks[16][64];
  int n_detok = 0, n_cases = 0;
  bool rvq = false, est = false, e125 = false, e100 = false, sq = false;
  json_object_foreach((json_t *)files, key, val) {
    if (strncmp(key, "codec_", 6) != 0) continue;
    n_cases++;
    if (!strcmp(key, "codec_rvq_codes.npy")) rvq = true;
    else if (!strcmp(key, "codec_est_in.npy")) est = true;
    else if (!strcmp(key, "codec_euler_g125_out.npy")) e125 = true;
    else if (!strcmp(key, "codec_euler_g100_out.npy")) e100 = true;
    else if (!strcmp(key, "codec_sq_latent.npy")) sq = true;
    else if (!strncmp(key, "codec_detok_", 12)) {
      const char *s = key + 12, *u = strstr(s, "_codes.npy");
      if (u && u[10] == '\0' && n_detok < 16 && u - s < 63) {
        memcpy(detoks[n_detok], s, (size_t)(u - s));
        detoks[n_detok][u - s] = '\0';
        n_detok++;
      }
    }
  }
  if (!n_cases) return -1;
  bool any = false;
  const char *all[] = {"codec_rvq", "codec_est", "codec_euler_g125", "codec_euler_g100", "codec_sq"};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) any |= parity_selected(p, all[i]);
  for (int i = 0; i < n_detok; i++) {
    char cn[96];
    snprintf(cn, sizeof cn, "codec_detok_%.60s", detoks[i]);
    any |= parity_selected(p, cn);
  }
  if (!any) return 0;
  pc c = {p, NULL, NULL};
  char dir[4096];
  if (hm_path_join(dir, sizeof dir, parity_dir(p), "heartcodec") != HM_OK || !hm_dir_exists(dir)) {
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
      if (parity_selected(p, all[i])) parity_skip(p, all[i], "no heartcodec/ folder in the fixture folder");
    return 0;
  }
  hm_codec_params prm = hm_codec_default_params();
  prm.n_threads = parity_threads(p);
  if (hm_codec_load(dir, &prm, &c.m) != HM_OK) {
    parity_fail(p, "codec_load", "%s", hm_last_error());
    return 0;
  }
  c.pool = hm_pool_create(parity_threads(p));
  if (rvq && parity_selected(p, "codec_rvq")) case_rvq(&c);
  if (est && parity_selected(p, "codec_est")) case_est(&c);
  if (e125 && parity_selected(p, "codec_euler_g125")) case_euler(&c, "codec_euler_g125", "codec_euler_g125_out.npy", 1.25f);
  if (e100 && parity_selected(p, "codec_euler_g100")) case_euler(&c, "codec_euler_g100", "codec_euler_g100_out.npy", 1.0f);
  if (sq && parity_selected(p, "codec_sq")) case_sq(&c);
  for (int i = 0; i < n_detok; i++) case_detok(&c, detoks[i]);
  hm_pool_free(c.pool);
  hm_codec_free(c.m);
  return 0;
}
