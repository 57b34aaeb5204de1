/* Memory-bandwidth probe (see probe.h). */
#include "tensor/probe.h"
#include "tensor/kernels.h"

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

double hm_bandwidth_probe_gbs(hm_pool *pool, size_t bytes) {
  const size_t min_bytes = (size_t)1 << 30;
  if (bytes < min_bytes) bytes = min_bytes;
  bytes = (bytes + 4095) & ~(size_t)4095;
  uint8_t *buf = (uint8_t *)hm_alloc_big(bytes); /* huge pages, as the converted weights */
  if (!buf) {
    hm_error(HM_ERR_NOMEM, "hm_bandwidth_probe_gbs: cannot allocate %zu bytes", bytes);
    return 0.0;
  }
  probe_task t;
  memset(&t, 0, sizeof t);
  t.buf = buf;
  t.bytes = bytes;
  t.k = hm_kernels_active();
  hm_pool_run(pool, fill_run, &t); /* first touch from the threads that read it */
  double best = 0.0;
  uint64_t sink = 0;
  for (int pass = 0; pass < 5; pass++) {
    double t0 = hm_time_s();
    hm_pool_run(pool, probe_run, &t);
    double dt = hm_time_s() - t0;
    for (int i = 0; i < 256; i++) sink += t.sums[i];
    double gbs = dt > 0 ? (double)bytes / dt / 1e9 : 0.0;
    if (gbs > best) best = gbs;
  }
  hm_free_aligned(buf);
  if (sink == 42) hm_log(HM_LOG_DEBUG, "bandwidth probe checksum %llu", (unsigned long long)sink);
  return best;
}
