/* Public dispatch of ops.h: kernel-table selection, thread splitting of the
 * matrix x vector path, GEMM entry points (gemm.c), dtype conversion, attention and the
 * 1-D convolutions. */
#include "tensor/gemm.h"
#include "tensor/kernels.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

/* HM_NO_X86_SIMD: built without the x86 kernel files (HM_SIMD=OFF, or not x86) */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(HM_NO_X86_SIMD)
#define HM_HAVE_SIMD_KERNELS 1
#else
#define HM_HAVE_SIMD_KERNELS 0
#endif

/* ---- kernel table selection ---- */

static _Atomic(const hm_kernels *) g_kernels = NULL;

/* HM_ISA=scalar|avx2|avx512 caps the table (tests and CI run every table the
 * CPU has); an unknown value is ignored with a warning. */
static hm_isa isa_cap(void) {
  const char *e = getenv("HM_ISA");
  if (!e || !*e) return HM_ISA_AVX512;
  if (!strcmp(e, "scalar")) return HM_ISA_SCALAR;
  if (!strcmp(e, "avx2")) return HM_ISA_AVX2;
  if (!strcmp(e, "avx512")) return HM_ISA_AVX512;
  hm_log(HM_LOG_WARN, "HM_ISA='%s' is not a kernel table (scalar, avx2, avx512): ignored", e);
  return HM_ISA_AVX512;
}

hm_isa hm_isa_best(void) {
  if (hm_force_scalar() || !HM_HAVE_SIMD_KERNELS) return HM_ISA_SCALAR;
  const hm_cpu_features *f = hm_cpu();
  hm_isa best = HM_ISA_SCALAR;
  if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512vnni && f->avx2 && f->fma && f->f16c)
    best = HM_ISA_AVX512;
  else if (f->avx2 && f->fma && f->f16c) best = HM_ISA_AVX2;
  const hm_isa cap = isa_cap();
  return best < cap ? best : cap;
}

const hm_kernels *hm_kernels_for(hm_isa isa) {
  const hm_cpu_features *f = hm_cpu();
  switch (isa) {
  case HM_ISA_SCALAR: return &hm_kernels_ref;
#if HM_HAVE_SIMD_KERNELS
  case HM_ISA_AVX2: return (f->avx2 && f->fma && f->f16c) ? &hm_kernels_avx2 : NULL;
  case HM_ISA_AVX512:
    return (f->avx512f && f->avx512bw && f->avx512vl && f->avx512vnni && f->avx2 && f->fma && f->f16c)
               ? &hm_kernels_avx512 : NULL;
#else
  default: (void)f; return NULL;
#endif
  }
  return NULL;
}

hm_pool *hm_compute_pool_create(int n_threads) { return hm_pool_create(n_threads); }

const hm_kernels *hm_kernels_active(void) {
  const hm_kernels *k = atomic_load_explicit(&g_kernels, memory_order_acquire);
  if (!k) {
    k = hm_kernels_for(hm_isa_best());
    if (!k) k = &hm_kernels_ref;
    atomic_store_explicit(&g_kernels, k, memory_order_release);
  }
  return k;
}

bool hm_isa_set(hm_isa isa) {
  const hm_kernels *k = hm_kernels_for(isa);
  if (!k) return false;
  atomic_store_explicit(&g_kernels, k, memory_order_release);
  return true;
}

/* ---- matrix x vector ---- */

/* Per-thread, grow-only scratch (gemm.c's hm_scratch): the quantized
 * activations here, no allocation per call once warm. */
static void *scratch_get(size_t bytes) { return hm_scratch(HM_SCRATCH_ACT, bytes); }

/* One launch of up to HM_MV_MAX matrices sharing the input x. Their rows, laid
 * end to end, are handed out by an atomic position in guided portions (a
 * share of what is left, within one matrix): long
 * runs first for the prefetchers, short ones at the end so the threads finish
 * together. Portions are whole groups of a quantized matrix's interleaved rows. */
typedef struct mv_task {
  int nm, nth;
  hm_matvec_out out[HM_MV_MAX];
  int64_t first[HM_MV_MAX + 1]; /* position of each matrix's first row */
  int64_t group[HM_MV_MAX];     /* portions in multiples of this many rows (the quantized layouts' groups) */
  const hm_kernels *k;
  int n;
  const float *x;
  int64_t xs;
  const hm_qact *xq;
  _Atomic int64_t next;
} mv_task;

static void mv_rows(const mv_task *t, const hm_matvec_out *o, int64_t r0, int64_t r1) {
  const hm_mat *W = o->W;
  switch (W->type) {
  case HM_DT_F32: t->k->mv_f32(W, r0, r1, t->n, t->x, t->xs, o->y, o->y_stride, o->bias); break;
  case HM_DT_BF16: t->k->mv_bf16(W, r0, r1, t->n, t->x, t->xs, o->y, o->y_stride, o->bias); break;
  case HM_DT_F16: t->k->mv_f16(W, r0, r1, t->n, t->x, t->xs, o->y, o->y_stride, o->bias); break;
  case HM_DT_Q8_0: t->k->mv_q8_0(W, r0, r1, t->xq, o->y, o->y_stride, o->bias); break;
  case HM_DT_Q4_0: t->k->mv_q4_0(W, r0, r1, t->xq, o->y, o->y_stride, o->bias); break;
  default: break;
  }
}

static void mv_run(void *arg, int ith, int nth) {
  (void)ith; (void)nth;
  mv_task *t = (mv_task *)arg;
  const int64_t total = t->first[t->nm];
  int64_t cur = atomic_load_explicit(&t->next, memory_order_relaxed);
  while (cur < total) {
    int m = 0;
    while (cur >= t->first[m + 1]) m++;
    const int64_t G = t->group[m];
    int64_t take = (total - cur) / (2 * t->nth);
    take = take < G ? G : (take + G - 1) / G * G;
    if (cur + take > t->first[m + 1]) take = t->first[m + 1] - cur;
    if (!atomic_compare_exchange_weak_explicit(&t->next, &cur, cur + take, memory_order_relaxed,
                                               memory_order_relaxed))
      continue; /* cur now holds the current position */
    const int64_t r0 = cur - t->first[m];
    mv_rows(t, &t->out[m], r0, r0 + take);
    cur = atomic_load_explicit(&t->next, memory_order_relaxed);
  }
}

/* Fallback when no scratch can be had: dequantize row by row (slow, exact to the weights). */
static void mv_dequant_rows(const hm_mat *W, int n, const float *x, int64_t xs, float *y, int64_t ys,
                            const float *bias) {
  float row[HM_QBLOCK];
  uint8_t blk[HM_Q8_0_BYTES];
  const int64_t nb = W->cols / HM_QBLOCK;
  for (int64_t r = 0; r < W->rows; r++) {
    for (int b = 0; b < n; b++) y[b * ys + r] = bias ? bias[r] : 0.0f;
    for (int64_t k = 0; k < nb; k++) {
      hm_qmat_get_block(W->type, W->data, W->rows, W->cols, r, k, blk);
      if (W->type == HM_DT_Q8_0) hm_dequantize_row_q8_0(blk, row, HM_QBLOCK);
      else hm_dequantize_row_q4_0(blk, row, HM_QBLOCK);
      for (int b = 0; b < n; b++) {
        float acc = 0.0f;
        const float *xb = x + b * xs + k * HM_QBLOCK;
        for (int i = 0; i < HM_QBLOCK; i++) acc += row[i] * xb[i];
        y[b * ys + r] += acc;
      }
    }
  }
}

static bool is_quant(hm_dtype t) { return t == HM_DT_Q8_0 || t == HM_DT_Q4_0; }

void hm_matvec_multi(hm_pool *pool, const hm_matvec_out *outs, int nm, int n, const float *x, int64_t x_stride) {
  if (!outs || nm <= 0 || n <= 0) return;
  if (nm > HM_MV_MAX) {
    hm_log(HM_LOG_ERROR, "hm_matvec_multi: %d matrices (at most %d)", nm, HM_MV_MAX);
    return;
  }
  mv_task t;
  t.nm = 0;
  t.k = hm_kernels_active();
  t.n = n;
  t.x = x;
  t.xs = x_stride;
  t.xq = NULL;
  int64_t cols = -1, work = 0;
  bool quant = false;
  for (int m = 0; m < nm; m++) {
    const hm_mat *W = outs[m].W;
    if (!W || W->rows <= 0) continue;
    const bool q = is_quant(W->type);
    if (!W->data || (q && W->cols % HM_QBLOCK != 0) || (cols >= 0 && W->cols != cols) ||
        !(q || W->type == HM_DT_F32 || W->type == HM_DT_BF16 || W->type == HM_DT_F16)) {
      hm_log(HM_LOG_ERROR, "hm_matvec: invalid %s matrix %lld x %lld", hm_dtype_name(W->type), (long long)W->rows,
             (long long)W->cols);
      return;
    }
    cols = W->cols;
    quant |= q;
    work += W->rows * W->cols;
    t.out[t.nm++] = outs[m];
  }
  if (t.nm == 0) return;
  hm_qact xq;
  if (quant) {
    const int64_t nb = cols / HM_QBLOCK;
    const int64_t qs = (cols + 63) & ~(int64_t)63;
    size_t bytes = (size_t)n * qs + (size_t)n * nb * (sizeof(float) + sizeof(int32_t)) + 64;
    uint8_t *buf = (uint8_t *)scratch_get(bytes);
    if (!buf) {
      for (int m = 0; m < t.nm; m++) {
        const hm_matvec_out *o = &t.out[m];
        if (is_quant(o->W->type)) mv_dequant_rows(o->W, n, x, x_stride, o->y, o->y_stride, o->bias);
        else mv_rows(&t, o, 0, o->W->rows);
      }
      return;
    }
    xq.q = (int8_t *)buf;
    xq.q_stride = qs;
    xq.d = (float *)(buf + (size_t)n * qs);
    xq.c = (int32_t *)(xq.d + (size_t)n * nb);
    t.k->quantize_act(x, x_stride, n, cols, &xq);
    t.xq = &xq;
  }
  const int nth = work < 32768 ? 1 : hm_pool_size(pool); /* too small to be worth waking threads */
  t.nth = nth;
  t.first[0] = 0;
  for (int m = 0; m < t.nm; m++) {
    t.first[m + 1] = t.first[m] + t.out[m].W->rows;
    t.group[m] = is_quant(t.out[m].W->type) ? hm_qmat_group_rows(t.out[m].W->type) : 16;
  }
  atomic_init(&t.next, 0);
  if (nth == 1) mv_run(&t, 0, 1);
  else hm_pool_run(pool, mv_run, &t);
}

void hm_matvec_bias(hm_pool *pool, const hm_mat *W, const float *bias, int n, const float *x,
                    int64_t x_stride, float *y, int64_t y_stride) {
  if (!W) return;
  hm_matvec_out o = { W, bias, y, y_stride };
  hm_matvec_multi(pool, &o, 1, n, x, x_stride);
}

void hm_matvec(hm_pool *pool, const hm_mat *W, int n, const float *x, int64_t x_stride, float *y,
               int64_t y_stride) {
  hm_matvec_bias(pool, W, NULL, n, x, x_stride, y, y_stride);
}

float hm_dot_f32(const float *a, const float *b, int64_t n) { return hm_kernels_active()->dot(a, b, n); }

/* ---- general GEMM (on hm_gemm) ---- */

void hm_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  /* op(A) rows must be contiguous in k for the micro-kernel: a transposed A is copied */
  float *At = NULL;
  if (trans_a) {
    At = (float *)hm_malloc_aligned((size_t)m * (k > 0 ? k : 1) * sizeof(float));
    if (!At) { hm_log(HM_LOG_ERROR, "hm_sgemm: out of memory for op(A)"); return; }
    for (int64_t i = 0; i < m; i++)
      for (int64_t p = 0; p < k; p++) At[i * k + p] = A[p * lda + i];
    A = At;
    lda = k;
  }
  hm_gemm_b b = trans_b ? hm_gemm_b_nk(HM_DT_F32, B, n, k, ldb) : hm_gemm_b_kn(B, k, n, ldb);
  float *T = (float *)hm_malloc_aligned((size_t)m * n * sizeof(float));
  if (!T) { hm_free_aligned(At); hm_log(HM_LOG_ERROR, "hm_sgemm: out of memory"); return; }
  hm_gemm(NULL, m, A, lda, &b, NULL, T, n);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++)
      C[i * ldc + j] = alpha * T[i * n + j] + (beta != 0.0f ? beta * C[i * ldc + j] : 0.0f);
  hm_free_aligned(T);
  hm_free_aligned(At);
}

/* Rows [r0, r1) of W as f32 into out (row-major, W->cols wide). */
static void mat_rows_f32(const hm_mat *W, int64_t r0, int64_t r1, float *out) {
  const int64_t cols = W->cols;
  if (W->type == HM_DT_Q8_0 || W->type == HM_DT_Q4_0) {
    hm_qmat_rows_f32(W->type, W->data, W->rows, cols, r0, r1, out);
    return;
  }
  for (int64_t r = r0; r < r1; r++) {
    float *o = out + (r - r0) * cols;
    switch (W->type) {
    case HM_DT_F32: memcpy(o, (const float *)W->data + r * cols, (size_t)cols * sizeof(float)); break;
    case HM_DT_BF16: {
      const uint16_t *p = (const uint16_t *)W->data + r * cols;
      for (int64_t i = 0; i < cols; i++) o[i] = hm_bf16_to_f32(p[i]);
    } break;
    case HM_DT_F16: {
      const uint16_t *p = (const uint16_t *)W->data + r * cols;
      for (int64_t i = 0; i < cols; i++) o[i] = hm_f16_to_f32(p[i]);
    } break;
    case HM_DT_Q8_0: case HM_DT_Q4_0: hm_qmat_row_f32(W->type, W->data, W->rows, cols, r, o); break;
    default: memset(o, 0, (size_t)cols * sizeof(float)); break;
    }
  }
}

void hm_mat_row_f32(const hm_mat *W, int64_t r, float *out) { mat_rows_f32(W, r, r + 1, out); }

void hm_linear(hm_pool *pool, const hm_mat *W, const float *bias, int64_t n, const float *X, float *Y) {
  if (!W || n <= 0 || W->rows <= 0) return;
  const int64_t rows = W->rows, cols = W->cols;
  /* memory-bound (n <= 4): the matvec path reads each weight once for all rows;
   * quantized weights at any n: the int8 kernels take every row group by group
   * while its weights are in L1 (faster than decoding to f32) */
  if (n <= 4 || ((W->type == HM_DT_Q8_0 || W->type == HM_DT_Q4_0) && n <= INT32_MAX)) {
    hm_matvec_bias(pool, W, bias, (int)n, X, cols, Y, rows);
    return;
  }
  /* f32 / bf16 / f16 rows in place, packed block by block inside the GEMM */
  hm_gemm_b b = hm_gemm_b_nk(W->type, W->data, rows, cols, cols);
  hm_gemm(pool, n, X, cols, &b, bias, Y, rows);
}

/* ---- conversion ---- */

/* Large weight buffers: 2 MiB aligned and marked for transparent huge pages
 * before first touch (fewer TLB misses while streaming: ~10-15% more GB/s in
 * bench_matvec); small ones from hm_malloc_aligned. Either is freed with
 * hm_free_aligned (free). */
void *hm_alloc_big(size_t bytes) {
  if (bytes < ((size_t)4 << 20)) return hm_malloc_aligned(bytes);
  if (hm_alloc_should_fail()) return NULL; /* fault injection (tests) */
  const size_t huge = (size_t)2 << 20;
  void *p = NULL;
  if (posix_memalign(&p, huge, (bytes + huge - 1) & ~(huge - 1)) != 0) return NULL;
#ifdef MADV_HUGEPAGE
  (void)madvise(p, (bytes + huge - 1) & ~(huge - 1), MADV_HUGEPAGE);
#endif
  return p;
}

typedef struct convert_task {
  const hm_mat *W;
  hm_dtype to;
  size_t row_bytes;
  uint8_t *data;
  _Atomic int failed;
} convert_task;

static void convert_run(void *arg, int ith, int nth) {
  convert_task *t = (convert_task *)arg;
  const hm_mat *W = t->W;
  int64_t r0, r1;
  hm_split(W->rows, ith, nth, 32, &r0, &r1); /* whole interleaved groups per thread (Q4_0 bytes hold 2 rows) */
  if (r0 >= r1) return;
  const bool to_q = t->to == HM_DT_Q8_0 || t->to == HM_DT_Q4_0;
  float *tmp = NULL;
  uint8_t *blocks = NULL; /* a row in plain blocks before it goes into the R16 layout */
  if (W->type != t->to) {
    tmp = (float *)hm_malloc_aligned((size_t)W->cols * sizeof(float));
    if (to_q) blocks = (uint8_t *)hm_malloc_aligned(t->row_bytes);
    if (!tmp || (to_q && !blocks)) { hm_free_aligned(tmp); hm_free_aligned(blocks); atomic_store(&t->failed, 1); return; }
  }
  for (int64_t r = r0; r < r1; r++) {
    uint8_t *o = t->data + (size_t)r * t->row_bytes;
    if (W->type == t->to) { /* a byte range: the rows [r0, r1) of plain rows, any layout when all are copied */
      memcpy(o, (const uint8_t *)W->data + (size_t)r * t->row_bytes, t->row_bytes);
      continue;
    }
    mat_rows_f32(W, r, r + 1, tmp);
    switch (t->to) {
    case HM_DT_F32: memcpy(o, tmp, t->row_bytes); break;
    case HM_DT_BF16:
      for (int64_t i = 0; i < W->cols; i++) ((uint16_t *)o)[i] = hm_f32_to_bf16(tmp[i]);
      break;
    case HM_DT_F16:
      for (int64_t i = 0; i < W->cols; i++) ((uint16_t *)o)[i] = hm_f32_to_f16(tmp[i]);
      break;
    case HM_DT_Q8_0: case HM_DT_Q4_0:
      if (t->to == HM_DT_Q8_0) hm_quantize_row_q8_0(tmp, blocks, W->cols);
      else hm_quantize_row_q4_0(tmp, blocks, W->cols);
      hm_qmat_set_row(t->to, t->data, W->rows, W->cols, r, blocks);
      break;
    default: break;
    }
  }
  hm_free_aligned(tmp);
  hm_free_aligned(blocks);
}

hm_status hm_mat_convert_pool(hm_pool *pool, const hm_mat *W, hm_dtype to, hm_mat *out) {
  if (!W || !out) return hm_error(HM_ERR_INVALID_ARG, "hm_mat_convert: NULL argument");
  memset(out, 0, sizeof *out);
  if (!W->data || W->rows < 0 || W->cols <= 0)
    return hm_error(HM_ERR_INVALID_ARG, "hm_mat_convert: empty matrix (%lld x %lld)",
                    (long long)W->rows, (long long)W->cols);
  switch (W->type) {
  case HM_DT_F32: case HM_DT_BF16: case HM_DT_F16: case HM_DT_Q8_0: case HM_DT_Q4_0: break;
  default:
    return hm_error(HM_ERR_UNSUPPORTED, "hm_mat_convert: cannot convert from dtype %s", hm_dtype_name(W->type));
  }
  if (to != HM_DT_F32 && to != HM_DT_BF16 && to != HM_DT_F16 && to != HM_DT_Q8_0 && to != HM_DT_Q4_0)
    return hm_error(HM_ERR_UNSUPPORTED, "hm_mat_convert: cannot convert to dtype %s", hm_dtype_name(to));
  if ((to == HM_DT_Q8_0 || to == HM_DT_Q4_0 || W->type == HM_DT_Q8_0 || W->type == HM_DT_Q4_0) &&
      W->cols % HM_QBLOCK != 0)
    return hm_error(HM_ERR_INVALID_ARG, "hm_mat_convert: %s needs a column count that is a multiple of %d, got %lld",
                    hm_dtype_name(to == HM_DT_Q8_0 || to == HM_DT_Q4_0 ? to : W->type), HM_QBLOCK,
                    (long long)W->cols);
  convert_task t;
  t.W = W;
  t.to = to;
  t.row_bytes = hm_dtype_bytes(to, W->cols);
  t.data = (uint8_t *)hm_alloc_big(t.row_bytes * (size_t)(W->rows > 0 ? W->rows : 1));
  atomic_init(&t.failed, 0);
  if (!t.data)
    return hm_error(HM_ERR_NOMEM, "hm_mat_convert: out of memory for %lld x %lld %s",
                    (long long)W->rows, (long long)W->cols, hm_dtype_name(to));
  if (W->rows > 64) hm_pool_run(pool, convert_run, &t);
  else convert_run(&t, 0, 1);
  if (atomic_load(&t.failed)) {
    hm_free_aligned(t.data);
    return hm_error(HM_ERR_NOMEM, "hm_mat_convert: out of memory for a row buffer");
  }
  out->type = to;
  out->rows = W->rows;
  out->cols = W->cols;
  out->data = t.data;
  return HM_OK;
}

hm_status hm_mat_convert(const hm_mat *W, hm_dtype to, hm_mat *out) {
  return hm_mat_convert_pool(NULL, W, to, out);
}

void hm_mat_free_owned(hm_mat *W) {
  if (!W) return;
  hm_free_aligned((void *)W->data);
  W->data = NULL;
}

/* ---- attention ---- */

typedef struct attn_task {
  const float *q;
  const void *k, *v; /* F32 or F16 (f16) */
  int f16;
  int64_t n_q, q_stride, n_kv, kv_stride, out_stride, causal_offset;
  int n_heads, n_kv_heads, head_dim;
  float scale;
  float *out;
  const hm_kernels *kern;
} attn_task;

/* Keys per softmax chunk and query heads handled together (scores on the stack). */
#define ATTN_CHUNK 256
#define ATTN_GROUP 16

/* One work item = (query, kv head): the query heads that share the kv head
 * (GQA) are processed together so each key/value row is read once for all of
 * them. Softmax with max subtraction; past ATTN_CHUNK keys the running sums and
 * outputs are rescaled when the max grows (online softmax). */
static void attn_run(void *arg, int ith, int nth) {
  const attn_task *t = (const attn_task *)arg;
  const hm_kernels *K = t->kern;
  const int group = t->n_heads / t->n_kv_heads, hd = t->head_dim;
  float s[ATTN_GROUP][ATTN_CHUNK];
  float m[ATTN_GROUP], sum[ATTN_GROUP];
  int64_t i0, i1;
  hm_split(t->n_q * t->n_kv_heads, ith, nth, 1, &i0, &i1);
  for (int64_t it = i0; it < i1; it++) {
    const int64_t qi = it / t->n_kv_heads;
    const int kh = (int)(it % t->n_kv_heads);
    int64_t n_vis = t->n_kv;
    if (t->causal_offset >= 0 && t->causal_offset + qi + 1 < n_vis) n_vis = t->causal_offset + qi + 1;
    for (int g0 = 0; g0 < group; g0 += ATTN_GROUP) {
      const int ng = group - g0 < ATTN_GROUP ? group - g0 : ATTN_GROUP;
      const int h0 = kh * group + g0;
      const float *q = t->q + qi * t->q_stride + (int64_t)h0 * hd;
      float *o = t->out + qi * t->out_stride + (int64_t)h0 * hd;
      for (int g = 0; g < ng; g++) {
        for (int d = 0; d < hd; d++) o[(int64_t)g * hd + d] = 0.0f;
        m[g] = -INFINITY;
        sum[g] = 0.0f;
      }
      for (int64_t j0 = 0; j0 < n_vis; j0 += ATTN_CHUNK) {
        const int64_t jn = n_vis - j0 < ATTN_CHUNK ? n_vis - j0 : ATTN_CHUNK;
        const int64_t kv_off = j0 * t->kv_stride + (int64_t)kh * hd; /* elements */
        if (t->f16)
          K->attn_scores_f16(q, ng, hd, (const uint16_t *)t->k + kv_off, t->kv_stride, jn, t->scale, &s[0][0],
                             ATTN_CHUNK);
        else
          K->attn_scores(q, ng, hd, (const float *)t->k + kv_off, t->kv_stride, jn, t->scale, &s[0][0], ATTN_CHUNK);
        for (int g = 0; g < ng; g++) {
          float cm = -INFINITY;
          for (int64_t j = 0; j < jn; j++) cm = s[g][j] > cm ? s[g][j] : cm;
          if (cm > m[g]) {
            if (sum[g] > 0.0f) {
              const float r = expf(m[g] - cm);
              sum[g] *= r;
              for (int d = 0; d < hd; d++) o[(int64_t)g * hd + d] *= r;
            }
            m[g] = cm;
          }
          sum[g] += K->exp_sum(s[g], jn, m[g]);
        }
        if (t->f16) K->attn_pv_f16(o, ng, hd, &s[0][0], ATTN_CHUNK, (const uint16_t *)t->v + kv_off, t->kv_stride, jn);
        else K->attn_pv(o, ng, hd, &s[0][0], ATTN_CHUNK, (const float *)t->v + kv_off, t->kv_stride, jn);
      }
      for (int g = 0; g < ng; g++) {
        const float inv = sum[g] > 0.0f ? 1.0f / sum[g] : 0.0f;
        for (int d = 0; d < hd; d++) o[(int64_t)g * hd + d] *= inv;
      }
    }
  }
}

/* Attention over many queries (prefill, the codec DiT, the transcriber's
 * encoder) as GEMMs with the softmax fused per tile: a work item is one query
 * head and a run of query tiles; it packs the head's keys and values once,
 * then per ATTN_QT queries: S = Q K^T (thread-local tile, never T x T x heads),
 * scale, mask, softmax row by row, O = P V. */
#define ATTN_GEMM_MIN_Q 16
#define ATTN_QT 96

typedef struct attn_gemm_task {
  const float *q, *k, *v;
  int64_t n_q, q_stride, n_kv, kv_stride, causal_offset, out_stride;
  int n_heads, n_kv_heads, head_dim;
  float scale;
  float *out;
  int64_t n_qt, per_item, n_items;
  _Atomic int64_t next;
  _Atomic int failed;
} attn_gemm_task;

static void attn_gemm_run(void *arg, int ith, int nth) {
  (void)ith; (void)nth;
  attn_gemm_task *t = (attn_gemm_task *)arg;
  const hm_kernels *K = hm_kernels_active();
  const int group = t->n_heads / t->n_kv_heads, hd = t->head_dim;
  const int64_t ld = (t->n_kv + 15) & ~(int64_t)15;
  const int64_t kfl = hm_gemm_packed_floats(t->n_kv, hd), vfl = hm_gemm_packed_floats(hd, t->n_kv);
  float *S = NULL;
  for (;;) {
    const int64_t it = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
    if (it >= t->n_items) break;
    if (!S) {
      S = (float *)hm_scratch(HM_SCRATCH_ATTN, (size_t)(ATTN_QT * ld + kfl + vfl + 64) * sizeof(float));
      if (!S) { atomic_store(&t->failed, 1); return; }
    }
    float *kbuf = S + ATTN_QT * ld, *vbuf = kbuf + kfl;
    const int64_t per = t->per_item, items_per_head = (t->n_qt + per - 1) / per;
    const int h = (int)(it / items_per_head);
    const int64_t qt0 = (it % items_per_head) * per, qt1 = qt0 + per < t->n_qt ? qt0 + per : t->n_qt;
    const int kh = h / group;
    /* keys visible to any query of this item */
    int64_t n_all = t->n_kv;
    const int64_t q_last = qt1 * ATTN_QT < t->n_q ? qt1 * ATTN_QT : t->n_q;
    if (t->causal_offset >= 0 && t->causal_offset + q_last < n_all) n_all = t->causal_offset + q_last;
    if (n_all <= 0) {
      for (int64_t i = qt0 * ATTN_QT; i < q_last; i++)
        memset(t->out + i * t->out_stride + (int64_t)h * hd, 0, (size_t)hd * sizeof(float));
      continue;
    }
    hm_pmat kp, vp;
    hm_gemm_b kb0 = hm_gemm_b_nk(HM_DT_F32, t->k + (int64_t)kh * hd, n_all, hd, t->kv_stride);
    hm_gemm_b vb0 = hm_gemm_b_kn(t->v + (int64_t)kh * hd, n_all, hd, t->kv_stride);
    hm_gemm_pack_into(&kb0, kbuf, &kp);
    hm_gemm_pack_into(&vb0, vbuf, &vp);
    for (int64_t qt = qt0; qt < qt1; qt++) {
      const int64_t q0 = qt * ATTN_QT, qn = t->n_q - q0 < ATTN_QT ? t->n_q - q0 : ATTN_QT;
      int64_t n_vis = n_all; /* keys any row of this tile sees */
      if (t->causal_offset >= 0 && t->causal_offset + q0 + qn < n_vis) n_vis = t->causal_offset + q0 + qn;
      if (n_vis <= 0) {
        for (int64_t i = 0; i < qn; i++) memset(t->out + (q0 + i) * t->out_stride + (int64_t)h * hd, 0, (size_t)hd * sizeof(float));
        continue;
      }
      /* the first n_vis keys of the packed operand: its leading panels (and their rows) */
      hm_pmat kv = kp;
      kv.N = n_vis;
      hm_gemm_b kb = hm_gemm_b_packed(&kv);
      hm_gemm(NULL, qn, t->q + q0 * t->q_stride + (int64_t)h * hd, t->q_stride, &kb, NULL, S, ld);
      /* softmax numerators in place (scale, max, exp and sum in two passes); the
       * 1 / sum is applied to the tile's output rows after P V */
      float inv[ATTN_QT];
      for (int64_t i = 0; i < qn; i++) {
        float *row = S + i * ld;
        int64_t vis = n_vis;
        if (t->causal_offset >= 0 && t->causal_offset + q0 + i + 1 < vis) vis = t->causal_offset + q0 + i + 1;
        const float m = K->scale_max(row, vis, t->scale);
        const float sum = vis > 0 ? K->exp_sum(row, vis, m) : 0.0f;
        inv[i] = sum > 0.0f ? 1.0f / sum : 0.0f;
        for (int64_t j = vis; j < n_vis; j++) row[j] = 0.0f;
      }
      /* P [qn][n_vis] V: the first n_vis rows (k) of the packed values (the
       * operand's K, not the packed matrix's, which is its panels' stride) */
      hm_gemm_b vb = hm_gemm_b_packed(&vp);
      vb.K = n_vis;
      float *o = t->out + q0 * t->out_stride + (int64_t)h * hd;
      hm_gemm(NULL, qn, S, ld, &vb, NULL, o, t->out_stride);
      for (int64_t i = 0; i < qn; i++) hm_scale(o + i * t->out_stride, inv[i], hd);
    }
  }
}

static bool attn_gemm(hm_pool *pool, const float *q, int64_t n_q, int64_t q_stride, const float *k, const float *v,
                      int64_t n_kv, int64_t kv_stride, int n_heads, int n_kv_heads, int head_dim, float scale,
                      int64_t causal_offset, float *out, int64_t out_stride) {
  attn_gemm_task t = {q, k, v, n_q, q_stride, n_kv, kv_stride, causal_offset, out_stride, n_heads, n_kv_heads,
                      head_dim, scale, out, (n_q + ATTN_QT - 1) / ATTN_QT, 1, 0, 0, 0};
  /* a head's query tiles in one item (keys and values packed once), split further
   * only when there are too few heads to keep every thread busy */
  const int64_t want = 2 * (int64_t)hm_pool_size(pool);
  const int64_t chunks = n_heads >= want ? 1 : (want + n_heads - 1) / n_heads;
  t.per_item = (t.n_qt + chunks - 1) / chunks;
  t.n_items = (int64_t)n_heads * ((t.n_qt + t.per_item - 1) / t.per_item);
  atomic_init(&t.next, 0);
  atomic_init(&t.failed, 0);
  hm_pool_run(pool, attn_gemm_run, &t);
  return !atomic_load(&t.failed);
}

void hm_attention(hm_pool *pool, const float *q, int64_t n_q, int64_t q_stride,
                  const float *k, const float *v, int64_t n_kv, int64_t kv_stride,
                  int n_heads, int n_kv_heads, int head_dim, float scale, int64_t causal_offset,
                  float *out, int64_t out_stride) {
  hm_attention_kv(pool, q, n_q, q_stride, k, v, HM_DT_F32, n_kv, kv_stride, n_heads, n_kv_heads, head_dim, scale,
                  causal_offset, out, out_stride);
}

void hm_attention_kv(hm_pool *pool, const float *q, int64_t n_q, int64_t q_stride, const void *k, const void *v,
                     hm_dtype kv_type, int64_t n_kv, int64_t kv_stride, int n_heads, int n_kv_heads, int head_dim,
                     float scale, int64_t causal_offset, float *out, int64_t out_stride) {
  if (n_q <= 0 || n_heads <= 0 || n_kv_heads <= 0 || head_dim <= 0 || n_heads % n_kv_heads != 0) return;
  if (kv_type != HM_DT_F32 && kv_type != HM_DT_F16) {
    hm_log(HM_LOG_ERROR, "hm_attention: unsupported key/value dtype %s", hm_dtype_name(kv_type));
    return;
  }
  /* many queries: the GEMM form (the per-query loop below when no score tile can be had) */
  if (kv_type == HM_DT_F32 && n_q >= ATTN_GEMM_MIN_Q &&
      attn_gemm(pool, q, n_q, q_stride, (const float *)k, (const float *)v, n_kv, kv_stride, n_heads, n_kv_heads,
                head_dim, scale, causal_offset, out, out_stride))
    return;
  attn_task t = { q, k, v, kv_type == HM_DT_F16, n_q, q_stride, n_kv, kv_stride, out_stride, causal_offset,
                  n_heads, n_kv_heads, head_dim, scale, out, hm_kernels_active() };
  if (n_q * n_kv_heads < 2 || n_q * n_heads * n_kv * head_dim < 16384) attn_run(&t, 0, 1);
  else hm_pool_run(pool, attn_run, &t);
}

/* ---- 1-D convolutions ---- */

int64_t hm_conv1d_out_len(int64_t t, int k, int stride, int dilation, int pad_l, int pad_r) {
  if (stride <= 0 || dilation <= 0 || k <= 0) return 0;
  int64_t span = t + pad_l + pad_r - (int64_t)dilation * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

typedef struct conv_task {
  const float *x, *w, *b;
  int64_t c_in, t, c_out, t_out;
  int k, stride, dilation, pad_l, groups;
  float *y;
} conv_task;

/* Direct convolution over output channels [c0, c1): used for depthwise / tiny
 * group convolutions and when no im2col buffer can be had. */
static void conv_direct_range(const conv_task *c, int64_t c0, int64_t c1) {
  const int64_t cig = c->c_in / c->groups, cog = c->c_out / c->groups;
  for (int64_t co = c0; co < c1; co++) {
    const int64_t g = co / cog;
    float *y = c->y + co * c->t_out;
    const float bv = c->b ? c->b[co] : 0.0f;
    for (int64_t to = 0; to < c->t_out; to++) y[to] = bv;
    for (int64_t ci = 0; ci < cig; ci++) {
      const float *x = c->x + (g * cig + ci) * c->t;
      const float *w = c->w + (co * cig + ci) * c->k;
      for (int kk = 0; kk < c->k; kk++) {
        const float wv = w[kk];
        const int64_t off = (int64_t)kk * c->dilation - c->pad_l;
        /* valid outputs: 0 <= to*stride + off < t */
        int64_t lo = off >= 0 ? 0 : (-off + c->stride - 1) / c->stride;
        int64_t hi = c->t - off <= 0 ? 0 : (c->t - off - 1) / c->stride + 1;
        if (hi > c->t_out) hi = c->t_out;
        if (c->stride == 1)
          for (int64_t to = lo; to < hi; to++) y[to] += wv * x[to + off];
        else
          for (int64_t to = lo; to < hi; to++) y[to] += wv * x[to * c->stride + off];
      }
    }
  }
}

static void conv_direct_run(void *arg, int ith, int nth) {
  const conv_task *c = (const conv_task *)arg;
  int64_t c0, c1;
  hm_split(c->c_out, ith, nth, 1, &c0, &c1);
  conv_direct_range(c, c0, c1);
}

void hm_conv1d(hm_pool *pool, const float *x, int64_t c_in, int64_t t, const float *w, const float *b,
               int64_t c_out, int k, int stride, int dilation, int pad_l, int pad_r, int groups, float *y) {
  if (groups <= 0 || c_in % groups || c_out % groups) return;
  const int64_t t_out = hm_conv1d_out_len(t, k, stride, dilation, pad_l, pad_r);
  if (t_out <= 0 || c_out <= 0) return;
  conv_task c = { x, w, b, c_in, t, c_out, t_out, k, stride, dilation, pad_l, groups, y };
  const int64_t cig = c_in / groups, cog = c_out / groups;
  if (cog * cig <= 4) { hm_pool_run(pool, conv_direct_run, &c); return; }
  if (k == 1 && stride == 1 && pad_l == 0 && groups == 1 && t_out == t) {
    hm_gemm_b xb = hm_gemm_b_kn(x, c_in, t_out, t);
    hm_gemm(pool, c_out, w, c_in, &xb, NULL, y, t_out);
  } else {
    const int64_t rows = cig * k;
    float *col = (float *)hm_malloc_aligned((size_t)rows * t_out * sizeof(float));
    if (!col) { hm_pool_run(pool, conv_direct_run, &c); return; }
    for (int g = 0; g < groups; g++) {
      for (int64_t ci = 0; ci < cig; ci++) {
        const float *xr = x + (g * cig + ci) * t;
        for (int kk = 0; kk < k; kk++) {
          float *cr = col + (ci * k + kk) * t_out;
          const int64_t off = (int64_t)kk * dilation - pad_l;
          for (int64_t to = 0; to < t_out; to++) {
            int64_t src = to * stride + off;
            cr[to] = (src >= 0 && src < t) ? xr[src] : 0.0f;
          }
        }
      }
      hm_gemm_b cb = hm_gemm_b_kn(col, rows, t_out, t_out);
      hm_gemm(pool, cog, w + g * cog * rows, rows, &cb, NULL, y + g * cog * t_out, t_out);
    }
    hm_free_aligned(col);
  }
  if (b)
    for (int64_t co = 0; co < c_out; co++)
      for (int64_t to = 0; to < t_out; to++) y[co * t_out + to] += b[co];
}

typedef struct convt_task {
  const float *x, *w, *b;
  int64_t c_in, t, c_out, t_out;
  int k, stride, trim_l;
  float *y;
} convt_task;

static void convt_direct_run(void *arg, int ith, int nth) {
  const convt_task *c = (const convt_task *)arg;
  int64_t c0, c1;
  hm_split(c->c_out, ith, nth, 1, &c0, &c1);
  for (int64_t co = c0; co < c1; co++) {
    float *y = c->y + co * c->t_out;
    const float bv = c->b ? c->b[co] : 0.0f;
    for (int64_t j = 0; j < c->t_out; j++) y[j] = bv;
    for (int64_t ci = 0; ci < c->c_in; ci++) {
      const float *x = c->x + ci * c->t;
      const float *w = c->w + (ci * c->c_out + co) * c->k;
      for (int64_t ti = 0; ti < c->t; ti++)
        for (int kk = 0; kk < c->k; kk++) {
          int64_t j = ti * c->stride + kk - c->trim_l;
          if (j >= 0 && j < c->t_out) y[j] += x[ti] * w[kk];
        }
    }
  }
}

void hm_conv_transpose1d(hm_pool *pool, const float *x, int64_t c_in, int64_t t, const float *w,
                         const float *b, int64_t c_out, int k, int stride, int trim_l, int trim_r, float *y) {
  if (t <= 0 || c_in <= 0 || c_out <= 0 || k <= 0 || stride <= 0) return;
  const int64_t t_out = (t - 1) * stride + k - trim_l - trim_r;
  if (t_out <= 0) return;
  convt_task c = { x, w, b, c_in, t, c_out, t_out, k, stride, trim_l, y };
  /* cols[(co, kk), ti] = sum_ci w[ci, co, kk] * x[ci, ti], then scatter-add */
  float *cols = (float *)hm_malloc_aligned((size_t)c_out * k * t * sizeof(float));
  if (!cols) { hm_pool_run(pool, convt_direct_run, &c); return; }
  hm_sgemm(true, false, c_out * k, t, c_in, 1.0f, w, c_out * k, x, t, 0.0f, cols, t);
  for (int64_t co = 0; co < c_out; co++) {
    float *yr = y + co * t_out;
    const float bv = b ? b[co] : 0.0f;
    for (int64_t j = 0; j < t_out; j++) yr[j] = bv;
    for (int kk = 0; kk < k; kk++) {
      const float *cr = cols + (co * k + kk) * t;
      for (int64_t ti = 0; ti < t; ti++) {
        int64_t j = ti * stride + kk - trim_l;
        if (j >= 0 && j < t_out) yr[j] += cr[ti];
      }
    }
  }
  hm_free_aligned(cols);
}
