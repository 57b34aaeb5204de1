/* ScalarModel.decode (heartcodec/models/sq_codec.py): round(9x)/9, the
 * look-ahead conv, ResDecoderBlocks (causal transposed conv + 5 residual
 * units with PReLU), PostProcessor (repeat x2, causal conv, PReLU) and the
 * last causal conv. Channel-first [C][T] signals; every conv is k shifted
 * GEMMs over a zero-padded row (no im2col). The latent is processed in
 * chunks of latent frames with enough left context that each chunk's output
 * equals the whole-window computation, so memory is bounded by the chunk. */
#include "codec/codec_internal.h"

#include <math.h>
#include <stdlib.h>

#define SQ_LP 64       /* zero columns kept left of every signal row (>= max dil*(k-1)) */
#define SQ_RP 8        /* right */
#define SQ_ZTILE (4 << 20) /* floats in the tile buffer */

struct cx_sq_work {
  int T, chunk, ctx;
  int64_t cap; /* floats per big buffer */
  float *p, *q, *z;
  /* AMX path: packed B operand tile and its row pointers */
  uint16_t *zb;
  const float **rowp;
  hm_pool *pool;
  bool amx;
};

typedef struct sig { float *d; int C; int64_t T, ld; } sig; /* element (c, t) = d[c*ld + SQ_LP + t] */

static inline float *sig_row(const sig *s, int c) { return s->d + (int64_t)c * s->ld + SQ_LP; }

static void sig_init(sig *s, float *buf, int C, int64_t T) {
  s->d = buf; s->C = C; s->T = T; s->ld = SQ_LP + T + SQ_RP;
}

static void sig_zero_pads(const sig *s) {
  for (int c = 0; c < s->C; c++) {
    float *r = s->d + (int64_t)c * s->ld;
    memset(r, 0, SQ_LP * sizeof(float));
    memset(r + SQ_LP + s->T, 0, SQ_RP * sizeof(float));
  }
}

static inline float prelu(float x, float a) { return x >= 0.0f ? x : a * x; }

/* bias (+ PReLU) over rows [0, c_out) x columns [0, n) of y, split across the
 * pool; with res, the result is added to res (a residual) instead of kept in y */
typedef struct post_task {
  float *y;
  int64_t ldy, n;
  const float *b;
  int c_out;
  bool act;
  float a;
  float *res;
  int64_t ldres;
} post_task;

/* rows [o0, o1) x columns [i0, i1) of the pass */
static void post_rows(const post_task *t, int64_t o0, int64_t o1, int64_t i0, int64_t i1) {
  for (int64_t o = o0; o < o1; o++) {
    float *r = t->y + o * t->ldy, b = t->b[o];
    if (t->res) {
      float *x = t->res + o * t->ldres;
      if (t->act) for (int64_t i = i0; i < i1; i++) x[i] = prelu(r[i] + b, t->a) + x[i];
      else for (int64_t i = i0; i < i1; i++) x[i] = (r[i] + b) + x[i];
    } else if (t->act) for (int64_t i = i0; i < i1; i++) r[i] = prelu(r[i] + b, t->a);
    else for (int64_t i = i0; i < i1; i++) r[i] = r[i] + b;
  }
}

static void post_run(void *arg, int ith, int nth) {
  const post_task *t = arg;
  int64_t o0, o1;
  hm_split(t->c_out, ith, nth, 1, &o0, &o1);
  post_rows(t, o0, o1, 0, t->n);
}

/* the pass as the GEMM's epilogue: each block of y right after it is computed */
static void post_epi(void *ud, int64_t m0, int64_t m1, int64_t n0, int64_t n1, float *C, int64_t ldc) {
  (void)C; (void)ldc;
  post_rows((const post_task *)ud, m0, m1, n0, n1);
}

/* pool: NULL runs on the calling thread */
static void post(hm_pool *pool, float *y, int64_t ldy, int64_t n, const float *b, int c_out, bool act, float a,
                 float *res, int64_t ldres) {
  post_task t = {y, ldy, n, b, c_out, act, a, res, ldres};
  if ((int64_t)c_out * n < 65536 || !pool) post_run(&t, 0, 1);
  else hm_pool_run(pool, post_run, &t);
}

/* VNNI packing of K rows split over row pairs across the pool */
typedef struct pack_task { const float *const *rows; int64_t K, n, npad; uint16_t *out; } pack_task;

static void pack_run(void *arg, int ith, int nth) {
  const pack_task *t = arg;
  int64_t p0, p1;
  hm_split(t->K / 2, ith, nth, 1, &p0, &p1);
  if (p0 < p1) hm_pack_cols_range(t->rows, t->K, 2 * p0, 2 * p1, t->n, t->npad, t->out);
}

static void pack(hm_pool *pool, const float *const *rows, int64_t K, int64_t n, int64_t npad, uint16_t *out) {
  pack_task t = {rows, K, n, npad, out};
  hm_pool_run(pool, pack_run, &t);
}

/* Convolutions with fewer output channels than this (the last conv: one) as
 * plain weighted sums of the im2col rows: a GEMM would pack K x n inputs for
 * a single output row. Columns split over the pool; each sum in row order. */
#define SQ_SMALL_OUT 4
typedef struct small_task { const cx_conv_cf *c; const float *const *rows; int64_t K, n, ldy; float *y; } small_task;

static void small_run(void *arg, int ith, int nth) {
  const small_task *t = arg;
  int64_t c0, c1;
  hm_split(t->n, ith, nth, 64, &c0, &c1);
  for (int o = 0; o < t->c->c_out; o++) {
    float *yr = t->y + o * t->ldy;
    const float *w = t->c->w + (int64_t)o * t->K;
    for (int64_t i = c0; i < c1; i++) yr[i] = 0.0f;
    for (int64_t kk = 0; kk < t->K; kk++) {
      const float wv = w[kk], *xr = t->rows[kk];
      for (int64_t i = c0; i < c1; i++) yr[i] += wv * xr[i];
    }
  }
}

static void small_conv(hm_pool *pool, const cx_conv_cf *c, const float *const *rows, int64_t K, int64_t n, float *y,
                       int64_t ldy) {
  small_task t = {c, rows, K, n, ldy, y};
  if (n < 4096) small_run(&t, 0, 1);
  else hm_pool_run(pool, small_run, &t);
}

/* y = conv(x) (+ bias), 'same' length; PReLU when act. Pads of x must be zero
 * (or hold the neighbouring data for a chunk). Time columns [t0, t1) only.
 * k > 1: per tile of columns, an im2col tile in z ([k*c_in][tile]) and one GEMM. */
static void conv_cols(cx_sq_work *sw, const cx_conv_cf *c, const sig *x, float *y, int64_t ldy, int64_t t0,
                      int64_t t1, bool act, float a, float *res, int64_t ldres) {
  int64_t n = t1 - t0;
  if (n <= 0) return;
  const int64_t K = (int64_t)c->k * c->c_in;
  if (sw->amx && c->wb) {
    /* BF16 on AMX tiles: Y = W [c_out][K] x im2col [K][tile], packed straight from x */
    int64_t tile = (2 * (int64_t)SQ_ZTILE / K) / 32 * 32;
    if (tile > 8192) tile = 8192;
    for (int64_t tt = t0; tt < t1; tt += tile) {
      int64_t nn = t1 - tt < tile ? t1 - tt : tile, npad = (nn + 31) / 32 * 32;
      for (int j = 0; j < c->k; j++) {
        int64_t shift = -(int64_t)c->left + (int64_t)j * c->dil;
        for (int i = 0; i < c->c_in; i++) sw->rowp[(int64_t)j * c->c_in + i] = x->d + (int64_t)i * x->ld + SQ_LP + tt + shift;
      }
      pack(sw->pool, sw->rowp, K, nn, npad, sw->zb);
      hm_bmat B = {npad, K, sw->zb};
      float *yt = y + (tt - t0);
      hm_bgemm_n(sw->pool, &B, c->wb, c->c_out, K, NULL, yt, ldy, nn);
      post(sw->pool, yt, ldy, nn, c->b, c->c_out, act, a, res ? res + (tt - t0) : NULL, ldres);
    }
    return;
  }
  /* the im2col rows (k shifted views of each input row) as the GEMM's B operand:
   * packed panel by panel inside hm_gemm, never materialized */
  for (int j = 0; j < c->k; j++) {
    int64_t shift = -(int64_t)c->left + (int64_t)j * c->dil;
    for (int i = 0; i < c->c_in; i++) sw->rowp[(int64_t)j * c->c_in + i] = x->d + (int64_t)i * x->ld + SQ_LP + t0 + shift;
  }
  if (c->c_out < SQ_SMALL_OUT) {
    small_conv(sw->pool, c, sw->rowp, K, n, y, ldy);
  } else {
    hm_gemm_b b = hm_gemm_b_kn_rows(sw->rowp, K, n);
    post_task pt = {y, ldy, n, c->b, c->c_out, act, a, res, ldres};
    hm_gemm_epi epi = {post_epi, &pt};
    hm_gemm_ex(sw->pool, c->c_out, c->w, K, &b, NULL, y, ldy, &epi);
    return;
  }
  post(sw->pool, y, ldy, n, c->b, c->c_out, act, a, res, ldres);
}

static void conv_full(cx_sq_work *sw, const cx_conv_cf *c, const sig *x, sig *y, bool act, float a) {
  conv_cols(sw, c, x, sig_row(y, 0), y->ld, 0, x->T, act, a, NULL, 0);
}

/* Residual unit in place on x (tmp: a signal buffer as big as x, z: tile). */
static void resunit(cx_sq_work *sw, const cx_resunit *ru, sig *x, float *tmp, float *z) {
  sig h;
  sig_init(&h, tmp, ru->c1.c_out, x->T);
  sig_zero_pads(x);
  conv_full(sw, &ru->c1, x, &h, true, ru->a1);
  sig_zero_pads(&h);
  int64_t tile = SQ_ZTILE / ru->c2.c_out;
  for (int64_t t0 = 0; t0 < x->T; t0 += tile) {
    int64_t t1 = t0 + tile < x->T ? t0 + tile : x->T;
    /* x += PReLU(conv2(h) + b), the residual add fused into the bias pass */
    conv_cols(sw, &ru->c2, &h, z, t1 - t0, t0, t1, true, ru->a2, sig_row(x, 0) + t0, x->ld);
  }
}

/* The transposed conv's taps summed into the output rows, split over channels. */
typedef struct scatter_task { const cx_convT *c; sig *y; const float *z; int64_t n0, n1, w; } scatter_task;

static void scatter_run(void *arg, int ith, int nth) {
  const scatter_task *t = arg;
  const int s = t->c->s, co = t->c->c_out;
  int64_t o0, o1;
  hm_split(co, ith, nth, 1, &o0, &o1);
  for (int64_t o = o0; o < o1; o++) {
    float *yr = sig_row(t->y, (int)o);
    const float b = t->c->b[o];
    for (int r = 0; r < s; r++) {
      const float *za = t->z + ((int64_t)r * co + o) * t->w + 1;   /* frame n */
      const float *zb = t->z + ((int64_t)(r + s) * co + o) * t->w; /* frame n-1 */
      for (int64_t n = t->n0; n < t->n1; n++) yr[n * s + r] = za[n - t->n0] + zb[n - t->n0] + b;
    }
  }
}

/* Causal ConvTranspose1d (kernel 2s, stride s, last s samples dropped):
 * y[o, n*s + r] = b[o] + sum_i W[i,o,r] x[i,n] + W[i,o,r+s] x[i,n-1]. */
static void conv_transpose(cx_sq_work *sw, const cx_convT *c, const sig *x, sig *y, float *z) {
  const int s = c->s, co = c->c_out, kc = c->k * co;
  int64_t tile = SQ_ZTILE / kc - 1;
  if (sw->amx && c->wb) {
    int64_t lim = (2 * (int64_t)SQ_ZTILE / c->c_in) / 32 * 32 - 1; /* packed operand must fit zb */
    if (lim < tile) tile = lim;
  }
  if (tile < 1) tile = 1;
  sig_zero_pads(x);
  for (int64_t n0 = 0; n0 < x->T; n0 += tile) {
    int64_t n1 = n0 + tile < x->T ? n0 + tile : x->T, w = n1 - n0 + 1;
    /* Z[j*co + o][m] for input frames n0-1 .. n1-1 */
    if (sw->amx && c->wb) {
      int64_t npad = (w + 31) / 32 * 32;
      for (int i = 0; i < c->c_in; i++) sw->rowp[i] = x->d + (int64_t)i * x->ld + SQ_LP + n0 - 1;
      pack(sw->pool, sw->rowp, c->c_in, w, npad, sw->zb);
      hm_bmat B = {npad, c->c_in, sw->zb};
      hm_bgemm_n(sw->pool, &B, c->wb, kc, c->c_in, NULL, z, w, w);
    } else {
      for (int i = 0; i < c->c_in; i++) sw->rowp[i] = x->d + (int64_t)i * x->ld + SQ_LP + n0 - 1;
      hm_gemm_b b = hm_gemm_b_kn_rows(sw->rowp, c->c_in, w);
      hm_gemm(sw->pool, kc, c->w, c->c_in, &b, NULL, z, w);
    }
    scatter_task st = {c, y, z, n0, n1, w};
    if ((int64_t)co * (n1 - n0) * s < 65536) scatter_run(&st, 0, 1);
    else hm_pool_run(sw->pool, scatter_run, &st);
  }
}

static int64_t sq_max_elems(const hm_codec_model *m, int64_t Tc) {
  const cx_config *c = &m->cfg;
  int64_t best = (int64_t)c->latent_hidden_dim * (Tc + SQ_LP + SQ_RP);
  int64_t rate = 1;
  int ch = c->init_channel << c->n_up;
  if ((int64_t)ch * (Tc + SQ_LP + SQ_RP) > best) best = (int64_t)ch * (Tc + SQ_LP + SQ_RP);
  for (int i = 0; i < c->n_up; i++) {
    rate *= c->up_factors[i];
    int64_t e = (int64_t)(c->init_channel << (c->n_up - i - 1)) * (Tc * rate + SQ_LP + SQ_RP);
    if (e > best) best = e;
  }
  if (m->sq.has_post) {
    int64_t e = (int64_t)c->init_channel * (Tc * rate * c->num_samples + SQ_LP + SQ_RP);
    if (e > best) best = e;
  }
  return best;
}

hm_status cx_sq_work_create(const hm_codec_model *m, int T, int chunk_frames, cx_sq_work **out) {
  *out = NULL;
  cx_sq_work *sw = calloc(1, sizeof *sw);
  if (!sw) return hm_error(HM_ERR_NOMEM, "codec: out of memory");
  sw->T = T;
  sw->chunk = chunk_frames <= 0 || chunk_frames > T ? T : chunk_frames;
  sw->ctx = m->sq.rf_frames;
  int64_t Tc = sw->chunk + (sw->chunk < T ? sw->ctx : 0);
  if (Tc > T) Tc = T;
  sw->cap = sq_max_elems(m, Tc);
  sw->p = hm_malloc_aligned((size_t)sw->cap * sizeof(float));
  sw->q = hm_malloc_aligned((size_t)sw->cap * sizeof(float));
  sw->z = hm_malloc_aligned((size_t)SQ_ZTILE * sizeof(float) + 256);
  sw->amx = m->amx;
  {
    int64_t kmax = 0;
    const cx_sq *sq = &m->sq;
    kmax = (int64_t)sq->in.k * sq->in.c_in;
    for (int i = 0; i < m->cfg.n_up; i++) {
      if (sq->blocks[i].up.c_in > kmax) kmax = sq->blocks[i].up.c_in;
      int64_t kr = (int64_t)sq->blocks[i].ru[0].c1.k * sq->blocks[i].ru[0].c1.c_in;
      if (kr > kmax) kmax = kr;
    }
    if ((int64_t)sq->post.k * sq->post.c_in > kmax) kmax = (int64_t)sq->post.k * sq->post.c_in;
    if ((int64_t)sq->out.k * sq->out.c_in > kmax) kmax = (int64_t)sq->out.k * sq->out.c_in;
    sw->rowp = malloc((size_t)kmax * sizeof *sw->rowp);
    if (sw->amx) sw->zb = hm_malloc_aligned((size_t)SQ_ZTILE * sizeof(float) + 4096);
    if (!sw->rowp || (sw->amx && !sw->zb)) {
      cx_sq_work_free(sw);
      return hm_error(HM_ERR_NOMEM, "codec: out of memory for the waveform decoder");
    }
  }
  if (!sw->p || !sw->q || !sw->z) {
    const long long cap = (long long)sw->cap; /* read before sw is freed */
    cx_sq_work_free(sw);
    return hm_error(HM_ERR_NOMEM, "codec: out of memory for the waveform decoder (%lld floats x 2)", cap);
  }
  *out = sw;
  return HM_OK;
}

void cx_sq_work_free(cx_sq_work *sw) {
  if (!sw) return;
  hm_free_aligned(sw->p);
  hm_free_aligned(sw->q);
  hm_free_aligned(sw->z);
  hm_free_aligned(sw->zb);
  free(sw->rowp);
  free(sw);
}

void cx_sq_flip_reach(const hm_codec_model *m, int64_t f, int64_t *s0, int64_t *s1) {
  const cx_sq *sq = &m->sq;
  *s0 = (f - sq->in.right) * sq->hop;
  *s1 = (f + sq->rf_frames + 1) * sq->hop;
}

/* torch.round(9 * x) / 9, round half to even. */
static inline float round9(float x) { return nearbyintf(9.0f * x) / 9.0f; }

void cx_sq_decode(const hm_codec_model *m, hm_pool *pool, cx_sq_work *sw, const float *latent, int64_t ld,
                  float *out) {
  sw->pool = pool;
  const cx_config *c = &m->cfg;
  const cx_sq *sq = &m->sq;
  const int T = sw->T, L = c->latent_hidden_dim, look = sq->in.right;
  for (int a = 0; a < T; a += sw->chunk) {
    int b = a + sw->chunk < T ? a + sw->chunk : T;
    int a0 = a - sw->ctx > 0 ? a - sw->ctx : 0;
    int64_t Tx = b - a0;
    /* quantized latent frames [a0, b) plus look-ahead frames (real data or zeros) */
    sig x, y;
    sig_init(&x, sw->p, L, Tx);
    sig_zero_pads(&x);
    for (int ch = 0; ch < L; ch++) {
      float *r = sig_row(&x, ch);
      const float *src = latent + (int64_t)ch * ld;
      for (int64_t t = 0; t < Tx + look && a0 + t < T; t++) r[t] = round9(src[a0 + t]);
    }
    sig_init(&y, sw->q, sq->in.c_out, Tx);
    conv_full(sw, &sq->in, &x, &y, false, 0.0f);
    sig *cur = &y;
    float *other = sw->p;
    for (int i = 0; i < c->n_up; i++) {
      const cx_decblock *bl = &sq->blocks[i];
      sig nx;
      sig_init(&nx, other, bl->up.c_out, cur->T * bl->up.s);
      conv_transpose(sw, &bl->up, cur, &nx, sw->z);
      float *freed = cur->d;
      x = nx;
      cur = &x;
      for (int r = 0; r < CX_RES_UNITS; r++) resunit(sw, &bl->ru[r], cur, freed, sw->z);
      y = x;
      cur = &y;
      other = freed;
    }
    if (sq->has_post) {
      sig rep;
      int ns = c->num_samples;
      sig_init(&rep, other, cur->C, cur->T * ns);
      for (int ch = 0; ch < cur->C; ch++) {
        const float *s = sig_row(cur, ch);
        float *d = sig_row(&rep, ch);
        for (int64_t t = 0; t < cur->T; t++)
          for (int k = 0; k < ns; k++) d[t * ns + k] = s[t];
      }
      sig_zero_pads(&rep);
      sig po;
      sig_init(&po, cur->d, sq->post.c_out, rep.T);
      conv_full(sw, &sq->post, &rep, &po, true, sq->post_a);
      y = po;
      cur = &y;
      other = rep.d;
    }
    sig_zero_pads(cur);
    /* last conv (one output channel) straight into the output */
    int64_t skip = (int64_t)(a - a0) * sq->hop, n = (int64_t)(b - a) * sq->hop;
    float *o = other; /* 1 x cur->T row */
    conv_cols(sw, &sq->out, cur, o, cur->T, 0, cur->T, false, 0.0f, NULL, 0);
    memcpy(out + (int64_t)a * sq->hop, o + skip, (size_t)n * sizeof(float));
  }
}
