/* HeartMuLa inference: context (KV caches, CFG batch, scratch), the llama
 * forward pass (torchtune TransformerSelfAttentionLayer), the frame step
 * (HeartMuLa.generate_frame) and the generation loop
 * (HeartMuLaGenPipeline._forward). Nothing is allocated per frame. */
#include "mula/mula.h"
#include <math.h>
#include <stdlib.h>

struct hm_mula_context {
  const hm_mula_model *m;
  hm_pool *pool;
  int n_ctx, n_batch;
  int64_t backbone_us; /* time of the last hm_mula_next's backbone step */
  /* KV caches: backbone [2][layers][n_ctx][kv_dim], decoder [2][layers][n_cb][kv_dim];
   * F16 with quantized weights (half the cache reads of long songs), else F32 */
  void *bk, *bv, *dk, *dv;
  hm_dtype kv_type;
  /* scratch for up to r_max rows */
  int64_t r_max;
  float *x, *xn, *q, *k, *v, *att, *h1, *h3, *tmp;
  /* frame step */
  float *last_h;   /* [2, D] */
  float *dec_h;    /* [2, Dd] */
  float *dec_in;   /* [2 * 2, D] decoder inputs before projection */
  float *muq_out;  /* [D] */
  float *muq_zero; /* [muq_dim] */
  float *c0;       /* [2, V] */
  float *ci;       /* [n_cb-1, 2, V] */
  float *guided;   /* [n_cb, V] */
  float *sscratch; /* [V] */
  /* run state */
  int B;
  int64_t n_past;
  bool started;
  int topk;
  float temperature, cfg_scale;
  hm_rng rng;
};

hm_mula_context_params hm_mula_context_default_params(void) {
  return (hm_mula_context_params){.n_batch = 128}; /* all cores, the model's max_seq_len */
}

hm_mula_gen_params hm_mula_default_gen_params(void) {
  /* upstream's sampling (heartlib's HeartMuLaGenPipeline); seed 0, no callbacks */
  return (hm_mula_gen_params){.topk = 50, .temperature = 1.0f, .cfg_scale = 1.5f, .max_audio_ms = 240000,
                              .audio_eos_id = -1};
}

void hm_mula_context_free(hm_mula_context *c) {
  if (!c) return;
  hm_free_aligned(c->bk);
  hm_free_aligned(c->bv);
  hm_free_aligned(c->dk);
  hm_free_aligned(c->dv);
  float **bufs[] = {&c->x, &c->xn, &c->q, &c->k, &c->v, &c->att, &c->h1,
                    &c->h3, &c->tmp, &c->last_h, &c->dec_h, &c->dec_in, &c->muq_out, &c->muq_zero,
                    &c->c0, &c->ci, &c->guided, &c->sscratch};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) hm_free_aligned(*bufs[i]);
  hm_pool_free(c->pool);
  free(c);
}

static int imax(int a, int b) { return a > b ? a : b; }

hm_status hm_mula_context_create(const hm_mula_model *m, const hm_mula_context_params *params,
                                 hm_mula_context **out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_mula_context_create: out is NULL");
  *out = NULL;
  if (!m) return hm_error(HM_ERR_INVALID_ARG, "hm_mula_context_create: model is NULL");
  hm_mula_context_params p = params ? *params : hm_mula_context_default_params();
  const hm_mula_config *cf = &m->cfg;
  if (p.n_ctx <= 0 || p.n_ctx > cf->backbone.max_seq_len) {
    if (p.n_ctx > cf->backbone.max_seq_len)
      hm_log(HM_LOG_WARN, "n_ctx %d > max_seq_len %d: using %d", p.n_ctx, cf->backbone.max_seq_len,
             cf->backbone.max_seq_len);
    p.n_ctx = cf->backbone.max_seq_len;
  }
  if (p.n_batch <= 0) p.n_batch = 128;
  if (p.n_batch < 2) p.n_batch = 2;
  hm_mula_context *c = calloc(1, sizeof *c);
  if (!c) return hm_error(HM_ERR_NOMEM, "out of memory");
  c->m = m;
  c->n_ctx = p.n_ctx;
  c->n_batch = p.n_batch;
  c->pool = hm_compute_pool_create(p.n_threads);
  if (!c->pool) { free(c); return hm_error(HM_ERR_NOMEM, "cannot create a thread pool of %d threads", p.n_threads); }
  const hm_llama_config *bb = &cf->backbone, *dc = &cf->decoder;
  const int64_t ncb = cf->audio_num_codebooks, V = cf->audio_vocab_size;
  const int64_t bkv = (int64_t)bb->num_kv_heads * bb->head_dim, dkv = (int64_t)dc->num_kv_heads * dc->head_dim;
  const int64_t D = bb->embed_dim, Dd = dc->embed_dim;
  const int64_t wmax = imax(bb->embed_dim, dc->embed_dim);
  const int64_t imx = imax(bb->intermediate_dim, dc->intermediate_dim);
  const int64_t kvmax = bkv > dkv ? bkv : dkv;
  c->r_max = 2 * (int64_t)p.n_batch;
  const int64_t R = c->r_max;
  const hm_dtype wt = m->backbone.layers[0].wq.type;
  c->kv_type = wt == HM_DT_Q8_0 || wt == HM_DT_Q4_0 ? HM_DT_F16 : HM_DT_F32;
  const size_t kv_es = c->kv_type == HM_DT_F16 ? 2 : 4;
  const int64_t bkv_n = 2 * bb->num_layers * (int64_t)p.n_ctx * bkv, dkv_n = 2 * dc->num_layers * ncb * dkv;
  /* KV caches are only read where written: left untouched so that the pages of a
   * large n_ctx become resident only as rows are filled */
  void **kv[] = {&c->bk, &c->bv, &c->dk, &c->dv};
  for (int i = 0; i < 4; i++) {
    *kv[i] = hm_malloc_aligned((size_t)(i < 2 ? bkv_n : dkv_n) * kv_es);
    if (!*kv[i]) {
      hm_mula_context_free(c);
      return hm_error(HM_ERR_NOMEM, "out of memory for a HeartMuLa context (n_ctx %d: %.1f MB of KV cache)", p.n_ctx,
                      (double)bkv_n * 2 * (double)kv_es / 1e6);
    }
  }
  struct { float **p; int64_t n; } al[] = {
    {&c->x, R * wmax}, {&c->xn, R * wmax}, {&c->q, R * wmax}, {&c->k, R * kvmax}, {&c->v, R * kvmax},
    {&c->att, R * wmax}, {&c->h1, R * imx}, {&c->h3, R * imx}, {&c->tmp, R * wmax},
    {&c->last_h, 2 * D}, {&c->dec_h, 2 * Dd}, {&c->dec_in, 4 * D}, {&c->muq_out, D}, {&c->muq_zero, cf->muq_dim},
    {&c->c0, 2 * V}, {&c->ci, (ncb - 1) * 2 * V}, {&c->guided, ncb * V}, {&c->sscratch, V},
  };
  for (size_t i = 0; i < sizeof al / sizeof al[0]; i++) {
    *al[i].p = hm_calloc_aligned((size_t)al[i].n * sizeof(float));
    if (!*al[i].p) {
      hm_mula_context_free(c);
      return hm_error(HM_ERR_NOMEM, "out of memory for a HeartMuLa context");
    }
  }
  *out = c;
  return HM_OK;
}

int64_t hm_mula_n_past(const hm_mula_context *c) { return c ? c->n_past : 0; }

hm_pool *hm_mula_context_pool(hm_mula_context *c) { return c ? c->pool : NULL; }

void hm_mula_get_trace(const hm_mula_context *c, hm_mula_trace *t) {
  t->B = c->B;
  t->V = c->m->cfg.audio_vocab_size;
  t->last_h = c->last_h;
  t->c0_logits = c->c0;
  t->ci_logits = c->ci;
  t->sampled = c->guided;
  t->backbone_ms = (double)c->backbone_us * 1e-3;
}

/* ---- llama forward ---- */

/* x: [B*n, D] rows (b major); positions pos0 .. pos0+n-1 for every b. Caches kc/vc:
 * [2][layers][cache_len][kv_dim]. x is updated in place to the last layer's output
 * (without the final norm). */
static void llama_forward(hm_mula_context *c, const hm_llama *L, float *x, int B, int64_t n, int64_t pos0,
                          void *kc, void *vc, int64_t cache_len) {
  const hm_llama_config *cf = &L->cfg;
  const int64_t D = cf->embed_dim, hd = cf->head_dim, H = cf->num_heads, KH = cf->num_kv_heads;
  const int64_t qd = H * hd, kvd = KH * hd, I = cf->intermediate_dim, R = (int64_t)B * n, half = hd / 2;
  const float scale = 1.0f / sqrtf((float)hd);
  for (int l = 0; l < cf->num_layers; l++) {
    const hm_llama_layer *y = &L->layers[l];
    for (int64_t r = 0; r < R; r++) hm_rmsnorm(c->xn + r * D, x + r * D, y->sa_norm, D, cf->norm_eps);
    if (R <= 4) { /* decode: one launch for q, k, v (the activations quantized once) */
      const hm_matvec_out o[3] = {{&y->wq, NULL, c->q, qd}, {&y->wk, NULL, c->k, kvd}, {&y->wv, NULL, c->v, kvd}};
      hm_matvec_multi(c->pool, o, 3, (int)R, c->xn, D);
    } else {
      hm_linear(c->pool, &y->wq, NULL, R, c->xn, c->q);
      hm_linear(c->pool, &y->wk, NULL, R, c->xn, c->k);
      hm_linear(c->pool, &y->wv, NULL, R, c->xn, c->v);
    }
    for (int b = 0; b < B; b++) {
      const bool f16 = c->kv_type == HM_DT_F16;
      const size_t es = f16 ? 2 : 4, off = (size_t)(((int64_t)b * cf->num_layers + l) * cache_len * kvd) * es;
      uint8_t *kl = (uint8_t *)kc + off, *vl = (uint8_t *)vc + off;
      for (int64_t t = 0; t < n; t++) {
        const int64_t r = (int64_t)b * n + t, pos = pos0 + t;
        const float *cs = L->rope_cos + pos * half, *sn = L->rope_sin + pos * half;
        hm_rope(c->q + r * qd, (int)H, (int)hd, cs, sn, true);
        hm_rope(c->k + r * kvd, (int)KH, (int)hd, cs, sn, true);
        const float *kr = c->k + r * kvd, *vr = c->v + r * kvd;
        if (f16) {
          uint16_t *kd = (uint16_t *)kl + pos * kvd, *vd = (uint16_t *)vl + pos * kvd;
          for (int64_t i = 0; i < kvd; i++) { kd[i] = hm_f32_to_f16(kr[i]); vd[i] = hm_f32_to_f16(vr[i]); }
        } else {
          memcpy((float *)kl + pos * kvd, kr, (size_t)kvd * sizeof(float));
          memcpy((float *)vl + pos * kvd, vr, (size_t)kvd * sizeof(float));
        }
      }
      hm_attention_kv(c->pool, c->q + (int64_t)b * n * qd, n, qd, kl, vl, c->kv_type, pos0 + n, kvd, (int)H, (int)KH,
                      (int)hd, scale, pos0, c->att + (int64_t)b * n * qd, qd);
    }
    hm_linear(c->pool, &y->wo, NULL, R, c->att, c->tmp);
    hm_add(x, x, c->tmp, R * D);
    for (int64_t r = 0; r < R; r++) hm_rmsnorm(c->xn + r * D, x + r * D, y->mlp_norm, D, cf->norm_eps);
    if (R <= 4) {
      const hm_matvec_out o[2] = {{&y->w1, NULL, c->h1, I}, {&y->w3, NULL, c->h3, I}};
      hm_matvec_multi(c->pool, o, 2, (int)R, c->xn, D);
    } else {
      hm_linear(c->pool, &y->w1, NULL, R, c->xn, c->h1);
      hm_linear(c->pool, &y->w3, NULL, R, c->xn, c->h3);
    }
    hm_swiglu(c->h1, c->h1, c->h3, R * I);
    hm_linear(c->pool, &y->w2, NULL, R, c->h1, c->tmp);
    hm_add(x, x, c->tmp, R * D);
  }
}

/* ---- embeddings ---- */

/* Row of the backbone input for batch row b (b = 1: unconditional). Masked sum of the
 * n_cb audio embeddings (token + c * V) and the text embedding, in that order. */
static void embed_row(hm_mula_context *c, const int32_t *tok, const int32_t *mask, int b, float *out) {
  const hm_mula_model *m = c->m;
  const int64_t D = m->cfg.backbone.embed_dim, V = m->cfg.audio_vocab_size;
  const int ncb = m->cfg.audio_num_codebooks;
  float *e = c->tmp; /* one row of scratch (tmp is free between forward calls) */
  for (int64_t i = 0; i < D; i++) out[i] = 0.0f;
  for (int col = 0; col <= ncb; col++) {
    if (!mask[col]) continue;
    if (col < ncb) hm_mat_row_f32(&m->audio_emb, (int64_t)tok[col] + (int64_t)col * V, e);
    else if (b == 1) hm_mat_row_f32(&m->uncond_emb, 0, e);
    else hm_mat_row_f32(&m->text_emb, tok[col], e);
    for (int64_t i = 0; i < D; i++) out[i] += e[i];
  }
}

static hm_status check_row(const hm_mula_config *cf, const int32_t *tok, const int32_t *mask, int64_t row) {
  const int ncb = cf->audio_num_codebooks;
  for (int col = 0; col <= ncb; col++) {
    if (!mask[col]) continue;
    const int32_t lim = col < ncb ? cf->audio_vocab_size : cf->text_vocab_size;
    if (tok[col] < 0 || tok[col] >= lim)
      return hm_error(HM_ERR_INVALID_ARG, "prompt row %lld column %d: %s id %d is out of range [0, %d)",
                      (long long)row, col, col < ncb ? "audio" : "text", (int)tok[col], (int)lim);
  }
  return HM_OK;
}

/* ---- the frame step (HeartMuLa.generate_frame after the backbone) ---- */

static void guide(const hm_mula_context *c, const float *logits /* [B, V] */, float *out) {
  const int64_t V = c->m->cfg.audio_vocab_size;
  if (c->B == 2) {
    const float *cond = logits, *unc = logits + V;
    for (int64_t i = 0; i < V; i++) out[i] = unc[i] + (cond[i] - unc[i]) * c->cfg_scale;
  } else {
    memcpy(out, logits, (size_t)V * sizeof(float));
  }
}

/* last_h holds the final-normed backbone hidden of each row; samples frame_out[n_cb]. */
static void frame_step(hm_mula_context *c, int32_t *frame_out) {
  const hm_mula_model *m = c->m;
  const hm_mula_config *cf = &m->cfg;
  const int64_t D = cf->backbone.embed_dim, Dd = cf->decoder.embed_dim, V = cf->audio_vocab_size;
  const int ncb = cf->audio_num_codebooks, B = c->B;
  const hm_llama *dec = &m->decoder;

  hm_linear(c->pool, &m->codebook0_head, NULL, B, c->last_h, c->c0);
  guide(c, c->c0, c->guided);
  int32_t code = hm_mula_sample_topk(c->guided, V, c->topk, c->temperature, &c->rng, c->sscratch);
  frame_out[0] = code;

  /* decoder: cache reset; positions 0, 1 = [last_h, audio_emb(c0)] */
  for (int b = 0; b < B; b++) {
    memcpy(c->dec_in + (int64_t)(2 * b) * D, c->last_h + (int64_t)b * D, (size_t)D * sizeof(float));
    hm_mat_row_f32(&m->audio_emb, code, c->dec_in + (int64_t)(2 * b + 1) * D);
  }
  hm_linear(c->pool, &m->projection, NULL, 2 * B, c->dec_in, c->x);
  llama_forward(c, dec, c->x, B, 2, 0, c->dk, c->dv, ncb);
  for (int b = 0; b < B; b++)
    hm_rmsnorm(c->dec_h + b * Dd, c->x + (int64_t)(2 * b + 1) * Dd, dec->norm, Dd, dec->cfg.norm_eps);
  for (int i = 1; i < ncb; i++) {
    if (i > 1) {
      for (int b = 0; b < B; b++)
        hm_mat_row_f32(&m->audio_emb, (int64_t)code + (int64_t)(i - 1) * V, c->dec_in + (int64_t)b * D);
      hm_linear(c->pool, &m->projection, NULL, B, c->dec_in, c->x);
      llama_forward(c, dec, c->x, B, 1, i, c->dk, c->dv, ncb);
      for (int b = 0; b < B; b++)
        hm_rmsnorm(c->dec_h + b * Dd, c->x + (int64_t)b * Dd, dec->norm, Dd, dec->cfg.norm_eps);
    }
    hm_mat head = m->audio_head_t;
    head.rows = V;
    head.data = (const char *)m->audio_head_t.data + (size_t)(i - 1) * (size_t)V * hm_dtype_bytes(head.type, Dd);
    float *logits = c->ci + (int64_t)(i - 1) * 2 * V;
    hm_linear(c->pool, &head, NULL, B, c->dec_h, logits);
    guide(c, logits, c->guided + (int64_t)i * V);
    code = hm_mula_sample_topk(c->guided + (int64_t)i * V, V, c->topk, c->temperature, &c->rng, c->sscratch);
    frame_out[i] = code;
  }
}

/* Runs the backbone over rows [n, n_cb+1] (tokens/mask) at positions n_past.., in chunks;
 * leaves last_h = final-normed hidden of the last row of each batch row. */
static void backbone_rows(hm_mula_context *c, const int32_t *tokens, const int32_t *mask, int64_t n,
                          int64_t muq_row /* relative to tokens, < 0: none */) {
  const hm_mula_model *m = c->m;
  const hm_llama *bb = &m->backbone;
  const int64_t D = bb->cfg.embed_dim, cols = m->cfg.audio_num_codebooks + 1;
  const int B = c->B;
  for (int64_t r0 = 0; r0 < n; r0 += c->n_batch) {
    const int64_t cn = n - r0 < c->n_batch ? n - r0 : c->n_batch;
    for (int b = 0; b < B; b++)
      for (int64_t t = 0; t < cn; t++) {
        const int64_t row = r0 + t;
        float *dst = c->x + ((int64_t)b * cn + t) * D;
        if (row == muq_row) {
          if (b == 1) hm_mat_row_f32(&m->uncond_emb, 0, dst);
          else memcpy(dst, c->muq_out, (size_t)D * sizeof(float));
        } else {
          embed_row(c, tokens + row * cols, mask + row * cols, b, dst);
        }
      }
    llama_forward(c, bb, c->x, B, cn, c->n_past, c->bk, c->bv, c->n_ctx);
    c->n_past += cn;
    if (r0 + cn == n)
      for (int b = 0; b < B; b++)
        hm_rmsnorm(c->last_h + (int64_t)b * D, c->x + ((int64_t)b * cn + cn - 1) * D, bb->norm, D, bb->cfg.norm_eps);
  }
}

hm_status hm_mula_start(hm_mula_context *c, const int32_t *tokens, const int32_t *mask, int64_t n_rows,
                        int64_t muq_idx, const hm_mula_gen_params *gen, int32_t *frame_out) {
  if (!c || !tokens || !frame_out) return hm_error(HM_ERR_INVALID_ARG, "hm_mula_start: NULL argument");
  const hm_mula_model *m = c->m;
  const hm_mula_config *cf = &m->cfg;
  const int cols = cf->audio_num_codebooks + 1;
  hm_mula_gen_params g = gen ? *gen : hm_mula_default_gen_params();
  c->started = false;
  if (n_rows < 1) return hm_error(HM_ERR_INVALID_ARG, "hm_mula_start: n_rows = %lld (need >= 1 prompt row)", (long long)n_rows);
  if (n_rows > c->n_ctx)
    return hm_error(HM_ERR_INVALID_ARG, "hm_mula_start: %lld prompt rows do not fit the context (n_ctx %d)",
                    (long long)n_rows, c->n_ctx);
  if (muq_idx >= n_rows)
    return hm_error(HM_ERR_INVALID_ARG, "hm_mula_start: muq_idx %lld is not a prompt row (n_rows %lld)",
                    (long long)muq_idx, (long long)n_rows);
  if (g.topk < 1) return hm_error(HM_ERR_INVALID_ARG, "topk = %d (must be >= 1)", g.topk);
  if (!(g.temperature > 0.0f) || !isfinite(g.temperature))
    return hm_error(HM_ERR_INVALID_ARG, "temperature = %g (must be > 0)", (double)g.temperature);
  if (!isfinite(g.cfg_scale)) return hm_error(HM_ERR_INVALID_ARG, "cfg_scale is not finite");
  int32_t default_mask[HM_MULA_COLS_MAX];
  for (int k = 0; k < cols; k++) default_mask[k] = k == cols - 1;
  for (int64_t r = 0; r < n_rows; r++) {
    if (r == muq_idx) continue;
    HM_TRY(check_row(cf, tokens + r * cols, mask ? mask + r * cols : default_mask, r));
  }
  int32_t *mask_full = NULL;
  if (!mask) {
    mask_full = malloc((size_t)(n_rows * cols) * sizeof *mask_full);
    if (!mask_full) return hm_error(HM_ERR_NOMEM, "out of memory");
    for (int64_t r = 0; r < n_rows; r++) memcpy(mask_full + r * cols, default_mask, (size_t)cols * sizeof(int32_t));
    mask = mask_full;
  }
  /* upstream: batch 2 (cond, uncond) with guidance only when cfg_scale > 1 */
  c->B = g.cfg_scale > 1.0f ? 2 : 1;
  c->topk = g.topk;
  c->temperature = g.temperature;
  c->cfg_scale = g.cfg_scale;
  hm_rng_seed(&c->rng, g.seed, 0);
  c->n_past = 0;
  if (muq_idx >= 0) /* muq_linear(muq_embed): zeros give exactly the bias */
    hm_matvec_bias(c->pool, &m->muq_w, m->muq_b, 1, g.muq_embed ? g.muq_embed : c->muq_zero, cf->muq_dim,
                   c->muq_out, cf->backbone.embed_dim);
  backbone_rows(c, tokens, mask, n_rows, muq_idx);
  free(mask_full);
  frame_step(c, frame_out);
  c->started = true;
  return HM_OK;
}

hm_status hm_mula_next(hm_mula_context *c, const int32_t *frame_in, int32_t *frame_out) {
  if (!c || !frame_in || !frame_out) return hm_error(HM_ERR_INVALID_ARG, "hm_mula_next: NULL argument");
  if (!c->started) return hm_error(HM_ERR_INVALID_ARG, "hm_mula_next: call hm_mula_start first");
  const hm_mula_config *cf = &c->m->cfg;
  const int ncb = cf->audio_num_codebooks;
  if (c->n_past >= c->n_ctx)
    return hm_error(HM_ERR_INVALID_ARG, "hm_mula_next: context full (n_ctx %d rows)", c->n_ctx);
  int32_t tok[HM_MULA_COLS_MAX], mask[HM_MULA_COLS_MAX];
  for (int k = 0; k < ncb; k++) { tok[k] = frame_in[k]; mask[k] = 1; }
  tok[ncb] = cf->empty_id;
  mask[ncb] = 0;
  HM_TRY(check_row(cf, tok, mask, c->n_past));
  const int64_t t0 = hm_time_us();
  backbone_rows(c, tok, mask, 1, -1);
  c->backbone_us = hm_time_us() - t0;
  frame_step(c, frame_out);
  return HM_OK;
}

hm_status hm_mula_generate(hm_mula_context *c, const int32_t *prompt_tokens, const int32_t *prompt_mask,
                           int64_t n_rows, int64_t muq_idx, const hm_mula_gen_params *gen,
                           const int32_t *history, int64_t n_history, int32_t **codes_out, int64_t *n_frames) {
  if (codes_out) *codes_out = NULL;
  if (n_frames) *n_frames = 0;
  if (!c || !prompt_tokens || !codes_out || !n_frames)
    return hm_error(HM_ERR_INVALID_ARG, "hm_mula_generate: NULL argument");
  if (n_history < 0 || (n_history > 0 && !history))
    return hm_error(HM_ERR_INVALID_ARG, "hm_mula_generate: n_history = %lld without history codes", (long long)n_history);
  const hm_mula_config *cf = &c->m->cfg;
  const int ncb = cf->audio_num_codebooks, cols = ncb + 1;
  hm_mula_gen_params g = gen ? *gen : hm_mula_default_gen_params();
  if (g.max_audio_ms < 0) return hm_error(HM_ERR_INVALID_ARG, "max_audio_ms = %lld (must be >= 0)", (long long)g.max_audio_ms);
  const int32_t eos = g.audio_eos_id >= 0 ? g.audio_eos_id : cf->audio_eos_id;
  if (n_rows < 1) return hm_error(HM_ERR_INVALID_ARG, "hm_mula_generate: n_rows = %lld (need >= 1)", (long long)n_rows);
  const int64_t n_in = n_rows + n_history;
  if (n_in > c->n_ctx)
    return hm_error(HM_ERR_INVALID_ARG, "%lld prompt + %lld history rows do not fit the context (n_ctx %d)",
                    (long long)n_rows, (long long)n_history, c->n_ctx);
  int64_t max_loop = g.max_audio_ms / 80; /* upstream: one frame from the prompt, then this many steps */
  if (n_in + max_loop > c->n_ctx) {
    hm_log(HM_LOG_WARN, "max_audio_ms %lld needs %lld rows; the context holds %d: generating at most %lld frames",
           (long long)g.max_audio_ms, (long long)(n_in + max_loop), c->n_ctx, (long long)(c->n_ctx - n_in + 1));
    max_loop = c->n_ctx - n_in;
  }
  /* rows: prompt, then history frames as audio rows (codes, empty text id, mask 1..1 0) */
  int32_t *rows = malloc((size_t)(n_in * cols) * 2 * sizeof(int32_t));
  int32_t *frames = malloc((size_t)((max_loop + 1) * ncb) * sizeof(int32_t));
  if (!rows || !frames) { free(rows); free(frames); return hm_error(HM_ERR_NOMEM, "out of memory"); }
  int32_t *mrows = rows + n_in * cols;
  for (int64_t r = 0; r < n_rows; r++)
    for (int k = 0; k < cols; k++) {
      rows[r * cols + k] = prompt_tokens[r * cols + k];
      mrows[r * cols + k] = prompt_mask ? prompt_mask[r * cols + k] != 0 : k == cols - 1;
    }
  for (int64_t h = 0; h < n_history; h++) {
    int32_t *t = rows + (n_rows + h) * cols, *mk = mrows + (n_rows + h) * cols;
    for (int k = 0; k < ncb; k++) { t[k] = history[(int64_t)k * n_history + h]; mk[k] = 1; }
    t[ncb] = cf->empty_id;
    mk[ncb] = 0;
  }
  int64_t nf = 0;
  hm_status st = hm_mula_start(c, rows, mrows, n_in, muq_idx, &g, frames);
  free(rows);
  if (st == HM_OK) {
    nf = 1; /* upstream appends the prompt's frame without the end-of-audio check */
    if (g.on_frame) g.on_frame(g.user_data, frames, 0);
    if (g.progress) g.progress(g.user_data, nf, max_loop + 1);
    for (int64_t i = 0; i < max_loop; i++) {
      if (g.abort && g.abort(g.user_data)) { st = hm_error(HM_ERR_ABORTED, "generation aborted after %lld frames", (long long)nf); break; }
      int32_t *cur = frames + nf * ncb;
      st = hm_mula_next(c, frames + (nf - 1) * ncb, cur);
      if (st != HM_OK) break;
      bool end = false;
      for (int k = 0; k < ncb; k++) end |= cur[k] >= eos;
      if (end) break;
      nf++;
      if (g.on_frame) g.on_frame(g.user_data, cur, nf - 1);
      if (g.progress) g.progress(g.user_data, nf, max_loop + 1);
    }
  }
  if (st != HM_OK && st != HM_ERR_ABORTED) { free(frames); return st; }
  int32_t *codes = malloc((size_t)(nf > 0 ? nf : 1) * (size_t)ncb * sizeof(int32_t));
  if (!codes) { free(frames); return hm_error(HM_ERR_NOMEM, "out of memory"); }
  for (int64_t f = 0; f < nf; f++)
    for (int k = 0; k < ncb; k++) codes[(int64_t)k * nf + f] = frames[f * ncb + k];
  free(frames);
  *codes_out = codes;
  *n_frames = nf;
  return st;
}
