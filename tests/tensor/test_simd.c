/* Every SIMD kernel table this CPU supports against the scalar reference:
 * all weight dtypes, n = 1 .. 6 vectors, odd row counts and column tails;
 * quantized matrices in their interleaved layouts: whole groups (16 / 32
 * rows), trailing plain rows, row ranges that start or end inside a group. */
#include "harness.h"
#include "tensor/kernels.h"
#include <stdlib.h>

static hm_rng rng;
static float *randv(int64_t n, float scale) {
  float *p = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) p[i] = hm_rng_normal(&rng) * scale;
  return p;
}

static void run_isa(hm_isa isa, hm_pool *pool) {
  const hm_kernels *K = hm_kernels_for(isa);
  if (!K) { printf("ISA %d not supported here: skipped\n", (int)isa); return; }
  printf("checking %s against scalar\n", K->name);
  const int64_t shapes[][2] = { { 1, 32 }, { 5, 33 }, { 9, 96 }, { 13, 17 }, { 67, 160 }, { 130, 1056 }, { 3, 3072 }, { 6, 4096 + 96 }, { 16, 32 }, { 37, 96 }, { 48, 64 }, { 71, 64 } };
  const hm_dtype types[] = { HM_DT_F32, HM_DT_BF16, HM_DT_F16, HM_DT_Q8_0, HM_DT_Q4_0 };
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
    const int64_t rows = shapes[si][0], cols = shapes[si][1];
    float *w = randv(rows * cols, 0.1f), *bias = randv(rows, 1.0f);
    hm_mat W32 = { HM_DT_F32, rows, cols, w };
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
      const bool quant = types[ti] == HM_DT_Q8_0 || types[ti] == HM_DT_Q4_0;
      if (quant && cols % HM_QBLOCK) continue;
      hm_mat Wt;
      CHECK_OK(hm_mat_convert(&W32, types[ti], &Wt));
      float *wd = (float *)malloc((size_t)(rows * cols) * sizeof(float));
      for (int64_t r = 0; r < rows; r++) hm_mat_row_f32(&Wt, r, wd + r * cols);
      if (quant) { /* the interleaved rows read back exactly as a plain quantize -> dequantize of each row */
        uint8_t *blk = malloc(hm_dtype_bytes(types[ti], cols));
        float *ref = malloc((size_t)cols * sizeof(float));
        int bad = 0;
        for (int64_t r = 0; r < rows; r++) {
          if (types[ti] == HM_DT_Q8_0) { hm_quantize_row_q8_0(w + r * cols, blk, cols); hm_dequantize_row_q8_0(blk, ref, cols); }
          else { hm_quantize_row_q4_0(w + r * cols, blk, cols); hm_dequantize_row_q4_0(blk, ref, cols); }
          bad += memcmp(ref, wd + r * cols, (size_t)cols * sizeof(float)) != 0;
        }
        /* whole-group decoding, also for ranges that start and end inside groups */
        for (int64_t r0 = 0; r0 < 4 && r0 < rows; r0 += 3) {
          const int64_t r1 = rows - r0 / 3;
          float *o = malloc((size_t)((r1 - r0) * cols) * sizeof(float));
          hm_qmat_rows_f32(types[ti], Wt.data, rows, cols, r0, r1, o);
          bad += memcmp(o, wd + r0 * cols, (size_t)((r1 - r0) * cols) * sizeof(float)) != 0;
          free(o);
        }
        CHECK_MSG(bad == 0, "%s %lldx%lld: %d interleaved rows differ from plain blocks", hm_dtype_name(types[ti]),
                  (long long)rows, (long long)cols, bad);
        free(blk); free(ref);
      }
      for (int n = 1; n <= 6; n++) {
        const int64_t xs = cols + 1, ys = rows + 2;
        float *x = randv(n * xs, 1.0f), *ya = randv(n * ys, 1.0f), *yb = randv(n * ys, 1.0f);
        for (int ub = 0; ub < 2; ub++) {
          CHECK(hm_isa_set(HM_ISA_SCALAR));
          hm_matvec_bias(pool, &Wt, ub ? bias : NULL, n, x, xs, ya, ys);
          CHECK(hm_isa_set(isa));
          CHECK(hm_kernels_active() == K);
          hm_matvec_bias(pool, &Wt, ub ? bias : NULL, n, x, xs, yb, ys);
          /* both accumulate in f32 (quantized: exact integer block sums), so the
           * only difference is summation order: judge against sum |w x| */
          double err = 0;
          for (int b = 0; b < n; b++)
            for (int64_t r = 0; r < rows; r++) {
              double mag = 1e-3;
              for (int64_t i = 0; i < cols; i++) mag += fabs((double)wd[r * cols + i] * x[b * xs + i]);
              double e = fabs((double)ya[b * ys + r] - yb[b * ys + r]) / mag;
              if (e > err || e != e) err = e != e ? INFINITY : e;
            }
          CHECK_MSG(err < 2e-6, "%s %s %lldx%lld n=%d bias=%d: rel err %g", K->name, hm_dtype_name(types[ti]),
                    (long long)rows, (long long)cols, n, ub, err);
        }
        if (quant && rows > 20) { /* the table's kernel on row ranges cut inside groups */
          const int64_t cuts[][2] = { { 3, 35 }, { 5, 12 }, { 16, rows }, { 0, 17 }, { 32, rows }, { 0, 64 } };
          hm_mv_quant_fn fk = types[ti] == HM_DT_Q8_0 ? K->mv_q8_0 : K->mv_q4_0;
          hm_mv_quant_fn fr = types[ti] == HM_DT_Q8_0 ? hm_mv_q8_0_ref : hm_mv_q4_0_ref;
          const int64_t nb = cols / 32, qs = (cols + 63) & ~63;
          int8_t *qb = hm_malloc_aligned((size_t)(n * qs));
          float *db = malloc(sizeof(float) * n * nb * 2);
          hm_qact A = { 0, 0, 0, qs, qb, db, (int32_t *)(db + n * nb) };
          hm_quantize_act(x, xs, n, cols, &A);
          for (size_t ci = 0; ci < sizeof cuts / sizeof cuts[0]; ci++) {
            const int64_t r0 = cuts[ci][0], r1 = cuts[ci][1] < rows ? cuts[ci][1] : rows;
            for (int64_t i = 0; i < n * ys; i++) ya[i] = yb[i] = -7.0f;
            fr(&Wt, r0, r1, &A, ya, ys, bias);
            fk(&Wt, r0, r1, &A, yb, ys, bias);
            double e = 0;
            for (int b = 0; b < n; b++)
              for (int64_t r = 0; r < rows; r++) {
                double mag = 1e-3;
                for (int64_t i = 0; i < cols; i++) mag += fabs((double)wd[r * cols + i] * x[b * xs + i]);
                e = fmax(e, fabs(ya[b * ys + r] - yb[b * ys + r]) / mag);
              }
            CHECK_MSG(e < 2e-6, "%s %s rows [%lld, %lld) n=%d: rel err %g", K->name, hm_dtype_name(types[ti]),
                      (long long)r0, (long long)r1, n, e);
          }
          hm_free_aligned(qb); free(db);
        }
        free(x); free(ya); free(yb);
      }
      free(wd);
      hm_mat_free_owned(&Wt);
    }
    free(w); free(bias);
  }
  /* activation quantizer: bit-identical to the reference (zero block, ties, outliers) */
  for (int64_t cols = 32; cols <= 320; cols += 96) {
    const int n = 3;
    float *x = randv(n * cols, 2.0f);
    for (int j = 0; j < 32; j++) x[j] = 0.0f;
    x[40] = 1e4f; x[41] = -3e-4f; x[70] = 127.0f; x[71] = 63.5f; x[72] = -0.5f;
    const int64_t nb = cols / 32, qs = (cols + 63) & ~63;
    int8_t *qa = hm_malloc_aligned((size_t)(n * qs)), *qb = hm_malloc_aligned((size_t)(n * qs));
    float *da = malloc(sizeof(float) * n * nb * 2), *db = malloc(sizeof(float) * n * nb * 2);
    hm_qact A = { 0, 0, 0, qs, qa, da, (int32_t *)(da + n * nb) };
    hm_qact B = { 0, 0, 0, qs, qb, db, (int32_t *)(db + n * nb) };
    memset(qa, 0, (size_t)(n * qs)); memset(qb, 0, (size_t)(n * qs));
    hm_quantize_act(x, cols, n, cols, &A);
    K->quantize_act(x, cols, n, cols, &B);
    CHECK_MSG(!memcmp(qa, qb, (size_t)(n * qs)) && !memcmp(da, db, sizeof(float) * n * nb * 2),
              "%s quantize_act differs from the reference (cols %lld)", K->name, (long long)cols);
    if (cols >= 128) CHECK(qa[40] == 127 && qa[41] == 0 && qa[70] == 127);
    hm_free_aligned(qa); hm_free_aligned(qb); free(da); free(db); free(x);
  }
  /* attention: the whole op against the scalar table (GQA groups, head_dim tails, chunks) */
  {
    struct { int nq, nkv, nh, nkvh, hd; long causal; } cs[] = {
      { 1, 1100, 24, 8, 128, 1099 }, { 3, 300, 6, 2, 72, 297 }, { 2, 40, 20, 1, 20, -1 }, { 1, 5, 3, 3, 5, -1 },
    };
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
      const int nq = cs[ci].nq, nkv = cs[ci].nkv, nh = cs[ci].nh, nkvh = cs[ci].nkvh, hd = cs[ci].hd;
      const int64_t qs = nh * hd, kvs = nkvh * hd;
      float *q = randv(nq * qs, 1), *k = randv(nkv * kvs, 1), *v = randv(nkv * kvs, 1);
      float *oa = randv(nq * qs, 1), *ob = randv(nq * qs, 1);
      const float sc = 1.5f / sqrtf((float)hd);
      CHECK(hm_isa_set(HM_ISA_SCALAR));
      hm_attention(pool, q, nq, qs, k, v, nkv, kvs, nh, nkvh, hd, sc, cs[ci].causal, oa, qs);
      CHECK(hm_isa_set(isa));
      hm_attention(pool, q, nq, qs, k, v, nkv, kvs, nh, nkvh, hd, sc, cs[ci].causal, ob, qs);
      double e = 0;
      for (int64_t i = 0; i < nq * qs; i++) e = fmax(e, fabs(oa[i] - ob[i]));
      CHECK_MSG(e < 2e-6, "%s attention case %zu: max diff %g", K->name, ci, e);
      /* F16 key / value cache: SIMD against scalar, and close to the F32 result */
      uint16_t *kh = malloc(sizeof(uint16_t) * (size_t)(nkv * kvs)), *vh = malloc(sizeof(uint16_t) * (size_t)(nkv * kvs));
      for (int64_t i = 0; i < nkv * kvs; i++) { kh[i] = hm_f32_to_f16(k[i]); vh[i] = hm_f32_to_f16(v[i]); }
      float *oc = randv(nq * qs, 1), *od = randv(nq * qs, 1);
      CHECK(hm_isa_set(HM_ISA_SCALAR));
      hm_attention_kv(pool, q, nq, qs, kh, vh, HM_DT_F16, nkv, kvs, nh, nkvh, hd, sc, cs[ci].causal, oc, qs);
      CHECK(hm_isa_set(isa));
      hm_attention_kv(pool, q, nq, qs, kh, vh, HM_DT_F16, nkv, kvs, nh, nkvh, hd, sc, cs[ci].causal, od, qs);
      double e16 = 0, e32 = 0;
      for (int64_t i = 0; i < nq * qs; i++) { e16 = fmax(e16, fabs(oc[i] - od[i])); e32 = fmax(e32, fabs(oa[i] - od[i])); }
      CHECK_MSG(e16 < 2e-6, "%s attention f16 case %zu: max diff %g", K->name, ci, e16);
      CHECK_MSG(e32 < 5e-3, "%s attention f16 vs f32 case %zu: max diff %g", K->name, ci, e32);
      free(kh); free(vh); free(oc); free(od);
      free(q); free(k); free(v); free(oa); free(ob);
    }
    /* exp over the softmax range */
    float xs[67], ys[67];
    for (int i = 0; i < 67; i++) xs[i] = ys[i] = -0.37f * i * (i % 3 ? 1.0f : 2.5f);
    float sa = hm_kernels_ref.exp_sum(xs, 67, 0.25f), sb = K->exp_sum(ys, 67, 0.25f);
    double e = 0;
    for (int i = 0; i < 67; i++) e = fmax(e, fabs(xs[i] - ys[i]) / (xs[i] + 1e-30));
    CHECK_MSG(e < 1e-6 && fabs(sa - sb) < 1e-6 * sa, "%s exp_sum rel err %g", K->name, e);
  }
  /* silu / swiglu over the whole float range (overflow of exp(-x) gives 0, not NaN) */
  {
    const int64_t n = 203;
    float *g = randv(n, 6.0f), *u = randv(n, 1.0f), *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    g[0] = -200.0f; g[1] = 200.0f; g[2] = 0.0f; g[3] = -88.0f; g[4] = 95.0f;
    hm_kernels_ref.swiglu(a, g, u, n);
    K->swiglu(b, g, u, n);
    double e = 0;
    for (int64_t i = 0; i < n; i++) e = fmax(e, fabs(a[i] - b[i]) / (fabs(a[i]) + 1e-30));
    CHECK_MSG(e < 1e-6, "%s swiglu rel err %g", K->name, e);
    memcpy(a, g, sizeof(float) * n);
    memcpy(b, g, sizeof(float) * n);
    hm_kernels_ref.silu(a, n);
    K->silu(b, n);
    e = 0;
    for (int64_t i = 0; i < n; i++) e = fmax(e, fabs(a[i] - b[i]) / (fabs(a[i]) + 1e-30));
    CHECK_MSG(e < 1e-6 && b[0] == 0.0f && b[1] == 200.0f, "%s silu rel err %g (%g, %g)", K->name, e, b[0], b[1]);
    free(g); free(u); free(a); free(b);
  }
  /* dot / axpy (used by attention) with every tail length */
  for (int64_t n = 0; n <= 70; n++) {
    float *a = randv(n, 1), *b = randv(n, 1), *y0 = randv(n, 1), *y1 = (float *)malloc(sizeof(float) * (n + 1));
    memcpy(y1, y0, sizeof(float) * n);
    double ref = 0, mag = 1e-6;
    for (int64_t i = 0; i < n; i++) { ref += (double)a[i] * b[i]; mag += fabs((double)a[i] * b[i]); }
    CHECK_MSG(fabs(K->dot(a, b, n) - ref) < 1e-6 * mag, "%s dot n=%lld", K->name, (long long)n);
    hm_kernels_ref.axpy(y0, 0.75f, a, n);
    K->axpy(y1, 0.75f, a, n);
    double e = 0;
    for (int64_t i = 0; i < n; i++) e = fmax(e, fabs(y0[i] - y1[i]));
    CHECK_MSG(e < 1e-6, "%s axpy n=%lld", K->name, (long long)n);
    free(a); free(b); free(y0); free(y1);
  }
}

void hm_test_main(void) {
#ifdef HM_NO_X86_SIMD
  /* built without the x86 kernel files (-DHM_SIMD=OFF, or not x86): the scalar table only, whatever the CPU */
  CHECK(hm_kernels_for(HM_ISA_AVX2) == NULL);
  CHECK(hm_kernels_for(HM_ISA_AVX512) == NULL);
  CHECK(hm_isa_best() == HM_ISA_SCALAR);
  CHECK(hm_kernels_active() == hm_kernels_for(HM_ISA_SCALAR));
  CHECK(!hm_isa_set(HM_ISA_AVX2) && !hm_isa_set(HM_ISA_AVX512));
  return;
#endif
  if (!hm_kernels_for(HM_ISA_AVX2) && !hm_kernels_for(HM_ISA_AVX512))
    hm_test_skip("this CPU has no SIMD kernel table to compare with the scalar one");
  hm_rng_seed(&rng, 99, 0);
  hm_pool *pool = hm_pool_create(2);
  CHECK(hm_isa_set(HM_ISA_SCALAR));
  CHECK(hm_kernels_active() == &hm_kernels_ref);
  run_isa(HM_ISA_AVX2, pool);
  run_isa(HM_ISA_AVX512, pool);
  run_isa(HM_ISA_AVX2, NULL);
  hm_isa_set(hm_isa_best());
  hm_pool_free(pool);
}
