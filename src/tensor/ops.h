/* src/tensor: the one tensor/ops layer. Every kernel has a plain scalar
 * reference (ops_ref.c) and SIMD variants (*_avx2.c, *_avx512.c) chosen at run
 * time from hm_cpu(); HM_FORCE_SCALAR=1 forces the reference.
 * Layout conventions: row-major; a weight matrix W is [rows = out, cols = in]
 * exactly as torch.nn.Linear stores it, so y = W x. */
#ifndef HM_OPS_H
#define HM_OPS_H
#include "base/base.h"

/* A thread pool for compute (hm_pool_create): every GEMM, matvec and
 * attention runs on the pool it is given; there is no second thread pool. */
hm_pool *hm_compute_pool_create(int n_threads);

/* Quantized safetensors files mark their block layout in the header metadata
 * (the interleaved layouts of src/tensor/kernels.h: Q8_0 in groups of 16 rows,
 * Q4_0 in groups of 32); loaders refuse other layouts. */
#define HM_QUANT_LAYOUT_KEY "heartmula_quant_layout"
#define HM_QUANT_LAYOUT "q8r16-q4r32"

/* A weight matrix used in place (mmapped) or owned after a conversion. */
typedef struct hm_mat {
  hm_dtype type;  /* F32, BF16, F16, Q8_0, Q4_0 */
  int64_t rows, cols;
  const void *data; /* rows x hm_dtype_bytes(type, cols) bytes, contiguous */
} hm_mat;

/* Matrix x vector(s), memory-bound path (decode): for b < n,
 *   y[b*y_stride + o] = sum_i W[o, i] * x[b*x_stride + i]      (o < rows)
 * Each weight row is read once for all n vectors (n = 2 for the CFG batch);
 * rows are split across the pool's threads. Any n >= 1 works. */
void hm_matvec(hm_pool *pool, const hm_mat *W, int n, const float *x, int64_t x_stride,
               float *y, int64_t y_stride);
/* Same, adding bias[o] (bias may be NULL). */
void hm_matvec_bias(hm_pool *pool, const hm_mat *W, const float *bias, int n, const float *x,
                    int64_t x_stride, float *y, int64_t y_stride);
/* Several matrices with the same column count applied to the same x in one
 * launch (e.g. q, k, v or gate, up): the activations are quantized once and
 * the threads share out the rows of all of them. */
#define HM_MV_MAX 4
typedef struct hm_matvec_out {
  const hm_mat *W;
  const float *bias; /* may be NULL */
  float *y;          /* y[b * y_stride + o] */
  int64_t y_stride;
} hm_matvec_out;
void hm_matvec_multi(hm_pool *pool, const hm_matvec_out *outs, int nm, int n, const float *x, int64_t x_stride);

/* Compute-bound path (prefill, codec DiT, Whisper encoder):
 *   Y[t, o] = sum_i X[t, i] * W[o, i] + bias[o]    X: [n, cols], Y: [n, rows], dense.
 * f32 / bf16 / f16 weights go to hm_gemm (src/tensor/gemm.h) in place, packed block by
 * block; quantized weights to the int8 kernels. */
void hm_linear(hm_pool *pool, const hm_mat *W, const float *bias, int64_t n, const float *X, float *Y);

/* C = alpha * op(A) @ op(B) + beta * C, row-major, f32, on hm_gemm (one thread; not for hot
 * loops: a transposed A is copied first). */
void hm_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Converts W to another dtype once (e.g. F32 checkpoint -> BF16 at load, or
 * -> Q8_0/Q4_0). *out->data is owned: free with hm_mat_free_owned. */
hm_status hm_mat_convert(const hm_mat *W, hm_dtype to, hm_mat *out);
void hm_mat_free_owned(hm_mat *W);
/* 2 MiB-aligned, MADV_HUGEPAGE allocation for buffers >= 4 MiB (else
 * hm_malloc_aligned); free with hm_free_aligned. */
void *hm_alloc_big(size_t bytes);
/* hm_mat_convert with the rows split over the pool's threads (pool NULL: one thread). */
hm_status hm_mat_convert_pool(hm_pool *pool, const hm_mat *W, hm_dtype to, hm_mat *out);
/* Row r of W as f32 (embedding lookup of any dtype). */
void hm_mat_row_f32(const hm_mat *W, int64_t r, float *out);

/* ---- elementwise / normalisation (n = vector length) ---- */
/* torchtune RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w  (w NULL: no scale); in place allowed. */
void hm_rmsnorm(float *y, const float *x, const float *w, int64_t n, float eps);
/* LayerNorm over n: (x - mean) / sqrt(var + eps) * w + b (w, b may be NULL). */
void hm_layernorm(float *y, const float *x, const float *w, const float *b, int64_t n, float eps);
void hm_softmax(float *x, int64_t n);  /* in place, max-subtracted */
void hm_silu(float *x, int64_t n);     /* x * sigmoid(x) */
void hm_gelu(float *x, int64_t n);     /* exact, erf form (torch default) */
void hm_gelu_tanh(float *x, int64_t n);
/* out[i] = silu(gate[i]) * up[i] (SwiGLU); out may alias gate. */
void hm_swiglu(float *out, const float *gate, const float *up, int64_t n);
void hm_add(float *y, const float *a, const float *b, int64_t n); /* y = a + b */
void hm_scale(float *x, float s, int64_t n);
float hm_dot_f32(const float *a, const float *b, int64_t n);
/* max |got - ref| / max |ref| (the fixtures' error measure; NaN counts as infinite). */
double hm_max_rel_err(const float *got, const float *ref, int64_t n);

/* ---- RoPE ----
 * Rotates n_heads vectors of head_dim at x (head stride = head_dim) with
 * per-position tables cos[head_dim/2], sin[head_dim/2].
 * interleaved: pairs (x[2i], x[2i+1]) (torchtune, HeartCodec); else halves (x[i], x[i+d/2]). */
void hm_rope(float *x, int n_heads, int head_dim, const float *cos_t, const float *sin_t, bool interleaved);

/* ---- attention ----
 * Scaled dot-product attention, GQA: query head h uses kv head h / (n_heads / n_kv_heads).
 * q: [n_q, n_heads*head_dim] (row stride q_stride), k/v: [n_kv, n_kv_heads*head_dim] (row stride kv_stride),
 * out: [n_q, n_heads*head_dim] (row stride out_stride).
 * causal_offset < 0: no mask; otherwise query i sees keys j <= causal_offset + i.
 * Threads split over (query, head). */
void hm_attention(hm_pool *pool, const float *q, int64_t n_q, int64_t q_stride,
                  const float *k, const float *v, int64_t n_kv, int64_t kv_stride,
                  int n_heads, int n_kv_heads, int head_dim, float scale, int64_t causal_offset,
                  float *out, int64_t out_stride);
/* Same with keys / values stored as kv_type: HM_DT_F32 or HM_DT_F16 (a half-size
 * KV cache); kv_stride in elements. */
void hm_attention_kv(hm_pool *pool, const float *q, int64_t n_q, int64_t q_stride, const void *k, const void *v,
                     hm_dtype kv_type, int64_t n_kv, int64_t kv_stride, int n_heads, int n_kv_heads, int head_dim,
                     float scale, int64_t causal_offset, float *out, int64_t out_stride);

/* ---- 1-D convolutions, channel-first [C, T], via im2col + sgemm ----
 * w: [c_out, c_in/groups, k]. Zero padding pad_l / pad_r. Output length
 * t_out = (t + pad_l + pad_r - dilation*(k-1) - 1) / stride + 1. b may be NULL. */
void hm_conv1d(hm_pool *pool, const float *x, int64_t c_in, int64_t t, const float *w, const float *b,
               int64_t c_out, int k, int stride, int dilation, int pad_l, int pad_r, int groups, float *y);
int64_t hm_conv1d_out_len(int64_t t, int k, int stride, int dilation, int pad_l, int pad_r);
/* Transposed: w: [c_in, c_out, k] (torch ConvTranspose1d layout), no groups;
 * full output length (t-1)*stride + k, then `trim_l` / `trim_r` samples dropped. */
void hm_conv_transpose1d(hm_pool *pool, const float *x, int64_t c_in, int64_t t, const float *w,
                         const float *b, int64_t c_out, int k, int stride, int trim_l, int trim_r, float *y);

#endif
