/* The GEMM owner (src/tensor/gemm.h) on every kernel table this CPU has:
 * against a double-precision loop for every kind of B operand (packed f32 and
 * bf16, rows in place as f32 / bf16 / f16, K-major with a stride or a row
 * table), odd M / N / K around the micro-kernel's and the blocks' sizes,
 * overlapping A rows, bias; bit-identical results at 1, 2 and 3 threads; the
 * epilogue (once per element, after the bias); the
 * fused attention against the per-query form; conv1d against a direct loop. */
#include "harness.h"
#include "tensor/gemm.h"
#include "tensor/kernels.h"
#include <stdlib.h>

static hm_rng rng;
static float *randv(int64_t n, float scale) {
  float *p = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) p[i] = hm_rng_normal(&rng) * scale;
  return p;
}

/* The weight as the GEMM sees it: W [N][K] rounded to the operand's dtype. */
static float rounded(hm_dtype t, float v) {
  if (t == HM_DT_BF16) return hm_bf16_to_f32(hm_f32_to_bf16(v));
  if (t == HM_DT_F16) return hm_f16_to_f32(hm_f32_to_f16(v));
  return v;
}

enum { B_PACKED, B_NK, B_KN, B_KN_ROWS, B_KINDS };
static const char *kind_name[] = {"packed", "nk", "kn", "kn_rows"};

/* Largest |got - ref| relative to the scale sum_k |a||b| of each element (the
 * bound of f32 rounding in any summation order is ~K * 6e-8 of it). */
static double check_one(hm_pool *pool, int kind, hm_dtype t, int64_t M, int64_t N, int64_t K, int64_t lda,
                        bool bias_on, float *C_out) {
  float *A = randv(M * lda + K, 1.0f), *W = randv(N * K, 0.5f), *bias = randv(N, 1.0f);
  for (int64_t i = 0; i < N * K; i++) W[i] = rounded(t, W[i]);
  const int64_t ldkn = N + 3; /* a stride past N */
  float *Wkn = (float *)calloc((size_t)(K * ldkn + 1), sizeof(float));
  for (int64_t n = 0; n < N; n++)
    for (int64_t k = 0; k < K; k++) Wkn[k * ldkn + n] = W[n * K + k];
  const float **rows = (const float **)malloc((size_t)(K + 1) * sizeof *rows);
  for (int64_t k = 0; k < K; k++) rows[k] = Wkn + k * ldkn;
  void *Wt = NULL;
  hm_pmat P = {0};
  hm_gemm_b b;
  if (kind == B_PACKED) {
    hm_mat Wm = {HM_DT_F32, N, K, W};
    CHECK_OK(hm_pmat_pack(pool, &Wm, t, &P));
    b = hm_gemm_b_packed(&P);
  } else if (kind == B_NK) {
    if (t == HM_DT_F32) b = hm_gemm_b_nk(t, W, N, K, K);
    else {
      uint16_t *h = (uint16_t *)malloc((size_t)(N * K + 1) * 2);
      for (int64_t i = 0; i < N * K; i++) h[i] = t == HM_DT_BF16 ? hm_f32_to_bf16(W[i]) : hm_f32_to_f16(W[i]);
      Wt = h;
      b = hm_gemm_b_nk(t, h, N, K, K);
    }
  } else if (kind == B_KN) b = hm_gemm_b_kn(Wkn, K, N, ldkn);
  else b = hm_gemm_b_kn_rows(rows, K, N);
  const int64_t ldc = N + 5;
  float *C = randv(M * ldc, 1.0f); /* garbage in C must not leak into the result */
  hm_gemm(pool, M, A, lda, &b, bias_on ? bias : NULL, C, ldc);
  double worst = 0.0;
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) {
      double ref = bias_on ? bias[n] : 0.0, scale = bias_on ? fabs(bias[n]) : 0.0;
      for (int64_t k = 0; k < K; k++) {
        ref += (double)A[m * lda + k] * W[n * K + k];
        scale += fabs((double)A[m * lda + k] * W[n * K + k]);
      }
      double e = fabs(C[m * ldc + n] - ref) / (scale > 0 ? scale : 1.0);
      if (!(e <= worst)) worst = e; /* NaN counts */
      if (C_out) C_out[m * N + n] = C[m * ldc + n];
    }
  hm_pmat_free(&P);
  free(Wt); free(rows); free(Wkn); free(A); free(W); free(bias); free(C);
  return worst;
}

static void run_table(hm_isa isa, hm_pool *pool) {
  const hm_kernels *Kt = hm_kernels_for(isa);
  if (!Kt) { printf("table %d not supported here: skipped\n", (int)isa); return; }
  CHECK(hm_isa_set(isa));
  printf("checking the GEMM of table %s (%d x %d)\n", Kt->name, Kt->gemm_mr, Kt->gemm_nr);
  /* M, N, K around MR (4, 6), NR (8, 16), the tile (96 x 512) and KC (256) */
  static const int64_t shapes[][3] = {{1, 1, 1},    {5, 7, 3},     {6, 16, 256}, {7, 17, 257}, {13, 33, 100},
                                      {97, 24, 513}, {100, 515, 37}, {193, 9, 300}, {2, 600, 64}, {40, 40, 1}};
  const hm_dtype types[] = {HM_DT_F32, HM_DT_BF16, HM_DT_F16};
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
    const int64_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
    for (int kind = 0; kind < B_KINDS; kind++)
      for (size_t ti = 0; ti < 3; ti++) {
        const hm_dtype t = types[ti];
        if ((kind == B_PACKED && t == HM_DT_F16) || ((kind == B_KN || kind == B_KN_ROWS) && t != HM_DT_F32)) continue;
        for (int v = 0; v < 2; v++) { /* v = 1: bias, and A rows with a stride past K */
          const int64_t lda = v ? K + 9 : K;
          double e = check_one(pool, kind, t, M, N, K, lda, v == 1, NULL);
          CHECK_MSG(e < 2e-6, "%s %s B (%s) M=%lld N=%lld K=%lld lda=%lld: rel err %g", Kt->name, kind_name[kind],
                    hm_dtype_name(t), (long long)M, (long long)N, (long long)K, (long long)lda, e);
        }
      }
  }
  /* overlapping A rows (lda < K: a conv's im2col over time-major rows) */
  double e = check_one(pool, B_PACKED, HM_DT_F32, 50, 70, 3 * 20, 20, true, NULL);
  CHECK_MSG(e < 2e-6, "%s overlapping A rows: rel err %g", Kt->name, e);
}

/* Same operands, 1 / 2 / 3 threads: the same bits. */
static void check_threads(void) {
  hm_pool *p[3] = {hm_pool_create(1), hm_pool_create(2), hm_pool_create(3)};
  const int64_t M = 301, N = 1100, K = 700;
  for (int kind = 0; kind < B_KINDS; kind++) {
    float *C[3];
    for (int i = 0; i < 3; i++) {
      C[i] = (float *)malloc((size_t)(M * N) * sizeof(float));
      hm_rng_seed(&rng, 99, (uint64_t)kind); /* same operands each time */
      check_one(p[i], kind, HM_DT_F32, M, N, K, K, true, C[i]);
    }
    CHECK_MSG(memcmp(C[0], C[1], (size_t)(M * N) * sizeof(float)) == 0, "%s: 1 vs 2 threads differ", kind_name[kind]);
    CHECK_MSG(memcmp(C[0], C[2], (size_t)(M * N) * sizeof(float)) == 0, "%s: 1 vs 3 threads differ", kind_name[kind]);
    for (int i = 0; i < 3; i++) free(C[i]);
  }
  for (int i = 0; i < 3; i++) hm_pool_free(p[i]);
}

/* The epilogue: called once for every element (count), on the finished sums
 * with the bias (the result equals hm_gemm then the same map), on the tall
 * path (K-major rows, many row tiles), the tiled path (packed) and K = 0. */
typedef struct epi_ck { int *count; int64_t N; } epi_ck;
static void epi_map(void *ud, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *C, int64_t ldc) {
  epi_ck *e = (epi_ck *)ud;
  for (int64_t m = m0; m < m1; m++)
    for (int64_t n = n0; n < n1; n++) {
      e->count[m * e->N + n]++;
      C[m * ldc + n] = C[m * ldc + n] > 0.0f ? C[m * ldc + n] : 0.25f * C[m * ldc + n];
    }
}

static void check_epilogue(hm_pool *pool) {
  static const int64_t shapes[][3] = {{301, 1100, 700}, {1000, 40, 300}, {50, 70, 20}, {200, 30, 0}};
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
    const int64_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
    float *A = randv(M * K, 1.0f), *W = randv(N * K, 0.5f), *bias = randv(N, 1.0f);
    float *Wkn = (float *)calloc((size_t)(K * N + 1), sizeof(float));
    for (int64_t n = 0; n < N; n++)
      for (int64_t k = 0; k < K; k++) Wkn[k * N + n] = W[n * K + k];
    const float **rows = (const float **)malloc((size_t)(K + 1) * sizeof *rows);
    for (int64_t k = 0; k < K; k++) rows[k] = Wkn + k * N;
    hm_pmat P = {0};
    hm_mat Wm = {HM_DT_F32, N, K, W};
    if (K > 0) CHECK_OK(hm_pmat_pack(pool, &Wm, HM_DT_F32, &P));
    for (int kind = 0; kind < 2; kind++) {
      if (kind == 0 && K == 0) continue;
      hm_gemm_b b = kind == 0 ? hm_gemm_b_packed(&P) : hm_gemm_b_kn_rows(rows, K, N);
      float *ref = (float *)malloc((size_t)(M * N) * sizeof(float)), *C = (float *)malloc((size_t)(M * N) * sizeof(float));
      int *count = (int *)calloc((size_t)(M * N), sizeof(int));
      hm_gemm(pool, M, A, K, &b, bias, ref, N);
      for (int64_t i = 0; i < M * N; i++) ref[i] = ref[i] > 0.0f ? ref[i] : 0.25f * ref[i];
      epi_ck ck = {count, N};
      hm_gemm_epi epi = {epi_map, &ck};
      hm_gemm_ex(pool, M, A, K, &b, bias, C, N, &epi);
      int64_t bad = 0, miscount = 0;
      for (int64_t i = 0; i < M * N; i++) {
        if (count[i] != 1) miscount++;
        if (C[i] != ref[i]) bad++;
      }
      CHECK_MSG(miscount == 0, "epilogue %s M=%lld N=%lld K=%lld: %lld elements not visited exactly once",
                kind ? "kn_rows" : "packed", (long long)M, (long long)N, (long long)K, (long long)miscount);
      CHECK_MSG(bad == 0, "epilogue %s M=%lld N=%lld K=%lld: %lld elements differ from gemm + map",
                kind ? "kn_rows" : "packed", (long long)M, (long long)N, (long long)K, (long long)bad);
      free(ref); free(C); free(count);
    }
    hm_pmat_free(&P);
    free(A); free(W); free(bias); free(Wkn); free(rows);
  }
}

/* The fused (GEMM) attention against a plain double loop, GQA and causal offsets. */
static void check_attention(hm_pool *pool) {
  static const int cs[][6] = {/* n_q, n_kv, heads, kv heads, head_dim, causal offset (-1: none) */
                              {16, 16, 2, 1, 8, -1}, {50, 70, 4, 2, 16, -1}, {100, 100, 3, 3, 64, 0},
                              {33, 97, 8, 2, 24, 64}, {49, 49, 1, 1, 5, -1},
                              /* several query tiles per head with a causal mask: later tiles see more keys */
                              {250, 250, 4, 2, 16, 0}, {300, 310, 6, 6, 40, 10}};
  for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
    const int nq = cs[c][0], nkv = cs[c][1], H = cs[c][2], Hk = cs[c][3], hd = cs[c][4], co = cs[c][5];
    const int64_t qs = (int64_t)H * hd + 3, kvs = (int64_t)Hk * hd + 1, os = (int64_t)H * hd + 2;
    float *q = randv(nq * qs, 1.0f), *k = randv(nkv * kvs, 1.0f), *v = randv(nkv * kvs, 1.0f), *o = randv(nq * os, 1.0f);
    const float scale = 1.0f / sqrtf((float)hd);
    hm_attention(pool, q, nq, qs, k, v, nkv, kvs, H, Hk, hd, scale, co, o, os);
    double worst = 0.0;
    double *s = (double *)malloc((size_t)nkv * sizeof(double));
    for (int i = 0; i < nq; i++)
      for (int h = 0; h < H; h++) {
        const int kh = h / (H / Hk);
        int vis = nkv;
        if (co >= 0 && co + i + 1 < vis) vis = co + i + 1;
        double m = -1e300, sum = 0.0;
        for (int j = 0; j < vis; j++) {
          double d = 0.0;
          for (int x = 0; x < hd; x++) d += (double)q[i * qs + h * hd + x] * k[j * kvs + kh * hd + x];
          s[j] = d * scale;
          m = s[j] > m ? s[j] : m;
        }
        for (int j = 0; j < vis; j++) { s[j] = exp(s[j] - m); sum += s[j]; }
        for (int x = 0; x < hd; x++) {
          double r = 0.0;
          for (int j = 0; j < vis; j++) r += s[j] / sum * v[j * kvs + kh * hd + x];
          double e = fabs(o[i * os + h * hd + x] - r);
          if (!(e <= worst)) worst = e;
        }
      }
    CHECK_MSG(worst < 2e-5, "attention case %zu (nq %d nkv %d H %d/%d hd %d causal %d): max abs err %g", c, nq, nkv, H,
              Hk, hd, co, worst);
    free(s); free(q); free(k); free(v); free(o);
  }
}

/* conv1d (groups, stride, dilation, padding) on the GEMM against a direct loop. */
static void check_conv(hm_pool *pool) {
  static const int cs[][8] = {/* c_in, c_out, t, k, stride, dilation, pad, groups */
                              {3, 5, 40, 3, 1, 1, 1, 1}, {8, 16, 101, 3, 2, 1, 1, 1}, {16, 8, 64, 7, 1, 3, 9, 1},
                              {6, 6, 33, 1, 1, 1, 0, 1}, {8, 12, 50, 3, 1, 1, 1, 2}};
  for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
    const int ci = cs[c][0], co = cs[c][1], t = cs[c][2], k = cs[c][3], st = cs[c][4], dil = cs[c][5], pad = cs[c][6],
              g = cs[c][7];
    const int64_t to = hm_conv1d_out_len(t, k, st, dil, pad, pad);
    float *x = randv((int64_t)ci * t, 1.0f), *w = randv((int64_t)co * (ci / g) * k, 0.3f), *b = randv(co, 1.0f);
    float *y = randv(co * to, 1.0f);
    hm_conv1d(pool, x, ci, t, w, b, co, k, st, dil, pad, pad, g, y);
    double worst = 0.0;
    for (int o = 0; o < co; o++)
      for (int64_t i = 0; i < to; i++) {
        const int grp = o / (co / g);
        double r = b[o];
        for (int a = 0; a < ci / g; a++)
          for (int j = 0; j < k; j++) {
            int64_t src = i * st + (int64_t)j * dil - pad;
            if (src >= 0 && src < t) r += (double)w[((int64_t)o * (ci / g) + a) * k + j] * x[(int64_t)(grp * (ci / g) + a) * t + src];
          }
        double e = fabs(y[o * to + i] - r);
        if (!(e <= worst)) worst = e;
      }
    CHECK_MSG(worst < 1e-4, "conv1d case %zu: max abs err %g", c, worst);
    free(x); free(w); free(b); free(y);
  }
}

void hm_test_main(void) {
  hm_rng_seed(&rng, 5, 0);
  hm_pool *pool = hm_pool_create(2);
  const hm_isa isas[] = {HM_ISA_SCALAR, HM_ISA_AVX2, HM_ISA_AVX512};
  for (int i = 0; i < 3; i++) run_table(isas[i], pool);
  for (int i = 0; i < 3; i++) {
    if (!hm_isa_set(isas[i])) continue;
    check_threads();
    check_epilogue(pool);
    check_attention(pool);
    check_conv(pool);
  }
  hm_isa_set(hm_isa_best());
  /* bad arguments: a clear error, nothing written */
  hm_mat empty = {HM_DT_F32, 0, 4, NULL};
  hm_pmat P;
  CHECK_ERR(hm_pmat_pack(NULL, &empty, HM_DT_F32, &P), "empty matrix");
  float one = 1.0f;
  hm_mat q = {HM_DT_F32, 1, 1, &one};
  CHECK_ERR(hm_pmat_pack(NULL, &q, HM_DT_Q8_0, &P), "cannot pack as Q8_0");
  hm_pool_free(pool);
}
