/* UMT5 encoder (transformers' UMT5EncoderModel) for ACE-Step v1's prompt path. */
#include "acestep/umt5.h"
#include "io/fs.h"
#include "io/json.h"
#include "tensor/gemm.h"
#include "tensor/ops.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static hm_status read_config(const char *dir, hm_umt5_config *c) {
  char path[4096];
  HM_TRY(hm_path_join(path, sizeof path, dir, "config.json"));
  if (!hm_file_exists(path)) return hm_error(HM_ERR_IO, "umt5 folder '%s' has no config.json", dir);
  json_t *j = NULL;
  HM_TRY(hm_json_load(path, &j));
  hm_status st = HM_OK;
#define RD(key, lo, hi, field) if (st == HM_OK) st = hm_json_int_in(j, key, path, true, lo, hi, &c->field)
  RD("d_model", 1, 65536, d_model);
  RD("d_kv", 1, 4096, d_kv);
  RD("num_heads", 1, 1024, n_heads);
  RD("num_layers", 1, 1024, n_layers);
  RD("d_ff", 1, 1 << 20, d_ff);
  RD("vocab_size", 1, 1 << 24, vocab_size);
#undef RD
  c->n_buckets = 32;
  c->max_distance = 128;
  if (st == HM_OK) st = hm_json_int_in(j, "relative_attention_num_buckets", path, false, 2, 4096, &c->n_buckets);
  if (st == HM_OK) st = hm_json_int_in(j, "relative_attention_max_distance", path, false, 1, 1 << 20, &c->max_distance);
  double eps = 1e-6;
  if (st == HM_OK) st = hm_json_num_opt(j, "layer_norm_epsilon", path, &eps);
  c->eps = (float)eps;
  const char *ffp = "gated-gelu";
  if (st == HM_OK) st = hm_json_str_opt(j, "feed_forward_proj", path, &ffp);
  /* transformers maps "gated-gelu" to gelu_new (tanh) whatever dense_act_fn says */
  if (st == HM_OK && strcmp(ffp, "gated-gelu"))
    st = hm_error(HM_ERR_UNSUPPORTED, "%s: field 'feed_forward_proj' = '%s' is not supported (gated-gelu)", path, ffp);
  if (st == HM_OK && c->n_buckets % 2)
    st = hm_error(HM_ERR_FORMAT, "%s: field 'relative_attention_num_buckets' = %d must be even", path, c->n_buckets);
  json_decref(j);
  return st;
}

void hm_umt5_free(hm_umt5 *m) {
  if (!m) return;
  hm_weights_close(m->w);
  hm_unigram_free(m->tok);
  free(m->layers);
  free(m);
}

static hm_status load_weights(hm_umt5 *m) {
  const hm_umt5_config *c = &m->cfg;
  const int64_t d = c->d_model, inner = (int64_t)c->n_heads * c->d_kv, ff = c->d_ff;
  const char *emb = hm_weights_find(m->w, "shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
  if (!hm_weights_find(m->w, emb))
    return hm_error(HM_ERR_FORMAT, "%s: no embedding tensor: neither 'shared.weight' nor 'encoder.embed_tokens.weight'",
                    hm_weights_path(m->w));
  HM_TRY(hm_weights_mat(m->w, emb, c->vocab_size, d, HM_DTMASK_FLOAT, &m->embed));
  m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
  if (!m->layers) return hm_error(HM_ERR_NOMEM, "umt5: out of memory");
  char n[256];
  for (int i = 0; i < c->n_layers; i++) {
    hm_umt5_layer *ly = &m->layers[i];
#define NM(s) (snprintf(n, sizeof n, "encoder.block.%d.%s", i, s), n)
    HM_TRY(hm_weights_mat(m->w, NM("layer.0.SelfAttention.q.weight"), inner, d, HM_DTMASK_FLOAT, &ly->q));
    HM_TRY(hm_weights_mat(m->w, NM("layer.0.SelfAttention.k.weight"), inner, d, HM_DTMASK_FLOAT, &ly->k));
    HM_TRY(hm_weights_mat(m->w, NM("layer.0.SelfAttention.v.weight"), inner, d, HM_DTMASK_FLOAT, &ly->v));
    HM_TRY(hm_weights_mat(m->w, NM("layer.0.SelfAttention.o.weight"), d, inner, HM_DTMASK_FLOAT, &ly->o));
    int64_t rb[2] = {c->n_buckets, c->n_heads};
    HM_TRY(hm_weights_f32(m->w, NM("layer.0.SelfAttention.relative_attention_bias.weight"), 2, rb, &ly->rel_bias));
    HM_TRY(hm_weights_vec(m->w, NM("layer.0.layer_norm.weight"), d, &ly->ln_attn));
    HM_TRY(hm_weights_mat(m->w, NM("layer.1.DenseReluDense.wi_0.weight"), ff, d, HM_DTMASK_FLOAT, &ly->wi0));
    HM_TRY(hm_weights_mat(m->w, NM("layer.1.DenseReluDense.wi_1.weight"), ff, d, HM_DTMASK_FLOAT, &ly->wi1));
    HM_TRY(hm_weights_mat(m->w, NM("layer.1.DenseReluDense.wo.weight"), d, ff, HM_DTMASK_FLOAT, &ly->wo));
    HM_TRY(hm_weights_vec(m->w, NM("layer.1.layer_norm.weight"), d, &ly->ln_ff));
#undef NM
  }
  return hm_weights_vec(m->w, "encoder.final_layer_norm.weight", d, &m->ln_final);
}

hm_status hm_umt5_load(const char *dir, hm_umt5 **out) {
  *out = NULL;
  if (!dir || !hm_dir_exists(dir)) return hm_error(HM_ERR_IO, "umt5 folder '%s' does not exist", dir ? dir : "(null)");
  hm_umt5 *m = calloc(1, sizeof *m);
  if (!m) return hm_error(HM_ERR_NOMEM, "umt5: out of memory");
  hm_status st = read_config(dir, &m->cfg);
  char path[4096];
  if (st == HM_OK) st = hm_path_join(path, sizeof path, dir, "tokenizer.json");
  if (st == HM_OK && !hm_file_exists(path)) st = hm_error(HM_ERR_IO, "umt5 folder '%s' has no tokenizer.json", dir);
  if (st == HM_OK) st = hm_unigram_load(path, &m->tok);
  if (st == HM_OK) st = hm_weights_open(dir, &m->w);
  if (st == HM_OK) st = load_weights(m);
  if (st != HM_OK) { hm_umt5_free(m); return st; }
  *out = m;
  return HM_OK;
}

int hm_umt5_bucket(int64_t r, int n_buckets, int max_distance) {
  int nb = n_buckets / 2;
  int b = r > 0 ? nb : 0;
  int64_t n = r < 0 ? -r : r;
  int max_exact = nb / 2;
  if (n < max_exact) return b + (int)n;
  /* torch: float32 log(n / max_exact) / log(max_distance / max_exact) * (nb - max_exact), truncated */
  float x = logf((float)n / (float)max_exact) / (float)log((double)max_distance / max_exact) * (float)(nb - max_exact);
  int64_t large = max_exact + (int64_t)x;
  if (large > nb - 1) large = nb - 1;
  return b + (int)large;
}

static void tap(const hm_umt5_run *run, const char *stage, int layer, const float *x, int64_t n) {
  if (run && run->tap) run->tap(run->tap_user_data, stage, layer, x, n);
}

static void rmsnorm_rows(float *y, const float *x, const float *w, int64_t L, int64_t d, float eps) {
  for (int64_t i = 0; i < L; i++) hm_rmsnorm(y + i * d, x + i * d, w, d, eps);
}

hm_status hm_umt5_encode_ids(const hm_umt5 *m, const int32_t *ids, const int32_t *mask, int64_t L,
                             const hm_umt5_run *run, float *out) {
  const hm_umt5_config *c = &m->cfg;
  if (L < 1) return hm_error(HM_ERR_INVALID_ARG, "umt5: no input ids");
  for (int64_t i = 0; i < L; i++)
    if (ids[i] < 0 || ids[i] >= c->vocab_size)
      return hm_error(HM_ERR_INVALID_ARG, "umt5: input id %d at position %lld is outside the vocabulary (%d)", ids[i],
                      (long long)i, c->vocab_size);
  hm_pool *pool = run ? run->pool : NULL;
  const int64_t d = c->d_model, H = c->n_heads, dk = c->d_kv, inner = H * dk, ff = c->d_ff;
  const bool null_v = run && run->null_variant;
  const float tau = run && run->tau > 0 ? run->tau : HM_UMT5_ERG_TAU;
  int l_min = HM_UMT5_ERG_L_MIN, l_max = HM_UMT5_ERG_L_MAX;
  if (run && (run->l_min || run->l_max)) { l_min = run->l_min; l_max = run->l_max; }

  size_t nf = (size_t)(L * d * 3 + L * inner * 4 + L * ff * 2 + H * L * L * 2 + (2 * L - 1) + L);
  float *buf = hm_malloc_aligned(nf * sizeof(float));
  int *bucket = malloc((size_t)(2 * L - 1) * sizeof *bucket);
  if (!buf || !bucket) { hm_free_aligned(buf); free(bucket); return hm_error(HM_ERR_NOMEM, "umt5: out of memory (L = %lld)", (long long)L); }
  float *h = buf, *x = h + L * d, *t = x + L * d;
  float *q = t + L * d, *k = q + L * inner, *v = k + L * inner, *a = v + L * inner;
  float *g0 = a + L * inner, *g1 = g0 + L * ff;
  float *bias = g1 + L * ff, *p = bias + H * L * L;
  float *madd = p + H * L * L;
  for (int64_t r = -(L - 1); r <= L - 1; r++) bucket[r + L - 1] = hm_umt5_bucket(r, c->n_buckets, c->max_distance);
  for (int64_t j = 0; j < L; j++) madd[j] = (mask && !mask[j]) ? -FLT_MAX : 0.0f;

  for (int64_t i = 0; i < L; i++) hm_mat_row_f32(&m->embed, ids[i], h + i * d);
  tap(run, "embeddings", -1, h, L * d);

  for (int l = 0; l < c->n_layers; l++) {
    const hm_umt5_layer *ly = &m->layers[l];
    for (int64_t hh = 0; hh < H; hh++)
      for (int64_t i = 0; i < L; i++)
        for (int64_t j = 0; j < L; j++) bias[(hh * L + i) * L + j] = ly->rel_bias[bucket[j - i + L - 1] * H + hh];
    tap(run, "pos_bias", l, bias, H * L * L);

    rmsnorm_rows(x, h, ly->ln_attn, L, d, c->eps);
    tap(run, "ln_attn", l, x, L * d);
    hm_linear(pool, &ly->q, NULL, L, x, q);
    if (null_v && l >= l_min && l < l_max) hm_scale(q, tau, L * inner); /* the forward hook: q output *= tau */
    hm_linear(pool, &ly->k, NULL, L, x, k);
    hm_linear(pool, &ly->v, NULL, L, x, v);
    tap(run, "q", l, q, L * inner);
    tap(run, "k", l, k, L * inner);
    tap(run, "v", l, v, L * inner);
    /* attention with an additive bias, composed of the one GEMM: scores = q_h k_h^T
     * (no scaling) + bias + mask; softmax in f32; p v_h */
    for (int64_t hh = 0; hh < H; hh++) {
      float *ph = p + hh * L * L;
      hm_gemm_b kb = hm_gemm_b_nk(HM_DT_F32, k + hh * dk, L, dk, inner);
      hm_gemm(pool, L, q + hh * dk, inner, &kb, NULL, ph, L);
      for (int64_t i = 0; i < L; i++) {
        float *row = ph + i * L;
        const float *br = bias + (hh * L + i) * L;
        for (int64_t j = 0; j < L; j++) row[j] = row[j] + br[j] + madd[j];
        hm_softmax(row, L);
      }
      hm_gemm_b vb = hm_gemm_b_kn(v + hh * dk, L, dk, inner);
      hm_gemm(pool, L, ph, L, &vb, NULL, a + hh * dk, inner);
    }
    tap(run, "attn_weights", l, p, H * L * L);
    hm_linear(pool, &ly->o, NULL, L, a, t);
    tap(run, "attn_out", l, t, L * d);
    hm_add(h, h, t, L * d);
    tap(run, "h_attn", l, h, L * d);

    rmsnorm_rows(x, h, ly->ln_ff, L, d, c->eps);
    tap(run, "ln_ff", l, x, L * d);
    hm_linear(pool, &ly->wi0, NULL, L, x, g0);
    hm_linear(pool, &ly->wi1, NULL, L, x, g1);
    tap(run, "wi_0", l, g0, L * ff);
    tap(run, "wi_1", l, g1, L * ff);
    hm_gelu_tanh(g0, L * ff);
    tap(run, "gelu", l, g0, L * ff);
    for (int64_t i = 0; i < L * ff; i++) g0[i] *= g1[i];
    hm_linear(pool, &ly->wo, NULL, L, g0, t);
    tap(run, "ff_out", l, t, L * d);
    hm_add(h, h, t, L * d);
    tap(run, "block_out", l, h, L * d);
  }
  rmsnorm_rows(out, h, m->ln_final, L, d, c->eps);
  hm_free_aligned(buf);
  free(bucket);
  return HM_OK;
}

hm_status hm_umt5_embed_prompt(const hm_umt5 *m, const char *prompt, bool null_variant, hm_pool *pool,
                               float **hidden, int32_t **ids, int64_t *L) {
  *hidden = NULL;
  *ids = NULL;
  *L = 0;
  bool blank = true;
  for (const char *s = prompt ? prompt : ""; *s && blank; s++) blank = (*s == ' ' || (*s >= '\t' && *s <= '\r'));
  if (blank) return hm_error(HM_ERR_INVALID_ARG, "prompt: the prompt is empty (give tags such as \"pop, rock, 120 bpm\")");
  int32_t *tid = NULL;
  int64_t n = 0;
  HM_TRY(hm_unigram_encode(m->tok, prompt, strlen(prompt), true, HM_UMT5_MAX_LENGTH, &tid, &n));
  float *hs = malloc((size_t)(n * m->cfg.d_model) * sizeof(float));
  if (!hs) { free(tid); return hm_error(HM_ERR_NOMEM, "umt5: out of memory"); }
  hm_umt5_run run = {.null_variant = null_variant, .pool = pool};
  hm_status st = hm_umt5_encode_ids(m, tid, NULL, n, &run, hs);
  if (st != HM_OK) { free(tid); free(hs); return st; }
  *hidden = hs;
  *ids = tid;
  *L = n;
  return HM_OK;
}
