/* Memory-bandwidth probe (see probe.h). */
#include "tensor/probe.h"
#include "tensor/kernels.h"
#include <stdlib.h>

typedef struct probe_task {
  const uint8_t *buf;
  size_t bytes;
  const hm_kernels *k;
  uint64_t sums[256];
} probe_task;

static void probe_run(void *arg, int ith, int nth) {
  probe_task *t = (probe_task *)arg;
  int64_t b0, b1;
  hm_split((int64_t)t->bytes, ith, nth, 4096, &b0, &b1);
  uint64_t s = b1 > b0 ? t->k->stream_read(t->buf + b0, (size_t)(b1 - b0)) : 0;
  if (ith < 256) t->sums[ith] = s;
}

static void fill_run(void *arg, int ith, int nth) {
  probe_task *t = (probe_task *)arg;
  int64_t b0, b1;
  hm_split((int64_t)t->bytes, ith, nth, 4096, &b0, &b1);
  memset((uint8_t *)t->buf + b0, 1 + ith, (size_t)(b1 - b0));
}

struct hm_bw_probe {
  hm_pool *pool;
  probe_task t;
  uint64_t sink;
};

hm_bw_probe *hm_bw_probe_create(hm_pool *pool, size_t bytes) {
  const size_t min_bytes = (size_t)1 << 30;
  if (bytes < min_bytes) bytes = min_bytes;
  bytes = (bytes + 4095) & ~(size_t)4095;
  hm_bw_probe *p = (hm_bw_probe *)calloc(1, sizeof *p);
  uint8_t *buf = (uint8_t *)hm_alloc_big(bytes); /* huge pages, as the converted weights */
  if (!p || !buf) {
    free(p);
    hm_free_aligned(buf);
    hm_error(HM_ERR_NOMEM, "bandwidth probe: cannot allocate %zu bytes", bytes);
    return NULL;
  }
  p->pool = pool;
  p->t.buf = buf;
  p->t.bytes = bytes;
  p->t.k = hm_kernels_active();
  hm_pool_run(pool, fill_run, &p->t); /* first touch from the threads that read it */
  return p;
}

double hm_bw_probe_run(hm_bw_probe *p, int passes) {
  if (!p) return 0.0;
  double best = 0.0;
  for (int pass = 0; pass < (passes > 0 ? passes : 1); pass++) {
    double t0 = hm_time_s();
    hm_pool_run(p->pool, probe_run, &p->t);
    double dt = hm_time_s() - t0;
    for (int i = 0; i < 256; i++) p->sink += p->t.sums[i];
    double gbs = dt > 0 ? (double)p->t.bytes / dt / 1e9 : 0.0;
    if (gbs > best) best = gbs;
  }
  return best;
}

void hm_bw_probe_free(hm_bw_probe *p) {
  if (!p) return;
  if (p->sink == 42) hm_log(HM_LOG_DEBUG, "bandwidth probe checksum %llu", (unsigned long long)p->sink);
  hm_free_aligned((void *)p->t.buf);
  free(p);
}

double hm_bandwidth_probe_gbs(hm_pool *pool, size_t bytes) {
  hm_bw_probe *p = hm_bw_probe_create(pool, bytes);
  double best = hm_bw_probe_run(p, 5);
  hm_bw_probe_free(p);
  return best;
}

typedef struct fma_task { const hm_kernels *k; int64_t iters; float sink[64]; } fma_task;

static void fma_run(void *arg, int ith, int nth) {
  (void)nth;
  fma_task *t = (fma_task *)arg;
  float v = t->k->fma_probe(t->iters, 1.0f + (float)ith);
  if (ith < 64) t->sink[ith] = v;
}

double hm_fma_peak_gflops(hm_pool *pool, double seconds, int passes) {
  fma_task t;
  memset(&t, 0, sizeof t);
  t.k = hm_kernels_active();
  /* calibrate: iterations for about `seconds` on one thread */
  t.iters = 1 << 16;
  for (;;) {
    double t0 = hm_time_s();
    fma_run(&t, 0, 1);
    double dt = hm_time_s() - t0;
    if (dt > 0.02 || t.iters > ((int64_t)1 << 40)) {
      t.iters = (int64_t)((double)t.iters * (seconds > 0 ? seconds : 0.2) / (dt > 1e-9 ? dt : 1e-9)) + 1;
      break;
    }
    t.iters *= 4;
  }
  const int nth = hm_pool_size(pool);
  double best = 0.0;
  for (int p = 0; p < (passes > 0 ? passes : 1); p++) {
    double t0 = hm_time_s();
    hm_pool_run(pool, fma_run, &t);
    double dt = hm_time_s() - t0;
    double g = dt > 0 ? (double)t.iters * t.k->fma_probe_flops * nth / dt / 1e9 : 0.0;
    if (g > best) best = g;
  }
  if (t.sink[0] == 42.0f) hm_log(HM_LOG_DEBUG, "fma probe %g", (double)t.sink[0]);
  return best;
}
