/* Matrix x vector throughput of the decode path, per weight format, against the
 * machine's read bandwidth measured in the same run (hm_bandwidth_probe_gbs).
 * Each configuration cycles through enough copies of the matrix (>= 1.5 GB) that
 * the weights come from DRAM, not from the last-level cache; the probe runs right
 * before each timing and the best pass is reported (the VM's bandwidth drifts).
 *   bench_matvec [--threads N] [--seconds S] [--isa scalar|avx2|avx512] */
#include "tensor/kernels.h"
#include "tensor/probe.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int threads = 0;
  double seconds = 1.0;
  hm_isa isa = hm_isa_best();
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
      const char *s = argv[++i];
      isa = !strcmp(s, "scalar") ? HM_ISA_SCALAR : !strcmp(s, "avx2") ? HM_ISA_AVX2 : HM_ISA_AVX512;
    } else { fprintf(stderr, "usage: %s [--threads N] [--seconds S] [--isa scalar|avx2|avx512]\n", argv[0]); return 2; }
  }
  if (!hm_isa_set(isa)) { fprintf(stderr, "ISA not supported on this CPU\n"); return 1; }
  hm_pool *pool = hm_pool_create(threads);
  printf("kernels: %s, threads: %d\n", hm_kernels_active()->name, hm_pool_size(pool));
  double bw0 = hm_bandwidth_probe_gbs(pool, (size_t)1 << 30);
  printf("probe: %.1f GB/s\n", bw0);
  const int64_t shapes[][2] = { { 3072, 3072 }, { 8192, 3072 } };
  const hm_dtype types[] = { HM_DT_F32, HM_DT_BF16, HM_DT_Q8_0, HM_DT_Q4_0 };
  hm_rng rng;
  hm_rng_seed(&rng, 7, 0);
  printf("%-6s %-10s %2s %10s %9s %9s %8s\n", "format", "shape", "n", "us/call", "GB/s", "probe", "of probe");
  double bw_sum = bw0;
  int n_probe = 1;
  for (size_t si = 0; si < 2; si++) {
    const int64_t rows = shapes[si][0], cols = shapes[si][1];
    float *w = (float *)malloc((size_t)(rows * cols) * sizeof(float));
    float *x = (float *)malloc(sizeof(float) * 2 * cols), *y = (float *)malloc(sizeof(float) * 2 * rows);
    if (!w || !x || !y) { fprintf(stderr, "out of memory\n"); return 1; }
    for (int64_t i = 0; i < rows * cols; i++) w[i] = hm_rng_normal(&rng) * 0.02f;
    for (int64_t i = 0; i < 2 * cols; i++) x[i] = hm_rng_normal(&rng);
    hm_mat W32 = { HM_DT_F32, rows, cols, w };
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
      hm_mat Wt;
      if (hm_mat_convert(&W32, types[ti], &Wt) != HM_OK) { fprintf(stderr, "%s\n", hm_last_error()); return 1; }
      const size_t mbytes = hm_dtype_bytes(types[ti], cols) * (size_t)rows;
      int copies = (int)(((size_t)1536 << 20) / mbytes) + 1;
      uint8_t *buf = (uint8_t *)hm_alloc_big(mbytes * copies); /* as hm_mat_convert's outputs */
      if (!buf) { fprintf(stderr, "out of memory\n"); return 1; }
      for (int c = 0; c < copies; c++) memcpy(buf + (size_t)c * mbytes, Wt.data, mbytes);
      for (int n = 1; n <= 2; n++) {
        /* the floor right next to the timing (this VM's bandwidth drifts) */
        const double bw = hm_bandwidth_probe_gbs(pool, (size_t)1 << 30);
        bw_sum += bw;
        n_probe++;
        /* best pass over all copies (each pass streams >= 1.5 GB from DRAM) */
        double best = 1e30, t_start = hm_time_s();
        do {
          double t0 = hm_time_s();
          for (int c = 0; c < copies; c++) {
            hm_mat Wc = { types[ti], rows, cols, buf + (size_t)c * mbytes };
            hm_matvec(pool, &Wc, n, x, cols, y, rows);
          }
          double per = (hm_time_s() - t0) / copies;
          if (per < best) best = per;
        } while (hm_time_s() - t_start < seconds);
        double gbs = (double)mbytes / best / 1e9;
        printf("%-6s %5lldx%-4lld %2d %10.1f %9.1f %9.1f %7.0f%%\n", hm_dtype_name(types[ti]), (long long)rows,
               (long long)cols, n, best * 1e6, gbs, bw, 100.0 * gbs / bw);
        fflush(stdout);
      }
      hm_free_aligned(buf);
      hm_mat_free_owned(&Wt);
    }
    free(w); free(x); free(y);
  }
  printf("mean probe: %.1f GB/s\n", bw_sum / n_probe);
  hm_pool_free(pool);
  return 0;
}
