/* HeartCodec.detokenize (heartcodec/modeling_heartcodec.py), window by
 * window: 29.76 s windows of 372 codes, hop 320, 104 in-context latent frames
 * handed from one window to the next, linear cross-fade of 52 codes' worth of
 * samples. Working memory is one window whatever the song length; only the
 * output waveform grows with it. */
#include "codec/codec_internal.h"
#include "codec/codec_stream.h"

#include <math.h>
#include <stdlib.h>

#define CX_DURATION 29.76
#define CX_WIN_FRAMES ((int)(CX_DURATION * 12.5)) /* codes per window (372): derived here only */
#define CX_SQ_CHUNK 186 /* latent frames per waveform-decoder chunk (4 per window) */

hm_codec_params hm_codec_default_params(void) {
  return (hm_codec_params){.steps = 10, .guidance = 1.25f}; /* seed 0, all cores, F32, seeded noise */
}

void cx_make_plan(const hm_codec_model *m, int64_t n_frames, cx_plan *p) {
  memset(p, 0, sizeof *p);
  const int sr = m->cfg.sample_rate;
  p->n_frames = n_frames;
  p->latent_frames = (int)(CX_DURATION * 25);          /* 744 */
  p->win_frames = CX_WIN_FRAMES;                       /* 372 */
  p->hop_frames = p->win_frames / 93 * 80;             /* 320 */
  p->ovlp_frames = p->win_frames - p->hop_frames;      /* 52 */
  p->incontext_frames = p->ovlp_frames * 2;            /* 104 latent frames */
  p->target_samples = (int64_t)((double)n_frames / 12.5 * sr);
  int64_t len = n_frames < p->win_frames ? p->win_frames : n_frames;
  /* upstream tests (len - ovlp_frames) % hop with ovlp_frames = 104 (latent
   * units) but pads to a multiple of hop plus 52 (code units): kept as is */
  if ((len - p->incontext_frames) % p->hop_frames > 0)
    len = (int64_t)ceil((double)(len - p->ovlp_frames) / (double)p->hop_frames) * p->hop_frames + p->ovlp_frames;
  p->padded_len = len;
  /* windows start at range(0, len - hop + 1, hop) */
  p->n_windows = 0;
  for (int64_t s = 0; s < len - p->hop_frames + 1; s += p->hop_frames) p->n_windows++;
  p->win_samples = (int64_t)(CX_DURATION * sr);
  p->hop_samples = p->win_samples / 93 * 80;
  p->ovlp_samples = p->win_samples - p->hop_samples;
  int64_t total = p->n_windows > 0 ? p->win_samples + (p->n_windows - 1) * p->hop_samples : 0;
  p->out_samples = total < p->target_samples ? total : p->target_samples;
}

int32_t cx_padded_code(const int32_t *codes, int64_t n_frames, int q, int64_t i) {
  const int64_t win = CX_WIN_FRAMES;
  int64_t l1 = n_frames < win ? win : n_frames;
  int64_t j = i % l1;
  if (n_frames < win) j %= n_frames;
  return codes[q * n_frames + j];
}

int64_t hm_codec_output_samples(const hm_codec_model *m, int64_t n_frames) {
  if (!m || n_frames <= 0) return 0;
  cx_plan p;
  cx_make_plan(m, n_frames, &p);
  return p.out_samples;
}

/* ---- noise ---- */

typedef struct noise_src {
  hm_codec_noise_fn fn;
  void *ud;
  hm_rng rng;
} noise_src;

static hm_status draw(noise_src *ns, float *dst, int64_t n) {
  if (ns->fn) {
    hm_status st = ns->fn(ns->ud, dst, n);
    if (st) return hm_error_context(st, "codec noise source");
    return HM_OK;
  }
  for (int64_t i = 0; i < n; i++) dst[i] = hm_rng_normal(&ns->rng);
  return HM_OK;
}

/* ---- decode ---- */

typedef struct prog {
  hm_progress_callback fn;
  void *ud;
  int64_t done, total;
} prog;

static void prog_step(void *ctx) {
  prog *p = ctx;
  p->done++;
  if (p->fn) p->fn(p->ud, p->done, p->total);
}

/* ---- incremental decode (codec_stream.h) ----
 * Window k reads codes [320k, 320k + 372). Every code of such a window that
 * lies below the song's length is the code itself (the periodic padding only
 * reaches past the end), so a window whose 372 codes are all known can be
 * decoded before the song's length is: its latents, noise draws and samples
 * are the ones the whole-song decode computes. After window k the samples
 * before (k + 1) * hop are final (window k + 1 cross-fades only from there). */

struct cx_stream {
  const hm_codec_model *m;
  hm_codec_params params;
  cx_plan P;          /* constants (window, hop, overlap); sizes from the plan of the final song */
  hm_pool *pool;
  cx_work w;
  cx_sq_work *sw;
  float *lat, *prev, *ic, *mu, *feat, *cur, *chan;
  float *tail;        /* [2][win_samples]: samples [k_last * hop, k_last * hop + win) */
  float *emit;        /* [2][n] contiguous: the samples of the last cx_stream_next */
  int32_t *wc;
  noise_src ns;
  int64_t k;          /* windows decoded */
  int64_t emitted;    /* samples per channel handed out */
  cx_latents_fn on_latents;
  void *latents_ud;
};

void cx_stream_free(cx_stream *s) {
  if (!s) return;
  hm_free_aligned(s->lat); hm_free_aligned(s->prev); hm_free_aligned(s->ic); hm_free_aligned(s->mu);
  hm_free_aligned(s->feat); hm_free_aligned(s->cur); hm_free_aligned(s->chan);
  free(s->tail); free(s->emit); free(s->wc);
  cx_sq_work_free(s->sw);
  cx_work_free(&s->w);
  hm_pool_free(s->pool);
  free(s);
}

static hm_status check_params(const hm_codec_params *params) {
  if (params->steps < 1 || params->steps > 1000)
    return hm_error(HM_ERR_INVALID_ARG, "hm_codec_decode: steps = %d must be in [1, 1000]", params->steps);
  if (!(params->guidance >= 0.0f && params->guidance < 1000.0f))
    return hm_error(HM_ERR_INVALID_ARG, "hm_codec_decode: guidance = %g must be in [0, 1000)", (double)params->guidance);
  return HM_OK;
}

/* The caller's draws, or the seeded stream 1 of params->seed. */
static void noise_init(noise_src *ns, const hm_codec_params *params) {
  ns->fn = params->noise;
  ns->ud = params->noise_user_data;
  hm_rng_seed(&ns->rng, params->seed, 1);
}

hm_status cx_stream_create(const hm_codec_model *m, const hm_codec_params *params, cx_stream **out) {
  if (out) *out = NULL;
  if (!m || !out) return hm_error(HM_ERR_INVALID_ARG, "codec stream: model and out must not be NULL");
  hm_codec_params def = hm_codec_default_params();
  if (!params) params = &def;
  HM_TRY(check_params(params));
  cx_stream *s = calloc(1, sizeof *s);
  if (!s) return hm_error(HM_ERR_NOMEM, "codec: out of memory");
  s->m = m;
  s->params = *params;
  cx_make_plan(m, 1, &s->P);
  const cx_config *c = &m->cfg;
  const int T = s->P.latent_frames, C = c->out_channels, dim = c->dim, W = s->P.win_frames;
  hm_status st = HM_OK;
  s->pool = hm_compute_pool_create(params->n_threads);
  if (!s->pool) { st = hm_error(HM_ERR_NOMEM, "codec: cannot create the thread pool"); goto fail; }
  if ((st = cx_work_init(&s->w, m, params->guidance > 1.0f ? 2 : 1, T))) goto fail;
  if ((st = cx_sq_work_create(m, T, CX_SQ_CHUNK, &s->sw))) goto fail;
  s->lat = hm_malloc_aligned((size_t)T * C * sizeof(float));
  s->prev = hm_malloc_aligned((size_t)T * C * sizeof(float));
  s->ic = hm_calloc_aligned((size_t)T * C * sizeof(float));
  s->mu = hm_malloc_aligned((size_t)T * dim * sizeof(float));
  s->feat = hm_malloc_aligned((size_t)W * dim * 2 * sizeof(float));
  s->cur = hm_malloc_aligned((size_t)2 * s->P.win_samples * sizeof(float));
  s->chan = hm_malloc_aligned((size_t)c->latent_hidden_dim * T * sizeof(float));
  s->tail = malloc((size_t)2 * s->P.win_samples * sizeof(float));
  s->emit = malloc((size_t)2 * s->P.win_samples * sizeof(float));
  s->wc = malloc((size_t)c->num_quantizers * W * sizeof(int32_t));
  if (!s->lat || !s->prev || !s->ic || !s->mu || !s->feat || !s->cur || !s->chan || !s->tail || !s->emit || !s->wc) {
    st = hm_error(HM_ERR_NOMEM, "codec: out of memory for one window's scratch");
    goto fail;
  }
  noise_init(&s->ns, params);
  /* first_latent = randn(1, 744, 256): only its in-context part (none) is used */
  if ((st = draw(&s->ns, s->lat, (int64_t)T * C))) goto fail;
  *out = s;
  return HM_OK;
fail:
  cx_stream_free(s);
  return st;
}

hm_status cx_stream_reset(cx_stream *s, const hm_codec_params *params) {
  hm_codec_params def = hm_codec_default_params();
  if (!params) params = &def;
  HM_TRY(check_params(params));
  if ((params->guidance > 1.0f) != (s->params.guidance > 1.0f) || params->n_threads != s->params.n_threads)
    return hm_error(HM_ERR_INVALID_ARG, "codec stream: reset with another CFG batch or thread count (create a new one)");
  const int T = s->P.latent_frames, C = s->m->cfg.out_channels;
  s->params = *params;
  s->k = 0;
  s->emitted = 0;
  s->on_latents = NULL;
  s->latents_ud = NULL;
  memset(s->ic, 0, (size_t)T * C * sizeof(float)); /* window 0 has no in-context part */
  noise_init(&s->ns, params);
  return draw(&s->ns, s->lat, (int64_t)T * C);
}

bool cx_stream_fits(const cx_stream *s, const hm_codec_model *m, const hm_codec_params *params) {
  return s && s->m == m && params && (params->guidance > 1.0f) == (s->params.guidance > 1.0f) &&
         params->n_threads == s->params.n_threads;
}

void cx_stream_set_latents_hook(cx_stream *s, cx_latents_fn fn, void *ud) {
  s->on_latents = fn;
  s->latents_ud = ud;
}

int64_t cx_stream_windows_done(const cx_stream *s) { return s->k; }

int64_t cx_stream_samples_done(const cx_stream *s) { return s->emitted; }

int64_t cx_stream_windows_for(const cx_stream *s, int64_t n_known, bool final) {
  if (n_known <= 0) return 0;
  if (final) {
    cx_plan P;
    cx_make_plan(s->m, n_known, &P);
    return P.n_windows;
  }
  /* windows whose codes [k * hop, k * hop + win) are all known */
  if (n_known < s->P.win_frames) return 0;
  return (n_known - s->P.win_frames) / s->P.hop_frames + 1;
}

bool cx_stream_ready(const cx_stream *s, int64_t n_known, bool final) {
  if (n_known <= 0) return false;
  if (s->k < cx_stream_windows_for(s, n_known, final)) return true;
  if (!final) return false;
  cx_plan P;
  cx_make_plan(s->m, n_known, &P);
  return s->emitted < P.out_samples; /* the last window's tail */
}

/* Hands out tail samples [s->emitted, limit) as contiguous planar stereo. */
static void stream_emit(cx_stream *s, int64_t tail_start, int64_t limit, const float **planar, int64_t *n, int64_t *first) {
  int64_t cnt = limit > s->emitted ? limit - s->emitted : 0, off = s->emitted - tail_start;
  for (int h = 0; h < 2; h++)
    memcpy(s->emit + (int64_t)h * cnt, s->tail + (int64_t)h * s->P.win_samples + off, (size_t)cnt * sizeof(float));
  *planar = s->emit;
  *n = cnt;
  *first = s->emitted;
  s->emitted += cnt;
}

hm_status cx_stream_next(cx_stream *s, const int32_t *codes, int64_t stride, int64_t n_known, bool final,
                         hm_abort_callback abort_cb, void *user_data, void (*on_step)(void *ctx), void *step_ctx,
                         const float **planar, int64_t *n_samples, int64_t *first_sample) {
  *planar = NULL;
  *n_samples = 0;
  *first_sample = s->emitted;
  if (!cx_stream_ready(s, n_known, final))
    return hm_error(HM_ERR_INTERNAL, "codec stream: window %lld is not ready (%lld codes known)", (long long)s->k,
                    (long long)n_known);
  const hm_codec_model *m = s->m;
  const cx_config *c = &m->cfg;
  const cx_plan *Q = &s->P;
  cx_plan F;
  if (final) cx_make_plan(m, n_known, &F);
  if (final && s->k == F.n_windows) { /* every window decoded: the rest of the last one */
    stream_emit(s, (s->k - 1) * Q->hop_samples, F.out_samples, planar, n_samples, first_sample);
    return HM_OK;
  }
  const int T = Q->latent_frames, C = c->out_channels, dim = c->dim, W = Q->win_frames, L = c->latent_hidden_dim;
  const int64_t k = s->k, s0 = k * Q->hop_frames;
  /* codes of window k; past the song's end (final only) the periodic padding */
  const int64_t l1 = n_known < W ? W : n_known;
  for (int q = 0; q < c->num_quantizers; q++)
    for (int i = 0; i < W; i++) {
      int64_t j = (s0 + i) % l1;
      if (n_known < W) j %= n_known;
      int32_t v = codes[q * stride + j];
      if (v < 0 || v > c->codebook_size) /* == codebook_size: decoded as the last code (cx_codes_check) */
        return hm_error(HM_ERR_INVALID_ARG, "hm_codec_decode: code %d at codebook %d, frame %lld is outside [0, %d)", v,
                        q, (long long)j, c->codebook_size);
      s->wc[q * W + i] = v;
    }
  /* mu: cond_feature_emb(rvq(codes)), nearest x2 in time */
  HM_TRY(cx_rvq(m, s->wc, W, W, s->feat));
  hm_linear(s->pool, &m->cond_emb.w, m->cond_emb.b, W, s->feat, s->feat + (int64_t)W * dim);
  for (int i = 0; i < W; i++)
    for (int r = 0; r < 2; r++)
      memcpy(s->mu + ((int64_t)2 * i + r) * dim, s->feat + ((int64_t)W + i) * dim, (size_t)dim * sizeof(float));
  int icl = 0;
  if (k > 0) {
    /* true_latent = cat(prev[-104:], randn(640)): the fresh part is masked out */
    icl = Q->incontext_frames;
    memset(s->ic, 0, (size_t)T * C * sizeof(float));
    memcpy(s->ic, s->prev + (int64_t)(T - icl) * C, (size_t)icl * C * sizeof(float));
    HM_TRY(draw(&s->ns, s->lat, (int64_t)(T - icl) * C));
  }
  HM_TRY(draw(&s->ns, s->lat, (int64_t)T * C));
  HM_TRY(cx_solve_euler(m, s->pool, &s->w, s->lat, s->ic, icl, s->mu, s->params.steps, s->params.guidance, abort_cb,
                        user_data, on_step, step_ctx));
  memcpy(s->lat, s->ic, (size_t)icl * C * sizeof(float));
  if (s->on_latents) s->on_latents(s->latents_ud, k, s->lat, T, C);
  /* waveform: channel h takes latent features [h*128, (h+1)*128) */
  for (int h = 0; h < 2; h++) {
    for (int j = 0; j < L; j++)
      for (int t = 0; t < T; t++) s->chan[(int64_t)j * T + t] = s->lat[(int64_t)t * C + h * L + j];
    cx_sq_decode(m, s->pool, s->sw, s->chan, T, s->cur + (int64_t)h * Q->win_samples);
  }
  if (abort_cb && abort_cb(user_data)) return hm_error(HM_ERR_ABORTED, "codec: decode aborted");
  /* cross-fade with the previous window's last ovlp samples; the new tail starts at k * hop */
  for (int h = 0; h < 2; h++) {
    float *t = s->tail + (int64_t)h * Q->win_samples;
    const float *cs = s->cur + (int64_t)h * Q->win_samples;
    if (k > 0) {
      double step = Q->ovlp_samples > 1 ? 1.0 / (double)(Q->ovlp_samples - 1) : 0.0;
      for (int64_t i = 0; i < Q->ovlp_samples; i++) {
        double wgt = i == Q->ovlp_samples - 1 ? 1.0 : (double)i * step;
        t[i] = (float)((double)t[Q->hop_samples + i] * (1.0 - wgt) + (double)cs[i] * wgt);
      }
      memcpy(t + Q->ovlp_samples, cs + Q->ovlp_samples, (size_t)(Q->win_samples - Q->ovlp_samples) * sizeof(float));
    } else {
      memcpy(t, cs, (size_t)Q->win_samples * sizeof(float));
    }
  }
  float *tmp = s->prev; s->prev = s->lat; s->lat = tmp;
  s->k++;
  if (on_step) on_step(step_ctx);
  int64_t limit = (k + 1) * Q->hop_samples;
  if (final) limit = k == F.n_windows - 1 ? F.out_samples : (limit < F.out_samples ? limit : F.out_samples);
  stream_emit(s, k * Q->hop_samples, limit, planar, n_samples, first_sample);
  return HM_OK;
}

/* ---- whole-song decode: the stream with the song's length known from the start ---- */

hm_status hm_codec_decode(const hm_codec_model *m, const int32_t *codes, int64_t n_frames, const hm_codec_params *params,
                          hm_progress_callback progress, hm_abort_callback abort_cb, void *user_data, float **wav,
                          int64_t *n_samples) {
  return cx_detokenize(m, codes, n_frames, params, progress, abort_cb, user_data, NULL, NULL, wav, n_samples);
}

hm_status cx_detokenize(const hm_codec_model *m, const int32_t *codes, int64_t n_frames, const hm_codec_params *params,
                        hm_progress_callback progress, hm_abort_callback abort_cb, void *user_data,
                        cx_latents_fn on_latents, void *latents_ud, float **wav, int64_t *n_samples) {
  if (wav) *wav = NULL;
  if (n_samples) *n_samples = 0;
  if (!m || !codes || !wav || !n_samples)
    return hm_error(HM_ERR_INVALID_ARG, "hm_codec_decode: model, codes, wav and n_samples must not be NULL");
  hm_codec_params def = hm_codec_default_params();
  if (!params) params = &def;
  const cx_config *c = &m->cfg;
  if (n_frames <= 0) return hm_error(HM_ERR_INVALID_ARG, "hm_codec_decode: codes are empty (n_frames = %lld)", (long long)n_frames);
  if (n_frames > (int64_t)1 << 31) return hm_error(HM_ERR_INVALID_ARG, "hm_codec_decode: n_frames = %lld is too large", (long long)n_frames);
  HM_TRY(check_params(params));
  HM_TRY(cx_codes_check(m, codes, n_frames, n_frames));
  cx_plan P;
  cx_make_plan(m, n_frames, &P);
  (void)c;
  cx_stream *s = NULL;
  HM_TRY(cx_stream_create(m, params, &s));
  cx_stream_set_latents_hook(s, on_latents, latents_ud);
  float *out = malloc((size_t)(2 * P.out_samples) * sizeof(float));
  if (!out) {
    cx_stream_free(s);
    return hm_error(HM_ERR_NOMEM, "codec: out of memory for %lld output samples", (long long)P.out_samples);
  }
  prog pr = {progress, user_data, 0, P.n_windows * (params->steps + 1)};
  hm_status st = HM_OK;
  while (st == HM_OK && cx_stream_ready(s, n_frames, true)) {
    const float *pl;
    int64_t n, first;
    st = cx_stream_next(s, codes, n_frames, n_frames, true, abort_cb, user_data, prog_step, &pr, &pl, &n, &first);
    for (int h = 0; st == HM_OK && h < 2; h++)
      memcpy(out + (int64_t)h * P.out_samples + first, pl + (int64_t)h * n, (size_t)n * sizeof(float));
  }
  cx_stream_free(s);
  if (st != HM_OK) { free(out); return st; }
  *wav = out;
  *n_samples = P.out_samples;
  return HM_OK;
}

/* Code == codebook_size (8192 for the published codec) is one past the
 * codebook: the LM's stop test is code >= audio_eos_id (8193) on the
 * conditional row, so 8192 can end up in a song. It is decoded as the last
 * code (cx_rvq clamps it, as the community fix of upstream's out-of-bounds
 * index does) with one warning here; anything further outside is an error. */
hm_status cx_codes_check(const hm_codec_model *m, const int32_t *codes, int64_t stride, int64_t n_frames) {
  const cx_config *c = &m->cfg;
  int64_t n_clamped = 0, first_i = 0;
  int first_q = 0;
  for (int q = 0; q < c->num_quantizers; q++)
    for (int64_t i = 0; i < n_frames; i++) {
      int32_t v = codes[q * stride + i];
      if (v == c->codebook_size) {
        if (!n_clamped++) { first_q = q; first_i = i; }
        continue;
      }
      if (v < 0 || v > c->codebook_size)
        return hm_error(HM_ERR_INVALID_ARG, "hm_codec_decode: code %d at codebook %d, frame %lld is outside [0, %d)", v, q,
                        (long long)i, c->codebook_size);
    }
  if (n_clamped)
    hm_log(HM_LOG_WARN, "codec: %lld code(s) equal to %d, one past the codebook (first at codebook %d, frame %lld), "
           "decoded as %d", (long long)n_clamped, c->codebook_size, first_q, (long long)first_i, c->codebook_size - 1);
  return HM_OK;
}
