/* src/base: errors, logging, memory, time, CPU features, dtypes, RNG. */
#include "base/base.h"

#include <math.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ---- */
#define HM_ERR_CAP 2048
static _Thread_local char err_buf[HM_ERR_CAP];

const char *hm_version(void) { return HM_VERSION_STRING; }
int hm_version_number(void) { return HM_VERSION_NUMBER; }
void hm_free(void *ptr) { free(ptr); }

const char *hm_status_str(hm_status st) {
  switch (st) {
  case HM_OK: return "ok";
  case HM_ERR_INVALID_ARG: return "invalid argument";
  case HM_ERR_IO: return "i/o error";
  case HM_ERR_FORMAT: return "bad format";
  case HM_ERR_NOMEM: return "out of memory";
  case HM_ERR_UNSUPPORTED: return "unsupported";
  case HM_ERR_ABORTED: return "aborted";
  case HM_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char *hm_last_error(void) { return err_buf; }

hm_status hm_error(hm_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err_buf, sizeof err_buf, fmt, ap);
  va_end(ap);
  return st;
}

hm_status hm_error_context(hm_status st, const char *fmt, ...) {
  char ctx[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  size_t cl = strlen(ctx), ol = strlen(err_buf);
  if (cl + 2 >= sizeof err_buf) return st;
  if (cl + 2 + ol >= sizeof err_buf) ol = sizeof err_buf - cl - 3;
  memmove(err_buf + cl + 2, err_buf, ol);
  err_buf[cl + 2 + ol] = 0;
  memcpy(err_buf, ctx, cl);
  err_buf[cl] = ':';
  err_buf[cl + 1] = ' ';
  return st;
}

/* ---- logging ---- */
/* The hook and its user data change together under a lock: an application may
 * set it while other threads (pool workers, the engine's codec thread) log. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static hm_log_callback log_cb = NULL;
static void *log_ud = NULL;

void hm_log_set(hm_log_callback cb, void *user_data) {
  pthread_mutex_lock(&log_mu);
  log_cb = cb;
  log_ud = user_data;
  pthread_mutex_unlock(&log_mu);
}

void hm_log(hm_log_level level, const char *fmt, ...) {
  pthread_mutex_lock(&log_mu);
  hm_log_callback cb = log_cb;
  void *ud = log_ud;
  pthread_mutex_unlock(&log_mu);
  if (!cb) return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cb(ud, level, msg);
}

/* ---- memory ---- */
/* Fault injection for tests: the N-th large allocation (hm_malloc_aligned,
 * hm_calloc_aligned, hm_alloc_big; 1-based, counted from the last
 * hm_test_fail_alloc_at call, or from the start with HM_FAIL_ALLOC_AFTER=N in
 * the environment) returns NULL. Off (0) by default: one relaxed atomic load. */
static _Atomic long g_fail_alloc_at = 0;
static _Atomic long g_alloc_count = 0;
static pthread_once_t g_fail_alloc_once = PTHREAD_ONCE_INIT;

static void fail_alloc_env(void) {
  const char *e = getenv("HM_FAIL_ALLOC_AFTER");
  if (e && *e) {
    char *end;
    long n = strtol(e, &end, 10);
    if (*end == 0 && n > 0) atomic_store(&g_fail_alloc_at, n);
  }
}

void hm_test_fail_alloc_at(long n) {
  pthread_once(&g_fail_alloc_once, fail_alloc_env); /* the environment never overrides a later call */
  atomic_store(&g_alloc_count, 0);
  atomic_store(&g_fail_alloc_at, n > 0 ? n : 0);
}

long hm_test_alloc_count(void) { return atomic_load(&g_alloc_count); }

bool hm_alloc_should_fail(void) {
  pthread_once(&g_fail_alloc_once, fail_alloc_env);
  long at = atomic_load_explicit(&g_fail_alloc_at, memory_order_relaxed);
  long k = atomic_fetch_add_explicit(&g_alloc_count, 1, memory_order_relaxed) + 1;
  return at > 0 && k == at;
}

void *hm_malloc_aligned(size_t n) {
  void *p = NULL;
  if (hm_alloc_should_fail()) return NULL;
  if (n == 0) n = 1;
  size_t rounded = (n + 63) & ~(size_t)63;
  if (rounded < n) return NULL;
  if (posix_memalign(&p, 64, rounded) != 0) return NULL;
  return p;
}

void *hm_calloc_aligned(size_t n) {
  void *p = hm_malloc_aligned(n);
  if (p) memset(p, 0, n);
  return p;
}

void hm_free_aligned(void *p) { free(p); }

size_t hm_peak_rss_bytes(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (size_t)ru.ru_maxrss * 1024u; /* Linux: kilobytes */
}

/* ---- time ---- */
int64_t hm_time_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double hm_time_s(void) { return (double)hm_time_us() * 1e-6; }

/* ---- machine ---- */
int hm_num_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

/* Lazy initialisations run once under pthread_once: the first callers may be
 * several threads at a time (pool workers, an application's own threads). */
static pthread_once_t g_force_scalar_once = PTHREAD_ONCE_INIT;
static bool g_force_scalar;

static void force_scalar_init(void) {
  const char *e = getenv("HM_FORCE_SCALAR");
  g_force_scalar = e && *e && strcmp(e, "0") != 0;
}

bool hm_force_scalar(void) {
  pthread_once(&g_force_scalar_once, force_scalar_init);
  return g_force_scalar;
}

static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;
static hm_cpu_features g_cpu;

static void cpu_init(void) {
  hm_cpu_features f;
  memset(&f, 0, sizeof f);
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
#if defined(__clang__) && __clang_major__ < 16
  f.avx512bf16 = false;
#else
  f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
  /* f16c and avx-vnni are not queryable on every compiler: read CPUID. */
  unsigned a, b, c, d;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
  f.f16c = (c >> 29) & 1;
  __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(1));
  f.avxvnni = (a >> 4) & 1;
  if (!f.avx512bf16) f.avx512bf16 = (a >> 5) & 1;
#endif
  if (hm_force_scalar()) memset(&f, 0, sizeof f);
  g_cpu = f;
}

const hm_cpu_features *hm_cpu(void) {
  pthread_once(&g_cpu_once, cpu_init);
  return &g_cpu;
}

/* ---- dtypes ---- */
static const char *const dtype_names[HM_DT_COUNT] = {
  "F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "BOOL", "Q8_0", "Q4_0",
};
static const int dtype_size[HM_DT_COUNT] = {4, 2, 2, 8, 1, 1, 2, 4, 8, 1, 34, 18};

const char *hm_dtype_name(hm_dtype t) { return (unsigned)t < HM_DT_COUNT ? dtype_names[t] : "?"; }

bool hm_dtype_from_name(const char *name, hm_dtype *out) {
  for (int i = 0; i < HM_DT_COUNT; i++)
    if (!strcmp(name, dtype_names[i])) { *out = (hm_dtype)i; return true; }
  return false;
}

size_t hm_dtype_bytes(hm_dtype t, int64_t n) {
  if ((unsigned)t >= HM_DT_COUNT || n < 0) return 0;
  /* a count whose byte size does not fit a size_t is not representable (0), never a wrapped size */
  if (t == HM_DT_Q8_0 || t == HM_DT_Q4_0) {
    if (n % HM_QBLOCK) return 0;
    if ((uint64_t)(n / HM_QBLOCK) > SIZE_MAX / (size_t)dtype_size[t]) return 0;
    return (size_t)(n / HM_QBLOCK) * (size_t)dtype_size[t];
  }
  if ((uint64_t)n > SIZE_MAX / (size_t)dtype_size[t]) return 0;
  return (size_t)n * (size_t)dtype_size[t];
}

float hm_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (exp == 0) {
    if (man == 0) u = sign;
    else { /* subnormal: value = man * 2^-24 */
      float f = (float)man * 5.9604644775390625e-8f;
      memcpy(&u, &f, 4);
      u |= sign;
    }
  } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
  else u = sign | ((exp + 112) << 23) | (man << 13);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

uint16_t hm_f32_to_f16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00;          /* NaN */
  if (a >= 0x477ff000u) return sign | 0x7c00;         /* overflow (incl. rounding up) -> inf */
  if (a < 0x38800000u) {                             /* below the smallest normal: subnormal */
    float af;
    memcpy(&af, &a, 4);
    float scaled = af * 16777216.0f;                   /* 2^24: units of the smallest subnormal */
    return sign | (uint16_t)lrintf(scaled);            /* rint = nearest even */
  }
  uint32_t mant_round = a + 0xfffu + ((a >> 13) & 1u);
  return sign | (uint16_t)((mant_round - 0x38000000u) >> 13);
}

/* ---- RNG ---- */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void hm_rng_seed(hm_rng *rng, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1342543de82ef95ull + 0x2545f4914f6cdd1dull);
  for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t hm_rng_u64(hm_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double hm_rng_uniform(hm_rng *r) { return (double)(hm_rng_u64(r) >> 11) * 0x1.0p-53; }

float hm_rng_normal(hm_rng *r) {
  double u1 = 1.0 - hm_rng_uniform(r); /* (0, 1] */
  double u2 = hm_rng_uniform(r);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

double hm_rng_exponential(hm_rng *r) { return -log(1.0 - hm_rng_uniform(r)); }
