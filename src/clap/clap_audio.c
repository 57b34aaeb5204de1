/* MuQ-MuLan audio tower: clips, mel front-end, Conv2dSubsampling, the
 * Wav2Vec2-Conformer, the MuLan Transformer (shared with the text tower) and
 * the latent head. Every product goes through hm_linear / hm_attention /
 * hm_conv1d (src/tensor), the STFT through the transcriber's FFTW context. */
#include "clap/clap.h"
#include "transcriptor/whisper.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- mel ---- */
static double htk_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double htk_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

hm_status hm_clap_mel_filters(int sample_rate_hz, int n_fft, int n_mels, float *out) {
  if (sample_rate_hz <= 0 || n_fft < 4 || n_mels < 1)
    return hm_error(HM_ERR_INVALID_ARG, "mel filters: bad sample rate %d / n_fft %d / n_mels %d", sample_rate_hz,
                    n_fft, n_mels);
  const int nb = n_fft / 2 + 1;
  double *f_pts = malloc(sizeof(double) * (size_t)(n_mels + 2));
  if (!f_pts) return hm_error(HM_ERR_NOMEM, "out of memory");
  /* torchaudio computes these in float32: linspace in mel, back to Hz */
  const double f_max = sample_rate_hz / 2;
  const float m_min = (float)htk_mel(0.0), m_max = (float)htk_mel(f_max);
  for (int i = 0; i < n_mels + 2; i++) {
    float mp = m_min + (m_max - m_min) * (float)i / (float)(n_mels + 1);
    f_pts[i] = (float)htk_hz(mp);
  }
  for (int j = 0; j < nb; j++) {
    float fj = (float)(f_max * j / (nb - 1));
    for (int i = 0; i < n_mels; i++) {
      float down = (fj - (float)f_pts[i]) / (float)(f_pts[i + 1] - f_pts[i]);
      float up = ((float)f_pts[i + 2] - fj) / (float)(f_pts[i + 2] - f_pts[i + 1]);
      float w = down < up ? down : up;
      out[(size_t)i * nb + j] = w > 0 ? w : 0.0f;
    }
  }
  free(f_pts);
  return HM_OK;
}

hm_status hm_clap_clips(const hm_clap_model *m, const float *pcm, int64_t n, float **out, int *n_clips,
                        int64_t *clip_len) {
  *out = NULL;
  const int64_t delta = (int64_t)llround(m->cfg.sample_rate_hz * m->cfg.clip_secs);
  if (n < m->cfg.sample_rate_hz)
    return hm_error(HM_ERR_INVALID_ARG, "audio of %lld samples (%.2f s) is shorter than 1 s", (long long)n,
                    (double)n / m->cfg.sample_rate_hz);
  float peak = 0;
  for (int64_t i = 0; i < n; i++) {
    float a = fabsf(pcm[i]);
    if (!isfinite(a))
      return hm_error(HM_ERR_INVALID_ARG, "audio holds NaN or infinite samples (the first at %lld)", (long long)i);
    if (a > peak) peak = a;
  }
  if (peak == 0) return hm_error(HM_ERR_INVALID_ARG, "audio is silent (every sample is 0)");
  int64_t k = n / delta, r = n - k * delta;
  int nc = (int)(k + (r > 0));
  /* the tail wraps to the start: cat(wav[k*delta:], wav[0:delta-r]) (the slice clamps at n) */
  int64_t len = k > 0 ? delta : n + (delta - n < n ? delta - n : n);
  float *c = malloc(sizeof(float) * (size_t)len * (size_t)nc);
  if (!c) return hm_error(HM_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < k; i++) memcpy(c + i * len, pcm + i * delta, sizeof(float) * (size_t)delta);
  if (r > 0) {
    float *t = c + k * len;
    memcpy(t, pcm + k * delta, sizeof(float) * (size_t)r);
    memcpy(t + r, pcm, sizeof(float) * (size_t)(len - r));
  }
  *out = c;
  *n_clips = nc;
  *clip_len = len;
  return HM_OK;
}

hm_status hm_clap_mel(const hm_clap_model *m, const float *clip, int64_t n, float *mel_db, float *norm) {
  const hm_clap_config *c = &m->cfg;
  hm_mel_ctx *mc = NULL;
  HM_TRY(hm_mel_ctx_create(c->sample_rate_hz, c->n_fft, c->hop, c->n_mels, n, &mc));
  hm_status st = hm_mel_ctx_set_filters(mc, m->mel_filters);
  if (st == HM_OK) st = hm_mel_power(mc, clip, n, mel_db);
  int64_t total = (int64_t)c->n_mels * hm_mel_ctx_frames(mc);
  hm_mel_ctx_free(mc);
  if (st != HM_OK) return st;
  const float mean = (float)c->stat_mean, std = (float)c->stat_std;
  for (int64_t i = 0; i < total; i++) {
    float v = mel_db[i] > 1e-10f ? mel_db[i] : 1e-10f;
    mel_db[i] = 10.0f * log10f(v);
    if (norm) norm[i] = (mel_db[i] - mean) / std;
  }
  return HM_OK;
}

/* ---- Conv2dSubsampling (activations channels-last: [F][T][C]) ---- */
static int64_t conv_out(int64_t n, int stride) { return (n - 1) / stride + 1; } /* k 3, pad 1 */

typedef struct im2col_task {
  const hm_clap_conv2d *cv;
  const float *x;
  int64_t F, T, To, p0, np;
  float *col;
} im2col_task;

static void im2col_fn(void *arg, int ith, int nth) {
  const im2col_task *a = arg;
  const int cin = a->cv->c_in, sf = a->cv->stride_f, st = a->cv->stride_t;
  const int64_t K = (int64_t)cin * 9;
  int64_t b, e;
  hm_split(a->np, ith, nth, 1, &b, &e);
  for (int64_t r = b; r < e; r++) {
    int64_t p = a->p0 + r, fo = p / a->To, to = p % a->To;
    float *row = a->col + r * K;
    for (int kf = 0; kf < 3; kf++) {
      int64_t fi = fo * sf - 1 + kf;
      for (int kt = 0; kt < 3; kt++) {
        int64_t ti = to * st - 1 + kt;
        bool in = fi >= 0 && fi < a->F && ti >= 0 && ti < a->T;
        const float *src = in ? a->x + (fi * a->T + ti) * cin : NULL;
        for (int c = 0; c < cin; c++) row[c * 9 + kf * 3 + kt] = in ? src[c] : 0.0f;
      }
    }
  }
}

/* y [Fo][To][c_out] = bn(conv(x)); relu when asked. */
static hm_status conv2d_run(hm_pool *pool, const hm_clap_conv2d *cv, const float *x, int64_t F, int64_t T, bool relu,
                            float *y) {
  const int64_t Fo = conv_out(F, cv->stride_f), To = conv_out(T, cv->stride_t), P = Fo * To;
  const int64_t K = (int64_t)cv->c_in * 9;
  int64_t chunk = (int64_t)(4 << 20) / K;
  if (chunk < 16) chunk = 16;
  if (chunk > P) chunk = P;
  float *col = hm_malloc_aligned(sizeof(float) * (size_t)(chunk * K));
  if (!col) return hm_error(HM_ERR_NOMEM, "out of memory (conv2d im2col)");
  for (int64_t p0 = 0; p0 < P; p0 += chunk) {
    int64_t np = P - p0 < chunk ? P - p0 : chunk;
    im2col_task t = {cv, x, F, T, To, p0, np, col};
    hm_pool_run(pool, im2col_fn, &t);
    hm_linear(pool, &cv->w, NULL, np, col, y + p0 * cv->c_out);
  }
  hm_free_aligned(col);
  const int co = cv->c_out;
  for (int64_t p = 0; p < P; p++) {
    float *r = y + p * co;
    for (int c = 0; c < co; c++) {
      float v = r[c] * cv->scale[c] + cv->shift[c];
      r[c] = relu && v < 0 ? 0.0f : v;
    }
  }
  return HM_OK;
}

/* Res2dModule: relu(bn2(conv2(relu(bn1(conv1(x))))) + bn3(conv3(x))). */
static hm_status res2d(hm_pool *pool, const hm_clap_res2d *r, const float *x, int64_t F, int64_t T, float *y,
                       float *tmp) {
  const int64_t Fo = conv_out(F, r->c1.stride_f), To = conv_out(T, r->c1.stride_t);
  const int64_t n = Fo * To * r->c1.c_out;
  HM_TRY(conv2d_run(pool, &r->c1, x, F, T, true, tmp));
  HM_TRY(conv2d_run(pool, &r->c2, tmp, Fo, To, false, y));
  HM_TRY(conv2d_run(pool, &r->c3, x, F, T, false, tmp));
  for (int64_t i = 0; i < n; i++) {
    float v = y[i] + tmp[i];
    y[i] = v > 0 ? v : 0.0f;
  }
  return HM_OK;
}

hm_status hm_clap_conv(const hm_clap_model *m, hm_pool *pool, const float *mel, int64_t n_frames, float *out) {
  const hm_clap_config *c = &m->cfg;
  const int64_t F = c->n_mels, T = n_frames, C = c->conv_dim;
  const int64_t F1 = conv_out(F, 2), T1 = conv_out(T, 2), F2 = conv_out(F1, 2), T2 = conv_out(T1, 2);
  float *x = hm_malloc_aligned(sizeof(float) * (size_t)(F * T));
  float *a = hm_malloc_aligned(sizeof(float) * (size_t)(F1 * T1 * C));
  float *b = hm_malloc_aligned(sizeof(float) * (size_t)(F1 * T1 * C));
  float *d = hm_malloc_aligned(sizeof(float) * (size_t)(F2 * T2 * C));
  hm_status st = x && a && b && d ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory (conv subsampling)");
  if (st == HM_OK) {
    memcpy(x, mel, sizeof(float) * (size_t)(F * T)); /* [F][T] is channels-last with one channel */
    st = res2d(pool, &m->conv[0], x, F, T, a, b);
  }
  if (st == HM_OK) st = res2d(pool, &m->conv[1], a, F1, T1, d, b);
  if (st == HM_OK) {
    /* "b c f t -> b t (c f)" then the linear layer */
    float *flat = b; /* T2 * C * F2 <= F1 * T1 * C */
    for (int64_t t = 0; t < T2; t++)
      for (int64_t ch = 0; ch < C; ch++)
        for (int64_t f = 0; f < F2; f++) flat[(t * C + ch) * F2 + f] = d[(f * T2 + t) * C + ch];
    hm_linear(pool, &m->conv_lin, m->conv_lin_b, T2, flat, out);
  }
  hm_free_aligned(x);
  hm_free_aligned(a);
  hm_free_aligned(b);
  hm_free_aligned(d);
  return st;
}

/* ---- Wav2Vec2-Conformer ---- */
static void ln_rows(float *y, const float *x, const float *w, const float *b, int64_t rows, int64_t d, float eps) {
  for (int64_t r = 0; r < rows; r++) hm_layernorm(y + r * d, x + r * d, w, b, d, eps);
}

/* x += 0.5 * W2 swish(W1 LN(x)) */
static void conformer_ffn(hm_pool *pool, float *x, int64_t T, int D, int F, const float *lw, const float *lb,
                          const hm_mat *w1, const float *b1, const hm_mat *w2, const float *b2, float *h, float *f,
                          float *o) {
  ln_rows(h, x, lw, lb, T, D, 1e-5f);
  hm_linear(pool, w1, b1, T, h, f);
  hm_silu(f, T * (int64_t)F);
  hm_linear(pool, w2, b2, T, f, o);
  for (int64_t i = 0; i < T * (int64_t)D; i++) x[i] = o[i] * 0.5f + x[i];
}

hm_status hm_clap_conformer(const hm_clap_model *m, hm_pool *pool, const float *x_in, int64_t T, float *hidden) {
  const hm_clap_config *c = &m->cfg;
  const int D = c->enc_dim, H = c->enc_heads, hd = D / H, F = c->enc_ffn, K = c->dw_kernel;
  const int64_t TD = T * D;
  size_t big = (size_t)T * (size_t)(F > 2 * D ? F : 2 * D);
  float *h = hm_malloc_aligned(sizeof(float) * (size_t)TD), *f = hm_malloc_aligned(sizeof(float) * big);
  float *o = hm_malloc_aligned(sizeof(float) * (size_t)TD), *q = hm_malloc_aligned(sizeof(float) * (size_t)TD);
  float *k = hm_malloc_aligned(sizeof(float) * (size_t)TD), *v = hm_malloc_aligned(sizeof(float) * (size_t)TD);
  float *cs = malloc(sizeof(float) * (size_t)T * (size_t)hd);
  hm_status st = h && f && o && q && k && v && cs ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory (conformer)");
  if (st != HM_OK) goto done;
  /* rotary tables: cos/sin of t * inv_freq (float32 product, as torch) */
  for (int64_t t = 0; t < T; t++)
    for (int i = 0; i < hd / 2; i++) {
      float ang = (float)t * m->rope_inv_freq[i];
      cs[t * hd + i] = (float)cos((double)ang);
      cs[t * hd + hd / 2 + i] = (float)sin((double)ang);
    }
  memcpy(hidden, x_in, sizeof(float) * (size_t)TD);
  for (int l = 0; l < c->enc_depth; l++) {
    const hm_clap_conformer_layer *ly = &m->enc[l];
    float *x = hidden + (int64_t)(l + 1) * TD;
    memcpy(x, hidden + (int64_t)l * TD, sizeof(float) * (size_t)TD);
    /* 1. half-step feed-forward */
    conformer_ffn(pool, x, T, D, F, ly->ffn1_ln_w, ly->ffn1_ln_b, &ly->ffn1_w1, ly->ffn1_b1, &ly->ffn1_w2,
                  ly->ffn1_b2, h, f, o);
    /* 2. self-attention: rotary on the normed input of q and k (not of v) */
    ln_rows(h, x, ly->attn_ln_w, ly->attn_ln_b, T, D, 1e-5f);
    hm_linear(pool, &ly->v, ly->vb, T, h, v);
    for (int64_t t = 0; t < T; t++) hm_rope(h + t * D, H, hd, cs + t * hd, cs + t * hd + hd / 2, false);
    hm_linear(pool, &ly->q, ly->qb, T, h, q);
    hm_linear(pool, &ly->k, ly->kb, T, h, k);
    hm_attention(pool, q, T, D, k, v, T, D, H, H, hd, 1.0f / sqrtf((float)hd), -1, h, D);
    hm_linear(pool, &ly->o, ly->ob, T, h, o);
    hm_add(x, x, o, TD);
    /* 3. convolution module */
    ln_rows(h, x, ly->conv_ln_w, ly->conv_ln_b, T, D, 1e-5f);
    hm_linear(pool, &ly->pw1, NULL, T, h, f); /* [T, 2D] */
    for (int64_t t = 0; t < T; t++) /* GLU over channels, written channel-first [D][T] */
      for (int ch = 0; ch < D; ch++) {
        float a = f[t * 2 * D + ch], g = f[t * 2 * D + D + ch];
        q[(int64_t)ch * T + t] = a * (1.0f / (1.0f + expf(-g)));
      }
    hm_conv1d(pool, q, D, T, ly->dw, NULL, D, K, 1, 1, (K - 1) / 2, (K - 1) / 2, D, k);
    for (int64_t t = 0; t < T; t++)
      for (int ch = 0; ch < D; ch++) h[t * D + ch] = k[(int64_t)ch * T + t] * ly->bn_scale[ch] + ly->bn_shift[ch];
    hm_silu(h, TD);
    hm_linear(pool, &ly->pw2, NULL, T, h, o);
    hm_add(x, x, o, TD);
    /* 4. half-step feed-forward, final LayerNorm */
    conformer_ffn(pool, x, T, D, F, ly->ffn2_ln_w, ly->ffn2_ln_b, &ly->ffn2_w1, ly->ffn2_b1, &ly->ffn2_w2,
                  ly->ffn2_b2, h, f, o);
    ln_rows(x, x, ly->final_ln_w, ly->final_ln_b, T, D, 1e-5f);
  }
  /* hidden_states[depth] is the encoder's final LayerNorm of the last layer's output */
  float *last = hidden + (int64_t)c->enc_depth * TD;
  ln_rows(last, last, m->enc_ln_w, m->enc_ln_b, T, D, c->enc_ln_eps);
done:
  hm_free_aligned(h);
  hm_free_aligned(f);
  hm_free_aligned(o);
  hm_free_aligned(q);
  hm_free_aligned(k);
  hm_free_aligned(v);
  free(cs);
  return st;
}

/* ---- MuLan Transformer ---- */
static void l2norm(float *x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  double nrm = sqrt(s);
  float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
  for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

hm_status hm_clap_transformer(const hm_clap_tf *tf, hm_pool *pool, float *x, int64_t T) {
  const int D = tf->dim, H = tf->heads, dh = tf->dim_head, inner = H * dh, hid = tf->ff_hidden;
  size_t wide = (size_t)T * (size_t)(2 * hid > 2 * inner ? 2 * hid : 2 * inner);
  float *h = hm_malloc_aligned(sizeof(float) * (size_t)T * D), *q = hm_malloc_aligned(sizeof(float) * (size_t)T * inner);
  float *kv = hm_malloc_aligned(sizeof(float) * wide), *a = hm_malloc_aligned(sizeof(float) * (size_t)T * inner);
  float *g = hm_malloc_aligned(sizeof(float) * (size_t)T * hid), *o = hm_malloc_aligned(sizeof(float) * (size_t)T * D);
  hm_status st = h && q && kv && a && g && o ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory (MuLan transformer)");
  for (int l = 0; st == HM_OK && l < tf->depth; l++) {
    const hm_clap_tf_layer *ly = &tf->layers[l];
    ln_rows(h, x, ly->attn_gamma, NULL, T, D, 1e-5f);
    hm_linear(pool, &ly->to_q, NULL, T, h, q);
    hm_linear(pool, &ly->to_kv, NULL, T, h, kv);
    for (int64_t t = 0; t < T; t++)
      for (int hh = 0; hh < H; hh++) {
        float *qp = q + t * inner + hh * dh, *kp = kv + t * 2 * inner + hh * dh;
        l2norm(qp, dh);
        l2norm(kp, dh);
        for (int i = 0; i < dh; i++) {
          qp[i] *= ly->q_scale[i];
          kp[i] *= ly->k_scale[i];
        }
      }
    hm_attention(pool, q, T, inner, kv, kv + inner, T, 2 * inner, H, H, dh, 8.0f, -1, a, inner);
    hm_linear(pool, &ly->to_out, NULL, T, a, o);
    hm_add(x, o, x, T * (int64_t)D);
    ln_rows(h, x, ly->ff_gamma, NULL, T, D, 1e-5f);
    hm_linear(pool, &ly->ff_w1, NULL, T, h, kv); /* [T, 2 hid]: x half, gate half */
    for (int64_t t = 0; t < T; t++) {
      float *u = kv + t * 2 * hid;
      hm_gelu(u + hid, hid);
      for (int i = 0; i < hid; i++) g[t * hid + i] = u[hid + i] * u[i];
    }
    hm_linear(pool, &ly->ff_w2, NULL, T, g, o);
    hm_add(x, o, x, T * (int64_t)D);
  }
  hm_free_aligned(h);
  hm_free_aligned(q);
  hm_free_aligned(kv);
  hm_free_aligned(a);
  hm_free_aligned(g);
  hm_free_aligned(o);
  return st;
}

hm_status hm_clap_pool_latent(const hm_mat *W, const float *b, hm_pool *pool, const float *x, int64_t T, int dim,
                              float *pooled, float *out) {
  float *mean = pooled ? pooled : malloc(sizeof(float) * (size_t)(dim > 0 ? dim : 1));
  if (!mean) return hm_error(HM_ERR_NOMEM, "clap: out of memory for the pooled vector");
  for (int i = 0; i < dim; i++) {
    double s = 0;
    for (int64_t t = 0; t < T; t++) s += x[t * dim + i];
    mean[i] = (float)(s / (double)T);
  }
  hm_linear(pool, W, b, 1, mean, out);
  l2norm(out, W->rows);
  if (mean != pooled) free(mean);
  return HM_OK;
}

hm_status hm_clap_audio_head(const hm_clap_model *m, hm_pool *pool, const float *sel, int64_t T, float *out) {
  hm_linear(pool, &m->a_proj, m->a_proj_b, T, sel, out);
  return hm_clap_transformer(&m->a_tf, pool, out, T);
}

hm_status hm_clap_clip_latent(const hm_clap_model *m, hm_pool *pool, const float *clip, int64_t n, float *out) {
  return hm_clap_clip_latent_timed(m, pool, clip, n, out, NULL);
}

hm_status hm_clap_clip_latent_timed(const hm_clap_model *m, hm_pool *pool, const float *clip, int64_t n, float *out,
                                    double stage_s[HM_CLAP_N_STAGES]) {
  const hm_clap_config *c = &m->cfg;
  const int64_t nf = n / c->hop, T = conv_out(conv_out(nf, 2), 2);
  const int nh = c->enc_depth + 1;
  const int sel = c->use_layer_idx < 0 ? nh + c->use_layer_idx : c->use_layer_idx;
  float *db = hm_malloc_aligned(sizeof(float) * (size_t)(nf * c->n_mels));
  float *norm = hm_malloc_aligned(sizeof(float) * (size_t)(nf * c->n_mels));
  float *x = hm_malloc_aligned(sizeof(float) * (size_t)(T * c->enc_dim));
  float *hid = hm_malloc_aligned(sizeof(float) * (size_t)(T * c->enc_dim) * (size_t)nh);
  float *y = hm_malloc_aligned(sizeof(float) * (size_t)(T * c->a_dim));
  hm_status st = db && norm && x && hid && y ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory (audio tower)");
  int64_t t[HM_CLAP_N_STAGES + 1];
  t[0] = hm_time_us();
  if (st == HM_OK) st = hm_clap_mel(m, clip, n, db, norm);
  t[1] = hm_time_us();
  if (st == HM_OK) st = hm_clap_conv(m, pool, norm, nf, x);
  t[2] = hm_time_us();
  if (st == HM_OK) st = hm_clap_conformer(m, pool, x, T, hid);
  t[3] = hm_time_us();
  if (st == HM_OK) st = hm_clap_audio_head(m, pool, hid + (int64_t)sel * T * c->enc_dim, T, y);
  if (st == HM_OK) st = hm_clap_pool_latent(&m->a_lat, m->a_lat_b, pool, y, T, c->a_dim, NULL, out);
  t[4] = hm_time_us();
  for (int i = 0; stage_s && i < HM_CLAP_N_STAGES; i++) stage_s[i] = (double)(t[i + 1] - t[i]) * 1e-6;
  hm_free_aligned(db);
  hm_free_aligned(norm);
  hm_free_aligned(x);
  hm_free_aligned(hid);
  hm_free_aligned(y);
  return st;
}

/* Floating-point operations of one clip's audio embedding, per stage (a multiply-add = 2): the convolutions,
 * products and attention; element-wise work (norms, activations, rotary) is left out. The mel stage
 * counts its real FFTs as 2.5 N log2 N each plus the mel product. */
void hm_clap_clip_flops(const hm_clap_model *m, int64_t n, double out[HM_CLAP_N_STAGES]) {
  const hm_clap_config *c = &m->cfg;
  const double nf = (double)(n / c->hop), F1 = (double)conv_out(c->n_mels, 2), T1 = (double)conv_out(n / c->hop, 2);
  const double F2 = (double)conv_out(conv_out(c->n_mels, 2), 2), T = (double)conv_out(conv_out(n / c->hop, 2), 2);
  const double C = c->conv_dim, D = c->enc_dim, Fn = c->enc_ffn, nb = c->n_fft / 2 + 1;
  out[0] = (nf + 1) * 2.5 * c->n_fft * log2((double)c->n_fft) + 2.0 * c->n_mels * nb * nf;
  out[1] = 2.0 * 9 * (2 * C + C * C) * F1 * T1 + 2.0 * 9 * 3 * C * C * F2 * T + 2.0 * T * C * F2 * D;
  out[2] = c->enc_depth * (2.0 * T * (4 * D * Fn) + 2.0 * T * 4 * D * D + 4.0 * T * T * D + 2.0 * T * 3 * D * D +
                           2.0 * T * D * c->dw_kernel);
  const hm_clap_tf *tf = &m->a_tf;
  const double dm = tf->dim, inner = (double)tf->heads * tf->dim_head, hid = tf->ff_hidden;
  out[3] = 2.0 * T * c->a_in * c->a_dim +
           tf->depth * (2.0 * T * (4 * dm * inner + 3 * dm * hid) + 4.0 * T * T * inner) + 2.0 * c->a_dim * c->dim_latent;
}
