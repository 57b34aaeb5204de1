/* BF16 GEMM on Intel AMX tiles (Sapphire Rapids and later) for the codec's
 * compute-bound DiT when BF16 weights are asked for: Y = X W^T (+ bias),
 * X converted to BF16 per call, W packed once at load into 16x16-dword VNNI
 * tiles, FP32 accumulation.
 * Lives in the tensor layer; the codec is its user so far. */
#include "tensor/gemm_amx.h"

#include <stdlib.h>
#if defined(__x86_64__) && defined(__linux__) && !defined(HM_NO_X86_SIMD) && ((defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11))
#define HM_AMX_BUILD 1
#include <cpuid.h>
#include <pthread.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#define HM_AMX_BUILD 0
#endif

#define MCHUNK 256 /* rows of X kept hot in L2 while sweeping the weights */


#if HM_AMX_BUILD

/* Probed once (pthread_once: the first callers may be several threads at a time). */
static pthread_once_t g_amx_once = PTHREAD_ONCE_INIT;
static bool g_amx;

static void amx_probe(void) {
  bool ok = false;
  unsigned a, b, c, d;
  const char *no = getenv("HM_NO_AMX");
  bool off = no && *no && strcmp(no, "0") != 0;
  if (!hm_force_scalar() && !off && __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    bool tile = (d >> 24) & 1, bf16 = (d >> 22) & 1;
    /* ask Linux for the tile data state (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) */
    if (tile && bf16 && syscall(SYS_arch_prctl, 0x1023, 18) == 0) ok = true;
  }
  g_amx = ok;
}

bool hm_amx_available(void) {
  pthread_once(&g_amx_once, amx_probe);
  return g_amx;
}

typedef struct tilecfg {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
} tilecfg;

#define AMX_TGT __attribute__((target("amx-tile,amx-bf16")))

typedef struct bg_task {
  const hm_bmat *W;
  const uint16_t *X;
  int64_t M, lda, n_valid;
  const float *bias;
  float *Y;
  int64_t ldy;
} bg_task;

AMX_TGT static void bg_run(void *arg, int ith, int nth) {
  const bg_task *t = arg;
  const hm_bmat *W = t->W;
  const int KB = (int)(W->K / 32);
  int64_t n0, n1;
  hm_split(W->N / 32, ith, nth, 1, &n0, &n1);
  if (n0 >= n1) return;
  tilecfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int i = 0; i < 8; i++) { cfg.rows[i] = 16; cfg.colsb[i] = 64; }
  _tile_loadconfig(&cfg);
  float tmp[32 * 32];
  const int64_t sa = t->lda * 2; /* bytes between rows of X */
  for (int64_t m0 = 0; m0 < t->M; m0 += MCHUNK) {
    int64_t m1 = m0 + MCHUNK < t->M ? m0 + MCHUNK : t->M;
    for (int64_t nb = n0; nb < n1; nb++) {
      const uint16_t *b0 = W->p + (size_t)(2 * nb) * KB * 512, *b1 = b0 + (size_t)KB * 512;
      for (int64_t mb = m0; mb < m1; mb += 32) {
        _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
        const uint16_t *a0 = t->X + mb * t->lda, *a1 = a0 + 16 * t->lda;
        for (int kb = 0; kb < KB; kb++) {
          _tile_loadd(4, a0 + kb * 32, sa);
          _tile_loadd(5, a1 + kb * 32, sa);
          _tile_loadd(6, b0 + (size_t)kb * 512, 64);
          _tile_loadd(7, b1 + (size_t)kb * 512, 64);
          _tile_dpbf16ps(0, 4, 6);
          _tile_dpbf16ps(1, 4, 7);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
        int64_t rows = t->M - mb < 32 ? t->M - mb : 32;
        float *y = t->Y + mb * t->ldy + nb * 32;
        const float *bias = t->bias ? t->bias + nb * 32 : NULL;
        int64_t cols = t->n_valid - nb * 32 < 32 ? t->n_valid - nb * 32 : 32;
        if (rows == 32 && cols == 32 && !bias) {
          _tile_stored(0, y, t->ldy * 4);
          _tile_stored(1, y + 16, t->ldy * 4);
          _tile_stored(2, y + 16 * t->ldy, t->ldy * 4);
          _tile_stored(3, y + 16 * t->ldy + 16, t->ldy * 4);
        } else {
          _tile_stored(0, tmp, 128);
          _tile_stored(1, tmp + 16, 128);
          _tile_stored(2, tmp + 16 * 32, 128);
          _tile_stored(3, tmp + 16 * 32 + 16, 128);
          for (int64_t r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++) y[r * t->ldy + j] = tmp[r * 32 + j] + (bias ? bias[j] : 0.0f);
        }
      }
    }
  }
  _tile_release();
}

void hm_bgemm_n(hm_pool *pool, const hm_bmat *W, const uint16_t *X, int64_t M, int64_t lda, const float *bias, float *Y,
                int64_t ldy, int64_t n_valid) {
  if (M <= 0 || n_valid <= 0) return;
  bg_task t = {W, X, M, lda, n_valid < W->N ? n_valid : W->N, bias, Y, ldy};
  hm_pool_run(pool, bg_run, &t);
}

void hm_bgemm(hm_pool *pool, const hm_bmat *W, const uint16_t *X, int64_t M, int64_t lda, const float *bias, float *Y,
              int64_t ldy) {
  hm_bgemm_n(pool, W, X, M, lda, bias, Y, ldy, W->N);
}

/* Packs columns [0, n) of K rows (row kk starts at rows[kk]) as the B operand:
 * VNNI tiles, zero columns up to n_pad (a multiple of 32). */
__attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl"))) void hm_pack_cols_range(
    const float *const *rows, int64_t K, int64_t kk0, int64_t kk1, int64_t n, int64_t n_pad, uint16_t *out) {
  const int64_t KB = K / 32;
  for (int64_t kk = kk0; kk < kk1; kk += 2) {
    const float *s0 = rows[kk], *s1 = rows[kk + 1];
    int64_t kb = kk / 32, r = (kk % 32) / 2;
    for (int64_t nb = 0; nb < n_pad / 16; nb++) {
      uint32_t *dst = (uint32_t *)(void *)(out + ((size_t)(nb * KB + kb) * 512 + r * 32));
      int64_t t0 = nb * 16;
      if (t0 + 16 <= n) {
        __m256i a = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(s0 + t0));
        __m256i b = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(s1 + t0));
        __m512i d = _mm512_or_si512(_mm512_cvtepu16_epi32(a), _mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
        _mm512_storeu_si512((void *)dst, d);
      } else {
        for (int j = 0; j < 16; j++) {
          int64_t t = t0 + j;
          dst[j] = t < n ? (uint32_t)hm_f32_to_bf16(s0[t]) | ((uint32_t)hm_f32_to_bf16(s1[t]) << 16) : 0u;
        }
      }
    }
  }
}

__attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl"))) static void to_bf16_avx512(const float *x, uint16_t *y,
                                                                                     int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
    _mm512_storeu_si512((void *)(y + i), (__m512i)v);
  }
  for (; i < n; i++) y[i] = hm_f32_to_bf16(x[i]);
}

void hm_to_bf16(const float *x, uint16_t *y, int64_t n) {
  if (hm_amx_available()) to_bf16_avx512(x, y, n); /* AMX implies AVX512-BF16 */
  else for (int64_t i = 0; i < n; i++) y[i] = hm_f32_to_bf16(x[i]);
}

#else

void hm_to_bf16(const float *x, uint16_t *y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = hm_f32_to_bf16(x[i]);
}

bool hm_amx_available(void) { return false; }
void hm_pack_cols_range(const float *const *rows, int64_t K, int64_t kk0, int64_t kk1, int64_t n, int64_t n_pad,
                        uint16_t *out) {
  (void)rows; (void)K; (void)kk0; (void)kk1; (void)n; (void)n_pad; (void)out;
}
void hm_bgemm_n(hm_pool *pool, const hm_bmat *W, const uint16_t *X, int64_t M, int64_t lda, const float *bias, float *Y,
                int64_t ldy, int64_t n_valid) {
  (void)pool; (void)W; (void)X; (void)M; (void)lda; (void)bias; (void)Y; (void)ldy; (void)n_valid;
}
void hm_bgemm(hm_pool *pool, const hm_bmat *W, const uint16_t *X, int64_t M, int64_t lda, const float *bias, float *Y,
              int64_t ldy) {
  (void)pool; (void)W; (void)X; (void)M; (void)lda; (void)bias; (void)Y; (void)ldy;
}

#endif

bool hm_bmat_fits(int64_t N, int64_t K) { return N > 0 && K > 0 && N % 32 == 0 && K % 32 == 0; }

hm_status hm_bmat_pack(const float *W, int64_t N, int64_t K, hm_bmat *out) {
  if (!hm_bmat_fits(N, K)) return hm_error(HM_ERR_INTERNAL, "codec: %lld x %lld does not tile", (long long)N, (long long)K);
  out->N = N;
  out->K = K;
  out->p = hm_malloc_aligned((size_t)N * K * 2);
  if (!out->p) return hm_error(HM_ERR_NOMEM, "codec: out of memory packing BF16 weights");
  hm_bmat_pack_into(W, N, K, out->p);
  return HM_OK;
}

void hm_bmat_pack_into(const float *W, int64_t N, int64_t K, uint16_t *p) {
  const int64_t KB = K / 32;
  for (int64_t nb = 0; nb < N / 16; nb++)
    for (int64_t kb = 0; kb < KB; kb++) {
      uint16_t *blk = p + (size_t)(nb * KB + kb) * 512;
      for (int r = 0; r < 16; r++)
        for (int j = 0; j < 16; j++) {
          const float *w = W + (nb * 16 + j) * K + kb * 32 + 2 * r;
          blk[(r * 16 + j) * 2] = hm_f32_to_bf16(w[0]);
          blk[(r * 16 + j) * 2 + 1] = hm_f32_to_bf16(w[1]);
        }
    }
}

void hm_bmat_free(hm_bmat *m) {
  if (!m) return;
  hm_free_aligned(m->p);
  m->p = NULL;
}
