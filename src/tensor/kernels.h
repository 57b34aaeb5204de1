/* src/tensor internals: the per-ISA kernel tables behind ops.h, the quantized
 * block formats and the activation quantizer. Used by ops.c, the SIMD files,
 * the tests (to compare each variant with the scalar reference) and bench/.
 *
 * Block formats (HM_QBLOCK = 32 weights per block, rows are whole blocks):
 *   Q8_0: { uint16_t d (f16); int8_t q[32]; }           34 bytes, w[j] = d * q[j]
 *   Q4_0: { uint16_t d (f16); uint8_t qs[16]; }         18 bytes, w[j] = d * (nib(j) - 8)
 *         nibble order: byte qs[j] (j < 16) holds element j in its LOW nibble and
 *         element j + 16 in its HIGH nibble (the ggml order).
 * Activations for the quantized dot products are quantized on the fly, per
 * block of 32, to int8 with an f32 scale: q = nearbyint(x / d), d = max|x| / 127.
 *
 * Matrix layout (in memory and in our quantized files): a Q8_0 / Q4_0 hm_mat
 * interleaves its rows in groups, so that one 512-bit vpdpbusd computes 16
 * output rows (lane j = row j) from 4 consecutive weights per lane and one
 * broadcast of 4 activations. With nb = cols / 32 blocks per row:
 *   Q8_0, groups of 16 rows ("R16"): nb x 512 bytes: byte [k*512 + c*64 + 4j + t]
 *         (c < 8, j < 16, t < 4) = q[4c + t] + 128 (as uint8) of block k of row j;
 *         then nb x 32 bytes of scales: the f16 d of block k of row j at
 *         [nb*512 + k*32 + 2j].
 *   Q4_0, groups of 32 rows ("R32"): nb x 512 bytes: byte [k*512 + c*64 + 4j + t]
 *         (c < 8, j < 16, t < 4) holds element 4c+t of block k of row j in its low
 *         nibble and the same element of row j+16 in its high nibble (nibbles are
 *         w/d + 8 as in the plain block). One byte v = lo + 16 hi feeds two rows:
 *         dot(lo, x) and dot(v, x) share the broadcast x, and the high rows' sum
 *         is (dot(v, x) - dot(lo, x)) / 16, exact in int32. Then nb x 64 bytes of
 *         scales: the f16 d of block k of row j (j < 32) at [nb*512 + k*64 + 2j].
 * A group is (group rows) x (row bytes), so a matrix is rows x row bytes as
 * with plain rows; the last rows % (group rows) rows follow as plain rows of
 * blocks (34 / 18 bytes). hm_qmat_group_rows gives the group size. */
#ifndef HM_TENSOR_KERNELS_H
#define HM_TENSOR_KERNELS_H
#include "tensor/ops.h"

#define HM_Q8_0_BYTES 34
#define HM_Q4_0_BYTES 18

/* Activations quantized per block: for vector b, q + b*q_stride holds cols int8,
 * d + b*nb the block scales and c + b*nb = -8 * sum(q) of each block (the seed
 * that applies the weights' offset: 8 for Q4_0 nibbles, 128 = 16 x 8 for Q8_0). */
typedef struct hm_qact {
  int n;
  int64_t cols, nb, q_stride;
  int8_t *q;
  float *d;
  int32_t *c;
} hm_qact;

/* Rows [r0, r1) of y = W x (+ bias) for n vectors. */
typedef void (*hm_mv_float_fn)(const hm_mat *W, int64_t r0, int64_t r1, int n, const float *x,
                               int64_t x_stride, float *y, int64_t y_stride, const float *bias);
typedef void (*hm_mv_quant_fn)(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq,
                               float *y, int64_t y_stride, const float *bias);

typedef struct hm_kernels {
  const char *name;
  hm_mv_float_fn mv_f32, mv_bf16, mv_f16;
  hm_mv_quant_fn mv_q8_0, mv_q4_0;
  float (*dot)(const float *a, const float *b, int64_t n);
  /* y[i] += a * x[i] */
  void (*axpy)(float *y, float a, const float *x, int64_t n);
  /* Streaming read of bytes (a multiple of 256) at p (64-byte aligned), several
   * independent accumulators; returns a checksum so the reads are not elided. */
  uint64_t (*stream_read)(const void *p, size_t bytes);
  /* hm_quantize_act, bit-identical in every variant */
  void (*quantize_act)(const float *x, int64_t x_stride, int n, int64_t cols, hm_qact *xq);
  /* attention pieces for ng query heads sharing one kv head, jn keys (rows of k / v
   * at kv_stride), scores s[g * s_stride + j]:
   *   scores: s = scale * q_g . k_j;  exp_sum: s[j] = exp(s[j] - m), returns the sum;
   *   pv: o[g * hd + :] += sum_j s[g][j] * v_j */
  void (*attn_scores)(const float *q, int ng, int hd, const float *k, int64_t kv_stride, int64_t jn, float scale,
                      float *s, int64_t s_stride);
  float (*exp_sum)(float *s, int64_t n, float m);
  void (*attn_pv)(float *o, int ng, int hd, const float *s, int64_t s_stride, const float *v, int64_t kv_stride,
                  int64_t jn);
  /* the same two with an F16 key / value cache */
  void (*attn_scores_f16)(const float *q, int ng, int hd, const uint16_t *k, int64_t kv_stride, int64_t jn,
                          float scale, float *s, int64_t s_stride);
  void (*attn_pv_f16)(float *o, int ng, int hd, const float *s, int64_t s_stride, const uint16_t *v,
                      int64_t kv_stride, int64_t jn);
  /* hm_silu / hm_swiglu bodies */
  void (*silu)(float *x, int64_t n);
  void (*swiglu)(float *out, const float *gate, const float *up, int64_t n);
  /* GEMM micro-kernel (src/tensor/gemm.h): for r < mr, j < nr,
   *   c[r * ldc + j] = (acc ? c[r * ldc + j] : 0) + sum_{k < kc} a[k * gemm_mr + r] * b[k * gemm_nr + j]
   * summed in k order. a: a packed micro-panel of kc x gemm_mr floats (rows >= mr
   * zero, not stored); b: a packed panel of kc x gemm_nr floats. */
  void (*gemm_ukr)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr, int acc);
  int gemm_mr, gemm_nr;
  /* x[i] *= scale for i < n; returns the max of the scaled values (-inf for n = 0) */
  float (*scale_max)(float *x, int64_t n, float scale);
  /* f32 FMA peak probe: iters x gemm_probe_flops flops on registers only; returns a value to keep */
  float (*fma_probe)(int64_t iters, float seed);
  int fma_probe_flops;
} hm_kernels;

extern const hm_kernels hm_kernels_ref;
extern const hm_kernels hm_kernels_avx2;   /* AVX2 + FMA + F16C */
extern const hm_kernels hm_kernels_avx512; /* AVX-512 F/BW/VL + VNNI */

typedef enum hm_isa { HM_ISA_SCALAR = 0, HM_ISA_AVX2 = 1, HM_ISA_AVX512 = 2 } hm_isa;
/* Best ISA this CPU supports (HM_ISA_SCALAR when HM_FORCE_SCALAR=1; capped by
 * HM_ISA=scalar|avx2|avx512). */
hm_isa hm_isa_best(void);
/* Kernel table in use (thread-safe to read; chosen once from hm_isa_best). */
const hm_kernels *hm_kernels_active(void);
/* For tests and benches: switch the table used by every op; false (and no
 * change) if the CPU lacks the instructions. Not thread-safe against running ops. */
bool hm_isa_set(hm_isa isa);
const hm_kernels *hm_kernels_for(hm_isa isa); /* NULL if unsupported here */

/* The activation rows b0 .. b0+nv-1 of xq as pointers (quantized values, block
 * scales, block seeds -8 * sum(q)), for the SIMD kernels' inner loops. */
static inline void hm_qact_rows(const hm_qact *xq, int b0, int nv, const int8_t **q, const float **d,
                                const int32_t **c) {
  for (int a = 0; a < nv; a++) {
    q[a] = xq->q + (int64_t)(b0 + a) * xq->q_stride;
    d[a] = xq->d + (int64_t)(b0 + a) * xq->nb;
    c[a] = xq->c + (int64_t)(b0 + a) * xq->nb;
  }
}

/* Rows per interleaved group: 16 (Q8_0), 32 (Q4_0), 1 for other dtypes. */
int hm_qmat_group_rows(hm_dtype t);
/* The rows of a quantized matrix (see the top of this file): block k of row r as a
 * plain block (34 / 18 bytes), read or written; whole rows as plain blocks or
 * as floats. */
void hm_qmat_get_block(hm_dtype t, const void *data, int64_t rows, int64_t cols, int64_t r, int64_t k, uint8_t *blk);
void hm_qmat_set_row(hm_dtype t, void *data, int64_t rows, int64_t cols, int64_t r, const uint8_t *blocks);
void hm_qmat_row_f32(hm_dtype t, const void *data, int64_t rows, int64_t cols, int64_t r, float *out);
/* Rows [r0, r1) as floats (whole groups decoded in one pass), out: (r1 - r0) x cols. */
void hm_qmat_rows_f32(hm_dtype t, const void *data, int64_t rows, int64_t cols, int64_t r0, int64_t r1, float *out);
/* The scalar reference rows of the quantized matvec, also used by the SIMD
 * tables for the rows outside whole groups of 16. */
void hm_mv_q8_0_ref(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
                    const float *bias);
void hm_mv_q4_0_ref(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
                    const float *bias);
/* The R16 kernels of the AVX-512 table (matvec_q_avx512.c). */
void hm_mv_q8_0_avx512(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
                       const float *bias);
void hm_mv_q4_0_avx512(const hm_mat *W, int64_t r0, int64_t r1, const hm_qact *xq, float *y, int64_t ys,
                       const float *bias);
/* Rows [r0, r1) of a quantized matrix split into leading plain-path rows
 * [r0, *g0), whole groups [*g0, *g1) and trailing rows [*g1, r1). */
void hm_qmat_split(const hm_mat *W, int64_t r0, int64_t r1, int64_t *g0, int64_t *g1);

/* Scalar attention pieces (the reference table's), reused by the AVX2 table. */
void hm_attn_scores_ref(const float *q, int ng, int hd, const float *k, int64_t kv_stride, int64_t jn, float scale,
                        float *s, int64_t s_stride);
float hm_exp_sum_ref(float *s, int64_t n, float m);
void hm_attn_pv_ref(float *o, int ng, int hd, const float *s, int64_t s_stride, const float *v, int64_t kv_stride,
                    int64_t jn);

void hm_attn_scores_f16_ref(const float *q, int ng, int hd, const uint16_t *k, int64_t kv_stride, int64_t jn,
                            float scale, float *s, int64_t s_stride);
void hm_attn_pv_f16_ref(float *o, int ng, int hd, const float *s, int64_t s_stride, const uint16_t *v,
                        int64_t kv_stride, int64_t jn);

void hm_silu_ref(float *x, int64_t n);
/* The AVX2 GEMM micro-kernel (6 x 16); the AVX-512 table has its own 6 x 32. */
void hm_gemm_ukr_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr, int acc);
float hm_exp_sum_avx2(float *s, int64_t n, float m);
float hm_fma_probe_avx2(int64_t iters, float seed);
float hm_scale_max_avx2(float *x, int64_t n, float scale);
void hm_silu_avx2(float *x, int64_t n);
void hm_swiglu_avx2(float *out, const float *gate, const float *up, int64_t n);
#define HM_GEMM_AVX2_MR 6
#define HM_GEMM_AVX2_NR 16
void hm_swiglu_ref(float *out, const float *gate, const float *up, int64_t n);


/* Weight quantization of one row of cols (multiple of 32) floats. */
void hm_quantize_row_q8_0(const float *x, void *out, int64_t cols);
void hm_quantize_row_q4_0(const float *x, void *out, int64_t cols);
void hm_dequantize_row_q8_0(const void *in, float *y, int64_t cols);
void hm_dequantize_row_q4_0(const void *in, float *y, int64_t cols);
/* Activation quantization: fills xq (buffers preallocated for n x cols). */
void hm_quantize_act(const float *x, int64_t x_stride, int n, int64_t cols, hm_qact *xq);

#endif
