/* ops.h against naive double-precision loops on random data with odd sizes. */
#include "harness.h"
#include "tensor/kernels.h"
#include <stdlib.h>
#include <pthread.h>

static hm_rng rng;
static float *randv(int64_t n, float scale) {
  float *p = (float *)malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
  for (int64_t i = 0; i < n; i++) p[i] = hm_rng_normal(&rng) * scale;
  return p;
}

/* max |a-b| / max(max|b|, 1e-6) */
static double rel_err(const float *a, const double *b, int64_t n) {
  double m = 0, e = 0;
  for (int64_t i = 0; i < n; i++) {
    if (fabs(b[i]) > m) m = fabs(b[i]);
    double d = fabs((double)a[i] - b[i]);
    if (d > e || d != d) e = d != d ? INFINITY : d;
  }
  return e / (m > 1e-6 ? m : 1e-6);
}

static void test_matvec(hm_pool *pool) {
  const int64_t shapes[][2] = { { 1, 32 }, { 7, 64 }, { 33, 96 }, { 130, 160 }, { 257, 1024 }, { 61, 3072 } };
  const hm_dtype types[] = { HM_DT_F32, HM_DT_BF16, HM_DT_F16, HM_DT_Q8_0, HM_DT_Q4_0 };
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
    const int64_t rows = shapes[si][0], cols = shapes[si][1];
    float *w = randv(rows * cols, 0.05f), *bias = randv(rows, 1.0f);
    hm_mat W32 = { HM_DT_F32, rows, cols, w };
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
      hm_mat Wt;
      CHECK_OK(hm_mat_convert(&W32, types[ti], &Wt));
      /* the dequantized weights are the exact reference for the products */
      float *wd = (float *)malloc((size_t)(rows * cols) * sizeof(float));
      for (int64_t r = 0; r < rows; r++) hm_mat_row_f32(&Wt, r, wd + r * cols);
      double werr = 0, wmax = 0;
      for (int64_t i = 0; i < rows * cols; i++) {
        werr = fmax(werr, fabs(wd[i] - w[i])); wmax = fmax(wmax, fabs(w[i]));
      }
      double wtol = types[ti] == HM_DT_F32 ? 0 : types[ti] == HM_DT_Q4_0 ? 0.2 : types[ti] == HM_DT_Q8_0 ? 0.01 : 0.005;
      CHECK_MSG(werr <= wtol * wmax, "%s round trip err %g (max %g)", hm_dtype_name(types[ti]), werr, wmax);
      for (int n = 1; n <= 3; n++) {
        const int64_t xs = cols + 3, ys = rows + 5;
        float *x = randv(n * xs, 1.0f), *y = randv(n * ys, 1.0f);
        double *ref = (double *)malloc((size_t)(n * rows) * sizeof(double));
        for (int use_bias = 0; use_bias < 2; use_bias++) {
          hm_matvec_bias(pool, &Wt, use_bias ? bias : NULL, n, x, xs, y, ys);
          for (int b = 0; b < n; b++)
            for (int64_t r = 0; r < rows; r++) {
              double acc = use_bias ? bias[r] : 0;
              for (int64_t i = 0; i < cols; i++) acc += (double)wd[r * cols + i] * x[b * xs + i];
              ref[b * rows + r] = acc;
            }
          /* judged against sum |w x| (no cancellation effects): float types differ from
           * the double reference by f32 rounding; quantized ones by the int8
           * activations (~1/254 of each block's max per element) */
          double aerr = 0, mag = 0;
          for (int b = 0; b < n; b++)
            for (int64_t r = 0; r < rows; r++) {
              double a = 0;
              for (int64_t i = 0; i < cols; i++) a += fabs((double)wd[r * cols + i] * x[b * xs + i]);
              mag = fmax(mag, a);
              double e = fabs(y[b * ys + r] - ref[b * rows + r]);
              if (e > aerr || e != e) aerr = e != e ? INFINITY : e;
            }
          double err = aerr / mag;
          double tol = (types[ti] == HM_DT_Q8_0 || types[ti] == HM_DT_Q4_0) ? 0.01 : 2e-6;
          CHECK_MSG(err < tol, "matvec %s %lldx%lld n=%d bias=%d rel err %g", hm_dtype_name(types[ti]),
                    (long long)rows, (long long)cols, n, use_bias, err);
        }
        /* strides are respected: the padding after each output row is untouched */
        float sentinel = 12345.0f;
        for (int b = 0; b < n; b++) y[b * ys + rows] = sentinel;
        hm_matvec(pool, &Wt, n, x, xs, y, ys);
        for (int b = 0; b < n; b++) CHECK(y[b * ys + rows] == sentinel);
        free(x); free(y); free(ref);
      }
      /* hm_linear for n = 1..9 (both the matvec and the GEMM path; quantized weights
       * take the int8 kernels at every n: activation rounding, up to ~1% here) */
      for (int64_t n = 1; n <= 9; n += 4) {
        float *X = randv(n * cols, 1.0f), *Y = randv(n * rows, 1.0f);
        double *ref = (double *)malloc((size_t)(n * rows) * sizeof(double));
        hm_linear(pool, &Wt, bias, n, X, Y);
        for (int64_t t = 0; t < n; t++)
          for (int64_t r = 0; r < rows; r++) {
            double acc = bias[r];
            for (int64_t i = 0; i < cols; i++) acc += (double)wd[r * cols + i] * X[t * cols + i];
            ref[t * rows + r] = acc;
          }
        double tol = types[ti] == HM_DT_Q8_0 || types[ti] == HM_DT_Q4_0 ? 0.05 : 2e-5;
        double err = rel_err(Y, ref, n * rows);
        CHECK_MSG(err < tol, "linear %s n=%lld rel err %g", hm_dtype_name(types[ti]), (long long)n, err);
        free(X); free(Y); free(ref);
      }
      free(wd);
      hm_mat_free_owned(&Wt);
      CHECK(Wt.data == NULL);
    }
    free(w); free(bias);
  }
  /* the threaded conversion gives the same bytes */
  {
    const int64_t rows = 301, cols = 96;
    float *w = randv(rows * cols, 1.0f);
    hm_mat W = { HM_DT_F32, rows, cols, w };
    const hm_dtype ts[] = { HM_DT_BF16, HM_DT_F16, HM_DT_Q8_0, HM_DT_Q4_0 };
    for (int i = 0; i < 4; i++) {
      hm_mat a, b;
      CHECK_OK(hm_mat_convert(&W, ts[i], &a));
      CHECK_OK(hm_mat_convert_pool(pool, &W, ts[i], &b));
      CHECK(a.data && b.data && !memcmp(a.data, b.data, hm_dtype_bytes(ts[i], cols) * rows));
      hm_mat_free_owned(&a);
      hm_mat_free_owned(&b);
    }
    free(w);
  }
  /* bad conversions are refused with a message */
  float w[40] = { 0 };
  hm_mat W = { HM_DT_F32, 1, 40, w }, out;
  CHECK_ERR(hm_mat_convert(&W, HM_DT_Q8_0, &out), "multiple of 32");
  CHECK_ERR(hm_mat_convert(&W, HM_DT_I32, &out), "I32");
  CHECK_ERR(hm_mat_convert(NULL, HM_DT_F32, &out), "NULL");
}

static void test_sgemm(void) {
  const int64_t m = 13, n = 17, k = 29;
  float *A = randv(m * k, 1), *B = randv(k * n, 1), *C = randv(m * n, 1);
  double *ref = (double *)malloc((size_t)(m * n) * sizeof(double));
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      float *C0 = randv(m * n, 1);
      memcpy(C, C0, (size_t)(m * n) * sizeof(float));
      /* A stored [m,k] (or [k,m] when transposed), B [k,n] (or [n,k]) */
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
          double acc = 0;
          for (int64_t l = 0; l < k; l++)
            acc += (double)(ta ? A[l * m + i] : A[i * k + l]) * (tb ? B[j * k + l] : B[l * n + j]);
          ref[i * n + j] = 0.5 * acc + 2.0 * C0[i * n + j];
        }
      hm_sgemm(ta, tb, m, n, k, 0.5f, A, ta ? m : k, B, tb ? k : n, 2.0f, C, n);
      CHECK_MSG(rel_err(C, ref, m * n) < 1e-5, "sgemm ta=%d tb=%d", ta, tb);
      free(C0);
    }
  free(A); free(B); free(C); free(ref);
}

static void test_elementwise(void) {
  const int64_t n = 37;
  float *x = randv(n, 2.0f), *w = randv(n, 1.0f), *b = randv(n, 1.0f), *y = randv(n, 1);
  double ref[64];
  double ss = 0;
  for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
  for (int64_t i = 0; i < n; i++) ref[i] = x[i] / sqrt(ss / n + 1e-5) * w[i];
  hm_rmsnorm(y, x, w, n, 1e-5f);
  CHECK(rel_err(y, ref, n) < 1e-6);
  memcpy(y, x, (size_t)n * sizeof(float));
  hm_rmsnorm(y, y, NULL, n, 1e-5f); /* in place, no scale */
  for (int64_t i = 0; i < n; i++) ref[i] = x[i] / sqrt(ss / n + 1e-5);
  CHECK(rel_err(y, ref, n) < 1e-6);

  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; i++) mean += x[i];
  mean /= n;
  for (int64_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
  var /= n;
  for (int64_t i = 0; i < n; i++) ref[i] = (x[i] - mean) / sqrt(var + 1e-6) * w[i] + b[i];
  hm_layernorm(y, x, w, b, n, 1e-6f);
  CHECK(rel_err(y, ref, n) < 1e-6);
  for (int64_t i = 0; i < n; i++) ref[i] = (x[i] - mean) / sqrt(var + 1e-6);
  hm_layernorm(y, x, NULL, NULL, n, 1e-6f);
  CHECK(rel_err(y, ref, n) < 1e-6);

  memcpy(y, x, (size_t)n * sizeof(float));
  y[3] = 300.0f; /* overflow without the max subtraction */
  double mx = 300, se = 0;
  for (int64_t i = 0; i < n; i++) se += exp((i == 3 ? 300.0 : x[i]) - mx);
  for (int64_t i = 0; i < n; i++) ref[i] = exp((i == 3 ? 300.0 : x[i]) - mx) / se;
  hm_softmax(y, n);
  CHECK(rel_err(y, ref, n) < 1e-6);

  memcpy(y, x, (size_t)n * sizeof(float));
  hm_silu(y, n);
  for (int64_t i = 0; i < n; i++) ref[i] = x[i] / (1 + exp(-x[i]));
  CHECK(rel_err(y, ref, n) < 1e-6);
  memcpy(y, x, (size_t)n * sizeof(float));
  hm_gelu(y, n);
  for (int64_t i = 0; i < n; i++) ref[i] = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0)));
  CHECK(rel_err(y, ref, n) < 1e-6);
  memcpy(y, x, (size_t)n * sizeof(float));
  hm_gelu_tanh(y, n);
  for (int64_t i = 0; i < n; i++)
    ref[i] = 0.5 * x[i] * (1 + tanh(sqrt(2 / M_PI) * (x[i] + 0.044715 * x[i] * x[i] * x[i])));
  CHECK(rel_err(y, ref, n) < 1e-6);
  memcpy(y, x, (size_t)n * sizeof(float));
  hm_swiglu(y, y, w, n); /* aliasing out = gate */
  for (int64_t i = 0; i < n; i++) ref[i] = x[i] / (1 + exp(-x[i])) * w[i];
  CHECK(rel_err(y, ref, n) < 1e-6);
  hm_add(y, x, w, n);
  for (int64_t i = 0; i < n; i++) ref[i] = (double)x[i] + w[i];
  CHECK(rel_err(y, ref, n) < 1e-7);
  memcpy(y, x, (size_t)n * sizeof(float));
  hm_scale(y, -0.25f, n);
  for (int64_t i = 0; i < n; i++) ref[i] = -0.25 * x[i];
  CHECK(rel_err(y, ref, n) < 1e-7);
  double d = 0;
  for (int64_t i = 0; i < n; i++) d += (double)x[i] * w[i];
  CHECK_NEAR(hm_dot_f32(x, w, n), d, 1e-5 * (fabs(d) + 1));
  free(x); free(w); free(b); free(y);
}

static void test_rope(void) {
  const int nh = 3, hd = 10;
  float *x = randv(nh * hd, 1), *y = randv(nh * hd, 1), c[5], s[5];
  double ref[30];
  for (int i = 0; i < hd / 2; i++) { c[i] = cosf(0.3f * i + 0.1f); s[i] = sinf(0.3f * i + 0.1f); }
  for (int inter = 0; inter < 2; inter++) {
    memcpy(y, x, sizeof(float) * nh * hd);
    hm_rope(y, nh, hd, c, s, inter);
    for (int h = 0; h < nh; h++)
      for (int i = 0; i < hd / 2; i++) {
        int i0 = inter ? 2 * i : i, i1 = inter ? 2 * i + 1 : i + hd / 2;
        double a = x[h * hd + i0], b = x[h * hd + i1];
        ref[h * hd + i0] = a * c[i] - b * s[i];
        ref[h * hd + i1] = b * c[i] + a * s[i];
      }
    CHECK_MSG(rel_err(y, ref, nh * hd) < 1e-6, "rope interleaved=%d", inter);
  }
  free(x); free(y);
}

static void test_attention(hm_pool *pool) {
  struct { int nq, nkv, nh, nkvh, hd; long causal; } cases[] = {
    { 1, 9, 4, 2, 8, 8 }, { 5, 5, 3, 1, 16, 0 }, { 6, 11, 4, 4, 12, -1 }, { 7, 1500, 2, 1, 20, 1493 },
    { 3, 2100, 4, 2, 16, -1 }, /* past one softmax chunk */
    { 2, 700, 34, 1, 8, 600 },  /* GQA group larger than the kernel's 16 heads at once */
    { 1, 1100, 24, 8, 128, 1099 }, /* the 3B backbone's decode shape */
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const int nq = cases[ci].nq, nkv = cases[ci].nkv, nh = cases[ci].nh, nkvh = cases[ci].nkvh, hd = cases[ci].hd;
    const long co = cases[ci].causal;
    const int64_t qs = nh * hd + 3, kvs = nkvh * hd + 1, os = nh * hd + 2;
    float *q = randv(nq * qs, 1), *k = randv(nkv * kvs, 1), *v = randv(nkv * kvs, 1), *o = randv(nq * os, 1);
    double *ref = (double *)calloc((size_t)(nq * os), sizeof(double)), *sc = (double *)malloc(sizeof(double) * nkv);
    const float scale = 1.0f / sqrtf((float)hd) * 2.0f;
    for (int i = 0; i < nq; i++)
      for (int h = 0; h < nh; h++) {
        int kh = h / (nh / nkvh);
        long nvis = co < 0 ? nkv : (co + i + 1 < nkv ? co + i + 1 : nkv);
        double m = -INFINITY, sum = 0;
        for (long j = 0; j < nvis; j++) {
          double d = 0;
          for (int e = 0; e < hd; e++) d += (double)q[i * qs + h * hd + e] * k[j * kvs + kh * hd + e];
          sc[j] = d * scale;
          if (sc[j] > m) m = sc[j];
        }
        for (long j = 0; j < nvis; j++) { sc[j] = exp(sc[j] - m); sum += sc[j]; }
        for (int e = 0; e < hd; e++) {
          double acc = 0;
          for (long j = 0; j < nvis; j++) acc += sc[j] * v[j * kvs + kh * hd + e];
          ref[i * os + h * hd + e] = acc / sum;
        }
      }
    hm_attention(pool, q, nq, qs, k, v, nkv, kvs, nh, nkvh, hd, scale, co, o, os);
    double err = 0;
    for (int i = 0; i < nq; i++) err = fmax(err, rel_err(o + i * os, ref + i * os, nh * hd));
    CHECK_MSG(err < 1e-5, "attention case %zu rel err %g", ci, err);
    free(q); free(k); free(v); free(o); free(ref); free(sc);
  }
}

static void test_conv(hm_pool *pool) {
  struct { int cin, cout, t, k, stride, dil, pl, pr, groups; } cases[] = {
    { 3, 5, 17, 3, 1, 1, 1, 1, 1 }, { 4, 6, 23, 7, 2, 1, 3, 2, 2 }, { 6, 6, 19, 7, 1, 1, 6, 0, 6 },
    { 5, 7, 31, 3, 1, 3, 3, 3, 1 }, { 8, 4, 9, 1, 1, 1, 0, 0, 1 }, { 2, 3, 12, 4, 3, 2, 0, 5, 1 },
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
    const int cin = cases[ci].cin, cout = cases[ci].cout, t = cases[ci].t, k = cases[ci].k, st = cases[ci].stride,
              dil = cases[ci].dil, pl = cases[ci].pl, pr = cases[ci].pr, g = cases[ci].groups;
    const int64_t to = hm_conv1d_out_len(t, k, st, dil, pl, pr);
    CHECK(to == (t + pl + pr - dil * (k - 1) - 1) / st + 1);
    const int cig = cin / g, cog = cout / g;
    float *x = randv(cin * t, 1), *w = randv(cout * cig * k, 1), *b = randv(cout, 1), *y = randv(cout * to, 1);
    double *ref = (double *)malloc(sizeof(double) * cout * to);
    for (int o = 0; o < cout; o++)
      for (int64_t j = 0; j < to; j++) {
        double acc = b[o];
        int gi = o / cog;
        for (int c = 0; c < cig; c++)
          for (int kk = 0; kk < k; kk++) {
            int64_t src = j * st + kk * dil - pl;
            if (src >= 0 && src < t) acc += (double)w[(o * cig + c) * k + kk] * x[(gi * cig + c) * t + src];
          }
        ref[o * to + j] = acc;
      }
    hm_conv1d(pool, x, cin, t, w, b, cout, k, st, dil, pl, pr, g, y);
    CHECK_MSG(rel_err(y, ref, cout * to) < 1e-5, "conv1d case %zu", ci);
    free(x); free(w); free(b); free(y); free(ref);
  }
  struct { int cin, cout, t, k, stride, tl, tr; } tc[] = {
    { 3, 4, 10, 4, 2, 1, 1 }, { 5, 2, 7, 16, 8, 4, 4 }, { 2, 3, 5, 3, 1, 0, 0 }, { 4, 4, 6, 5, 3, 2, 0 },
  };
  for (size_t ci = 0; ci < sizeof tc / sizeof tc[0]; ci++) {
    const int cin = tc[ci].cin, cout = tc[ci].cout, t = tc[ci].t, k = tc[ci].k, st = tc[ci].stride;
    const int tl = tc[ci].tl, tr = tc[ci].tr;
    const int64_t full = (int64_t)(t - 1) * st + k, to = full - tl - tr;
    float *x = randv(cin * t, 1), *w = randv(cin * cout * k, 1), *b = randv(cout, 1), *y = randv(cout * to, 1);
    double *ref = (double *)calloc((size_t)(cout * full), sizeof(double));
    for (int o = 0; o < cout; o++) {
      for (int64_t j = 0; j < full; j++) ref[o * full + j] = b[o];
      for (int c = 0; c < cin; c++)
        for (int i = 0; i < t; i++)
          for (int kk = 0; kk < k; kk++) ref[o * full + i * st + kk] += (double)x[c * t + i] * w[(c * cout + o) * k + kk];
    }
    double *trim = (double *)malloc(sizeof(double) * cout * to);
    for (int o = 0; o < cout; o++)
      for (int64_t j = 0; j < to; j++) trim[o * to + j] = ref[o * full + j + tl];
    hm_conv_transpose1d(pool, x, cin, t, w, b, cout, k, st, tl, tr, y);
    CHECK_MSG(rel_err(y, trim, cout * to) < 1e-5, "conv_transpose1d case %zu", ci);
    free(x); free(w); free(b); free(y); free(ref); free(trim);
  }
}

/* The per-thread scratch of a thread that exits is released (ASan's leak check
 * fails this test otherwise) and gives the same results as the main thread's. */
typedef struct thr_arg { const hm_mat *Wq, *Wb; const float *x; float *y; } thr_arg;
static void *thr_main(void *p) {
  thr_arg *a = (thr_arg *)p;
  hm_matvec(NULL, a->Wq, 2, a->x, a->Wq->cols, a->y, a->Wq->rows);
  hm_linear(NULL, a->Wb, NULL, 8, a->x, a->y + 2 * a->Wq->rows);
  return NULL;
}
static void test_thread_scratch(void) {
  const int64_t rows = 40, cols = 64;
  float *w = randv(rows * cols, 0.1f), *x = randv(8 * cols, 1.0f);
  float *y0 = calloc((size_t)(10 * rows), sizeof(float)), *y1 = calloc((size_t)(10 * rows), sizeof(float));
  hm_mat W = { HM_DT_F32, rows, cols, w }, Wq, Wb;
  CHECK_OK(hm_mat_convert(&W, HM_DT_Q8_0, &Wq));
  CHECK_OK(hm_mat_convert(&W, HM_DT_BF16, &Wb));
  thr_arg a = { &Wq, &Wb, x, y0 };
  thr_main(&a);
  a.y = y1;
  pthread_t th;
  CHECK(pthread_create(&th, NULL, thr_main, &a) == 0);
  pthread_join(th, NULL);
  CHECK(!memcmp(y0, y1, sizeof(float) * 10 * rows));
  hm_mat_free_owned(&Wq);
  hm_mat_free_owned(&Wb);
  free(w); free(x); free(y0); free(y1);
}

void hm_test_main(void) {
  hm_rng_seed(&rng, 1234, 0);
  hm_pool *pool = hm_pool_create(2);
  CHECK(pool != NULL);
  test_matvec(pool);
  test_matvec(NULL);
  test_sgemm();
  test_elementwise();
  test_rope();
  test_attention(pool);
  test_conv(pool);
  test_thread_scratch();
  hm_pool_free(pool);
}
