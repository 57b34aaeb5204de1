/* src/tensor: memory-bandwidth probe, the floor the decode loop is measured against. */
#ifndef HM_TENSOR_PROBE_H
#define HM_TENSOR_PROBE_H
#include "base/base.h"

/* Read bandwidth in GB/s (1e9 bytes/s): allocates `bytes` (at least 1 GiB is
 * used whatever is asked; rounded to 4 KiB), fills it, then streams it with every
 * thread of pool (NULL: the caller alone), each thread a contiguous share, using
 * the widest SIMD read loop with several independent accumulators. Returns the
 * best of 5 passes; 0 if the buffer cannot be allocated (hm_last_error says why). */
double hm_bandwidth_probe_gbs(hm_pool *pool, size_t bytes);

/* The same probe kept allocated, for measuring next to each timed step:
 * create (allocates and fills; NULL on failure), run = best of `passes`
 * streaming passes in GB/s, free. */
typedef struct hm_bw_probe hm_bw_probe;
hm_bw_probe *hm_bw_probe_create(hm_pool *pool, size_t bytes);
double hm_bw_probe_run(hm_bw_probe *p, int passes);
void hm_bw_probe_free(hm_bw_probe *p);

/* In-cache f32 FMA peak of the active kernel table with all the pool's threads
 * (registers only), best of `passes` runs of about `seconds` each, GFLOP/s. */
double hm_fma_peak_gflops(hm_pool *pool, double seconds, int passes);

#endif
