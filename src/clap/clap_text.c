/* MuQ-MuLan text tower: XLM-RoBERTa (post-LN BERT layers, positions from
 * padding_idx + cumsum(mask), exact-erf GELU) and the MuLan text head. Right
 * padding only: a padded key is masked in XLM-R by attending over the first
 * n_valid keys (exactly what the -inf mask does); the MuLan transformer and
 * the mean see every position, padding included, as upstream. */
#include "clap/clap.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

hm_status hm_clap_xlmr(const hm_clap_model *m, hm_pool *pool, const int32_t *ids, int64_t L, int64_t n_valid,
                       float *out) {
  const hm_clap_config *c = &m->cfg;
  const int H = c->x_hidden, NH = c->x_heads, hd = H / NH, F = c->x_ffn;
  if (L < 1 || n_valid < 1 || n_valid > L) return hm_error(HM_ERR_INVALID_ARG, "XLM-R: empty input");
  if (c->x_pad + L >= c->x_max_pos)
    return hm_error(HM_ERR_INVALID_ARG, "text of %lld tokens is longer than XLM-R's %d positions allow", (long long)L,
                    c->x_max_pos - c->x_pad - 1);
  for (int64_t i = 0; i < L; i++)
    if (ids[i] < 0 || ids[i] >= c->x_vocab)
      return hm_error(HM_ERR_INVALID_ARG, "token id %d at %lld is outside XLM-R's vocabulary of %d", ids[i],
                      (long long)i, c->x_vocab);
  float *h = hm_malloc_aligned(sizeof(float) * (size_t)(L * H)), *q = hm_malloc_aligned(sizeof(float) * (size_t)(L * H));
  float *k = hm_malloc_aligned(sizeof(float) * (size_t)(L * H)), *v = hm_malloc_aligned(sizeof(float) * (size_t)(L * H));
  float *f = hm_malloc_aligned(sizeof(float) * (size_t)(L * F));
  hm_status st = h && q && k && v && f ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory (XLM-R)");
  if (st != HM_OK) goto done;
  for (int64_t i = 0; i < L; i++) {
    float *x = out + i * H;
    int64_t pos = i < n_valid ? c->x_pad + 1 + i : c->x_pad;
    hm_mat_row_f32(&m->x_word, ids[i], x);
    for (int j = 0; j < H; j++) x[j] = (x[j] + m->x_type[j]) + m->x_pos[pos * H + j];
    hm_layernorm(x, x, m->x_emb_ln_w, m->x_emb_ln_b, H, c->x_ln_eps);
  }
  for (int l = 0; l < c->x_layers; l++) {
    const hm_clap_xlmr_layer *ly = &m->xl[l];
    hm_linear(pool, &ly->q, ly->qb, L, out, q);
    hm_linear(pool, &ly->k, ly->kb, L, out, k);
    hm_linear(pool, &ly->v, ly->vb, L, out, v);
    hm_attention(pool, q, L, H, k, v, n_valid, H, NH, NH, hd, 1.0f / sqrtf((float)hd), -1, h, H);
    hm_linear(pool, &ly->o, ly->ob, L, h, q);
    for (int64_t i = 0; i < L; i++) {
      float *x = out + i * H;
      for (int j = 0; j < H; j++) x[j] = q[i * H + j] + x[j];
      hm_layernorm(x, x, ly->ln1_w, ly->ln1_b, H, c->x_ln_eps);
    }
    hm_linear(pool, &ly->fc1, ly->fc1_b, L, out, f);
    hm_gelu(f, L * (int64_t)F);
    hm_linear(pool, &ly->fc2, ly->fc2_b, L, f, q);
    for (int64_t i = 0; i < L; i++) {
      float *x = out + i * H;
      for (int j = 0; j < H; j++) x[j] = q[i * H + j] + x[j];
      hm_layernorm(x, x, ly->ln2_w, ly->ln2_b, H, c->x_ln_eps);
    }
  }
done:
  hm_free_aligned(h);
  hm_free_aligned(q);
  hm_free_aligned(k);
  hm_free_aligned(v);
  hm_free_aligned(f);
  return st;
}

hm_status hm_clap_text_head(const hm_clap_model *m, hm_pool *pool, const float *xh, int64_t L, float *out) {
  const hm_clap_config *c = &m->cfg;
  if (c->t_has_proj) hm_linear(pool, &m->t_proj, m->t_proj_b, L, xh, out);
  else memcpy(out, xh, sizeof(float) * (size_t)(L * c->t_dim));
  return hm_clap_transformer(&m->t_tf, pool, out, L);
}

hm_status hm_clap_text_latent(const hm_clap_model *m, hm_pool *pool, const int32_t *ids, int64_t L, int64_t n_valid,
                              float *out) {
  const hm_clap_config *c = &m->cfg;
  float *xh = hm_malloc_aligned(sizeof(float) * (size_t)(L * c->x_hidden));
  float *y = hm_malloc_aligned(sizeof(float) * (size_t)(L * c->t_dim));
  hm_status st = xh && y ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory (text tower)");
  if (st == HM_OK) st = hm_clap_xlmr(m, pool, ids, L, n_valid, xh);
  if (st == HM_OK) st = hm_clap_text_head(m, pool, xh, L, y);
  if (st == HM_OK) st = hm_clap_pool_latent(&m->t_lat, m->t_lat_b, pool, y, L, c->t_dim, NULL, out);
  hm_free_aligned(xh);
  hm_free_aligned(y);
  return st;
}
