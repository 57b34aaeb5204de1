/* BF16 GEMM on AMX tiles (Sapphire Rapids and later): weights packed once into VNNI
 * tiles, activations in BF16, f32 accumulation. Used by the codec DiT and its waveform
 * decoder; callers check hm_amx_available() and keep an F32 path. */
#ifndef HM_TENSOR_GEMM_AMX_H
#define HM_TENSOR_GEMM_AMX_H
#include "base/base.h"

/* W [N][K] packed into VNNI tiles: blocks [N/16][K/32] of 16 x 16 dwords (BF16 pairs). */
typedef struct hm_bmat { int64_t N, K; uint16_t *p; } hm_bmat;

/* True when the CPU has AMX-BF16 and the OS granted the tile state (once per process).
 * HM_NO_AMX=1 or HM_FORCE_SCALAR=1 in the environment turn it off. */
bool hm_amx_available(void);
bool hm_bmat_fits(int64_t N, int64_t K); /* N and K multiples of 32 */
hm_status hm_bmat_pack(const float *W, int64_t N, int64_t K, hm_bmat *out);
void hm_bmat_free(hm_bmat *m);
void hm_bmat_pack_into(const float *W, int64_t N, int64_t K, uint16_t *p); /* into N*K uint16 */
/* f32 -> bf16, round to nearest even. */
void hm_to_bf16(const float *x, uint16_t *y, int64_t n);
/* Y[m, :] = X[m, 0:K] W^T (+ bias), m < M. X: BF16 rows lda elements apart (rows may
 * overlap: lda < K gives the im2col of a conv over time-major rows); rows up to
 * M rounded up to 32 must be readable. Threads split the output columns. */
void hm_bgemm(hm_pool *pool, const hm_bmat *W, const uint16_t *X, int64_t M, int64_t lda, const float *bias, float *Y,
              int64_t ldy);
/* Same, writing only output columns [0, n_valid) (W->N may be padded). */
void hm_bgemm_n(hm_pool *pool, const hm_bmat *W, const uint16_t *X, int64_t M, int64_t lda, const float *bias, float *Y,
                int64_t ldy, int64_t n_valid);
/* hm_pack_cols_range: columns [0, n) of K rows (rows[kk] -> row kk, K even) as a B operand in
 * VNNI tiles ([n_pad/16][K/32] blocks), zeros up to n_pad (a multiple of 32):
 * the packed out can serve as hm_bmat {n_pad, K, out}. AMX builds only. */
void hm_pack_cols_range(const float *const *rows, int64_t K, int64_t kk0, int64_t kk1, int64_t n, int64_t n_pad,
                        uint16_t *out); /* rows [kk0, kk1) only (even bounds) */
#endif
