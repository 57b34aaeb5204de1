/* heartmula bench --mode codec --codec DIR [--steps N] [--full] [--threads N] [--json]
 *                 [--make-full DIR] [--drift]
 * HeartCodec speed on one 29.76 s window (744 latent frames): seconds per DiT
 * estimator call (CFG batch 2), per waveform decode, the GFLOP/s those make,
 * and seconds per window (10 steps + decode). By default it times N (1)
 * estimator calls and extrapolates to the window's 10; --full decodes a real
 * window end to end. --make-full DIR writes a random full-size checkpoint
 * (HeartCodecConfig defaults) there first if DIR has none. */
#include "cli.h"
#include "testkit.h"
#include "codec/codec_internal.h"
#include "io/fs.h"
#include "tensor/probe.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(void) {
  fprintf(stderr,
          "usage: heartmula bench --mode codec (--codec DIR | --make-full DIR) [--steps N] [--full]\n"
          "                       [--codec-dtype f32|bf16] [--threads N] [--json]\n"
          "  Times N (default 1) DiT estimator calls with CFG (batch 2 x 744 frames) and one waveform\n"
          "  decode of a 29.76 s window; prints s/call, s/decode, GFLOP/s and s/window (10 steps).\n"
          "  --full        also decode one real window end to end (10 steps; slow at full size)\n"
          "  --drift       decode one window (372 random codes, 10 steps) with F32 and with BF16 weights and\n"
          "                print the BF16 drift: latents rel err, waveform SNR, max abs difference (no timings)\n"
          "  --no-decode   skip the waveform decoder timing\n"
          "  --make-full D write a random full-size HeartCodec-oss checkpoint into D if it has none\n");
}

/* Multiply-adds x 2 of one estimator forward over B x T frames. */
static double est_flops(const hm_codec_model *m, int B, int T) {
  const cx_config *c = &m->cfg;
  double D = m->s1.D, D2 = m->s2.D, F = m->s1.ffn, F2 = m->s2.ffn, Cin = c->in_channels, Co = c->out_channels;
  double t = T, f = 0;
  f += t * Cin * D * 3 + t * D * D;                                   /* proj_in */
  f += m->s1.n_blocks * (4 * t * D * D + 2 * t * t * D + 3 * t * D * F);
  f += t * (Cin + D) * D2 * 3 + t * D2 * D2;                          /* connection_proj */
  f += m->s2.n_blocks * (4 * t * D2 * D2 + 2 * t * t * D2 + 3 * t * D2 * F2);
  f += t * D2 * Co * 3 + t * Co * Co;                                 /* proj_out */
  return 2.0 * B * f;
}

/* FLOPs of ScalarModel.decode of one channel over T latent frames. */
static double sq_flops(const hm_codec_model *m, int T) {
  const cx_config *c = &m->cfg;
  const cx_sq *sq = &m->sq;
  double t = T, f = t * c->latent_hidden_dim * sq->in.c_out * sq->in.k;
  for (int i = 0; i < c->n_up; i++) {
    const cx_decblock *b = &sq->blocks[i];
    f += t * b->up.c_in * b->up.c_out * b->up.k;
    t *= b->up.s;
    for (int r = 0; r < CX_RES_UNITS; r++) f += t * b->up.c_out * b->up.c_out * (b->ru[r].c1.k + 1);
  }
  if (sq->has_post) { t *= c->num_samples; f += t * sq->post.c_in * sq->post.c_out * sq->post.k; }
  f += t * sq->out.c_in * sq->out.k;
  return 2.0 * f;
}

/* ---- --drift: BF16 weights against F32 on one full window ---- */

typedef struct lat_keep { float *lat; int T, C; } lat_keep;
static void keep_lat(void *ud, int64_t k, const float *lat, int T, int C) {
  lat_keep *lk = ud;
  if (k != 0 || lk->lat) return;
  lk->lat = malloc((size_t)T * C * sizeof(float));
  if (lk->lat) memcpy(lk->lat, lat, (size_t)T * C * sizeof(float));
  lk->T = T;
  lk->C = C;
}

static int decode_one(const char *dir, int threads, bool bf16, int32_t *codes, lat_keep *lk, float **wav,
                      int64_t *n, double *secs) {
  hm_codec_params p = hm_codec_default_params();
  p.n_threads = threads;
  p.bf16_weights = bf16;
  p.seed = 1234;
  hm_codec_model *m = NULL;
  if (hm_codec_load(dir, &p, &m) != HM_OK) return cli_fail("bench", dir);
  /* the same random codes for both (a seeded draw within this checkpoint's codebook) */
  hm_rng rng;
  hm_rng_seed(&rng, 5, 3);
  for (int i = 0; i < 8 * 372; i++) codes[i] = (int32_t)(hm_rng_u64(&rng) % (uint64_t)hm_codec_codebook_size(m));
  double t0 = hm_time_s();
  hm_status st = cx_detokenize(m, codes, 372, &p, NULL, NULL, NULL, keep_lat, lk, wav, n);
  *secs = hm_time_s() - t0;
  hm_codec_free(m);
  if (st) return cli_fail("bench", "decode");
  return 0;
}

static int bench_drift(const char *dir, int threads, bool json) {
  int32_t *codes = malloc(8 * 372 * sizeof(int32_t));
  if (!codes) return cli_fail("bench", "codes");
  lat_keep k32 = {0}, k16 = {0};
  float *w32 = NULL, *w16 = NULL;
  int64_t n32 = 0, n16 = 0;
  double s32 = 0, s16 = 0;
  int rc = 0;
  rc = decode_one(dir, threads, false, codes, &k32, &w32, &n32, &s32);
  if (!rc) rc = decode_one(dir, threads, true, codes, &k16, &w16, &n16, &s16);
  if (!rc && (!k32.lat || !k16.lat || n32 != n16)) rc = cli_fail("bench", "drift: no latents");
  if (!rc) {
    const int64_t nl = (int64_t)k32.T * k32.C;
    const double lat_err = hm_max_rel_err(k16.lat, k32.lat, nl);
    int64_t flips = 0;
    for (int64_t i = 0; i < nl; i++) flips += nearbyintf(9.0f * k16.lat[i]) != nearbyintf(9.0f * k32.lat[i]);
    double sig = 0, err = 0, mx = 0, peak = 0;
    for (int64_t i = 0; i < 2 * n32; i++) {
      const double d = (double)w16[i] - w32[i];
      sig += (double)w32[i] * w32[i];
      err += d * d;
      mx = fabs(d) > mx ? fabs(d) : mx;
      peak = fabs(w32[i]) > peak ? fabs(w32[i]) : peak;
    }
    const double snr = err > 0 ? 10.0 * log10(sig / err) : INFINITY;
    if (json)
      printf("{\"codec\": \"%s\", \"drift_latents_rel_err\": %.3g, \"drift_round9_flips\": %lld, "
             "\"drift_snr_db\": %.2f, \"drift_max_abs\": %.4g, \"waveform_max_abs\": %.4g, \"f32_window_s\": %.1f, "
             "\"bf16_window_s\": %.1f}\n", dir, lat_err, (long long)flips, snr, mx, peak, s32, s16);
    else
      printf("bf16 drift on one full window (372 random codes, 10 steps, CFG 1.25, seed 1234): latents rel err %.3g "
             "(%lld of %lld round(9x) levels differ), waveform SNR %.1f dB, max abs sample difference %.4g (waveform "
             "max %.4g); window %.1f s f32, %.1f s bf16\n", lat_err, (long long)flips, (long long)nl, snr, mx, peak,
             s32, s16);
  }
  free(k32.lat);
  free(k16.lat);
  free(w32);
  free(w16);
  free(codes);
  return rc;
}

int bench_codec(int argc, char **argv) {
  const char *dir = NULL, *make = NULL;
  int64_t steps = 1, threads = 0;
  bool full = false, json = false, bf16 = false, skip_decode = false, drift = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_flag(argv[i], "--help", "-h")) { usage(); return 0; }
    else if (cli_opt(argc, argv, &i, "--mode", NULL, &v)) continue;
    else if (cli_opt(argc, argv, &i, "--codec", "--codec-path", &v)) dir = v;
    else if (cli_opt(argc, argv, &i, "--make-full", NULL, &v)) make = v;
    else if (cli_opt(argc, argv, &i, "--steps", "-n", &v)) { if (!cli_int("--steps", v, &steps)) return 2; }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &threads)) return 2; }
    else if (cli_opt(argc, argv, &i, "--codec-dtype", NULL, &v)) {
      if (!strcmp(v, "bf16")) bf16 = true;
      else if (!strcmp(v, "f32")) bf16 = false;
      else { fprintf(stderr, "heartmula bench: --codec-dtype: unknown '%s' (f32, bf16)\n", v); return 2; }
    }
    else if (cli_flag(argv[i], "--full", NULL)) full = true;
    else if (cli_flag(argv[i], "--drift", NULL)) drift = true;
    else if (cli_flag(argv[i], "--no-decode", NULL)) skip_decode = true;
    else if (cli_flag(argv[i], "--json", NULL)) json = true;
    else { fprintf(stderr, "heartmula bench: unknown argument '%s'\n", argv[i]); usage(); return 2; }
  }
  if (!dir && make) dir = make;
  if (!dir) { usage(); return 2; }
  if (steps < 1 || steps > 100) { fprintf(stderr, "heartmula bench: --steps must be 1..100\n"); return 2; }
  if (make) {
    char cfg[4096];
    if (hm_path_join(cfg, sizeof cfg, make, "config.json") != HM_OK) return cli_fail("bench", make);
    if (!hm_file_exists(cfg)) {
      fprintf(stderr, "heartmula bench: writing a random full-size HeartCodec checkpoint to %s ...\n", make);
      double t = hm_time_s();
      if (hm_codec_make_checkpoint(make, "full", 1) != HM_OK) return cli_fail("bench", make);
      fprintf(stderr, "heartmula bench: written in %.1f s\n", hm_time_s() - t);
    }
  }
  if (drift) return bench_drift(dir, (int)threads, json);
  hm_codec_params p = hm_codec_default_params();
  p.n_threads = (int)threads;
  p.bf16_weights = bf16;
  double t0 = hm_time_s();
  hm_codec_model *m = NULL;
  if (hm_codec_load(dir, &p, &m) != HM_OK) return cli_fail("bench", dir);
  double t_load = hm_time_s() - t0;
  const int T = 744, B = 2;
  hm_pool *pool = hm_pool_create((int)threads);
  cx_work w;
  if (!pool || cx_work_init(&w, m, B, T) != HM_OK) { hm_pool_free(pool); hm_codec_free(m); return cli_fail("bench", "scratch"); }
  hm_rng rng;
  hm_rng_seed(&rng, 1, 9);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      float *row = cx_in_row(&w, b, t);
      for (int j = 0; j < w.Cin; j++) row[j] = hm_rng_normal(&rng);
    }
  float tt[2] = {0.3f, 0.3f};
  double best = 1e30, sum = 0;
  for (int s = 0; s < steps; s++) {
    double a = hm_time_s();
    cx_estimator(m, pool, &w, tt);
    double e = hm_time_s() - a;
    sum += e;
    if (e < best) best = e;
  }
  double mean = sum / steps, fl_est = est_flops(m, B, T);
  cx_work_free(&w);
  /* waveform decoder, both channels of one window */
  cx_sq_work *sw = NULL;
  float *lat = malloc((size_t)m->cfg.latent_hidden_dim * T * sizeof(float));
  float *wav = malloc((size_t)T * m->sq.hop * sizeof(float));
  double t_sq = 0;
  if (!skip_decode && lat && wav && cx_sq_work_create(m, T, 186, &sw) == HM_OK) {
    for (int64_t i = 0; i < (int64_t)m->cfg.latent_hidden_dim * T; i++) lat[i] = 0.3f * hm_rng_normal(&rng);
    double a = hm_time_s();
    for (int h = 0; h < 2; h++) cx_sq_decode(m, pool, sw, lat, T, wav);
    t_sq = hm_time_s() - a;
  }
  cx_sq_work_free(sw);
  free(lat);
  free(wav);
  double fl_sq = 2 * sq_flops(m, T);
  double per_window = 10 * mean + t_sq;
  double t_full = -1;
  if (full) {
    int32_t *codes = malloc(8 * 372 * sizeof(int32_t));
    for (int i = 0; i < 8 * 372; i++) codes[i] = (int32_t)(hm_rng_u64(&rng) % (uint64_t)m->cfg.codebook_size);
    float *out = NULL;
    int64_t n = 0;
    double a = hm_time_s();
    hm_status st = hm_codec_decode(m, codes, 372, &p, NULL, NULL, NULL, &out, &n);
    t_full = hm_time_s() - a;
    free(out);
    free(codes);
    if (st) { hm_pool_free(pool); hm_codec_free(m); return cli_fail("bench", "decode"); }
  }
  /* the DiT's attention alone: every block's (B batch rows x heads x T x T), both stacks */
  double t_att = 0, fl_att = 0;
  {
    const int64_t Dm = m->s2.D > m->s1.D ? m->s2.D : m->s1.D;
    float *q = malloc((size_t)(3 * T * Dm) * sizeof(float)), *o = malloc((size_t)(T * Dm) * sizeof(float));
    if (q && o) {
      for (int64_t i = 0; i < 3 * T * Dm; i++) q[i] = hm_rng_normal(&rng);
      const cx_stack *st2[2] = {&m->s1, &m->s2};
      for (int si = 0; si < 2; si++) {
        const cx_stack *sk = st2[si];
        const float *k = q + T * sk->D, *v = q + 2 * T * sk->D;
        double a = hm_time_s();
        hm_attention(pool, q, T, sk->D, k, v, T, sk->D, sk->n_heads, sk->n_heads, sk->head_dim,
                     1.0f / sqrtf((float)sk->head_dim), -1, o, sk->D);
        t_att += (hm_time_s() - a) * B * sk->n_blocks;
        fl_att += 4.0 * T * T * sk->D * B * sk->n_blocks;
      }
    }
    free(q);
    free(o);
  }
  /* the f32 FMA peak of this CPU with the same threads, probed in this run (the best of 5) */
  const double peak = hm_fma_peak_gflops(pool, 0.25, 5);
  const hm_gemm_info gi = hm_gemm_active_info();
  const char *dtype = m->amx ? "bf16-amx" : bf16 ? "bf16" : "f32";
  const double dit_g = fl_est / best / 1e9, dec_g = t_sq > 0 ? fl_sq / t_sq / 1e9 : 0, att_g = t_att > 0 ? fl_att / t_att / 1e9 : 0;
  if (json) {
    printf("{\"codec\": \"%s\", \"dtype\": \"%s\", \"kernels\": \"%s\", \"threads\": %d, \"load_s\": %.3f, "
           "\"dit_call_s\": %.4f, \"dit_call_mean_s\": %.4f, \"dit_gflop\": %.2f, \"dit_gflops\": %.1f, "
           "\"attention_s\": %.4f, \"attention_gflops\": %.1f, \"decode_s\": %.3f, \"decode_gflop\": %.2f, "
           "\"decode_gflops\": %.1f, \"window_s\": %.2f, \"window_s_est\": %.2f, \"window_s_full\": %.2f, "
           "\"peak_gflops\": %.1f, \"dit_ratio\": %.3f, \"attention_ratio\": %.3f, \"decode_ratio\": %.3f, "
           "\"peak_rss_mib\": %.1f}\n",
           dir, dtype, gi.name, hm_pool_size(pool), t_load, best, mean, fl_est / 1e9, dit_g, t_att, att_g, t_sq,
           fl_sq / 1e9, dec_g, full ? t_full : per_window, per_window, t_full, peak, dit_g / peak, att_g / peak,
           dec_g / peak, (double)hm_peak_rss_bytes() / (1024.0 * 1024.0));
  } else {
    printf("codec %s: dim %d, DiT %d+%d layers, %d heads x %d, %s weights; GEMM kernels %s (%d x %d), %d threads\n",
           dir, m->cfg.dim, m->cfg.n_layers, m->cfg.n_layers_2, m->cfg.n_heads, m->cfg.head_dim,
           m->amx ? "BF16 (AMX tiles)" : bf16 ? "BF16" : "F32", gi.name, gi.mr, gi.nr, hm_pool_size(pool));
    printf("  f32 FMA peak (probe, this run) %.1f GFLOP/s\n", peak);
    printf("  load                 %8.2f s\n", t_load);
    printf("  DiT call (CFG, 2x744) %7.3f s best, %.3f s mean over %lld: %.1f GFLOP -> %.1f GFLOP/s = %.2f of peak\n",
           best, mean, (long long)steps, fl_est / 1e9, dit_g, dit_g / peak);
    printf("    of which attention %6.3f s: %.1f GFLOP -> %.1f GFLOP/s = %.2f of peak\n", t_att, fl_att / 1e9, att_g,
           att_g / peak);
    printf("  waveform decode      %8.3f s for 2 x %d latent frames: %.1f GFLOP -> %.1f GFLOP/s = %.2f of peak\n", t_sq, T,
           fl_sq / 1e9, dec_g, dec_g / peak);
    printf("  per 29.76 s window   %8.2f s (10 steps x DiT call + decode, extrapolated; %.1f TFLOP)\n", per_window,
           (10 * fl_est + fl_sq) / 1e12);
    if (full) printf("  measured window      %8.2f s (hm_codec_decode of 372 codes, 10 steps, CFG 1.25)\n", t_full);
    printf("  peak RSS             %8.1f MiB\n", (double)hm_peak_rss_bytes() / (1024.0 * 1024.0));
  }
  hm_pool_free(pool);
  hm_codec_free(m);
  return 0;
}
