/* heartmula bench --mode gemm [--threads N] [--rows M] [--reps N] [--json]
 * The GEMM owner alone on the HeartCodec DiT's shapes (M = 1488 rows = CFG 2 x
 * 744 frames; K x N = 1536x1536, 1536x4096, 4096x1536, 3072x3072, 3072x8192,
 * 8192x3072) with weights packed as f32 and as bf16, and the fused attention
 * (744 queries x 744 keys x 24 heads of 64), in GFLOP/s and as a ratio to the
 * f32 FMA peak probed (registers only, all threads) in the same run. */
#include "cli.h"
#include "tensor/gemm.h"
#include "tensor/probe.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Process CPU seconds (all threads): flops per CPU second against the per-core
 * peak stays meaningful when other processes share the cores. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(void) {
  fprintf(stderr,
          "usage: heartmula bench --mode gemm [--threads N] [--rows M] [--reps N] [--json]\n"
          "  GFLOP/s of hm_gemm on the codec DiT's shapes (f32 and bf16 packed weights) and of the fused\n"
          "  attention, each against the f32 FMA peak measured in the same run (best of the probes).\n");
}

static double g_best_cpu;
static double best_time(hm_pool *pool, int reps, int64_t M, const float *A, const hm_gemm_b *B, float *C) {
  double best = 1e30;
  g_best_cpu = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = hm_time_s(), c0 = cpu_s();
    hm_gemm(pool, M, A, B->K, B, NULL, C, B->N);
    double dt = hm_time_s() - t0, dc = cpu_s() - c0;
    if (dt < best) best = dt;
    if (dc < g_best_cpu) g_best_cpu = dc;
  }
  return best;
}

int bench_gemm(int argc, char **argv) {
  int64_t threads = 0, M = 1488, reps = 3;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_flag(argv[i], "--help", "-h")) { usage(); return 0; }
    else if (cli_opt(argc, argv, &i, "--mode", NULL, &v)) continue;
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &threads)) return 2; }
    else if (cli_opt(argc, argv, &i, "--rows", NULL, &v)) { if (!cli_int("--rows", v, &M)) return 2; }
    else if (cli_opt(argc, argv, &i, "--reps", NULL, &v)) { if (!cli_int("--reps", v, &reps)) return 2; }
    else if (cli_flag(argv[i], "--json", NULL)) json = true;
    else { fprintf(stderr, "heartmula bench: unknown argument '%s'\n", argv[i]); usage(); return 2; }
  }
  if (M < 1 || M > 100000 || reps < 1 || reps > 1000) { fprintf(stderr, "heartmula bench: --rows 1..100000, --reps 1..1000\n"); return 2; }
  hm_pool *pool = hm_compute_pool_create((int)threads);
  if (!pool) { fprintf(stderr, "heartmula bench: cannot create the thread pool\n"); return 1; }
  static const int64_t shapes[6][2] = {{1536, 1536}, {1536, 4096}, {4096, 1536}, {3072, 3072}, {3072, 8192}, {8192, 3072}};
  const int64_t maxk = 8192, maxn = 8192;
  float *A = hm_malloc_aligned((size_t)M * maxk * sizeof(float));
  float *W = hm_malloc_aligned((size_t)maxn * maxk * sizeof(float));
  float *C = hm_malloc_aligned((size_t)M * maxn * sizeof(float));
  if (!A || !W || !C) { fprintf(stderr, "heartmula bench: out of memory\n"); return 1; }
  hm_rng rng;
  hm_rng_seed(&rng, 3, 0);
  for (int64_t i = 0; i < M * maxk; i++) A[i] = hm_rng_normal(&rng);
  for (int64_t i = 0; i < maxn * maxk; i++) W[i] = hm_rng_normal(&rng) * 0.02f;
  hm_gemm_info gi = hm_gemm_active_info();
  hm_pool *one = hm_pool_create(1);
  double c0 = cpu_s(), w0 = hm_time_s();
  double core_peak = hm_fma_peak_gflops(one, 0.2, 5);
  (void)c0; (void)w0;
  hm_pool_free(one);
  double peak = hm_fma_peak_gflops(pool, 0.2, 5);
  if (!json)
    printf("gemm: kernel table %s (micro-kernel %d x %d), %d threads, M = %lld; f32 FMA peak %.1f GFLOP/s (one core %.1f)\n",
           gi.name, gi.mr, gi.nr, hm_pool_size(pool), (long long)M, peak, core_peak);
  else printf("{\"table\": \"%s\", \"threads\": %d, \"rows\": %lld, \"peak_gflops\": %.1f, \"shapes\": [", gi.name,
              hm_pool_size(pool), (long long)M, peak);
  double tot_flop[2] = {0, 0}, tot_s[2] = {0, 0};
  for (int s = 0; s < 6; s++) {
    const int64_t K = shapes[s][0], N = shapes[s][1];
    double g[2], gc[2];
    for (int d = 0; d < 2; d++) {
      hm_mat Wm = {HM_DT_F32, N, K, W};
      hm_pmat P;
      if (hm_pmat_pack(pool, &Wm, d ? HM_DT_BF16 : HM_DT_F32, &P) != HM_OK) { fprintf(stderr, "%s\n", hm_last_error()); return 1; }
      hm_gemm_b b = hm_gemm_b_packed(&P);
      double dt = best_time(pool, (int)reps, M, A, &b, C);
      double flop = 2.0 * M * K * N;
      g[d] = flop / dt / 1e9;
      gc[d] = flop / g_best_cpu / 1e9; /* per CPU second */
      tot_flop[d] += flop;
      tot_s[d] += dt;
      hm_pmat_free(&P);
    }
    if (!json)
      printf("  %5lld x %-5lld f32 %7.1f GFLOP/s (%.2f of peak; %.2f per CPU s)   bf16 weights %7.1f GFLOP/s (%.2f; %.2f)\n",
             (long long)K, (long long)N, g[0], g[0] / peak, gc[0] / core_peak, g[1], g[1] / peak, gc[1] / core_peak);
    else printf("%s{\"k\": %lld, \"n\": %lld, \"f32_gflops\": %.1f, \"bf16_gflops\": %.1f}", s ? ", " : "", (long long)K,
                (long long)N, g[0], g[1]);
  }
  /* attention: 744 x 744, 24 heads of 64, two batch rows as two calls */
  const int64_t T = 744, H = 24, hd = 64, D = H * hd;
  double att_best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = hm_time_s();
    for (int b = 0; b < 2; b++)
      hm_attention(pool, A, T, D, A + T * D, A + 2 * T * D, T, D, (int)H, (int)H, (int)hd, 0.125f, -1, C, D);
    double dt = hm_time_s() - t0;
    if (dt < att_best) att_best = dt;
  }
  const double att_g = 2.0 * 2.0 * 2.0 * T * T * D / att_best / 1e9;
  /* the waveform decoder's k = 7 convolutions: C out x (7 C in) weights times
   * the im2col of a channel-major signal (row pointers, dilation 3), N columns
   * (one chunk of 186 + 44 latent frames at each stage's rate) */
  static const int64_t convs[5][2] = {{1024, 1150}, {512, 4600}, {256, 18400}, {128, 73600}, {64, 220800}};
  double conv_g[5], conv_flop = 0, conv_s = 0;
  for (int s = 0; s < 5; s++) {
    const int64_t Cc = convs[s][0], N = convs[s][1], Kc = 7 * Cc, ld = N + 32;
    float *x = hm_malloc_aligned((size_t)Cc * ld * sizeof(float));
    float *Wc = hm_malloc_aligned((size_t)Cc * Kc * sizeof(float));
    float *Cm = hm_malloc_aligned((size_t)Cc * N * sizeof(float));
    const float **rows = malloc((size_t)Kc * sizeof *rows);
    if (!x || !Wc || !Cm || !rows) { fprintf(stderr, "heartmula bench: out of memory\n"); return 1; }
    for (int64_t i = 0; i < Cc * ld; i++) x[i] = hm_rng_normal(&rng);
    for (int64_t i = 0; i < Cc * Kc; i++) Wc[i] = hm_rng_normal(&rng) * 0.02f;
    for (int j = 0; j < 7; j++)
      for (int64_t i = 0; i < Cc; i++) rows[j * Cc + i] = x + i * ld + 3 * j;
    hm_gemm_b b = hm_gemm_b_kn_rows(rows, Kc, N);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
      double t0 = hm_time_s();
      hm_gemm(pool, Cc, Wc, Kc, &b, NULL, Cm, N);
      double dt = hm_time_s() - t0;
      if (dt < best) best = dt;
    }
    const double flop = 2.0 * Cc * Kc * N;
    conv_g[s] = flop / best / 1e9;
    conv_flop += flop;
    conv_s += best;
    hm_free_aligned(x); hm_free_aligned(Wc); hm_free_aligned(Cm); free(rows);
  }
  const double conv_all = conv_flop / conv_s / 1e9;
  if (!json) {
    printf("  decoder convs (k = 7, channels x columns):");
    for (int s = 0; s < 5; s++) printf(" %lldx%lld %.1f (%.2f)", (long long)convs[s][0], (long long)convs[s][1], conv_g[s], conv_g[s] / peak);
    printf("; all %.1f GFLOP/s (%.2f of peak)\n", conv_all, conv_all / peak);
  }
  double f32_all = tot_flop[0] / tot_s[0] / 1e9, bf16_all = tot_flop[1] / tot_s[1] / 1e9;
  if (!json)
    printf("  all six: f32 %.1f GFLOP/s (%.2f of peak), bf16 weights %.1f (%.2f); attention 2 x 744^2 x 24 x 64: "
           "%.1f GFLOP/s (%.2f), %.3f s\n", f32_all, f32_all / peak, bf16_all, bf16_all / peak, att_g, att_g / peak,
           att_best);
  else printf("], \"f32_gflops\": %.1f, \"bf16_gflops\": %.1f, \"f32_ratio\": %.3f, \"bf16_ratio\": %.3f, "
              "\"attention_gflops\": %.1f, \"attention_ratio\": %.3f, \"conv_gflops\": %.1f, \"conv_ratio\": %.3f}\n", f32_all,
              bf16_all, f32_all / peak, bf16_all / peak, att_g, att_g / peak, conv_all, conv_all / peak);
  hm_free_aligned(A);
  hm_free_aligned(W);
  hm_free_aligned(C);
  hm_pool_free(pool);
  return 0;
}
