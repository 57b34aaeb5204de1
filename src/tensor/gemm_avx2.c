/* AVX2 + FMA pieces of the GEMM owner (gemm.h): the 6 x 16 f32 micro-kernel
 * (12 ymm accumulators, two 8-float halves of a packed panel row against six
 * broadcast A elements per k), the vector exp of the fused attention and the
 * SiLU / SwiGLU built on it. */
#include "tensor/kernels.h"
#include <math.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define MR HM_GEMM_AVX2_MR
#define NR HM_GEMM_AVX2_NR

void hm_gemm_ukr_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr,
                      int acc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  float tmp[MR * NR];
  float *cc = c;
  int64_t ldcc = ldc;
  if (nr < NR) { /* partial panel: through a full-width tile */
    cc = tmp;
    ldcc = NR;
    if (acc)
      for (int r = 0; r < mr; r++)
        for (int j = 0; j < NR; j++) tmp[r * NR + j] = j < nr ? c[r * ldc + j] : 0.0f;
  }
  if (acc) {
#define LOADC(r, x0, x1)                                \
  if (mr > r) {                                         \
    x0 = _mm256_loadu_ps(cc + (int64_t)(r) * ldcc);     \
    x1 = _mm256_loadu_ps(cc + (int64_t)(r) * ldcc + 8); \
  }
    LOADC(0, c00, c01) LOADC(1, c10, c11) LOADC(2, c20, c21) LOADC(3, c30, c31) LOADC(4, c40, c41)
    LOADC(5, c50, c51)
#undef LOADC
  }
  /* one k step: two halves of the panel row, six broadcast A elements, 12 FMA */
#define KSTEP(ao, bo)                                                                                          \
  {                                                                                                            \
    const __m256 b0 = _mm256_loadu_ps(b + (bo)), b1 = _mm256_loadu_ps(b + (bo) + 8);                           \
    __m256 av;                                                                                                 \
    av = _mm256_broadcast_ss(a + (ao) + 0); c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01); \
    av = _mm256_broadcast_ss(a + (ao) + 1); c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11); \
    av = _mm256_broadcast_ss(a + (ao) + 2); c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21); \
    av = _mm256_broadcast_ss(a + (ao) + 3); c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31); \
    av = _mm256_broadcast_ss(a + (ao) + 4); c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41); \
    av = _mm256_broadcast_ss(a + (ao) + 5); c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51); \
  }
  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) { /* unrolled: the loop's own instructions once per 48 FMA */
    KSTEP(0, 0) KSTEP(MR, NR) KSTEP(2 * MR, 2 * NR) KSTEP(3 * MR, 3 * NR)
    a += 4 * MR;
    b += 4 * NR;
  }
  for (; k < kc; k++) {
    KSTEP(0, 0)
    a += MR;
    b += NR;
  }
#undef KSTEP
#define STOREC(r, x0, x1)                              \
  if (mr > r) {                                        \
    _mm256_storeu_ps(cc + (int64_t)(r) * ldcc, x0);     \
    _mm256_storeu_ps(cc + (int64_t)(r) * ldcc + 8, x1); \
  }
  STOREC(0, c00, c01) STOREC(1, c10, c11) STOREC(2, c20, c21) STOREC(3, c30, c31) STOREC(4, c40, c41)
  STOREC(5, c50, c51)
#undef STOREC
  if (nr < NR)
    for (int r = 0; r < mr; r++)
      for (int j = 0; j < nr; j++) c[r * ldc + j] = tmp[r * NR + j];
}

/* exp(x) = 2^n p(r), r = x - n ln2 (two-part ln2), p the degree-6 Taylor
 * polynomial (relative error < 2e-7); clamped to [-104, 88.7]: 0 below. */
static inline __m256 exp256(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-104.0f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.7f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187045e-06f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  /* 2^n in two halves so that n down to -150 stays finite-exact: 2^(n/2) 2^(n - n/2) */
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i h1 = _mm256_srai_epi32(ni, 1), h2 = _mm256_sub_epi32(ni, h1);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h1, _mm256_set1_epi32(127)), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h2, _mm256_set1_epi32(127)), 23));
  return _mm256_andnot_ps(under, _mm256_mul_ps(_mm256_mul_ps(p, s1), s2));
}

float hm_exp_sum_avx2(float *s, int64_t n, float m) {
  const __m256 mv = _mm256_set1_ps(m);
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
    _mm256_storeu_ps(s + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  float t[8];
  _mm256_storeu_ps(t, acc);
  float sum = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
  if (j < n) {
    float in[8] = {0}, out[8];
    for (int64_t i = j; i < n; i++) in[i - j] = s[i] - m;
    _mm256_storeu_ps(out, exp256(_mm256_loadu_ps(in)));
    for (int64_t i = j; i < n; i++) { s[i] = out[i - j]; sum += out[i - j]; }
  }
  return sum;
}

/* silu(g) = g / (1 + exp(-g)); where exp(-g) overflows (g < -88.7) the
 * result is 0, as libm's inf gives, and a large g gives g: never NaN. */
static inline __m256 silu256(__m256 g) {
  const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), g));
  const __m256 r = _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  return _mm256_andnot_ps(_mm256_cmp_ps(g, _mm256_set1_ps(-88.7f), _CMP_LT_OQ), r);
}

void hm_silu_avx2(float *x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, silu256(_mm256_loadu_ps(x + i)));
  if (i < n) {
    float t[8] = {0};
    for (int64_t j = i; j < n; j++) t[j - i] = x[j];
    _mm256_storeu_ps(t, silu256(_mm256_loadu_ps(t)));
    for (int64_t j = i; j < n; j++) x[j] = t[j - i];
  }
}

void hm_swiglu_avx2(float *out, const float *gate, const float *up, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_mul_ps(silu256(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
  if (i < n) {
    float g[8] = {0}, u[8] = {0};
    for (int64_t j = i; j < n; j++) { g[j - i] = gate[j]; u[j - i] = up[j]; }
    _mm256_storeu_ps(g, _mm256_mul_ps(silu256(_mm256_loadu_ps(g)), _mm256_loadu_ps(u)));
    for (int64_t j = i; j < n; j++) out[j] = g[j - i];
  }
}

float hm_scale_max_avx2(float *x, int64_t n, float scale) {
  const __m256 sc = _mm256_set1_ps(scale);
  __m256 m = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), sc);
    _mm256_storeu_ps(x + i, v);
    m = _mm256_max_ps(m, v);
  }
  float t[8];
  _mm256_storeu_ps(t, m);
  float r = t[0];
  for (int j = 1; j < 8; j++) r = t[j] > r ? t[j] : r;
  for (; i < n; i++) {
    x[i] *= scale;
    r = x[i] > r ? x[i] : r;
  }
  return r;
}

/* The f32 FMA peak probe: 12 independent vfmadd231ps chains (more than the
 * FMA latency x throughput of any x86 core), iters x 12 x 16 flops. */
float hm_fma_probe_avx2(int64_t iters, float seed) {
  /* distinct starting values: identical chains would be merged by the compiler */
  __m256 a0 = _mm256_set1_ps(seed), a1 = _mm256_set1_ps(seed * 2.0f), a2 = _mm256_set1_ps(seed * 3.0f);
  __m256 a3 = _mm256_set1_ps(seed * 4.0f), a4 = _mm256_set1_ps(seed * 5.0f), a5 = _mm256_set1_ps(seed * 6.0f);
  __m256 a6 = _mm256_set1_ps(seed * 7.0f), a7 = _mm256_set1_ps(seed * 8.0f), a8 = _mm256_set1_ps(seed * 9.0f);
  __m256 a9 = _mm256_set1_ps(seed * 10.0f), a10 = _mm256_set1_ps(seed * 11.0f), a11 = _mm256_set1_ps(seed * 12.0f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; i++) {
    a0 = _mm256_fmadd_ps(a0, m, c); a1 = _mm256_fmadd_ps(a1, m, c); a2 = _mm256_fmadd_ps(a2, m, c);
    a3 = _mm256_fmadd_ps(a3, m, c); a4 = _mm256_fmadd_ps(a4, m, c); a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c); a7 = _mm256_fmadd_ps(a7, m, c); a8 = _mm256_fmadd_ps(a8, m, c);
    a9 = _mm256_fmadd_ps(a9, m, c); a10 = _mm256_fmadd_ps(a10, m, c); a11 = _mm256_fmadd_ps(a11, m, c);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float t[8];
  _mm256_storeu_ps(t, s);
  return t[0] + t[7];
}

#endif /* x86 */
