/* src/tensor: the one owner of dense matrix products (compute-bound work: the
 * codec DiT and its waveform decoder, attention over whole sequences, the LM's
 * prompt prefill, the transcriber's encoder).
 *
 *   C[m, n] = sum_k A[m, k] * B(k, n)  (+ bias[n])        m < M, n < N, k < K
 *
 * A is f32, row m at A + m * lda (rows may overlap: lda < K gives the im2col
 * of a convolution over time-major rows). B is one of:
 *   - a packed matrix (hm_pmat): a weight W [N][K] (torch.nn.Linear layout)
 *     packed once, at load, into panels of the kernel table's width NR;
 *   - W [N][K] rows in place (f32, bf16 or f16, ld elements apart), packed on
 *     the fly block by block (the LM's weights, attention keys);
 *   - K rows of N contiguous f32 (B[k][n], ld apart or through a row pointer
 *     table), packed on the fly (attention values, convolution inputs).
 *
 * Numerics: every output element is one sum over k in a fixed order (blocks of
 * KC in order, each accumulated in k order with FMA), computed by one thread.
 * The threads share out whole output tiles only, so the result does not depend
 * on the thread count; it depends only on the kernel table (scalar, AVX2, ...). */
#ifndef HM_TENSOR_GEMM_H
#define HM_TENSOR_GEMM_H
#include "tensor/ops.h"

/* A weight [N][K] packed for the active kernel table: ceil(N / nr) panels of
 * K x nr elements (k-major, zero columns past N), f32 or bf16. */
typedef struct hm_pmat {
  hm_dtype type; /* HM_DT_F32 or HM_DT_BF16 */
  int64_t N, K;
  int nr;
  void *data; /* owned (hm_alloc_big) */
} hm_pmat;

/* Packs W (any dtype hm_mat holds) into *out as `to` (F32 or BF16), rows split
 * over the pool. */
hm_status hm_pmat_pack(hm_pool *pool, const hm_mat *W, hm_dtype to, hm_pmat *out);
void hm_pmat_free(hm_pmat *p);
size_t hm_pmat_bytes(const hm_pmat *p);

typedef enum hm_gemm_b_kind {
  HM_GB_PACKED = 0, /* p */
  HM_GB_NK = 1,     /* W [N][K]: element (k, n) at data[n * ld + k], type F32 / BF16 / F16 */
  HM_GB_KN = 2,     /* element (k, n) at rows[k][n] (rows != NULL) or ((float *)data)[k * ld + n] */
} hm_gemm_b_kind;

typedef struct hm_gemm_b {
  hm_gemm_b_kind kind;
  hm_dtype type;
  int64_t N, K;
  const hm_pmat *p;
  const void *data;
  int64_t ld;
  const float *const *rows;
} hm_gemm_b;

static inline hm_gemm_b hm_gemm_b_packed(const hm_pmat *p) {
  hm_gemm_b b = {HM_GB_PACKED, p->type, p->N, p->K, p, NULL, 0, NULL};
  return b;
}
static inline hm_gemm_b hm_gemm_b_nk(hm_dtype type, const void *data, int64_t N, int64_t K, int64_t ld) {
  hm_gemm_b b = {HM_GB_NK, type, N, K, NULL, data, ld, NULL};
  return b;
}
static inline hm_gemm_b hm_gemm_b_kn(const float *data, int64_t K, int64_t N, int64_t ld) {
  hm_gemm_b b = {HM_GB_KN, HM_DT_F32, N, K, NULL, data, ld, NULL};
  return b;
}
static inline hm_gemm_b hm_gemm_b_kn_rows(const float *const *rows, int64_t K, int64_t N) {
  hm_gemm_b b = {HM_GB_KN, HM_DT_F32, N, K, NULL, NULL, 0, rows};
  return b;
}

/* C = A B (+ bias), M rows, split over the pool's threads (pool NULL: the
 * calling thread alone, e.g. inside a pool task). bias may be NULL. C must not
 * overlap A or B. */
void hm_gemm(hm_pool *pool, int64_t M, const float *A, int64_t lda, const hm_gemm_b *B, const float *bias, float *C,
             int64_t ldc);

/* An epilogue: fn(ud, m0, m1, n0, n1, C, ldc) is called exactly once for each
 * finished block of C (rows [m0, m1), columns [n0, n1), bias added), by the
 * thread that computed it, while the block is still in cache: elementwise work
 * after a product (activation, residual add) without another pass over memory.
 * fn must only touch its block (and data of its own rows and columns). */
typedef struct hm_gemm_epi {
  void (*fn)(void *ud, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *C, int64_t ldc);
  void *ud;
} hm_gemm_epi;
void hm_gemm_ex(hm_pool *pool, int64_t M, const float *A, int64_t lda, const hm_gemm_b *B, const float *bias,
                float *C, int64_t ldc, const hm_gemm_epi *epi);

/* Any B operand packed once into caller memory, for reuse by several hm_gemm
 * calls (attention packs each head's keys and values once for all its query
 * tiles): buf must hold hm_gemm_packed_floats(N, K) floats; *out then refers
 * to buf (not owned: no hm_pmat_free). */
int64_t hm_gemm_packed_floats(int64_t N, int64_t K);
void hm_gemm_pack_into(const hm_gemm_b *B, float *buf, hm_pmat *out);

/* The active kernel table's GEMM: its name and micro-kernel shape. */
typedef struct hm_gemm_info {
  const char *name;
  int mr, nr;
} hm_gemm_info;
hm_gemm_info hm_gemm_active_info(void);

/* Thread-local grow-only scratch (freed at thread exit): slot < HM_SCRATCH_N. */
enum { HM_SCRATCH_ACT = 0, HM_SCRATCH_GEMM = 1, HM_SCRATCH_ATTN = 2, HM_SCRATCH_BPACK = 3, HM_SCRATCH_N = 4 };
void *hm_scratch(int slot, size_t bytes);

#endif
