/* Q8_0 / Q4_0 x int8 matrix-vector rows for AVX-512 VNNI on the interleaved
 * layouts (kernels.h): lane j of a 512-bit register is output row j of a group,
 * so one vpdpbusd does 4 weights of 16 rows against one broadcast of 4
 * activations, and a block's result is a whole vector of rows: no horizontal
 * sums, no gathers or permutes. Q4_0 takes 32 rows per byte vector (one
 * mask and two vpdpbusd per 64 bytes instead of shift, two masks and two). Up to 4 activation vectors (the CFG
 * pair, or 2 x 2 rows of the decoder's first step) share each weight load.
 *
 * Per block and vector: the int32 sums start from a seed that applies the
 * weight offset (Q4_0 nibbles are 0..15 for w + 8: seed -8 * sum(q); Q8_0 is
 * stored as w + 128: seed -128 * sum(q)), so the integer block sums are exact,
 * then acc += float(sum) * (d_w * d_x) as in the scalar reference. Rows outside
 * whole groups of 16 take the reference path. */
#include "tensor/kernels.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AI static inline __attribute__((always_inline))

#ifndef HM_PF_DIST
/* Software prefetch (to L2) this far ahead along the weight stream (bytes).
 * Measured on the 2-core box, Q4_0 n = 2, 3072 x 3072 and 8192 x 3072 matrices
 * from DRAM, 2 threads, time / (bytes / adjacent probe): no prefetch 1.36 / 1.30,
 * T0 at 1 KiB 1.20-1.28 / 1.14-1.25, T1 at 1 KiB 1.18-1.26, T1 at 2 KiB
 * 1.16 / 1.11-1.13, T1 at 4 KiB 1.16-1.18 / 1.17-1.21, NTA 2.2-2.4. */
#define HM_PF_DIST 2048
#endif

AI int32_t load_i32(const int8_t *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Q8_0 groups [g0, g1) of 16 rows for NV (1..4) vectors starting at vector b0. */
AI void q8_groups(const hm_mat *W, int64_t g0, int64_t g1, int NV, const hm_qact *xq, int b0, float *y, int64_t ys,
                  const float *bias) {
  const int64_t nb = W->cols / HM_QBLOCK;
  const size_t gbytes = (size_t)nb * (512 + 32);
  const int8_t *q[4];
  const float *d[4];
  const int32_t *c[4];
  hm_qact_rows(xq, b0, NV, q, d, c);
  for (int64_t g = g0; g < g1; g++) {
    const uint8_t *base = (const uint8_t *)W->data + (size_t)g * gbytes, *sc = base + nb * 512;
    __m512 acc[4];
    for (int a = 0; a < NV; a++) acc[a] = _mm512_setzero_ps();
    for (int64_t k = 0; k < nb; k++) {
      const uint8_t *p = base + k * 512;
      if (HM_PF_DIST) { /* the group's bytes in stream order: a block's share of lines */
        const char *pf = (const char *)base + (size_t)k * (512 + 32) + HM_PF_DIST;
        for (int l = 0; l < 9; l++) _mm_prefetch(pf + 64 * l, _MM_HINT_T1);
      }
      __m512i s[4];
      for (int a = 0; a < NV; a++) s[a] = _mm512_slli_epi32(_mm512_set1_epi32(c[a][k]), 4); /* -128 sum(q) */
      for (int ch = 0; ch < 8; ch++) {
        const __m512i w = _mm512_loadu_si512(p + 64 * ch);
        for (int a = 0; a < NV; a++)
          s[a] = _mm512_dpbusd_epi32(s[a], w, _mm512_set1_epi32(load_i32(q[a] + k * HM_QBLOCK + 4 * ch)));
      }
      const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sc + k * 32)));
      for (int a = 0; a < NV; a++)
        acc[a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[a]), _mm512_mul_ps(dw, _mm512_set1_ps(d[a][k])), acc[a]);
    }
    const __m512 bv = bias ? _mm512_loadu_ps(bias + g * 16) : _mm512_setzero_ps();
    for (int a = 0; a < NV; a++) _mm512_storeu_ps(y + (int64_t)(b0 + a) * ys + g * 16, _mm512_add_ps(acc[a], bv));
  }
}

/* Q4_0 groups [g0, g1) of 32 rows: per byte v = lo + 16 hi (rows j, j + 16),
 * s_lo = seed + dot(lo, x), s_v = 17 seed + dot(v, x), high rows = (s_v - s_lo) >> 4. */
AI void q4_groups(const hm_mat *W, int64_t g0, int64_t g1, int NV, const hm_qact *xq, int b0, float *y, int64_t ys,
                  const float *bias) {
  const int64_t nb = W->cols / HM_QBLOCK;
  const size_t gbytes = (size_t)nb * (512 + 64);
  const int8_t *q[4];
  const float *d[4];
  const int32_t *c[4];
  hm_qact_rows(xq, b0, NV, q, d, c);
  const __m512i m4 = _mm512_set1_epi8(15);
  for (int64_t g = g0; g < g1; g++) {
    const uint8_t *base = (const uint8_t *)W->data + (size_t)g * gbytes, *sc = base + nb * 512;
    __m512 acc[8];
    for (int a = 0; a < 2 * NV; a++) acc[a] = _mm512_setzero_ps();
    for (int64_t k = 0; k < nb; k++) {
      const uint8_t *p = base + k * 512;
      if (HM_PF_DIST) {
        const char *pf = (const char *)base + (size_t)k * (512 + 64) + HM_PF_DIST;
        for (int l = 0; l < 9; l++) _mm_prefetch(pf + 64 * l, _MM_HINT_T1);
      }
      __m512i sl[4], sv[4];
      for (int a = 0; a < NV; a++) {
        sl[a] = _mm512_set1_epi32(c[a][k]); /* -8 sum(q) */
        sv[a] = _mm512_add_epi32(sl[a], _mm512_slli_epi32(sl[a], 4));
      }
      for (int ch = 0; ch < 8; ch++) {
        const __m512i v = _mm512_loadu_si512(p + 64 * ch), lo = _mm512_and_si512(v, m4);
        for (int a = 0; a < NV; a++) {
          const __m512i x = _mm512_set1_epi32(load_i32(q[a] + k * HM_QBLOCK + 4 * ch));
          sl[a] = _mm512_dpbusd_epi32(sl[a], lo, x);
          sv[a] = _mm512_dpbusd_epi32(sv[a], v, x);
        }
      }
      const __m512 dl = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sc + k * 64)));
      const __m512 dh = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sc + k * 64 + 32)));
      for (int a = 0; a < NV; a++) {
        const __m512 dx = _mm512_set1_ps(d[a][k]);
        const __m512i sh = _mm512_srai_epi32(_mm512_sub_epi32(sv[a], sl[a]), 4);
        acc[2 * a] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sl[a]), _mm512_mul_ps(dl, dx), acc[2 * a]);
        acc[2 * a + 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sh), _mm512_mul_ps(dh, dx), acc[2 * a + 1]);
      }
    }
    const __m512 bl = bias ? _mm512_loadu_ps(bias + g * 32) : _mm512_setzero_ps();
    const __m512 bh = bias ? _mm512_loadu_ps(bias + g * 32 + 16) : _mm512_setzero_ps();
    for (int a = 0; a < NV; a++) {
      float *o = y + (int64_t)(b0 + a) * ys + g * 32;
      _mm512_storeu_ps(o, _mm512_add_ps(acc[2 * a], bl));
      _mm512_storeu_ps(o + 16, _mm512_add_ps(acc[2 * a + 1], bh));
    }
  }
}

AI void q_groups(const hm_mat *W, int q8, int64_t g0, int64_t g1, int NV, const hm_qact *xq, int b0, float *y,
                 int64_t ys, const float *bias) {
  if (q8) q8_groups(W, g0, g1, NV, xq, b0, y, ys, bias);
  else q4_groups(W, g0, g1, NV, xq, b0, y, ys, bias);
}

AI void mv_q(const hm_mat *W, int q8, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
             const float *bias) {
  int64_t a, b;
  hm_qmat_split(W, r0, r1, &a, &b);
  void (*ref)(const hm_mat *, int64_t, int64_t, const hm_qact *, float *, int64_t, const float *) =
      q8 ? hm_mv_q8_0_ref : hm_mv_q4_0_ref;
  if (r0 < a) ref(W, r0, a, xq, y, ys, bias);
  if (b < r1) ref(W, b, r1, xq, y, ys, bias);
  /* group by group, all vectors (4 at a time) while the group's weights are in L1:
   * one pass over the matrix also for the prefill's many rows */
  const int64_t G = q8 ? 16 : 32;
  for (int64_t g = a / G; g < b / G; g++)
    for (int v = 0; v < xq->n; v += 4) {
      const int nv = xq->n - v < 4 ? xq->n - v : 4;
      switch (nv) {
      case 1: q_groups(W, q8, g, g + 1, 1, xq, v, y, ys, bias); break;
      case 2: q_groups(W, q8, g, g + 1, 2, xq, v, y, ys, bias); break;
      case 3: q_groups(W, q8, g, g + 1, 3, xq, v, y, ys, bias); break;
      default: q_groups(W, q8, g, g + 1, 4, xq, v, y, ys, bias); break;
      }
    }
}

void hm_mv_q8_0_avx512(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
                       const float *bias) {
  mv_q(W, 1, r0, r1, xq, y, ys, bias);
}
void hm_mv_q4_0_avx512(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
                       const float *bias) {
  mv_q(W, 0, r0, r1, xq, y, ys, bias);
}

#endif /* x86 */
