/* Scalar reference kernels: the matrix x vector rows for every weight dtype,
 * the block quantizers, and the element-wise / normalisation ops. SIMD
 * variants are checked against these in tests/tensor. */
#include "tensor/kernels.h"
#include <math.h>

/* ---- matrix x vector rows ---- */

static void mv_f32_ref(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x,
                       int64_t xs, float *y, int64_t ys, const float *bias) {
  const int64_t cols = W->cols;
  for (int64_t r = r0; r < r1; r++) {
    const float *w = (const float *)W->data + r * cols;
    for (int b = 0; b < n; b++) {
      const float *xb = x + b * xs;
      float acc = 0.0f;
      for (int64_t i = 0; i < cols; i++) acc += w[i] * xb[i];
      y[b * ys + r] = acc + (bias ? bias[r] : 0.0f);
    }
  }
}

static void mv_bf16_ref(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x,
                        int64_t xs, float *y, int64_t ys, const float *bias) {
  const int64_t cols = W->cols;
  for (int64_t r = r0; r < r1; r++) {
    const uint16_t *w = (const uint16_t *)W->data + r * cols;
    for (int b = 0; b < n; b++) {
      const float *xb = x + b * xs;
      float acc = 0.0f;
      for (int64_t i = 0; i < cols; i++) acc += hm_bf16_to_f32(w[i]) * xb[i];
      y[b * ys + r] = acc + (bias ? bias[r] : 0.0f);
    }
  }
}

static void mv_f16_ref(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x,
                       int64_t xs, float *y, int64_t ys, const float *bias) {
  const int64_t cols = W->cols;
  for (int64_t r = r0; r < r1; r++) {
    const uint16_t *w = (const uint16_t *)W->data + r * cols;
    for (int b = 0; b < n; b++) {
      const float *xb = x + b * xs;
      float acc = 0.0f;
      for (int64_t i = 0; i < cols; i++) acc += hm_f16_to_f32(w[i]) * xb[i];
      y[b * ys + r] = acc + (bias ? bias[r] : 0.0f);
    }
  }
}

/* ---- the interleaved layouts of quantized matrices (kernels.h) ---- */

static size_t qblock_bytes(hm_dtype t) { return t == HM_DT_Q8_0 ? HM_Q8_0_BYTES : HM_Q4_0_BYTES; }

int hm_qmat_group_rows(hm_dtype t) { return t == HM_DT_Q8_0 ? 16 : t == HM_DT_Q4_0 ? 32 : 1; }

/* Byte offsets inside a group: weights of block k, chunk c, lane j; scale of block k, row j. */
static size_t q_at(int64_t k, int c, int64_t j) { return (size_t)k * 512 + (size_t)c * 64 + (size_t)j * 4; }
static size_t q_scale_at(hm_dtype t, int64_t nb, int64_t k, int64_t j) {
  const size_t per = t == HM_DT_Q8_0 ? 32 : 64;
  return (size_t)nb * 512 + (size_t)k * per + (size_t)j * 2;
}

void hm_qmat_get_block(hm_dtype t, const void *data, int64_t rows, int64_t cols, int64_t r, int64_t k, uint8_t *blk) {
  const int64_t nb = cols / HM_QBLOCK, G = hm_qmat_group_rows(t);
  const size_t bb = qblock_bytes(t);
  const uint8_t *p = (const uint8_t *)data;
  if (r >= rows / G * G) { /* trailing plain rows */
    memcpy(blk, p + ((size_t)r * nb + k) * bb, bb);
    return;
  }
  const uint8_t *g = p + (size_t)(r / G) * G * nb * bb;
  const int64_t j = r % G;
  memcpy(blk, g + q_scale_at(t, nb, k, j), 2);
  if (t == HM_DT_Q8_0) {
    for (int c = 0; c < 8; c++)
      for (int i = 0; i < 4; i++) blk[2 + 4 * c + i] = (uint8_t)(g[q_at(k, c, j) + i] ^ 0x80);
    return;
  }
  memset(blk + 2, 0, 16);
  for (int e = 0; e < HM_QBLOCK; e++) {
    const uint8_t byte = g[q_at(k, e / 4, j % 16) + e % 4];
    const uint8_t nib = (uint8_t)(j < 16 ? byte & 15 : byte >> 4);
    blk[2 + e % 16] |= (uint8_t)(e < 16 ? nib : nib << 4);
  }
}

void hm_qmat_set_row(hm_dtype t, void *data, int64_t rows, int64_t cols, int64_t r, const uint8_t *blocks) {
  const int64_t nb = cols / HM_QBLOCK, G = hm_qmat_group_rows(t);
  const size_t bb = qblock_bytes(t);
  uint8_t *p = (uint8_t *)data;
  if (r >= rows / G * G) {
    memcpy(p + (size_t)r * nb * bb, blocks, (size_t)nb * bb);
    return;
  }
  uint8_t *g = p + (size_t)(r / G) * G * nb * bb;
  const int64_t j = r % G;
  for (int64_t k = 0; k < nb; k++) {
    const uint8_t *blk = blocks + (size_t)k * bb;
    memcpy(g + q_scale_at(t, nb, k, j), blk, 2);
    if (t == HM_DT_Q8_0) {
      for (int c = 0; c < 8; c++)
        for (int i = 0; i < 4; i++) g[q_at(k, c, j) + i] = (uint8_t)(blk[2 + 4 * c + i] ^ 0x80);
      continue;
    }
    for (int e = 0; e < HM_QBLOCK; e++) { /* one nibble of a byte shared with row j +- 16 */
      const uint8_t nib = (uint8_t)(e < 16 ? blk[2 + e] & 15 : blk[2 + e - 16] >> 4);
      uint8_t *byte = &g[q_at(k, e / 4, j % 16) + e % 4];
      *byte = (uint8_t)(j < 16 ? (*byte & 0xF0) | nib : (*byte & 0x0F) | (nib << 4));
    }
  }
}

void hm_qmat_row_f32(hm_dtype t, const void *data, int64_t rows, int64_t cols, int64_t r, float *out) {
  uint8_t blk[HM_Q8_0_BYTES];
  for (int64_t k = 0; k < cols / HM_QBLOCK; k++) {
    hm_qmat_get_block(t, data, rows, cols, r, k, blk);
    if (t == HM_DT_Q8_0) hm_dequantize_row_q8_0(blk, out + k * HM_QBLOCK, HM_QBLOCK);
    else hm_dequantize_row_q4_0(blk, out + k * HM_QBLOCK, HM_QBLOCK);
  }
}

/* Whole group gi of G rows (16 or 32) into out (G rows of cols floats). */
static void qmat_group_f32(hm_dtype t, const uint8_t *data, int64_t cols, int64_t gi, float *out) {
  const int64_t nb = cols / HM_QBLOCK, G = hm_qmat_group_rows(t);
  const uint8_t *g = data + (size_t)gi * G * nb * qblock_bytes(t);
  for (int64_t k = 0; k < nb; k++) {
    float d[32];
    for (int64_t j = 0; j < G; j++) {
      uint16_t h;
      memcpy(&h, g + q_scale_at(t, nb, k, j), 2);
      d[j] = hm_f16_to_f32(h);
    }
    for (int c = 0; c < 8; c++)
      for (int64_t j = 0; j < 16; j++) {
        const uint8_t *b = g + q_at(k, c, j);
        float *lo = out + j * cols + k * HM_QBLOCK + 4 * c;
        if (t == HM_DT_Q8_0) {
          for (int i = 0; i < 4; i++) lo[i] = d[j] * (float)((int)b[i] - 128);
        } else {
          float *hi = lo + 16 * cols;
          for (int i = 0; i < 4; i++) {
            lo[i] = d[j] * (float)((b[i] & 15) - 8);
            hi[i] = d[j + 16] * (float)((b[i] >> 4) - 8);
          }
        }
      }
  }
}

void hm_qmat_rows_f32(hm_dtype t, const void *data, int64_t rows, int64_t cols, int64_t r0, int64_t r1, float *out) {
  const int64_t G = hm_qmat_group_rows(t), whole = rows / G * G;
  for (int64_t r = r0; r < r1;) {
    if (r % G == 0 && r + G <= r1 && r + G <= whole) {
      qmat_group_f32(t, (const uint8_t *)data, cols, r / G, out + (r - r0) * cols);
      r += G;
    } else {
      hm_qmat_row_f32(t, data, rows, cols, r, out + (r - r0) * cols);
      r++;
    }
  }
}

void hm_qmat_split(const hm_mat *W, int64_t r0, int64_t r1, int64_t *g0, int64_t *g1) {
  const int64_t G = hm_qmat_group_rows(W->type), whole = W->rows / G * G;
  int64_t a = (r0 + G - 1) / G * G, b = r1 / G * G;
  if (a > whole) a = whole;
  if (b > whole) b = whole;
  if (a < r0 || b <= a) a = b = r1; /* no whole group inside [r0, r1): all rows plain-path */
  *g0 = a;
  *g1 = b;
}

/* Integer dot product of one plain block with 32 activations. */
static int32_t qblock_dot(hm_dtype t, const uint8_t *blk, const int8_t *q) {
  int32_t s = 0;
  if (t == HM_DT_Q8_0) {
    const int8_t *w = (const int8_t *)(blk + 2);
    for (int j = 0; j < HM_QBLOCK; j++) s += (int32_t)w[j] * q[j];
  } else {
    for (int j = 0; j < 16; j++) {
      s += ((int32_t)(blk[2 + j] & 15) - 8) * q[j];
      s += ((int32_t)(blk[2 + j] >> 4) - 8) * q[j + 16];
    }
  }
  return s;
}

static void mv_quant_ref(hm_dtype t, const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y,
                         int64_t ys, const float *bias) {
  const int64_t nb = W->cols / HM_QBLOCK;
  uint8_t blk[HM_Q8_0_BYTES];
  float acc[8];
  for (int64_t r = r0; r < r1; r++)
    for (int b0 = 0; b0 < xq->n; b0 += 8) { /* each block read once for up to 8 vectors */
      const int nv = xq->n - b0 < 8 ? xq->n - b0 : 8;
      for (int v = 0; v < nv; v++) acc[v] = 0.0f;
      for (int64_t k = 0; k < nb; k++) {
        hm_qmat_get_block(t, W->data, W->rows, W->cols, r, k, blk);
        uint16_t dh; memcpy(&dh, blk, 2);
        const float dw = hm_f16_to_f32(dh);
        for (int v = 0; v < nv; v++) {
          const int b = b0 + v;
          acc[v] += (float)qblock_dot(t, blk, xq->q + b * xq->q_stride + k * HM_QBLOCK) * (dw * xq->d[b * nb + k]);
        }
      }
      for (int v = 0; v < nv; v++) y[(b0 + v) * ys + r] = acc[v] + (bias ? bias[r] : 0.0f);
    }
}

void hm_mv_q8_0_ref(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
                    const float *bias) {
  mv_quant_ref(HM_DT_Q8_0, W, r0, r1, xq, y, ys, bias);
}
void hm_mv_q4_0_ref(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
                    const float *bias) {
  mv_quant_ref(HM_DT_Q4_0, W, r0, r1, xq, y, ys, bias);
}

static float dot_ref(const float *a, const float *b, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; i++) acc += a[i] * b[i];
  return acc;
}

static void axpy_ref(float *y, float a, const float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static uint64_t stream_read_ref(const void *p, size_t bytes) {
  const uint64_t *u = (const uint64_t *)p;
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (size_t i = 0; i + 4 <= bytes / 8; i += 4) { a0 += u[i]; a1 ^= u[i + 1]; a2 += u[i + 2]; a3 ^= u[i + 3]; }
  return a0 + a1 + a2 + a3;
}

static void attn_scores_ref(const float *q, int ng, int hd, const float *k, int64_t kv_stride, int64_t jn,
                            float scale, float *s, int64_t s_stride) {
  for (int64_t j = 0; j < jn; j++)
    for (int g = 0; g < ng; g++) s[g * s_stride + j] = dot_ref(q + (int64_t)g * hd, k + j * kv_stride, hd) * scale;
}

static float exp_sum_ref(float *s, int64_t n, float m) {
  float sum = 0.0f;
  for (int64_t j = 0; j < n; j++) {
    s[j] = expf(s[j] - m);
    sum += s[j];
  }
  return sum;
}

static void attn_pv_ref(float *o, int ng, int hd, const float *s, int64_t s_stride, const float *v,
                        int64_t kv_stride, int64_t jn) {
  for (int64_t j = 0; j < jn; j++)
    for (int g = 0; g < ng; g++) axpy_ref(o + (int64_t)g * hd, s[g * s_stride + j], v + j * kv_stride, hd);
}

/* Shared by the AVX2 table (its dot/axpy are used through these generic loops there). */
void hm_attn_scores_ref(const float *q, int ng, int hd, const float *k, int64_t kv_stride, int64_t jn, float scale,
                        float *s, int64_t s_stride) {
  attn_scores_ref(q, ng, hd, k, kv_stride, jn, scale, s, s_stride);
}
float hm_exp_sum_ref(float *s, int64_t n, float m) { return exp_sum_ref(s, n, m); }
void hm_attn_pv_ref(float *o, int ng, int hd, const float *s, int64_t s_stride, const float *v, int64_t kv_stride,
                    int64_t jn) {
  attn_pv_ref(o, ng, hd, s, s_stride, v, kv_stride, jn);
}

void hm_attn_scores_f16_ref(const float *q, int ng, int hd, const uint16_t *k, int64_t kv_stride, int64_t jn,
                            float scale, float *s, int64_t s_stride) {
  for (int64_t j = 0; j < jn; j++)
    for (int g = 0; g < ng; g++) {
      const float *qg = q + (int64_t)g * hd;
      const uint16_t *kr = k + j * kv_stride;
      float acc = 0.0f;
      for (int d = 0; d < hd; d++) acc += qg[d] * hm_f16_to_f32(kr[d]);
      s[g * s_stride + j] = acc * scale;
    }
}

void hm_attn_pv_f16_ref(float *o, int ng, int hd, const float *s, int64_t s_stride, const uint16_t *v,
                        int64_t kv_stride, int64_t jn) {
  for (int64_t j = 0; j < jn; j++)
    for (int g = 0; g < ng; g++) {
      const float p = s[g * s_stride + j];
      const uint16_t *vr = v + j * kv_stride;
      for (int d = 0; d < hd; d++) o[(int64_t)g * hd + d] += p * hm_f16_to_f32(vr[d]);
    }
}

/* The reference GEMM micro-kernel: 4 x 8, one plain multiply-add chain per element. */
#define REF_MR 4
#define REF_NR 8
static void gemm_ukr_ref(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr,
                         int acc) {
  float t[REF_MR][REF_NR];
  for (int r = 0; r < REF_MR; r++)
    for (int j = 0; j < REF_NR; j++) t[r][j] = (acc && r < mr && j < nr) ? c[r * ldc + j] : 0.0f;
  for (int64_t k = 0; k < kc; k++) {
    const float *bk = b + k * REF_NR;
    for (int r = 0; r < REF_MR; r++) {
      const float av = a[k * REF_MR + r];
      for (int j = 0; j < REF_NR; j++) t[r][j] += av * bk[j];
    }
  }
  for (int r = 0; r < mr; r++)
    for (int j = 0; j < nr; j++) c[r * ldc + j] = t[r][j];
}

static float scale_max_ref(float *x, int64_t n, float scale) {
  float m = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    x[i] *= scale;
    m = x[i] > m ? x[i] : m;
  }
  return m;
}

static float fma_probe_ref(int64_t iters, float seed) {
  float a[8];
  for (int j = 0; j < 8; j++) a[j] = seed * (float)(j + 1);
  for (int64_t i = 0; i < iters; i++)
    for (int j = 0; j < 8; j++) a[j] = fmaf(a[j], 0.999999f, 1e-7f);
  return a[0] + a[7];
}

const hm_kernels hm_kernels_ref = {
  "scalar", mv_f32_ref, mv_bf16_ref, mv_f16_ref, hm_mv_q8_0_ref, hm_mv_q4_0_ref, dot_ref, axpy_ref, stream_read_ref,
  hm_quantize_act, attn_scores_ref, exp_sum_ref, attn_pv_ref, hm_attn_scores_f16_ref, hm_attn_pv_f16_ref,
  hm_silu_ref, hm_swiglu_ref, gemm_ukr_ref, REF_MR, REF_NR, scale_max_ref, fma_probe_ref, 8 * 2,
};

/* ---- block quantization ---- */

void hm_quantize_row_q8_0(const float *x, void *out, int64_t cols) {
  uint8_t *o = (uint8_t *)out;
  for (int64_t k = 0; k < cols / HM_QBLOCK; k++, x += HM_QBLOCK, o += HM_Q8_0_BYTES) {
    float amax = 0.0f;
    for (int j = 0; j < HM_QBLOCK; j++) {
      float a = fabsf(x[j]);
      amax = a > amax ? a : amax;
    }
    float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    uint16_t dh = hm_f32_to_f16(d);
    memcpy(o, &dh, 2);
    int8_t *q = (int8_t *)(o + 2);
    for (int j = 0; j < HM_QBLOCK; j++) {
      float v = (x[j] * id + 12582912.0f) - 12582912.0f; /* nearest even, no libm call */
      q[j] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : v);
    }
  }
}

void hm_quantize_row_q4_0(const float *x, void *out, int64_t cols) {
  uint8_t *o = (uint8_t *)out;
  for (int64_t k = 0; k < cols / HM_QBLOCK; k++, x += HM_QBLOCK, o += HM_Q4_0_BYTES) {
    /* the value of largest magnitude maps to -8 exactly (the asymmetric range [-8, 7]) */
    float amax = 0.0f, vmax = 0.0f;
    for (int j = 0; j < HM_QBLOCK; j++)
      if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); vmax = x[j]; }
    float d = vmax / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    uint16_t dh = hm_f32_to_f16(d);
    memcpy(o, &dh, 2);
    uint8_t *qs = o + 2;
    for (int j = 0; j < 16; j++) {
      /* x * id is in [-8, 8], so + 8.5 is positive and truncation is floor */
      float fl = x[j] * id + 8.5f, fh = x[j + 16] * id + 8.5f;
      int lo = fl > 0.0f ? (int)fl : 0, hi = fh > 0.0f ? (int)fh : 0;
      lo = lo < 0 ? 0 : lo > 15 ? 15 : lo;
      hi = hi < 0 ? 0 : hi > 15 ? 15 : hi;
      qs[j] = (uint8_t)(lo | (hi << 4));
    }
  }
}

void hm_dequantize_row_q8_0(const void *in, float *y, int64_t cols) {
  const uint8_t *p = (const uint8_t *)in;
  for (int64_t k = 0; k < cols / HM_QBLOCK; k++, p += HM_Q8_0_BYTES, y += HM_QBLOCK) {
    uint16_t dh; memcpy(&dh, p, 2);
    float d = hm_f16_to_f32(dh);
    const int8_t *q = (const int8_t *)(p + 2);
    for (int j = 0; j < HM_QBLOCK; j++) y[j] = d * q[j];
  }
}

void hm_dequantize_row_q4_0(const void *in, float *y, int64_t cols) {
  const uint8_t *p = (const uint8_t *)in;
  for (int64_t k = 0; k < cols / HM_QBLOCK; k++, p += HM_Q4_0_BYTES, y += HM_QBLOCK) {
    uint16_t dh; memcpy(&dh, p, 2);
    float d = hm_f16_to_f32(dh);
    for (int j = 0; j < 16; j++) {
      y[j] = d * (float)((p[2 + j] & 15) - 8);
      y[j + 16] = d * (float)((p[2 + j] >> 4) - 8);
    }
  }
}

void hm_quantize_act(const float *x, int64_t x_stride, int n, int64_t cols, hm_qact *xq) {
  const int64_t nb = cols / HM_QBLOCK;
  xq->n = n; xq->cols = cols; xq->nb = nb;
  for (int b = 0; b < n; b++) {
    const float *xb = x + b * x_stride;
    int8_t *q = xq->q + b * xq->q_stride;
    for (int64_t k = 0; k < nb; k++) {
      const float *v = xb + k * HM_QBLOCK;
      float amax = 0.0f;
      for (int j = 0; j < HM_QBLOCK; j++) {
        float a = fabsf(v[j]);
        amax = a > amax ? a : amax;
      }
      float d = amax / 127.0f, id = d > 0.0f ? 127.0f / amax : 0.0f;
      int32_t sum = 0;
      for (int j = 0; j < HM_QBLOCK; j++) {
        /* round to nearest even without a libm call: |v*id| <= 127 << 2^22 */
        float t = (v[j] * id + 12582912.0f) - 12582912.0f;
        int qi = (int)(t > 127.0f ? 127.0f : t < -127.0f ? -127.0f : t);
        q[k * HM_QBLOCK + j] = (int8_t)qi;
        sum += qi;
      }
      xq->d[b * nb + k] = d;
      xq->c[b * nb + k] = -8 * sum;
    }
  }
}

/* ---- element-wise / normalisation ---- */

void hm_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps) {
  double ss = 0.0;
  for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
  float r = 1.0f / sqrtf((float)(ss / (double)n) + eps);
  if (w) for (int64_t i = 0; i < n; i++) y[i] = (x[i] * r) * w[i];
  else for (int64_t i = 0; i < n; i++) y[i] = x[i] * r;
}

void hm_layernorm(float *y, const float *x, const float *w, const float *b, int64_t n, float eps) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  float mean = (float)(s / (double)n);
  double v = 0.0;
  for (int64_t i = 0; i < n; i++) { double d = (double)x[i] - mean; v += d * d; }
  float r = 1.0f / sqrtf((float)(v / (double)n) + eps);
  for (int64_t i = 0; i < n; i++) {
    float t = (x[i] - mean) * r;
    if (w) t *= w[i];
    if (b) t += b[i];
    y[i] = t;
  }
}

void hm_softmax(float *x, int64_t n) {
  if (n <= 0) return;
  float m = x[0];
  for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
  /* exp_sum: the active kernel table's (AVX-512 polynomial exp, or expf in the reference) */
  const float s = hm_kernels_active()->exp_sum(x, n, m);
  hm_scale(x, 1.0f / s, n);
}

void hm_silu_ref(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

void hm_silu(float *x, int64_t n) { hm_kernels_active()->silu(x, n); }

void hm_gelu(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void hm_gelu_tanh(float *x, int64_t n) {
  const float k = 0.79788456080286536f; /* sqrt(2/pi) */
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
  }
}

void hm_swiglu_ref(float *out, const float *gate, const float *up, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

void hm_swiglu(float *out, const float *gate, const float *up, int64_t n) {
  hm_kernels_active()->swiglu(out, gate, up, n);
}

void hm_add(float *y, const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void hm_scale(float *x, float s, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] *= s;
}

void hm_rope(float *x, int n_heads, int head_dim, const float *cos_t, const float *sin_t, bool interleaved) {
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; h++) {
    float *v = x + (int64_t)h * head_dim;
    for (int i = 0; i < half; i++) {
      float *p0 = interleaved ? &v[2 * i] : &v[i];
      float *p1 = interleaved ? &v[2 * i + 1] : &v[i + half];
      float a = *p0, b = *p1, c = cos_t[i], s = sin_t[i];
      *p0 = a * c - b * s;
      *p1 = b * c + a * s;
    }
  }
}

double hm_max_rel_err(const float *got, const float *ref, int64_t n) {
  double max_ref = 0, max_err = 0;
  for (int64_t i = 0; i < n; i++) {
    double r = fabs((double)ref[i]), e = fabs((double)got[i] - (double)ref[i]);
    if (r > max_ref) max_ref = r;
    if (e > max_err || isnan(e)) max_err = isnan(e) ? INFINITY : e;
  }
  return max_ref > 0 ? max_err / max_ref : max_err;
}
