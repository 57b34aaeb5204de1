/* AVX2 + FMA + F16C kernels: matrix x vector rows for f32 / bf16 / f16 weights
 * (f32 accumulation) and Q8_0 / Q4_0 weights against int8 activations with
 * maddubs (u8 x s8 -> i16 pairs, no saturation at these ranges) + madd. */
#include "tensor/kernels.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AI static inline __attribute__((always_inline))

enum { K_F32 = 0, K_BF16 = 1, K_F16 = 2 };

AI __m256 load_w(const void *base, int64_t i, int kind) {
  if (kind == K_F32) return _mm256_loadu_ps((const float *)base + i);
  __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)base + i));
  if (kind == K_F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

AI float w_scalar(const void *base, int64_t i, int kind) {
  if (kind == K_F32) return ((const float *)base)[i];
  uint16_t h = ((const uint16_t *)base)[i];
  return kind == K_F16 ? _cvtsh_ss(h) : hm_bf16_to_f32(h);
}

AI float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

AI void mv_rows_float(const hm_mat *W, int64_t r, int R, int NV, const float *x, int64_t xs, float *y,
                      int64_t ys, const float *bias, int kind) {
  const int64_t cols = W->cols;
  const size_t es = kind == K_F32 ? 4 : 2;
  const uint8_t *w[4];
  __m256 acc[4][2];
  for (int rr = 0; rr < R; rr++) {
    w[rr] = (const uint8_t *)W->data + (size_t)(r + rr) * cols * es;
    acc[rr][0] = _mm256_setzero_ps();
    acc[rr][1] = _mm256_setzero_ps();
  }
  const float *x0 = x, *x1 = x + xs;
  int64_t i = 0;
  for (; i + 8 <= cols; i += 8) {
    __m256 a0 = _mm256_loadu_ps(x0 + i), a1 = NV > 1 ? _mm256_loadu_ps(x1 + i) : a0;
    for (int rr = 0; rr < R; rr++) {
      __m256 wv = load_w(w[rr], i, kind);
      acc[rr][0] = _mm256_fmadd_ps(wv, a0, acc[rr][0]);
      if (NV > 1) acc[rr][1] = _mm256_fmadd_ps(wv, a1, acc[rr][1]);
    }
  }
  for (int rr = 0; rr < R; rr++) {
    float s0 = hsum256(acc[rr][0]), s1 = NV > 1 ? hsum256(acc[rr][1]) : 0.0f;
    for (int64_t j = i; j < cols; j++) {
      float wv = w_scalar(w[rr], j, kind);
      s0 += wv * x0[j];
      if (NV > 1) s1 += wv * x1[j];
    }
    const float bv = bias ? bias[r + rr] : 0.0f;
    y[r + rr] = s0 + bv;
    if (NV > 1) y[ys + r + rr] = s1 + bv;
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

static void mv_f32_avx2(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x, int64_t xs,
                        float *y, int64_t ys, const float *bias) {
  mv_float(W, r0, r1, n, x, xs, y, ys, bias, K_F32);
}
static void mv_bf16_avx2(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x, int64_t xs,
                         float *y, int64_t ys, const float *bias) {
  mv_float(W, r0, r1, n, x, xs, y, ys, bias, K_BF16);
}
static void mv_f16_avx2(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x, int64_t xs,
                        float *y, int64_t ys, const float *bias) {
  mv_float(W, r0, r1, n, x, xs, y, ys, bias, K_F16);
}

/* ---- Q8_0 / Q4_0 on the interleaved layouts (kernels.h): 8 lanes per 256-bit register ----
 * Half h of a group (lanes 8h .. 8h+7) is the 32 bytes at 32h of each 64-byte
 * chunk; a Q4_0 lane holds two rows (low and high nibble). u8 x s8 products go through maddubs (pairs to int16) and madd with
 * ones (to int32): exact for Q4_0 nibbles (2 * 15 * 127 fits int16); Q8_0
 * weights go back to signed (xor 128) and use |w| x sign(q, w), exact as well.
 * Q4_0 sums start from the seed -8 * sum(q) like the other tables. */

AI __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

AI int32_t load_i32(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Q8_0: rows 8h .. 8h+7 of 16-row groups [g0, g1), NV (1..2) vectors from b0. */
AI void q8_half_groups(const hm_mat *W, int64_t g0, int64_t g1, int h, int NV, const hm_qact *xq, int b0, float *y,
                       int64_t ys, const float *bias) {
  const int64_t nb = W->cols / HM_QBLOCK;
  const size_t gbytes = (size_t)nb * (512 + 32);
  const int8_t *q[2];
  const float *d[2];
  const int32_t *c[2];
  hm_qact_rows(xq, b0, NV, q, d, c);
  const __m256i off = _mm256_set1_epi8((char)0x80);
  for (int64_t g = g0; g < g1; g++) {
    const uint8_t *base = (const uint8_t *)W->data + (size_t)g * gbytes;
    const uint8_t *sc = base + nb * 512 + 16 * h;
    __m256 acc[2];
    for (int a = 0; a < NV; a++) acc[a] = _mm256_setzero_ps();
    for (int64_t k = 0; k < nb; k++) {
      const uint8_t *p = base + k * 512 + 32 * h;
      __m256i s[2];
      for (int a = 0; a < NV; a++) s[a] = _mm256_setzero_si256();
      for (int ch = 0; ch < 8; ch++) {
        const __m256i w = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + 64 * ch)), off);
        const __m256i aw = _mm256_abs_epi8(w);
        for (int a = 0; a < NV; a++) {
          const __m256i x = _mm256_set1_epi32(load_i32(q[a] + k * HM_QBLOCK + 4 * ch));
          s[a] = _mm256_add_epi32(s[a], dot_u8s8(aw, _mm256_sign_epi8(x, w)));
        }
      }
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sc + k * 32)));
      for (int a = 0; a < NV; a++)
        acc[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[a]), _mm256_mul_ps(dw, _mm256_set1_ps(d[a][k])), acc[a]);
    }
    const int64_t r = g * 16 + 8 * h;
    const __m256 bv = bias ? _mm256_loadu_ps(bias + r) : _mm256_setzero_ps();
    for (int a = 0; a < NV; a++) _mm256_storeu_ps(y + (int64_t)(b0 + a) * ys + r, _mm256_add_ps(acc[a], bv));
  }
}

/* Q4_0: lanes 8h .. 8h+7 of 32-row groups, i.e. rows 8h.. (low nibbles) and
 * 16+8h.. (high nibbles), NV (1..2) vectors from b0. */
AI void q4_half_groups(const hm_mat *W, int64_t g0, int64_t g1, int h, int NV, const hm_qact *xq, int b0, float *y,
                       int64_t ys, const float *bias) {
  const int64_t nb = W->cols / HM_QBLOCK;
  const size_t gbytes = (size_t)nb * (512 + 64);
  const int8_t *q[2];
  const float *d[2];
  const int32_t *c[2];
  hm_qact_rows(xq, b0, NV, q, d, c);
  const __m256i m4 = _mm256_set1_epi8(15);
  for (int64_t g = g0; g < g1; g++) {
    const uint8_t *base = (const uint8_t *)W->data + (size_t)g * gbytes;
    const uint8_t *sc = base + nb * 512 + 16 * h;
    __m256 al[2], ah[2];
    for (int a = 0; a < NV; a++) al[a] = ah[a] = _mm256_setzero_ps();
    for (int64_t k = 0; k < nb; k++) {
      const uint8_t *p = base + k * 512 + 32 * h;
      __m256i sl[2], sh[2];
      for (int a = 0; a < NV; a++) sl[a] = sh[a] = _mm256_set1_epi32(c[a][k]);
      for (int ch = 0; ch < 8; ch++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(p + 64 * ch));
        const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        for (int a = 0; a < NV; a++) {
          const __m256i x = _mm256_set1_epi32(load_i32(q[a] + k * HM_QBLOCK + 4 * ch));
          sl[a] = _mm256_add_epi32(sl[a], dot_u8s8(lo, x));
          sh[a] = _mm256_add_epi32(sh[a], dot_u8s8(hi, x));
        }
      }
      const __m256 dl = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sc + k * 64)));
      const __m256 dh = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sc + k * 64 + 32)));
      for (int a = 0; a < NV; a++) {
        const __m256 dx = _mm256_set1_ps(d[a][k]);
        al[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sl[a]), _mm256_mul_ps(dl, dx), al[a]);
        ah[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sh[a]), _mm256_mul_ps(dh, dx), ah[a]);
      }
    }
    const int64_t rl = g * 32 + 8 * h, rh = rl + 16;
    const __m256 bl = bias ? _mm256_loadu_ps(bias + rl) : _mm256_setzero_ps();
    const __m256 bh = bias ? _mm256_loadu_ps(bias + rh) : _mm256_setzero_ps();
    for (int a = 0; a < NV; a++) {
      _mm256_storeu_ps(y + (int64_t)(b0 + a) * ys + rl, _mm256_add_ps(al[a], bl));
      _mm256_storeu_ps(y + (int64_t)(b0 + a) * ys + rh, _mm256_add_ps(ah[a], bh));
    }
  }
}

AI void q_half_groups(const hm_mat *W, int q8, int64_t g0, int64_t g1, int h, int NV, const hm_qact *xq, int b0,
                      float *y, int64_t ys, const float *bias) {
  if (q8) q8_half_groups(W, g0, g1, h, NV, xq, b0, y, ys, bias);
  else q4_half_groups(W, g0, g1, h, NV, xq, b0, y, ys, bias);
}

AI void mv_q(const hm_mat *W, int q8, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
             const float *bias) {
  int64_t a, b;
  hm_qmat_split(W, r0, r1, &a, &b);
  if (r0 < a) (q8 ? hm_mv_q8_0_ref : hm_mv_q4_0_ref)(W, r0, a, xq, y, ys, bias);
  if (b < r1) (q8 ? hm_mv_q8_0_ref : hm_mv_q4_0_ref)(W, b, r1, xq, y, ys, bias);
  const int64_t G = q8 ? 16 : 32;
  for (int64_t g = a / G; g < b / G; g++) /* all vectors while the group is in L1 */
    for (int v = 0; v < xq->n; v += 2) {
      const int nv = xq->n - v < 2 ? 1 : 2;
      for (int h = 0; h < 2; h++) {
        if (nv == 2) q_half_groups(W, q8, g, g + 1, h, 2, xq, v, y, ys, bias);
        else q_half_groups(W, q8, g, g + 1, h, 1, xq, v, y, ys, bias);
      }
    }
}

static void mv_q8_0_avx2(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
                         const float *bias) {
  mv_q(W, 1, r0, r1, xq, y, ys, bias);
}
static void mv_q4_0_avx2(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
                         const float *bias) {
  mv_q(W, 0, r0, r1, xq, y, ys, bias);
}

static float dot_avx2(const float *a, const float *b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float s = hsum256(_mm256_add_ps(acc0, acc1));
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

static void axpy_avx2(float *y, float a, const float *x, int64_t n) {
  const __m256 av = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; i++) y[i] += a * x[i];
}

static uint64_t stream_read_avx2(const void *p, size_t bytes) {
  const __m256i *v = (const __m256i *)p;
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 8 <= bytes / 32; i += 8) {
    a0 = _mm256_add_epi64(a0, _mm256_add_epi64(_mm256_load_si256(v + i), _mm256_load_si256(v + i + 4)));
    a1 = _mm256_add_epi64(a1, _mm256_add_epi64(_mm256_load_si256(v + i + 1), _mm256_load_si256(v + i + 5)));
    a2 = _mm256_add_epi64(a2, _mm256_add_epi64(_mm256_load_si256(v + i + 2), _mm256_load_si256(v + i + 6)));
    a3 = _mm256_add_epi64(a3, _mm256_add_epi64(_mm256_load_si256(v + i + 3), _mm256_load_si256(v + i + 7)));
  }
  __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
  uint64_t out[4];
  _mm256_storeu_si256((__m256i *)out, s);
  return out[0] + out[1] + out[2] + out[3];
}

static void attn_scores_avx2(const float *q, int ng, int hd, const float *k, int64_t kv_stride, int64_t jn,
                             float scale, float *s, int64_t s_stride) {
  for (int64_t j = 0; j < jn; j++)
    for (int g = 0; g < ng; g++) s[g * s_stride + j] = dot_avx2(q + (int64_t)g * hd, k + j * kv_stride, hd) * scale;
}

static void attn_pv_avx2(float *o, int ng, int hd, const float *s, int64_t s_stride, const float *v,
                         int64_t kv_stride, int64_t jn) {
  for (int64_t j = 0; j < jn; j++)
    for (int g = 0; g < ng; g++) axpy_avx2(o + (int64_t)g * hd, s[g * s_stride + j], v + j * kv_stride, hd);
}

const hm_kernels hm_kernels_avx2 = {
  "avx2", mv_f32_avx2, mv_bf16_avx2, mv_f16_avx2, mv_q8_0_avx2, mv_q4_0_avx2, dot_avx2, axpy_avx2,
  stream_read_avx2, hm_quantize_act, attn_scores_avx2, hm_exp_sum_avx2, attn_pv_avx2, hm_attn_scores_f16_ref,
  hm_attn_pv_f16_ref, hm_silu_avx2, hm_swiglu_avx2, hm_gemm_ukr_avx2, HM_GEMM_AVX2_MR, HM_GEMM_AVX2_NR,
  hm_scale_max_avx2, hm_fma_probe_avx2, 12 * 16,
};

#endif /* x86 */
