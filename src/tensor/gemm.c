/* The GEMM owner (gemm.h): weight packing, the blocked loop nest over the
 * kernel table's micro-kernel, the split over the pool, and the per-thread
 * scratch shared with ops.c.
 *
 * Loop nest (BLIS order), per output tile of MC rows x NC columns:
 *   for each KC block of k (in order):
 *     B block = KC x NC as NR-wide panels (the packed weight itself, or packed
 *               now into thread-local scratch);
 *     for each NR panel (kept in L1): for each MR rows of the tile (the
 *               MC x KC block of A stays in L2): micro-kernel, accumulating
 *               into C from the second KC block on.
 * Tiles are handed out by an atomic counter, column block by column block, so
 * the threads work on the same weight columns at once (they share them in L3).
 * Which thread computes a tile never changes its sums. */
#include "tensor/gemm.h"
#include "tensor/kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* ---- per-thread scratch ---- */

typedef struct scratch_set { void *buf[HM_SCRATCH_N]; size_t cap[HM_SCRATCH_N]; } scratch_set;
static pthread_key_t g_scratch_key;
static pthread_once_t g_scratch_once = PTHREAD_ONCE_INIT;

static void scratch_destroy(void *p) {
  scratch_set *s = (scratch_set *)p;
  for (int i = 0; i < HM_SCRATCH_N; i++) hm_free_aligned(s->buf[i]);
  free(s);
}
static void scratch_key_init(void) { (void)pthread_key_create(&g_scratch_key, scratch_destroy); }

void *hm_scratch(int slot, size_t bytes) {
  if (slot < 0 || slot >= HM_SCRATCH_N) return NULL;
  pthread_once(&g_scratch_once, scratch_key_init);
  scratch_set *s = (scratch_set *)pthread_getspecific(g_scratch_key);
  if (!s) {
    s = (scratch_set *)calloc(1, sizeof *s);
    if (!s) return NULL;
    if (pthread_setspecific(g_scratch_key, s) != 0) { free(s); return NULL; }
  }
  if (bytes > s->cap[slot]) {
    void *p = hm_malloc_aligned(bytes);
    if (!p) return NULL;
    hm_free_aligned(s->buf[slot]);
    s->buf[slot] = p;
    s->cap[slot] = bytes;
  }
  return s->buf[slot];
}

/* ---- blocking ---- */

#define KC 256      /* k per block: an NR panel (KC x 16 floats = 16 KiB) stays in L1 */
#define MC_ROWS 96  /* rows per tile (a multiple of every table's MR: 4, 6) */
#define NC_COLS 512 /* columns per tile (a multiple of every table's NR: 8, 16, 32) */
#define PACK_GROUP 8 /* panels packed together from operands not packed at load */
#define NC_TALL 256 /* columns per tall tile (see gemm_tall) */

hm_gemm_info hm_gemm_active_info(void) {
  const hm_kernels *k = hm_kernels_active();
  hm_gemm_info i = {k->name, k->gemm_mr, k->gemm_nr};
  return i;
}

/* ---- packing ---- */

/* Element (k, n) of a packed matrix (any nr). */
static inline float elem_packed(const hm_pmat *p, int64_t k, int64_t n) {
  const int64_t idx = ((n / p->nr) * p->K + k) * p->nr + n % p->nr;
  return p->type == HM_DT_BF16 ? hm_bf16_to_f32(((const uint16_t *)p->data)[idx]) : ((const float *)p->data)[idx];
}

/* Columns [n0, n0 + nr) (zero past N), k in [k0, k0 + kc) of B into panel out [kc][nr]. */
static void pack_panel(const hm_gemm_b *B, int64_t n0, int64_t k0, int64_t kc, int nr, float *out) {
  const int64_t nv = B->N - n0 < nr ? B->N - n0 : nr;
  switch (B->kind) {
  case HM_GB_PACKED: {
    const hm_pmat *p = B->p;
    if (p->nr == nr && n0 % nr == 0) { /* a contiguous run of the packed panel */
      const int64_t off = ((n0 / nr) * p->K + k0) * nr;
      if (p->type == HM_DT_BF16) {
        const uint16_t *s = (const uint16_t *)p->data + off;
        for (int64_t i = 0; i < kc * nr; i++) out[i] = hm_bf16_to_f32(s[i]);
      } else {
        memcpy(out, (const float *)p->data + off, (size_t)(kc * nr) * sizeof(float));
      }
      return;
    }
    for (int64_t k = 0; k < kc; k++)
      for (int j = 0; j < nr; j++) out[k * nr + j] = j < nv ? elem_packed(p, k0 + k, n0 + j) : 0.0f;
  } break;
  case HM_GB_NK: {
    for (int j = 0; j < nr; j++) {
      if (j >= nv) {
        for (int64_t k = 0; k < kc; k++) out[k * nr + j] = 0.0f;
        continue;
      }
      const int64_t base = (n0 + j) * B->ld + k0;
      if (B->type == HM_DT_F32) {
        const float *s = (const float *)B->data + base;
        for (int64_t k = 0; k < kc; k++) out[k * nr + j] = s[k];
      } else if (B->type == HM_DT_BF16) {
        const uint16_t *s = (const uint16_t *)B->data + base;
        for (int64_t k = 0; k < kc; k++) out[k * nr + j] = hm_bf16_to_f32(s[k]);
      } else { /* F16 */
        const uint16_t *s = (const uint16_t *)B->data + base;
        for (int64_t k = 0; k < kc; k++) out[k * nr + j] = hm_f16_to_f32(s[k]);
      }
    }
  } break;
  case HM_GB_KN: {
    for (int64_t k = 0; k < kc; k++) {
      const float *s = B->rows ? B->rows[k0 + k] + n0 : (const float *)B->data + (k0 + k) * B->ld + n0;
      float *o = out + k * nr;
      if (nv == nr) memcpy(o, s, (size_t)nr * sizeof(float));
      else {
        for (int j = 0; j < nv; j++) o[j] = s[j];
        for (int j = (int)nv; j < nr; j++) o[j] = 0.0f;
      }
    }
  } break;
  }
}

int64_t hm_gemm_packed_floats(int64_t N, int64_t K) {
  const int nr = hm_kernels_active()->gemm_nr;
  return (N + nr - 1) / nr * nr * K;
}

/* Packs B whole into buf as f32 panels of the active table's width (panels split
 * over the pool; NULL: this thread) and describes the result in *out. */
static void pack_b_whole(hm_pool *pool, const hm_gemm_b *B, float *buf, hm_pmat *out);

void hm_gemm_pack_into(const hm_gemm_b *B, float *buf, hm_pmat *out) { pack_b_whole(NULL, B, buf, out); }

typedef struct pack_task {
  const hm_mat *W;
  hm_pmat *P;
  _Atomic int failed;
} pack_task;

static void pmat_pack_run(void *arg, int ith, int nth) {
  pack_task *t = (pack_task *)arg;
  const hm_mat *W = t->W;
  hm_pmat *P = t->P;
  const int nr = P->nr;
  const int64_t np = (P->N + nr - 1) / nr;
  int64_t p0, p1;
  hm_split(np, ith, nth, 1, &p0, &p1);
  if (p0 >= p1) return;
  float *rows = (float *)hm_malloc_aligned((size_t)nr * W->cols * sizeof(float));
  if (!rows) { atomic_store(&t->failed, 1); return; }
  for (int64_t p = p0; p < p1; p++) {
    const int64_t n0 = p * nr, nv = P->N - n0 < nr ? P->N - n0 : nr;
    for (int64_t j = 0; j < nr; j++) {
      if (j < nv) hm_mat_row_f32(W, n0 + j, rows + j * W->cols);
      else memset(rows + j * W->cols, 0, (size_t)W->cols * sizeof(float));
    }
    const int64_t base = p * P->K * nr;
    for (int64_t k = 0; k < P->K; k++)
      for (int j = 0; j < nr; j++) {
        const float v = rows[(int64_t)j * W->cols + k];
        if (P->type == HM_DT_BF16) ((uint16_t *)P->data)[base + k * nr + j] = hm_f32_to_bf16(v);
        else ((float *)P->data)[base + k * nr + j] = v;
      }
  }
  hm_free_aligned(rows);
}

size_t hm_pmat_bytes(const hm_pmat *p) {
  const int64_t np = (p->N + p->nr - 1) / p->nr;
  return (size_t)np * p->nr * p->K * (p->type == HM_DT_BF16 ? 2 : 4);
}

hm_status hm_pmat_pack(hm_pool *pool, const hm_mat *W, hm_dtype to, hm_pmat *out) {
  if (!W || !out) return hm_error(HM_ERR_INVALID_ARG, "hm_pmat_pack: NULL argument");
  memset(out, 0, sizeof *out);
  if (!W->data || W->rows <= 0 || W->cols <= 0)
    return hm_error(HM_ERR_INVALID_ARG, "hm_pmat_pack: empty matrix (%lld x %lld)", (long long)W->rows,
                    (long long)W->cols);
  if (to != HM_DT_F32 && to != HM_DT_BF16)
    return hm_error(HM_ERR_UNSUPPORTED, "hm_pmat_pack: cannot pack as %s (f32 or bf16)", hm_dtype_name(to));
  out->type = to;
  out->N = W->rows;
  out->K = W->cols;
  out->nr = hm_kernels_active()->gemm_nr;
  out->data = hm_alloc_big(hm_pmat_bytes(out));
  if (!out->data)
    return hm_error(HM_ERR_NOMEM, "hm_pmat_pack: out of memory for %lld x %lld %s", (long long)W->rows,
                    (long long)W->cols, hm_dtype_name(to));
  pack_task t = {W, out, 0};
  if (W->rows * W->cols > 65536) hm_pool_run(pool, pmat_pack_run, &t);
  else pmat_pack_run(&t, 0, 1);
  if (atomic_load(&t.failed)) {
    hm_pmat_free(out);
    return hm_error(HM_ERR_NOMEM, "hm_pmat_pack: out of memory for a row buffer");
  }
  return HM_OK;
}

void hm_pmat_free(hm_pmat *p) {
  if (!p) return;
  hm_free_aligned(p->data);
  p->data = NULL;
}

/* ---- the loop nest ---- */

typedef struct gemm_task {
  const hm_kernels *kern;
  int64_t M, N, K, lda, ldc;
  const float *A;
  const hm_gemm_b *B;
  const float *bias;
  float *C;
  const hm_gemm_epi *epi;
  int64_t n_ic, n_tiles;
  int64_t nc, mg, n_jc; /* a tall product (nc > 0): tiles of mg rows x nc columns, n_jc column blocks */
  _Atomic int64_t next;
  _Atomic int failed;
} gemm_task;

/* Rows [m0, m1) x k in [k0, k0 + kc) of A into MR-row micro-panels
 * out[(i / MR)][k][MR] (rows past m1 zero). */
static inline void pack_a_rows(const float *const *a, int MR, int64_t kc, float *o) {
  /* k outer, rows inner: the micro-panel is written contiguously (the row
   * count is a constant for the tables' 4 and 6 so the inner loop unrolls) */
  if (MR == 6)
    for (int64_t k = 0; k < kc; k++) {
      o[6 * k + 0] = a[0][k]; o[6 * k + 1] = a[1][k]; o[6 * k + 2] = a[2][k];
      o[6 * k + 3] = a[3][k]; o[6 * k + 4] = a[4][k]; o[6 * k + 5] = a[5][k];
    }
  else if (MR == 4)
    for (int64_t k = 0; k < kc; k++) {
      o[4 * k + 0] = a[0][k]; o[4 * k + 1] = a[1][k]; o[4 * k + 2] = a[2][k]; o[4 * k + 3] = a[3][k];
    }
  else
    for (int64_t k = 0; k < kc; k++)
      for (int r = 0; r < MR; r++) o[k * MR + r] = a[r][k];
}

static void pack_a(const gemm_task *t, int MR, int64_t m0, int64_t m1, int64_t k0, int64_t kc, float *out) {
  static const float zeros[KC] = {0};
  const float *rows[16];
  for (int64_t i0 = m0; i0 < m1; i0 += MR) {
    const int mr = (int)(m1 - i0 < MR ? m1 - i0 : MR);
    for (int r = 0; r < MR; r++) rows[r] = r < mr ? t->A + (i0 + r) * t->lda + k0 : zeros; /* rows past m1: zero */
    pack_a_rows(rows, MR, kc, out + ((i0 - m0) / MR) * kc * MR);
  }
}

/* np panels of K-major rows (columns j0 .. j0 + np * nr, zero past N), each
 * [kc][nr] at out + p * KC * nr. */
static void pack_kn_group(const hm_gemm_b *B, int64_t j0, int64_t k0, int64_t kc, int nr, int np, float *out) {
  const int64_t nv = B->N - j0 < (int64_t)np * nr ? B->N - j0 : (int64_t)np * nr;
  for (int64_t k = 0; k < kc; k++) {
    const float *src = B->rows ? B->rows[k0 + k] + j0 : (const float *)B->data + (k0 + k) * B->ld + j0;
    for (int p = 0; p < np; p++) {
      float *o = out + (int64_t)p * KC * nr + k * nr;
      const int64_t c0 = (int64_t)p * nr;
      if (c0 + nr <= nv) memcpy(o, src + c0, (size_t)nr * sizeof(float));
      else
        for (int j = 0; j < nr; j++) o[j] = c0 + j < nv ? src[c0 + j] : 0.0f;
    }
  }
}

/* A finished block of C: bias, then the caller's epilogue. */
static void finish_block(const gemm_task *t, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (t->bias)
    for (int64_t i = m0; i < m1; i++) {
      float *c = t->C + i * t->ldc;
      for (int64_t j = n0; j < n1; j++) c[j] += t->bias[j];
    }
  if (t->epi && t->epi->fn) t->epi->fn(t->epi->ud, m0, m1, n0, n1, t->C, t->ldc);
}

static void gemm_tile(const gemm_task *t, int64_t tile, float *bbuf, float *abuf) {
  const hm_kernels *kern = t->kern;
  const int MR = kern->gemm_mr, NR = kern->gemm_nr;
  const int64_t ic = tile % t->n_ic, jc = tile / t->n_ic;
  const int64_t m0 = ic * MC_ROWS, m1 = m0 + MC_ROWS < t->M ? m0 + MC_ROWS : t->M;
  const int64_t n0 = jc * NC_COLS, n1 = n0 + NC_COLS < t->N ? n0 + NC_COLS : t->N;
  const hm_gemm_b *B = t->B;
  const bool direct = B->kind == HM_GB_PACKED && B->p->type == HM_DT_F32 && B->p->nr == NR;
  for (int64_t k0 = 0; k0 < t->K; k0 += KC) {
    const int64_t kc = t->K - k0 < KC ? t->K - k0 : KC;
    pack_a(t, MR, m0, m1, k0, kc, abuf);
    for (int64_t j0 = n0; j0 < n1; j0 += NR) {
      const float *bp;
      if (direct) bp = (const float *)B->p->data + ((j0 / NR) * B->p->K + k0) * NR;
      else {
        /* packed into scratch right before use, PACK_GROUP panels at a time: K-major
         * rows (a convolution's im2col: hundreds of rows far apart in memory) are
         * then read PACK_GROUP x NR floats at a stretch, not one cache line */
        const int64_t g = (j0 - n0) / NR % PACK_GROUP;
        if (g == 0) {
          const int64_t np = (n1 - j0 + NR - 1) / NR < PACK_GROUP ? (n1 - j0 + NR - 1) / NR : PACK_GROUP;
          if (B->kind == HM_GB_KN) pack_kn_group(B, j0, k0, kc, NR, (int)np, bbuf);
          else
            for (int64_t p = 0; p < np; p++) pack_panel(B, j0 + p * NR, k0, kc, NR, bbuf + p * KC * NR);
        }
        bp = bbuf + g * KC * NR;
      }
      const int nr = (int)(n1 - j0 < NR ? n1 - j0 : NR);
      /* the next packed panel streams in from memory while this one is used:
       * its cache lines are prefetched a share per row block */
      const char *next = direct && j0 + NR < n1 ? (const char *)(bp + B->p->K * NR) : NULL;
      const int64_t lines = kc * NR * (int64_t)sizeof(float) / 64, nblk = (m1 - m0 + MR - 1) / MR;
      const int64_t per = (lines + nblk - 1) / nblk;
      int64_t line = 0;
      for (int64_t i0 = m0; i0 < m1; i0 += MR) {
        const int mr = (int)(m1 - i0 < MR ? m1 - i0 : MR);
        if (next)
          for (int64_t e = line + per; line < e && line < lines; line++) __builtin_prefetch(next + line * 64, 0, 3);
        kern->gemm_ukr(kc, abuf + ((i0 - m0) / MR) * kc * MR, bp, t->C + i0 * t->ldc + j0, t->ldc, mr, nr, k0 > 0);
      }
    }
  }
  finish_block(t, m0, m1, n0, n1);
}

/* A tall product (B packed at use, several row tiles: a convolution's weights
 * times its im2col): a tile is mg rows (many MC_ROWS row tiles) x nc columns,
 * and each KC x nc block of B is packed once (it stays in L2) and used by all
 * its row tiles, instead of being packed again for each of them. */
static void gemm_tall(const gemm_task *t, int64_t tile, float *bbuf, float *abuf) {
  const hm_kernels *kern = t->kern;
  const int MR = kern->gemm_mr, NR = kern->gemm_nr;
  const int64_t jc = tile % t->n_jc, ig = tile / t->n_jc;
  const int64_t n0 = jc * t->nc, n1 = n0 + t->nc < t->N ? n0 + t->nc : t->N;
  const int64_t g0 = ig * t->mg, g1 = g0 + t->mg < t->M ? g0 + t->mg : t->M;
  const int64_t np = (n1 - n0 + NR - 1) / NR;
  const hm_gemm_b *B = t->B;
  for (int64_t k0 = 0; k0 < t->K; k0 += KC) {
    const int64_t kc = t->K - k0 < KC ? t->K - k0 : KC;
    if (B->kind == HM_GB_KN)
      for (int64_t p = 0; p < np; p += PACK_GROUP)
        pack_kn_group(B, n0 + p * NR, k0, kc, NR, (int)(np - p < PACK_GROUP ? np - p : PACK_GROUP), bbuf + p * KC * NR);
    else
      for (int64_t p = 0; p < np; p++) pack_panel(B, n0 + p * NR, k0, kc, NR, bbuf + p * KC * NR);
    for (int64_t m0 = g0; m0 < g1; m0 += MC_ROWS) {
      const int64_t m1 = m0 + MC_ROWS < g1 ? m0 + MC_ROWS : g1;
      pack_a(t, MR, m0, m1, k0, kc, abuf);
      for (int64_t p = 0; p < np; p++) {
        const int64_t j0 = n0 + p * NR;
        const int nr = (int)(n1 - j0 < NR ? n1 - j0 : NR);
        for (int64_t i0 = m0; i0 < m1; i0 += MR) {
          const int mr = (int)(m1 - i0 < MR ? m1 - i0 : MR);
          kern->gemm_ukr(kc, abuf + ((i0 - m0) / MR) * kc * MR, bbuf + p * KC * NR, t->C + i0 * t->ldc + j0, t->ldc,
                         mr, nr, k0 > 0);
        }
      }
      if (k0 + kc >= t->K) finish_block(t, m0, m1, n0, n1);
    }
  }
}

static void gemm_run(void *arg, int ith, int nth) {
  (void)ith; (void)nth;
  gemm_task *t = (gemm_task *)arg;
  const int NR = t->kern->gemm_nr;
  float *bbuf = NULL;
  for (;;) {
    const int64_t tile = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
    if (tile >= t->n_tiles) break;
    const int64_t bfl = (PACK_GROUP * NR > NC_TALL ? PACK_GROUP * NR : NC_TALL) * KC;
    if (!bbuf) {
      bbuf = (float *)hm_scratch(HM_SCRATCH_GEMM, (size_t)(bfl + (MC_ROWS + 16) * KC) * sizeof(float));
      if (!bbuf) { atomic_store(&t->failed, 1); return; }
    }
    if (t->nc) gemm_tall(t, tile, bbuf, bbuf + bfl);
    else gemm_tile(t, tile, bbuf, bbuf + bfl);
  }
}

typedef struct prepack_task { const hm_gemm_b *B; float *buf; int nr; } prepack_task;

static void prepack_run(void *arg, int ith, int nth) {
  const prepack_task *t = (const prepack_task *)arg;
  const int64_t np = (t->B->N + t->nr - 1) / t->nr;
  int64_t p0, p1;
  hm_split(np, ith, nth, 1, &p0, &p1);
  for (int64_t p = p0; p < p1; p++) pack_panel(t->B, p * t->nr, 0, t->B->K, t->nr, t->buf + p * t->B->K * t->nr);
}

static void pack_b_whole(hm_pool *pool, const hm_gemm_b *B, float *buf, hm_pmat *out) {
  prepack_task pt = {B, buf, hm_kernels_active()->gemm_nr};
  if (pool && B->N * B->K > 65536) hm_pool_run(pool, prepack_run, &pt);
  else prepack_run(&pt, 0, 1);
  out->type = HM_DT_F32;
  out->N = B->N;
  out->K = B->K;
  out->nr = pt.nr;
  out->data = buf;
}

void hm_gemm(hm_pool *pool, int64_t M, const float *A, int64_t lda, const hm_gemm_b *B, const float *bias, float *C,
             int64_t ldc) {
  hm_gemm_ex(pool, M, A, lda, B, bias, C, ldc, NULL);
}

void hm_gemm_ex(hm_pool *pool, int64_t M, const float *A, int64_t lda, const hm_gemm_b *B, const float *bias,
                float *C, int64_t ldc, const hm_gemm_epi *epi) {
  if (!B || M <= 0 || B->N <= 0) return;
  gemm_task t;
  t.kern = hm_kernels_active();
  t.M = M;
  t.N = B->N;
  t.K = B->K;
  t.lda = lda;
  t.ldc = ldc;
  t.A = A;
  t.B = B;
  t.bias = bias;
  t.C = C;
  t.epi = epi;
  t.nc = 0;
  if (t.K <= 0) { /* an empty sum */
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < t.N; j++) C[i * ldc + j] = bias ? bias[j] : 0.0f;
    if (epi && epi->fn) epi->fn(epi->ud, 0, M, 0, t.N, C, ldc);
    return;
  }
  t.n_ic = (M + MC_ROWS - 1) / MC_ROWS;
  t.n_tiles = t.n_ic * ((t.N + NC_COLS - 1) / NC_COLS);
  hm_pmat pre;
  hm_gemm_b preb;
  if (B->kind == HM_GB_NK && t.n_ic >= 3) {
    float *buf = (float *)hm_scratch(HM_SCRATCH_BPACK, (size_t)hm_gemm_packed_floats(B->N, B->K) * sizeof(float));
    if (buf) { /* else: packed per tile, as the other operands */
      /* a weight's rows in place, used by many row tiles: packed once for the call */
      pack_b_whole(pool, B, buf, &pre);
      preb = hm_gemm_b_packed(&pre);
      t.B = &preb;
    }
  }
  if (t.B->kind != HM_GB_PACKED && t.n_ic >= 2) {
    /* tall: NC_TALL columns (fewer for a narrow product) x groups of row
     * tiles, as few groups as still make eight tiles for the threads to share */
    const int NR = t.kern->gemm_nr;
    const int64_t nr_n = (t.N + NR - 1) / NR * NR;
    t.nc = nr_n < NC_TALL ? nr_n : NC_TALL;
    t.n_jc = (t.N + t.nc - 1) / t.nc;
    int64_t n_ig = (8 + t.n_jc - 1) / t.n_jc;
    if (n_ig > t.n_ic) n_ig = t.n_ic;
    t.mg = (t.n_ic + n_ig - 1) / n_ig * MC_ROWS;
    t.n_tiles = t.n_jc * ((M + t.mg - 1) / t.mg);
  }
  atomic_init(&t.next, 0);
  atomic_init(&t.failed, 0);
  const double work = (double)M * t.N * t.K;
  if (t.n_tiles == 1 || work < 1e6 || hm_pool_size(pool) == 1) gemm_run(&t, 0, 1);
  else hm_pool_run(pool, gemm_run, &t);
  if (atomic_load(&t.failed)) {
    /* no scratch for a packed panel: the plain loop, same result class (one sum per element) */
    hm_log(HM_LOG_WARN, "hm_gemm: out of memory for the packing scratch; slow path");
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < t.N; j++) {
        float s = 0.0f;
        for (int64_t k = 0; k < t.K; k++) {
          float bv;
          pack_panel(B, j, k, 1, 1, &bv);
          s += A[i * lda + k] * bv;
        }
        C[i * ldc + j] = s + (bias ? bias[j] : 0.0f);
      }
    if (epi && epi->fn) epi->fn(epi->ud, 0, M, 0, t.N, C, ldc);
  }
}
