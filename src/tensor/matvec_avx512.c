/* AVX-512 (F/BW/VL + VNNI) kernels: matrix x vector rows for f32 / bf16 / f16
 * weights (converted to f32 in registers, f32 accumulation: same numerics as
 * the reference up to summation order) and for Q8_0 / Q4_0 weights against
 * int8 activations with vpdpbusd (exact integer block sums). Each weight block
 * is loaded once for up to two vectors (the CFG pair). */
#include "tensor/kernels.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AI static inline __attribute__((always_inline))

enum { K_F32 = 0, K_BF16 = 1, K_F16 = 2 };

#ifndef BF16_PF
#define BF16_PF 32768 /* software prefetch distance along each row, bytes (0: none) */
#endif

AI __m512 load_w(const void *base, int64_t i, int kind) {
  if (kind == K_F32) return _mm512_loadu_ps((const float *)base + i);
  __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)base + i));
  if (kind == K_F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

AI __m512 load_w_mask(const void *base, int64_t i, __mmask16 m, int kind) {
  if (kind == K_F32) return _mm512_maskz_loadu_ps(m, (const float *)base + i);
  __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)base + i);
  if (kind == K_F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* R rows x NV vectors (NV <= 2), full 16-wide steps then one masked tail. */
AI void mv_rows_float(const hm_mat *W, int64_t r, int R, int NV, const float *x, int64_t xs, float *y,
                      int64_t ys, const float *bias, int kind) {
  const int64_t cols = W->cols;
  const size_t es = kind == K_F32 ? 4 : 2;
  const uint8_t *w[4];
  __m512 acc[4][2];
  for (int rr = 0; rr < R; rr++) {
    w[rr] = (const uint8_t *)W->data + (size_t)(r + rr) * cols * es;
    acc[rr][0] = _mm512_setzero_ps();
    acc[rr][1] = _mm512_setzero_ps();
  }
  const float *x0 = x, *x1 = x + xs;
  int64_t i = 0;
  for (; i + 16 <= cols; i += 16) {
    __m512 a0 = _mm512_loadu_ps(x0 + i), a1 = NV > 1 ? _mm512_loadu_ps(x1 + i) : a0;
    for (int rr = 0; rr < R; rr++) {
      __m512 wv = load_w(w[rr], i, kind);
      acc[rr][0] = _mm512_fmadd_ps(wv, a0, acc[rr][0]);
      if (NV > 1) acc[rr][1] = _mm512_fmadd_ps(wv, a1, acc[rr][1]);
    }
  }
  if (i < cols) {
    __mmask16 m = (__mmask16)((1u << (cols - i)) - 1);
    __m512 a0 = _mm512_maskz_loadu_ps(m, x0 + i), a1 = NV > 1 ? _mm512_maskz_loadu_ps(m, x1 + i) : a0;
    for (int rr = 0; rr < R; rr++) {
      __m512 wv = load_w_mask(w[rr], i, m, kind);
      acc[rr][0] = _mm512_fmadd_ps(wv, a0, acc[rr][0]);
      if (NV > 1) acc[rr][1] = _mm512_fmadd_ps(wv, a1, acc[rr][1]);
    }
  }
  for (int rr = 0; rr < R; rr++) {
    const float bv = bias ? bias[r + rr] : 0.0f;
    y[r + rr] = _mm512_reduce_add_ps(acc[rr][0]) + bv;
    if (NV > 1) y[ys + r + rr] = _mm512_reduce_add_ps(acc[rr][1]) + bv;
  }
}

AI void mv_float(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x, int64_t xs, float *y,
                 int64_t ys, const float *bias, int kind) {
  int b = 0;
  for (; b + 2 <= n; b += 2) {
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) mv_rows_float(W, r, 4, 2, x + b * xs, xs, y + b * ys, ys, bias, kind);
    for (; r < r1; r++) mv_rows_float(W, r, 1, 2, x + b * xs, xs, y + b * ys, ys, bias, kind);
  }
  if (b < n) {
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) mv_rows_float(W, r, 4, 1, x + b * xs, xs, y + b * ys, ys, bias, kind);
    for (; r < r1; r++) mv_rows_float(W, r, 1, 1, x + b * xs, xs, y + b * ys, ys, bias, kind);
  }
}

static void mv_f32_avx512(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x, int64_t xs,
                          float *y, int64_t ys, const float *bias) {
  mv_float(W, r0, r1, n, x, xs, y, ys, bias, K_F32);
}
/* BF16 with the widening done by unpack (one shuffle per 16 weights instead of a
 * zero-extend and a shift): unpacklo/hi of 32 bf16 against zero give, per
 * 128-bit lane, elements {0-3} and {4-7} of that lane's 8; the activations are
 * permuted to match once per call (xp: per 32 columns, the 16 "lo" then the 16
 * "hi" elements). The last cols % 32 columns use the plain 16-wide path. */
AI void mv_rows_bf16u(const hm_mat *W, int64_t r, int R, int NV, const float *xp, int64_t xps, const float *x,
                      int64_t xs, float *y, int64_t ys, const float *bias) {
  const int64_t cols = W->cols, c32 = cols & ~(int64_t)31;
  const uint16_t *w[4];
  __m512 acc[4][2];
  for (int rr = 0; rr < R; rr++) {
    w[rr] = (const uint16_t *)W->data + (r + rr) * cols;
    acc[rr][0] = acc[rr][1] = _mm512_setzero_ps();
  }
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t i = 0; i < c32; i += 32) {
    const __m512 lo0 = _mm512_load_ps(xp + i), hi0 = _mm512_load_ps(xp + i + 16);
    const __m512 lo1 = NV > 1 ? _mm512_load_ps(xp + xps + i) : lo0;
    const __m512 hi1 = NV > 1 ? _mm512_load_ps(xp + xps + i + 16) : hi0;
    for (int rr = 0; rr < R; rr++) {
      if (BF16_PF) _mm_prefetch((const char *)(w[rr] + i) + BF16_PF, _MM_HINT_T1);
      const __m512i wv = _mm512_loadu_si512(w[rr] + i);
      const __m512 wl = _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, wv));
      const __m512 wh = _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, wv));
      acc[rr][0] = _mm512_fmadd_ps(wh, hi0, _mm512_fmadd_ps(wl, lo0, acc[rr][0]));
      if (NV > 1) acc[rr][1] = _mm512_fmadd_ps(wh, hi1, _mm512_fmadd_ps(wl, lo1, acc[rr][1]));
    }
  }
  for (int64_t i = c32; i < cols; i += 16) {
    const __mmask16 m = cols - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - i)) - 1);
    const __m512 a0 = _mm512_maskz_loadu_ps(m, x + i), a1 = NV > 1 ? _mm512_maskz_loadu_ps(m, x + xs + i) : a0;
    for (int rr = 0; rr < R; rr++) {
      const __m512 wv = load_w_mask(w[rr], i, m, K_BF16);
      acc[rr][0] = _mm512_fmadd_ps(wv, a0, acc[rr][0]);
      if (NV > 1) acc[rr][1] = _mm512_fmadd_ps(wv, a1, acc[rr][1]);
    }
  }
  for (int rr = 0; rr < R; rr++) {
    const float bv = bias ? bias[r + rr] : 0.0f;
    y[r + rr] = _mm512_reduce_add_ps(acc[rr][0]) + bv;
    if (NV > 1) y[ys + r + rr] = _mm512_reduce_add_ps(acc[rr][1]) + bv;
  }
}

#define BF16U_MAX_FLOATS 16384 /* permuted activations on the stack (64 KiB): n * cols up to this */

static void mv_bf16_avx512(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x, int64_t xs,
                           float *y, int64_t ys, const float *bias) {
  const int64_t cols = W->cols, c32 = cols & ~(int64_t)31, xps = c32;
  if (c32 == 0 || n * xps > BF16U_MAX_FLOATS) { mv_float(W, r0, r1, n, x, xs, y, ys, bias, K_BF16); return; }
  float xp[BF16U_MAX_FLOATS] __attribute__((aligned(64)));
  const __m512i ilo = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
  const __m512i ihi = _mm512_setr_epi32(4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  for (int b = 0; b < n; b++)
    for (int64_t i = 0; i < c32; i += 32) {
      const __m512 a = _mm512_loadu_ps(x + b * xs + i), c = _mm512_loadu_ps(x + b * xs + i + 16);
      _mm512_store_ps(xp + b * xps + i, _mm512_permutex2var_ps(a, ilo, c));
      _mm512_store_ps(xp + b * xps + i + 16, _mm512_permutex2var_ps(a, ihi, c));
    }
  int b = 0;
  for (; b + 2 <= n; b += 2) {
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) mv_rows_bf16u(W, r, 4, 2, xp + b * xps, xps, x + b * xs, xs, y + b * ys, ys, bias);
    for (; r < r1; r++) mv_rows_bf16u(W, r, 1, 2, xp + b * xps, xps, x + b * xs, xs, y + b * ys, ys, bias);
  }
  if (b < n) {
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) mv_rows_bf16u(W, r, 4, 1, xp + b * xps, xps, x + b * xs, xs, y + b * ys, ys, bias);
    for (; r < r1; r++) mv_rows_bf16u(W, r, 1, 1, xp + b * xps, xps, x + b * xs, xs, y + b * ys, ys, bias);
  }
}
static void mv_f16_avx512(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x, int64_t xs,
                          float *y, int64_t ys, const float *bias) {
  mv_float(W, r0, r1, n, x, xs, y, ys, bias, K_F16);
}

static float dot_avx512(const float *a, const float *b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  for (; i < n; i += 16) {
    int64_t rem = n - i;
    __mmask16 m = rem >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1);
    acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

static void axpy_avx512(float *y, float a, const float *x, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  for (int64_t i = 0; i < n; i += 16) {
    int64_t rem = n - i;
    __mmask16 m = rem >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1);
    __m512 v = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
    _mm512_mask_storeu_ps(y + i, m, v);
  }
}

static uint64_t stream_read_avx512(const void *p, size_t bytes) {
  const __m512i *v = (const __m512i *)p;
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 4 <= bytes / 64; i += 4) {
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(v + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(v + i + 1));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(v + i + 2));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(v + i + 3));
  }
  return (uint64_t)_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
}

/* hm_quantize_act with the same operations in the same order (mul, add/sub of
 * 1.5 * 2^23 for round-to-nearest-even, clamp), so the result is bit-identical. */
static void quantize_act_avx512(const float *x, int64_t x_stride, int n, int64_t cols, hm_qact *xq) {
  const int64_t nb = cols / HM_QBLOCK;
  xq->n = n; xq->cols = cols; xq->nb = nb;
  const __m512 magic = _mm512_set1_ps(12582912.0f);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int b = 0; b < n; b++) {
    const float *xb = x + b * x_stride;
    int8_t *q = xq->q + b * xq->q_stride;
    for (int64_t k = 0; k < nb; k++) {
      const __m512 v0 = _mm512_loadu_ps(xb + k * HM_QBLOCK), v1 = _mm512_loadu_ps(xb + k * HM_QBLOCK + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
      const float d = amax / 127.0f, id = d > 0.0f ? 127.0f / amax : 0.0f;
      const __m512 idv = _mm512_set1_ps(id);
      __m512i q0 = _mm512_cvtps_epi32(_mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(v0, idv), magic), magic));
      __m512i q1 = _mm512_cvtps_epi32(_mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(v1, idv), magic), magic));
      q0 = _mm512_min_epi32(_mm512_max_epi32(q0, lo), hi);
      q1 = _mm512_min_epi32(_mm512_max_epi32(q1, lo), hi);
      _mm_storeu_si128((__m128i *)(q + k * HM_QBLOCK), _mm512_cvtepi32_epi8(q0));
      _mm_storeu_si128((__m128i *)(q + k * HM_QBLOCK + 16), _mm512_cvtepi32_epi8(q1));
      const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
      xq->d[b * nb + k] = d;
      xq->c[b * nb + k] = -8 * sum;
    }
  }
}

/* ---- attention pieces ---- */

AI __mmask16 tail_mask(int64_t rem) { return rem >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1); }

/* 16 keys / values from an F32 or an F16 cache */
AI __m512 load_kv(const void *p, int64_t i, int f16) {
  return f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i)))
             : _mm512_loadu_ps((const float *)p + i);
}
AI __m512 load_kv_mask(const void *p, int64_t i, __mmask16 m, int f16) {
  return f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i))
             : _mm512_maskz_loadu_ps(m, (const float *)p + i);
}

/* r[i] = sum of the 16 lanes of v[i], i < 16 (a transposing add tree: ~3 operations
 * per vector instead of a full horizontal reduction each). */
AI __m512 hsum16x16(const __m512 *v) {
  __m512 t[8], u[4];
  for (int i = 0; i < 8; i++)
    t[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  for (int i = 0; i < 4; i++)
    u[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], 0x44), _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], 0xEE));
  const __m512 x = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x88), _mm512_shuffle_f32x4(u[0], u[1], 0xDD));
  const __m512 y = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x88), _mm512_shuffle_f32x4(u[2], u[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x88), _mm512_shuffle_f32x4(x, y, 0xDD));
}

/* Scores of 16 keys at a time per query head: 16 partial-sum vectors, then one add tree. */
AI void attn_scores_kv(const float *q, int ng, int hd, const void *k, int64_t kv_stride, int64_t jn, float scale,
                       float *s, int64_t s_stride, int f16) {
  const __m512 sc = _mm512_set1_ps(scale);
  for (int64_t j0 = 0; j0 < jn; j0 += 16) {
    const int jb = jn - j0 < 16 ? (int)(jn - j0) : 16;
    for (int g = 0; g < ng; g++) {
      const float *qg = q + (int64_t)g * hd;
      __m512 a[16];
      for (int i = 0; i < 16; i++) a[i] = _mm512_setzero_ps();
      for (int i = 0; i < jb; i++) {
        const int64_t kr = (j0 + i) * kv_stride;
        if (g == 0 && j0 + i + 16 < jn) { /* a kv head's rows are kv_stride apart: too sparse for the hardware prefetcher */
          const char *nx = (const char *)k + (kr + 16 * kv_stride) * (f16 ? 2 : 4);
          for (int l = 0; l < hd * (f16 ? 2 : 4); l += 64) _mm_prefetch(nx + l, _MM_HINT_T0);
        }
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        int d = 0;
        for (; d + 32 <= hd; d += 32) {
          a0 = _mm512_fmadd_ps(_mm512_loadu_ps(qg + d), load_kv(k, kr + d, f16), a0);
          a1 = _mm512_fmadd_ps(_mm512_loadu_ps(qg + d + 16), load_kv(k, kr + d + 16, f16), a1);
        }
        for (; d < hd; d += 16) {
          __mmask16 m = tail_mask(hd - d);
          a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, qg + d), load_kv_mask(k, kr + d, m, f16), a0);
        }
        a[i] = _mm512_add_ps(a0, a1);
      }
      _mm512_mask_storeu_ps(s + g * s_stride + j0, tail_mask(jb), _mm512_mul_ps(hsum16x16(a), sc));
    }
  }
}

static void attn_scores_avx512(const float *q, int ng, int hd, const float *k, int64_t kv_stride, int64_t jn,
                               float scale, float *s, int64_t s_stride) {
  attn_scores_kv(q, ng, hd, k, kv_stride, jn, scale, s, s_stride, 0);
}
static void attn_scores_f16_avx512(const float *q, int ng, int hd, const uint16_t *k, int64_t kv_stride, int64_t jn,
                                   float scale, float *s, int64_t s_stride) {
  attn_scores_kv(q, ng, hd, k, kv_stride, jn, scale, s, s_stride, 1);
}

/* exp(x): 2^n * p(r), r = x - n ln2 in [-ln2/2, ln2/2], p the degree-6 Taylor
 * polynomial (error < 2e-7 relative); below -104 it is 0, above 88.7 +inf. */
AI __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(100.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

static float exp_sum_avx512(float *s, int64_t n, float m) {
  const __m512 mv = _mm512_set1_ps(m);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 k = tail_mask(n - j);
    __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + j), mv));
    _mm512_mask_storeu_ps(s + j, k, e);
    acc = _mm512_mask_add_ps(acc, k, acc, e);
  }
  return _mm512_reduce_add_ps(acc);
}

static void silu_avx512(float *x, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    _mm512_mask_storeu_ps(x + i, k, _mm512_div_ps(v, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), v)))));
  }
}

static void swiglu_avx512(float *out, const float *gate, const float *up, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(k, gate + i), u = _mm512_maskz_loadu_ps(k, up + i);
    const __m512 sg = _mm512_div_ps(g, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), g))));
    _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(sg, u));
  }
}

/* o[g] += sum_j s[g][j] v_j, over 64-wide column tiles and up to 4 heads at once
 * so the output tile stays in registers for the whole chunk of keys. */
AI void attn_pv_kv(float *o, int ng, int hd, const float *s, int64_t s_stride, const void *v, int64_t kv_stride,
                   int64_t jn, int f16) {
  for (int g0 = 0; g0 < ng; g0 += 4) {
    const int gn = ng - g0 < 4 ? ng - g0 : 4;
    for (int d0 = 0; d0 < hd; d0 += 64) {
      __mmask16 m[4];
      __m512 acc[4][4];
      for (int t = 0; t < 4; t++) m[t] = d0 + 16 * t < hd ? tail_mask(hd - d0 - 16 * t) : 0;
      for (int g = 0; g < gn; g++)
        for (int t = 0; t < 4; t++) acc[g][t] = _mm512_maskz_loadu_ps(m[t], o + (int64_t)(g0 + g) * hd + d0 + 16 * t);
      for (int64_t j = 0; j < jn; j++) {
        const int64_t vr = j * kv_stride + d0;
        if (j + 16 < jn) { /* this pass's part of the value row 16 keys ahead */
          const int es = f16 ? 2 : 4, w = (hd - d0 < 64 ? hd - d0 : 64) * es;
          const char *nx = (const char *)v + (vr + 16 * kv_stride) * es;
          for (int l = 0; l < w; l += 64) _mm_prefetch(nx + l, _MM_HINT_T0);
        }
        __m512 vv[4];
        for (int t = 0; t < 4; t++) vv[t] = load_kv_mask(v, vr + 16 * t, m[t], f16);
        for (int g = 0; g < gn; g++) {
          const __m512 p = _mm512_set1_ps(s[(int64_t)(g0 + g) * s_stride + j]);
          for (int t = 0; t < 4; t++) acc[g][t] = _mm512_fmadd_ps(p, vv[t], acc[g][t]);
        }
      }
      for (int g = 0; g < gn; g++)
        for (int t = 0; t < 4; t++) _mm512_mask_storeu_ps(o + (int64_t)(g0 + g) * hd + d0 + 16 * t, m[t], acc[g][t]);
    }
  }
}

static void attn_pv_avx512(float *o, int ng, int hd, const float *s, int64_t s_stride, const float *v,
                           int64_t kv_stride, int64_t jn) {
  attn_pv_kv(o, ng, hd, s, s_stride, v, kv_stride, jn, 0);
}
static void attn_pv_f16_avx512(float *o, int ng, int hd, const float *s, int64_t s_stride, const uint16_t *v,
                               int64_t kv_stride, int64_t jn) {
  attn_pv_kv(o, ng, hd, s, s_stride, v, kv_stride, jn, 1);
}

/* GEMM micro-kernel, 6 x 32: 12 zmm accumulators, two 16-float halves of a
 * packed panel row against six broadcast A elements per k (the AVX2 kernel's
 * shape at twice the width; same contract, kernels.h). */
#define MR5 6
#define NR5 32
static void gemm_ukr_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr,
                            int acc) {
  __m512 x[MR5][2];
  float tmp[MR5 * NR5];
  float *cc = c;
  int64_t ldcc = ldc;
  if (nr < NR5) {
    cc = tmp;
    ldcc = NR5;
    if (acc)
      for (int r = 0; r < mr; r++)
        for (int j = 0; j < NR5; j++) tmp[r * NR5 + j] = j < nr ? c[r * ldc + j] : 0.0f;
  }
  for (int r = 0; r < MR5; r++) {
    x[r][0] = acc && r < mr ? _mm512_loadu_ps(cc + r * ldcc) : _mm512_setzero_ps();
    x[r][1] = acc && r < mr ? _mm512_loadu_ps(cc + r * ldcc + 16) : _mm512_setzero_ps();
  }
  __m512 c00 = x[0][0], c01 = x[0][1], c10 = x[1][0], c11 = x[1][1], c20 = x[2][0], c21 = x[2][1];
  __m512 c30 = x[3][0], c31 = x[3][1], c40 = x[4][0], c41 = x[4][1], c50 = x[5][0], c51 = x[5][1];
  for (int64_t k = 0; k < kc; k++) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
    __m512 av;
    av = _mm512_set1_ps(a[0]); c00 = _mm512_fmadd_ps(av, b0, c00); c01 = _mm512_fmadd_ps(av, b1, c01);
    av = _mm512_set1_ps(a[1]); c10 = _mm512_fmadd_ps(av, b0, c10); c11 = _mm512_fmadd_ps(av, b1, c11);
    av = _mm512_set1_ps(a[2]); c20 = _mm512_fmadd_ps(av, b0, c20); c21 = _mm512_fmadd_ps(av, b1, c21);
    av = _mm512_set1_ps(a[3]); c30 = _mm512_fmadd_ps(av, b0, c30); c31 = _mm512_fmadd_ps(av, b1, c31);
    av = _mm512_set1_ps(a[4]); c40 = _mm512_fmadd_ps(av, b0, c40); c41 = _mm512_fmadd_ps(av, b1, c41);
    av = _mm512_set1_ps(a[5]); c50 = _mm512_fmadd_ps(av, b0, c50); c51 = _mm512_fmadd_ps(av, b1, c51);
    b += NR5;
    a += MR5;
  }
  x[0][0] = c00; x[0][1] = c01; x[1][0] = c10; x[1][1] = c11; x[2][0] = c20; x[2][1] = c21;
  x[3][0] = c30; x[3][1] = c31; x[4][0] = c40; x[4][1] = c41; x[5][0] = c50; x[5][1] = c51;
  for (int r = 0; r < mr; r++) {
    _mm512_storeu_ps(cc + r * ldcc, x[r][0]);
    _mm512_storeu_ps(cc + r * ldcc + 16, x[r][1]);
  }
  if (nr < NR5)
    for (int r = 0; r < mr; r++)
      for (int j = 0; j < nr; j++) c[r * ldc + j] = tmp[r * NR5 + j];
}

/* f32 FMA peak probe: 12 independent zmm vfmadd231ps chains. */
static float fma_probe_avx512(int64_t iters, float seed) {
  __m512 a[12];
  for (int j = 0; j < 12; j++) a[j] = _mm512_set1_ps(seed * (float)(j + 1));
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; i++) {
    a[0] = _mm512_fmadd_ps(a[0], m, c); a[1] = _mm512_fmadd_ps(a[1], m, c); a[2] = _mm512_fmadd_ps(a[2], m, c);
    a[3] = _mm512_fmadd_ps(a[3], m, c); a[4] = _mm512_fmadd_ps(a[4], m, c); a[5] = _mm512_fmadd_ps(a[5], m, c);
    a[6] = _mm512_fmadd_ps(a[6], m, c); a[7] = _mm512_fmadd_ps(a[7], m, c); a[8] = _mm512_fmadd_ps(a[8], m, c);
    a[9] = _mm512_fmadd_ps(a[9], m, c); a[10] = _mm512_fmadd_ps(a[10], m, c); a[11] = _mm512_fmadd_ps(a[11], m, c);
  }
  __m512 s = a[0];
  for (int j = 1; j < 12; j++) s = _mm512_add_ps(s, a[j]);
  return _mm512_reduce_add_ps(s);
}

const hm_kernels hm_kernels_avx512 = {
  "avx512", mv_f32_avx512, mv_bf16_avx512, mv_f16_avx512, hm_mv_q8_0_avx512, hm_mv_q4_0_avx512, dot_avx512, axpy_avx512,
  stream_read_avx512, quantize_act_avx512, attn_scores_avx512, exp_sum_avx512, attn_pv_avx512,
  attn_scores_f16_avx512, attn_pv_f16_avx512, silu_avx512, swiglu_avx512, gemm_ukr_avx512, MR5, NR5,
  hm_scale_max_avx2, fma_probe_avx512, 12 * 32,
};

#endif /* x86 */
