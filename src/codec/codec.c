/* HeartCodec.detokenize (heartcodec/modeling_heartcodec.py), window by
 * window: 29.76 s windows of 372 codes, hop 320, 104 in-context latent frames
 * handed from one window to the next, linear cross-fade of 52 codes' worth of
 * samples. Working memory is one window whatever the song length; only the
 * output waveform grows with it. */
#include "codec/codec_internal.h"

#include <math.h>
#include <stdlib.h>

#define CX_DURATION 29.76
#define CX_SQ_CHUNK 186 /* latent frames per waveform-decoder chunk (4 per window) */

hm_codec_params hm_codec_default_params(void) {
  hm_codec_params p;
  memset(&p, 0, sizeof p);
  p.steps = 10;
  p.guidance = 1.25f;
  p.seed = 0;
  p.n_threads = 0;
  p.bf16_weights = false;
  p.noise = NULL;
  p.noise_user_data = NULL;
  return p;
}

void cx_make_plan(const hm_codec_model *m, int64_t n_frames, cx_plan *p) {
  memset(p, 0, sizeof *p);
  const int sr = m->cfg.sample_rate;
  p->n_frames = n_frames;
  p->latent_frames = (int)(CX_DURATION * 25);          /* 744 */
  p->win_frames = (int)(CX_DURATION * 12.5);           /* 372 */
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
  const int64_t win = 372;
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

hm_status hm_codec_decode(hm_codec_model *m, const int32_t *codes, int64_t n_frames, const hm_codec_params *params,
                          hm_progress_callback progress, hm_abort_callback abort_cb, void *user_data, float **wav,
                          int64_t *n_samples) {
  return cx_detokenize(m, codes, n_frames, params, progress, abort_cb, user_data, NULL, NULL, wav, n_samples);
}

hm_status cx_detokenize(hm_codec_model *m, const int32_t *codes, int64_t n_frames, const hm_codec_params *params,
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
  if (params->steps < 1 || params->steps > 1000)
    return hm_error(HM_ERR_INVALID_ARG, "hm_codec_decode: steps = %d must be in [1, 1000]", params->steps);
  if (!(params->guidance >= 0.0f && params->guidance < 1000.0f))
    return hm_error(HM_ERR_INVALID_ARG, "hm_codec_decode: guidance = %g must be in [0, 1000)", (double)params->guidance);
  /* Code == codebook_size (8192 for the published codec) is one past the
   * codebook: the LM's stop test is code >= audio_eos_id (8193) on the
   * conditional row, so 8192 can end up in a song. It is clamped to the last
   * code with a warning (as the community fix of upstream's out-of-bounds
   * index does); anything further outside is an error. */
  int64_t n_clamped = 0, first_i = 0;
  int first_q = 0;
  for (int q = 0; q < c->num_quantizers; q++)
    for (int64_t i = 0; i < n_frames; i++) {
      int32_t v = codes[q * n_frames + i];
      if (v == c->codebook_size) {
        if (!n_clamped++) { first_q = q; first_i = i; }
        continue;
      }
      if (v < 0 || v > c->codebook_size)
        return hm_error(HM_ERR_INVALID_ARG, "hm_codec_decode: code %d at codebook %d, frame %lld is outside [0, %d)", v, q,
                        (long long)i, c->codebook_size);
    }
  int32_t *clamped = NULL;
  if (n_clamped) {
    const int64_t n_codes = (int64_t)c->num_quantizers * n_frames;
    clamped = malloc((size_t)n_codes * sizeof *clamped);
    if (!clamped) return hm_error(HM_ERR_NOMEM, "codec: out of memory for %lld codes", (long long)n_codes);
    for (int64_t j = 0; j < n_codes; j++) clamped[j] = codes[j] == c->codebook_size ? c->codebook_size - 1 : codes[j];
    hm_log(HM_LOG_WARN, "codec: %lld code(s) equal to %d, one past the codebook (first at codebook %d, frame %lld), "
           "decoded as %d", (long long)n_clamped, c->codebook_size, first_q, (long long)first_i, c->codebook_size - 1);
    codes = clamped;
  }
  cx_plan P;
  cx_make_plan(m, n_frames, &P);
  const int T = P.latent_frames, C = c->out_channels, dim = c->dim, W = P.win_frames;
  const bool cfg = params->guidance > 1.0f;
  hm_status st = HM_OK;
  hm_pool *pool = hm_compute_pool_create(params->n_threads);
  cx_work w;
  memset(&w, 0, sizeof w);
  cx_sq_work *sw = NULL;
  float *out = NULL, *lat = NULL, *prev = NULL, *ic = NULL, *mu = NULL, *feat = NULL, *cur = NULL, *chan = NULL;
  int32_t *wc = NULL;
  if (!pool) { st = hm_error(HM_ERR_NOMEM, "codec: cannot create the thread pool"); goto done; }
  if ((st = cx_work_init(&w, m, cfg ? 2 : 1, T))) goto done;
  if ((st = cx_sq_work_create(m, T, CX_SQ_CHUNK, &sw))) goto done;
  out = malloc((size_t)(2 * P.out_samples) * sizeof(float));
  lat = hm_malloc_aligned((size_t)T * C * sizeof(float));
  prev = hm_malloc_aligned((size_t)T * C * sizeof(float));
  ic = hm_calloc_aligned((size_t)T * C * sizeof(float));
  mu = hm_malloc_aligned((size_t)T * dim * sizeof(float));
  feat = hm_malloc_aligned((size_t)W * dim * 2 * sizeof(float));
  cur = hm_malloc_aligned((size_t)2 * P.win_samples * sizeof(float));
  chan = hm_malloc_aligned((size_t)c->latent_hidden_dim * T * sizeof(float));
  wc = malloc((size_t)c->num_quantizers * W * sizeof(int32_t));
  if (!out || !lat || !prev || !ic || !mu || !feat || !cur || !chan || !wc) {
    st = hm_error(HM_ERR_NOMEM, "codec: out of memory for %lld output samples", (long long)P.out_samples);
    goto done;
  }
  noise_src ns = {params->noise, params->noise_user_data, {{0}}};
  hm_rng_seed(&ns.rng, params->seed, 1);
  prog pr = {progress, user_data, 0, P.n_windows * (params->steps + 1)};
  /* first_latent = randn(1, 744, 256): only its in-context part (none) is used */
  if ((st = draw(&ns, lat, (int64_t)T * C))) goto done;
  const int L = c->latent_hidden_dim;
  for (int64_t k = 0; k < P.n_windows; k++) {
    int64_t s0 = k * P.hop_frames;
    for (int q = 0; q < c->num_quantizers; q++)
      for (int i = 0; i < W; i++) wc[q * W + i] = cx_padded_code(codes, n_frames, q, s0 + i);
    /* mu: cond_feature_emb(rvq(codes)), nearest x2 in time */
    cx_rvq(m, wc, W, W, feat);
    hm_linear(pool, &m->cond_emb.w, m->cond_emb.b, W, feat, feat + (int64_t)W * dim);
    for (int i = 0; i < W; i++)
      for (int r = 0; r < 2; r++)
        memcpy(mu + ((int64_t)2 * i + r) * dim, feat + ((int64_t)W + i) * dim, (size_t)dim * sizeof(float));
    int icl = 0;
    if (k > 0) {
      /* true_latent = cat(prev[-104:], randn(640)): the fresh part is masked out */
      icl = P.incontext_frames;
      memset(ic, 0, (size_t)T * C * sizeof(float));
      memcpy(ic, prev + (int64_t)(T - icl) * C, (size_t)icl * C * sizeof(float));
      if ((st = draw(&ns, lat, (int64_t)(T - icl) * C))) goto done;
    }
    if ((st = draw(&ns, lat, (int64_t)T * C))) goto done;
    if ((st = cx_solve_euler(m, pool, &w, lat, ic, icl, mu, params->steps, params->guidance, abort_cb, user_data,
                             prog_step, &pr)))
      goto done;
    memcpy(lat, ic, (size_t)icl * C * sizeof(float));
    if (on_latents) on_latents(latents_ud, k, lat, T, C);
    /* waveform: channel h takes latent features [h*128, (h+1)*128) */
    for (int h = 0; h < 2; h++) {
      for (int j = 0; j < L; j++)
        for (int t = 0; t < T; t++) chan[(int64_t)j * T + t] = lat[(int64_t)t * C + h * L + j];
      cx_sq_decode(m, pool, sw, chan, T, cur + (int64_t)h * P.win_samples);
    }
    if (abort_cb && abort_cb(user_data)) { st = hm_error(HM_ERR_ABORTED, "codec: decode aborted"); goto done; }
    /* overlap-add into the output (positions >= out_samples are dropped) */
    int64_t base = k * P.hop_samples;
    for (int h = 0; h < 2; h++) {
      float *o = out + (int64_t)h * P.out_samples;
      const float *cs = cur + (int64_t)h * P.win_samples;
      int64_t i0 = 0;
      if (k > 0) {
        double step = P.ovlp_samples > 1 ? 1.0 / (double)(P.ovlp_samples - 1) : 0.0;
        for (int64_t i = 0; i < P.ovlp_samples && base + i < P.out_samples; i++) {
          double wgt = i == P.ovlp_samples - 1 ? 1.0 : (double)i * step;
          o[base + i] = (float)((double)o[base + i] * (1.0 - wgt) + (double)cs[i] * wgt);
        }
        i0 = P.ovlp_samples;
      }
      for (int64_t i = i0; i < P.win_samples && base + i < P.out_samples; i++) o[base + i] = cs[i];
    }
    float *tmp = prev; prev = lat; lat = tmp;
    prog_step(&pr);
  }
  *wav = out;
  *n_samples = P.out_samples;
  out = NULL;
done:
  free(out);
  hm_free_aligned(lat); hm_free_aligned(prev); hm_free_aligned(ic); hm_free_aligned(mu);
  hm_free_aligned(feat); hm_free_aligned(cur); hm_free_aligned(chan);
  free(wc);
  free(clamped);
  cx_sq_work_free(sw);
  cx_work_free(&w);
  hm_pool_free(pool);
  return st;
}
