/* Q4_0 / Q8_0 x int8 matrix-vector rows for AVX-512 VNNI + VBMI. Q4_0: four blocks per
 * 512-bit register. One vpermt2b gathers the 4 x 16 nibble bytes of four
 * consecutive 18-byte blocks into the four 128-bit lanes; the activations come
 * pre-arranged to match (hm_q4x_prepare): per group of 4 blocks, 64 bytes of
 * the low-nibble elements (0..15 of each block), 64 of the high ones (16..31),
 * a 16 x int32 seed holding -8 * sum(q) of block i in lane 4i (so the integer
 * block sums are exact, as in the reference), and the 4 activation scales each
 * repeated 4 times. A row's trailing blocks (nb % 4) use hm_q4_tail_avx512. */
#include "tensor/kernels.h"
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define VBMI __attribute__((target("avx512vbmi,avx512vnni,avx512bw,avx512vl,avx512f,f16c,fma,avx2")))

#ifndef HM_PF_DIST
/* Software prefetch (to L2) this many bytes ahead along each row, two lines per
 * group: without it these compute-heavy loops leave DRAM latency exposed.
 * Measured: single thread Q4_0 n=2 from DRAM 5.2 GB/s without, 9.7 with 8 KiB;
 * 3B Q4_0 frame step (2 threads) 4 KiB 223 ms, 8 KiB 191, 16-64 KiB 165-172. */
#define HM_PF_DIST 32768
#endif

#ifndef Q4X_ROWS
#define Q4X_ROWS 4 /* weight rows per pass over the activations (<= 4), Q4_0 and Q8_0 */
#endif

/* Bytes per group of 4 blocks in the arranged activations. */
#define Q4X_GROUP 256

void hm_q4x_prepare(const hm_qact *xq, uint8_t *x4, int64_t x4_stride) {
  const int64_t ng = xq->nb / 4;
  for (int b = 0; b < xq->n; b++) {
    const int8_t *q = xq->q + b * xq->q_stride;
    const float *d = xq->d + b * xq->nb;
    const int32_t *c = xq->c + b * xq->nb;
    for (int64_t g = 0; g < ng; g++) {
      uint8_t *o = x4 + b * x4_stride + g * Q4X_GROUP;
      int32_t seed[16] = { 0 };
      float dr[16];
      for (int i = 0; i < 4; i++) {
        const int8_t *qb = q + (g * 4 + i) * HM_QBLOCK;
        memcpy(o + 16 * i, qb, 16);
        memcpy(o + 64 + 16 * i, qb + 16, 16);
        seed[4 * i] = c[g * 4 + i];
        for (int l = 0; l < 4; l++) dr[4 * i + l] = d[g * 4 + i];
      }
      memcpy(o + 128, seed, 64);
      memcpy(o + 192, dr, 64);
    }
  }
}

static inline __attribute__((always_inline)) VBMI float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

/* R rows (<= 2) x NV vectors (<= 2) over the first (nb / 4) * 4 blocks. */
static inline __attribute__((always_inline)) VBMI void q4x_rows(const uint8_t *const *w, int R, int NV, int64_t ng,
                                                                const uint8_t *x0, const uint8_t *x1, float *out,
                                                                int masked) {
  /* nibble bytes: output byte 16i + m <- window byte 18i + 2 + m */
  uint8_t ip[64], is[64];
  for (int i = 0; i < 4; i++)
    for (int m = 0; m < 16; m++) ip[16 * i + m] = (uint8_t)(18 * i + 2 + m);
  /* scales: output word 4i + l (i, l < 4) <- window bytes 18i, 18i+1; upper half unused */
  for (int p = 0; p < 64; p++) is[p] = (uint8_t)(p < 32 ? 18 * (p / 8) + (p & 1) : 0);
  const __m512i idx_p = _mm512_loadu_si512(ip), idx_s = _mm512_loadu_si512(is);
  const __m512i m4 = _mm512_set1_epi8(15);
  __m512 acc[4][2];
  for (int rr = 0; rr < 4; rr++) acc[rr][0] = acc[rr][1] = _mm512_setzero_ps();
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t *a0 = x0 + g * Q4X_GROUP, *a1 = x1 + g * Q4X_GROUP;
    const __m512i qlo0 = _mm512_load_si512(a0), qhi0 = _mm512_load_si512(a0 + 64);
    const __m512i qlo1 = NV > 1 ? _mm512_load_si512(a1) : qlo0, qhi1 = NV > 1 ? _mm512_load_si512(a1 + 64) : qhi0;
    for (int rr = 0; rr < R; rr++) {
      const uint8_t *p = w[rr] + g * 4 * HM_Q4_0_BYTES;
      if (HM_PF_DIST) {
        _mm_prefetch((const char *)p + HM_PF_DIST, _MM_HINT_T1);
        _mm_prefetch((const char *)p + HM_PF_DIST + 64, _MM_HINT_T1);
      }
      const __m512i l0 = _mm512_loadu_si512(p);
      /* bytes 64..71 of the group; a full load reads into the next group, so the
       * matrix's last rows use a masked one */
      const __m512i l1 = masked ? _mm512_maskz_loadu_epi8((__mmask64)0xff, p + 64) : _mm512_loadu_si512(p + 64);
      const __m512i nb = _mm512_permutex2var_epi8(l0, idx_p, l1);
      const __m512i lo = _mm512_and_si512(nb, m4), hi = _mm512_and_si512(_mm512_srli_epi16(nb, 4), m4);
      const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi8(idx_s, l0)));
      __m512i s0 = _mm512_load_si512(a0 + 128);
      s0 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(s0, lo, qlo0), hi, qhi0);
      acc[rr][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(dw, _mm512_load_ps((const float *)(a0 + 192))),
                                   acc[rr][0]);
      if (NV > 1) {
        __m512i s1 = _mm512_load_si512(a1 + 128);
        s1 = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(s1, lo, qlo1), hi, qhi1);
        acc[rr][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1),
                                     _mm512_mul_ps(dw, _mm512_load_ps((const float *)(a1 + 192))), acc[rr][1]);
      }
    }
  }
  for (int rr = 0; rr < R; rr++) {
    out[rr * 2] = hsum512(acc[rr][0]);
    if (NV > 1) out[rr * 2 + 1] = hsum512(acc[rr][1]);
  }
}

/* Trailing blocks [k0, nb) of one row for one vector (natural q layout). */
static float q4_tail(const uint8_t *row, int64_t k0, int64_t nb, const int8_t *q, const float *d) {
  float acc = 0.0f;
  for (int64_t k = k0; k < nb; k++) {
    const uint8_t *blk = row + k * HM_Q4_0_BYTES;
    uint16_t dh; memcpy(&dh, blk, 2);
    int32_t s = 0;
    for (int j = 0; j < 16; j++) {
      s += ((int32_t)(blk[2 + j] & 15) - 8) * q[k * HM_QBLOCK + j];
      s += ((int32_t)(blk[2 + j] >> 4) - 8) * q[k * HM_QBLOCK + j + 16];
    }
    acc += (float)s * (_cvtsh_ss(dh) * d[k]);
  }
  return acc;
}

static inline __attribute__((always_inline)) VBMI void q4x_block(const hm_mat *W, int64_t r0, int64_t r1, int NV,
                                                                 const hm_qact *xq, const uint8_t *x4, int64_t x4s,
                                                                 int b, float *y, int64_t ys, const float *bias) {
  const int64_t nb = W->cols / HM_QBLOCK, ng = nb / 4;
  const size_t rb = (size_t)nb * HM_Q4_0_BYTES;
  const uint8_t *x0 = x4 + b * x4s, *x1 = x0 + x4s;
  float out[8];
  for (int64_t r = r0; r < r1;) {
    const int R = r + Q4X_ROWS <= r1 ? Q4X_ROWS : 1;
    const uint8_t *w[4];
    for (int rr = 0; rr < 4; rr++) w[rr] = (const uint8_t *)W->data + (r + (rr < R ? rr : 0)) * rb;
    const bool last = r + R + 1 > W->rows; /* no full row after these: stay inside the matrix */
    if (R == Q4X_ROWS) {
      if (last) q4x_rows(w, Q4X_ROWS, NV, ng, x0, x1, out, 1);
      else q4x_rows(w, Q4X_ROWS, NV, ng, x0, x1, out, 0);
    } else {
      if (last) q4x_rows(w, 1, NV, ng, x0, x1, out, 1);
      else q4x_rows(w, 1, NV, ng, x0, x1, out, 0);
    }
    for (int rr = 0; rr < R; rr++)
      for (int v = 0; v < NV; v++) {
        float s = out[rr * 2 + v];
        if (ng * 4 < nb)
          s += q4_tail(w[rr], ng * 4, nb, xq->q + (b + v) * xq->q_stride, xq->d + (b + v) * nb);
        y[(int64_t)(b + v) * ys + r + rr] = s + (bias ? bias[r + rr] : 0.0f);
      }
    r += R;
  }
}

VBMI void hm_mv_q4_0_avx512_vbmi(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, const uint8_t *x4,
                                 int64_t x4_stride, float *y, int64_t ys, const float *bias) {
  int b = 0;
  for (; b + 2 <= xq->n; b += 2) q4x_block(W, r0, r1, 2, xq, x4, x4_stride, b, y, ys, bias);
  if (b < xq->n) q4x_block(W, r0, r1, 1, xq, x4, x4_stride, b, y, ys, bias);
}

/* ---- Q8_0: two 34-byte blocks per register ----
 * The weights are offset to unsigned (w + 128, one xor) so vpdpbusd takes them
 * as they are; the seed holds -128 * sum(q) of block i in lane 8i, so each block's
 * integer sum is exactly sum(w * q). Arranged activations per pair of blocks:
 * 64-byte seed, then 16 scales (d0 x 8, d1 x 8); q is read in its natural layout. */
#define Q8X_GROUP 128

void hm_q8x_prepare(const hm_qact *xq, uint8_t *x8, int64_t x8_stride) {
  const int64_t ng = xq->nb / 2;
  for (int b = 0; b < xq->n; b++) {
    const float *d = xq->d + b * xq->nb;
    const int32_t *c = xq->c + b * xq->nb;
    for (int64_t g = 0; g < ng; g++) {
      uint8_t *o = x8 + b * x8_stride + g * Q8X_GROUP;
      int32_t seed[16] = { 0 };
      float dr[16];
      for (int i = 0; i < 2; i++) {
        seed[8 * i] = 16 * c[g * 2 + i]; /* c = -8 * sum(q) */
        for (int l = 0; l < 8; l++) dr[8 * i + l] = d[g * 2 + i];
      }
      memcpy(o, seed, 64);
      memcpy(o + 64, dr, 64);
    }
  }
}

static inline __attribute__((always_inline)) VBMI void q8x_rows(const uint8_t *const *w, int R, int NV, int64_t ng,
                                                                const int8_t *q0, const int8_t *q1,
                                                                const uint8_t *x0, const uint8_t *x1, float *out,
                                                                int masked) {
  uint8_t ip[64], is[64];
  for (int i = 0; i < 2; i++)
    for (int m = 0; m < 32; m++) ip[32 * i + m] = (uint8_t)(34 * i + 2 + m);
  /* output word 8i + l <- bytes 34i, 34i+1 */
  for (int p = 0; p < 64; p++) is[p] = (uint8_t)(p < 32 ? 34 * (p / 16) + (p & 1) : 0);
  const __m512i idx_p = _mm512_loadu_si512(ip), idx_s = _mm512_loadu_si512(is);
  const __m512i off = _mm512_set1_epi8((char)0x80);
  __m512 acc[4][2];
  for (int rr = 0; rr < 4; rr++) acc[rr][0] = acc[rr][1] = _mm512_setzero_ps();
  for (int64_t g = 0; g < ng; g++) {
    const uint8_t *a0 = x0 + g * Q8X_GROUP, *a1 = x1 + g * Q8X_GROUP;
    const __m512i qa = _mm512_load_si512(q0 + g * 64), qb = NV > 1 ? _mm512_load_si512(q1 + g * 64) : qa;
    for (int rr = 0; rr < R; rr++) {
      const uint8_t *p = w[rr] + g * 2 * HM_Q8_0_BYTES;
      if (HM_PF_DIST) {
        _mm_prefetch((const char *)p + HM_PF_DIST, _MM_HINT_T1);
        _mm_prefetch((const char *)p + HM_PF_DIST + 64, _MM_HINT_T1);
      }
      const __m512i l0 = _mm512_loadu_si512(p);
      const __m512i l1 = masked ? _mm512_maskz_loadu_epi8((__mmask64)0xf, p + 64) : _mm512_loadu_si512(p + 64);
      const __m512i wu = _mm512_xor_si512(_mm512_permutex2var_epi8(l0, idx_p, l1), off);
      const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi8(idx_s, l0)));
      __m512i s0 = _mm512_dpbusd_epi32(_mm512_load_si512(a0), wu, qa);
      acc[rr][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(dw, _mm512_load_ps((const float *)(a0 + 64))),
                                   acc[rr][0]);
      if (NV > 1) {
        __m512i s1 = _mm512_dpbusd_epi32(_mm512_load_si512(a1), wu, qb);
        acc[rr][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1),
                                     _mm512_mul_ps(dw, _mm512_load_ps((const float *)(a1 + 64))), acc[rr][1]);
      }
    }
  }
  for (int rr = 0; rr < R; rr++) {
    out[rr * 2] = hsum512(acc[rr][0]);
    if (NV > 1) out[rr * 2 + 1] = hsum512(acc[rr][1]);
  }
}

static float q8_tail(const uint8_t *row, int64_t k0, int64_t nb, const int8_t *q, const float *d) {
  float acc = 0.0f;
  for (int64_t k = k0; k < nb; k++) {
    const uint8_t *blk = row + k * HM_Q8_0_BYTES;
    uint16_t dh; memcpy(&dh, blk, 2);
    const int8_t *wq = (const int8_t *)(blk + 2);
    int32_t s = 0;
    for (int j = 0; j < HM_QBLOCK; j++) s += (int32_t)wq[j] * q[k * HM_QBLOCK + j];
    acc += (float)s * (_cvtsh_ss(dh) * d[k]);
  }
  return acc;
}

static inline __attribute__((always_inline)) VBMI void q8x_block(const hm_mat *W, int64_t r0, int64_t r1, int NV,
                                                                 const hm_qact *xq, const uint8_t *x8, int64_t x8s,
                                                                 int b, float *y, int64_t ys, const float *bias) {
  const int64_t nb = W->cols / HM_QBLOCK, ng = nb / 2;
  const size_t rb = (size_t)nb * HM_Q8_0_BYTES;
  const uint8_t *x0 = x8 + b * x8s, *x1 = x0 + x8s;
  const int8_t *q0 = xq->q + b * xq->q_stride, *q1 = q0 + xq->q_stride;
  float out[8];
  for (int64_t r = r0; r < r1;) {
    const int R = r + Q4X_ROWS <= r1 ? Q4X_ROWS : 1;
    const uint8_t *w[4];
    for (int rr = 0; rr < 4; rr++) w[rr] = (const uint8_t *)W->data + (r + (rr < R ? rr : 0)) * rb;
    const bool last = r + R + 1 > W->rows;
    if (R == Q4X_ROWS) {
      if (last) q8x_rows(w, Q4X_ROWS, NV, ng, q0, q1, x0, x1, out, 1);
      else q8x_rows(w, Q4X_ROWS, NV, ng, q0, q1, x0, x1, out, 0);
    } else {
      if (last) q8x_rows(w, 1, NV, ng, q0, q1, x0, x1, out, 1);
      else q8x_rows(w, 1, NV, ng, q0, q1, x0, x1, out, 0);
    }
    for (int rr = 0; rr < R; rr++)
      for (int v = 0; v < NV; v++) {
        float s = out[rr * 2 + v];
        if (ng * 2 < nb) s += q8_tail(w[rr], ng * 2, nb, xq->q + (b + v) * xq->q_stride, xq->d + (b + v) * nb);
        y[(int64_t)(b + v) * ys + r + rr] = s + (bias ? bias[r + rr] : 0.0f);
      }
    r += R;
  }
}

VBMI void hm_mv_q8_0_avx512_vbmi(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, const uint8_t *x8,
                                 int64_t x8_stride, float *y, int64_t ys, const float *bias) {
  int b = 0;
  for (; b + 2 <= xq->n; b += 2) q8x_block(W, r0, r1, 2, xq, x8, x8_stride, b, y, ys, bias);
  if (b < xq->n) q8x_block(W, r0, r1, 1, xq, x8, x8_stride, b, y, ys, bias);
}

#endif /* x86 */
