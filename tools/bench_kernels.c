/* heartmula bench --mode kernels [--threads N] [--cols N] [--json]
 * The decode matrix-vector kernels alone, per weight format and vector count
 * (1, 2 = CFG, 4 = the decoder's first step): throughput in cache (one thread,
 * ~1 MB of weights that stay in L2: the compute ceiling of the kernel) and
 * from DRAM (all threads, a stream of matrices several times the caches, each
 * pass timed between two bandwidth-probe passes), in GB/s of weights and
 * GFLOP/s (2 x rows x cols x vectors per call). When the in-cache rate per
 * core is not well above the probe's per-core share, the kernel is
 * compute-bound on this machine. */
#include "cli.h"
#include "tensor/ops.h"
#include "tensor/probe.h"
#include <stdlib.h>
#include <string.h>

static void usage(void) {
  fprintf(stderr,
          "usage: heartmula bench --mode kernels [--threads N] [--cols N] [--json]\n"
          "  For bf16, q8_0 and q4_0 weights and 1, 2 and 4 vectors: GB/s and GFLOP/s of the matvec kernel\n"
          "  in cache (1 thread, ~1 MB of rows) and from DRAM (all threads, ~400 MB of cols x cols matrices),\n"
          "  the latter with the ratio time / (bytes / bandwidth) against probe passes right before and after.\n");
}

typedef struct kres {
  double cache_gbs, cache_gflops, dram_gbs, dram_gflops, probe_gbs, ratio;
} kres;

static int run_one(hm_dtype ty, int n, int64_t cols, hm_pool *pool1, hm_pool *pool, hm_bw_probe *prb, kres *r) {
  const int64_t big_rows = cols;
  /* in cache: ~1 MB of weights (L2 holds it; large enough that the launch costs little) */
  int64_t small_rows = (int64_t)((1 << 20) / hm_dtype_bytes(ty, cols)) / 32 * 32;
  if (small_rows < 32) small_rows = 32;
  if (small_rows > big_rows) small_rows = big_rows;
  const size_t mbytes = hm_dtype_bytes(ty, cols) * (size_t)big_rows;
  int nm = (int)((size_t)400e6 / mbytes);
  if (nm < 2) nm = 2;
  float *src = malloc((size_t)(big_rows * cols) * sizeof(float));
  float *x = malloc((size_t)(4 * cols) * sizeof(float)), *y = malloc((size_t)(4 * big_rows) * sizeof(float));
  hm_mat *M = calloc((size_t)nm, sizeof *M), S = {0};
  if (!src || !x || !y || !M) { free(src); free(x); free(y); free(M); fprintf(stderr, "out of memory\n"); return 1; }
  hm_rng rng;
  hm_rng_seed(&rng, 7, 0);
  for (int64_t i = 0; i < big_rows * cols; i++) src[i] = hm_rng_normal(&rng) * 0.02f;
  for (int64_t i = 0; i < 4 * cols; i++) x[i] = hm_rng_normal(&rng);
  hm_mat F = {HM_DT_F32, big_rows, cols, src}, Fs = {HM_DT_F32, small_rows, cols, src};
  int rc = 0;
  if (hm_mat_convert_pool(pool, &Fs, ty, &S) != HM_OK) rc = 1;
  for (int i = 0; i < nm && rc == 0; i++)
    if (hm_mat_convert_pool(pool, &F, ty, &M[i]) != HM_OK) rc = 1;
  if (rc) { fprintf(stderr, "heartmula bench: %s\n", hm_last_error()); goto out; }
  /* in cache: one thread, repeated until ~0.3 s */
  {
    const double flop = 2.0 * small_rows * cols * n, bytes = (double)hm_dtype_bytes(ty, cols) * small_rows;
    for (int i = 0; i < 50; i++) hm_matvec(pool1, &S, n, x, cols, y, small_rows);
    int64_t reps = 0;
    double t0 = hm_time_s(), dt = 0;
    while (dt < 0.3) {
      for (int i = 0; i < 100; i++) hm_matvec(pool1, &S, n, x, cols, y, small_rows);
      reps += 100;
      dt = hm_time_s() - t0;
    }
    r->cache_gbs = bytes * reps / dt / 1e9;
    r->cache_gflops = flop * reps / dt / 1e9;
  }
  /* DRAM: all threads, 5 passes over the matrices, each between two probe passes */
  {
    const double flop = 2.0 * big_rows * cols * n * nm, bytes = (double)mbytes * nm;
    double best_t = 1e30, ratio_sum = 0, bw_sum = 0;
    double before = hm_bw_probe_run(prb, 1);
    for (int pass = 0; pass < 6; pass++) {
      double t0 = hm_time_s();
      for (int i = 0; i < nm; i++) hm_matvec(pool, &M[i], n, x, cols, y, big_rows);
      double dt = hm_time_s() - t0;
      double after = hm_bw_probe_run(prb, 1);
      if (pass > 0) { /* pass 0 warms up */
        const double bw = before > after ? before : after;
        ratio_sum += dt / (bytes / 1e9 / bw);
        bw_sum += bw;
        if (dt < best_t) best_t = dt;
      }
      before = after;
    }
    r->dram_gbs = bytes / best_t / 1e9;
    r->dram_gflops = flop / best_t / 1e9;
    r->ratio = ratio_sum / 5;
    r->probe_gbs = bw_sum / 5;
  }
out:
  for (int i = 0; i < nm; i++) hm_mat_free_owned(&M[i]);
  hm_mat_free_owned(&S);
  free(M); free(src); free(x); free(y);
  return rc;
}

int bench_kernels(int argc, char **argv) {
  int64_t threads = 0, cols = 3072;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_flag(argv[i], "--help", "-h")) { usage(); return 0; }
    else if (cli_opt(argc, argv, &i, "--mode", NULL, &v)) continue;
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &threads)) return 2; }
    else if (cli_opt(argc, argv, &i, "--cols", NULL, &v)) { if (!cli_int("--cols", v, &cols)) return 2; }
    else if (cli_flag(argv[i], "--json", NULL)) json = true;
    else { fprintf(stderr, "heartmula bench: unknown argument '%s'\n", argv[i]); usage(); return 2; }
  }
  if (cols < 32 || cols % 32 || cols > 65536) {
    fprintf(stderr, "heartmula bench: --cols must be a multiple of 32 in [32, 65536]\n");
    return 2;
  }
  hm_pool *pool = hm_compute_pool_create((int)threads), *pool1 = hm_pool_create(1);
  hm_bw_probe *prb = pool ? hm_bw_probe_create(pool, (size_t)1 << 30) : NULL;
  if (!pool || !pool1 || !prb) {
    fprintf(stderr, "heartmula bench: %s\n", hm_last_error());
    hm_bw_probe_free(prb); hm_pool_free(pool); hm_pool_free(pool1);
    return 1;
  }
  const int nth = hm_pool_size(pool);
  if (!json)
    printf("matvec kernels, %lld columns, in cache: 1 thread; DRAM: %d threads\n"
           "format  n  cache GB/s  cache GFLOP/s  DRAM GB/s  DRAM GFLOP/s  probe GB/s  time/floor\n",
           (long long)cols, nth);
  const hm_dtype types[] = {HM_DT_BF16, HM_DT_Q8_0, HM_DT_Q4_0};
  const char *names[] = {"bf16", "q8_0", "q4_0"};
  const int ns[] = {1, 2, 4};
  int rc = 0;
  for (int ti = 0; ti < 3 && rc == 0; ti++)
    for (int ni = 0; ni < 3 && rc == 0; ni++) {
      kres r;
      rc = run_one(types[ti], ns[ni], cols, pool1, pool, prb, &r);
      if (rc) break;
      if (json)
        printf("{\"mode\": \"kernels\", \"format\": \"%s\", \"n\": %d, \"cols\": %lld, \"threads\": %d, "
               "\"cache_gbs\": %.2f, \"cache_gflops\": %.1f, \"dram_gbs\": %.2f, \"dram_gflops\": %.1f, "
               "\"bandwidth_gbs\": %.2f, \"ratio\": %.3f}\n",
               names[ti], ns[ni], (long long)cols, nth, r.cache_gbs, r.cache_gflops, r.dram_gbs, r.dram_gflops,
               r.probe_gbs, r.ratio);
      else
        printf("%-6s  %d  %10.2f  %13.1f  %9.2f  %12.1f  %10.2f  %10.3f\n", names[ti], ns[ni], r.cache_gbs,
               r.cache_gflops, r.dram_gbs, r.dram_gflops, r.probe_gbs, r.ratio);
      fflush(stdout);
    }
  hm_bw_probe_free(prb);
  hm_pool_free(pool);
  hm_pool_free(pool1);
  return rc;
}
