/* src/base: status + error text, logging, aligned allocation, timing, RNG,
 * dtypes and the thread pool. Internal header (the public one is heartmula.h). */
#ifndef HM_BASE_H
#define HM_BASE_H

#include "heartmula.h"
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define HM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HM_PRINTF(a, b)
#endif

/* ---- errors ---- */
/* Records a message for hm_last_error() on this thread and returns status. */
hm_status hm_error(hm_status status, const char *fmt, ...) HM_PRINTF(2, 3);
/* Prepends "<context>: " to the current message (e.g. the file being loaded); returns status. */
hm_status hm_error_context(hm_status status, const char *fmt, ...) HM_PRINTF(2, 3);
/* Evaluate expr; on failure return its status from the enclosing function. */
#define HM_TRY(expr) do { hm_status hm_try_st_ = (expr); if (hm_try_st_ != HM_OK) return hm_try_st_; } while (0)

/* ---- logging (through the hook set with hm_log_set) ---- */
void hm_log(hm_log_level level, const char *fmt, ...) HM_PRINTF(2, 3);

/* ---- memory ---- */
/* 64-byte aligned; NULL on failure (the caller reports it). Free with hm_free_aligned. */
void *hm_malloc_aligned(size_t n);
void *hm_calloc_aligned(size_t n);
void hm_free_aligned(void *p);
/* Fault injection (tests only): the n-th large allocation from now on (hm_malloc_aligned,
 * hm_calloc_aligned, hm_alloc_big; 1-based) fails, once; n <= 0: none. Also set from the
 * environment: HM_FAIL_ALLOC_AFTER=N. hm_test_alloc_count: large allocations since the
 * last hm_test_fail_alloc_at (or the start). hm_alloc_should_fail: called by each of
 * those allocators (counts one allocation; true when it is the one to fail). */
void hm_test_fail_alloc_at(long n);
long hm_test_alloc_count(void);
bool hm_alloc_should_fail(void);
/* Peak resident set size of the process, bytes (0 if unknown). */
size_t hm_peak_rss_bytes(void);

/* ---- time ---- */
int64_t hm_time_us(void); /* monotonic */
double hm_time_s(void);

/* ---- machine ---- */
int hm_num_cores(void); /* online CPUs, >= 1 */
typedef struct hm_cpu_features {
  bool avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni, avx512bf16, avxvnni;
} hm_cpu_features;
const hm_cpu_features *hm_cpu(void);
/* HM_FORCE_SCALAR=1 in the environment disables every SIMD path (for tests and debugging). */
bool hm_force_scalar(void);

/* ---- dtypes ---- */
typedef enum hm_dtype {
  HM_DT_F32 = 0, HM_DT_F16, HM_DT_BF16, HM_DT_F64,
  HM_DT_I8, HM_DT_U8, HM_DT_I16, HM_DT_I32, HM_DT_I64, HM_DT_BOOL,
  HM_DT_Q8_0, /* blocks of 32: f16 scale + 32 x int8      (34 bytes) */
  HM_DT_Q4_0, /* blocks of 32: f16 scale + 16 bytes nibbles (18 bytes) */
  HM_DT_COUNT
} hm_dtype;
#define HM_QBLOCK 32
const char *hm_dtype_name(hm_dtype t);           /* safetensors spelling: "F32", "BF16", "Q8_0" */
bool hm_dtype_from_name(const char *name, hm_dtype *out);
/* Bytes of n consecutive elements (n a multiple of 32 for block formats); 0 if not representable. */
size_t hm_dtype_bytes(hm_dtype t, int64_t n);

static inline float hm_bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f;
}
static inline uint16_t hm_f32_to_bf16(float f) { /* round to nearest even; NaN kept quiet */
  uint32_t u; memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
float hm_f16_to_f32(uint16_t h);
uint16_t hm_f32_to_f16(float f); /* round to nearest even */

/* ---- RNG: xoshiro256** seeded through splitmix64; stable across platforms ---- */
typedef struct hm_rng { uint64_t s[4]; } hm_rng;
/* Independent streams from one seed: stream 0 = LM sampler, 1 = codec noise, ... */
void hm_rng_seed(hm_rng *rng, uint64_t seed, uint64_t stream);
uint64_t hm_rng_u64(hm_rng *rng);
double hm_rng_uniform(hm_rng *rng);     /* [0, 1), 53 bits */
float hm_rng_normal(hm_rng *rng);       /* standard normal (Box-Muller, no cached spare) */
double hm_rng_exponential(hm_rng *rng); /* Exp(1) */

/* ---- thread pool ---- */
/* Runs fn(arg, ith, nth) on nth threads at once (the caller is ith 0) and
 * returns when all are done. Built for many small calls: workers spin briefly
 * on an atomic generation counter before sleeping. */
typedef struct hm_pool hm_pool;
typedef void (*hm_task_fn)(void *arg, int ith, int nth);
hm_pool *hm_pool_create(int n_threads); /* <= 0: hm_num_cores(); NULL on failure */
void hm_pool_free(hm_pool *pool);
int hm_pool_size(const hm_pool *pool);  /* 1 for NULL */
void hm_pool_run(hm_pool *pool, hm_task_fn fn, void *arg); /* pool NULL: fn(arg, 0, 1) */
/* The share [*begin, *end) of n items for thread ith of nth, in multiples of align. */
static inline void hm_split(int64_t n, int ith, int nth, int64_t align, int64_t *begin, int64_t *end) {
  int64_t blocks = (n + align - 1) / align;
  int64_t b0 = blocks * ith / nth, b1 = blocks * (ith + 1) / nth;
  *begin = b0 * align < n ? b0 * align : n;
  *end = b1 * align < n ? b1 * align : n;
}

#endif
