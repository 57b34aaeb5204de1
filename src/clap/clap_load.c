/* MuQ-MuLan loading: config.json (MuQMuLanConfig, possibly nested under
 * "config"), the optional muq_config.json / xlmr_config.json, and the weights
 * (exactly MuQMuLan.state_dict() names) through hm_weights. Sizes the configs
 * do not give (the published config.json has no MuQ or XLM-R section) are read
 * from the tensors' shapes; every tensor is then checked against them. */
#include "clap/clap.h"
#include "io/fs.h"
#include "io/json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A_PRE "mulan.audio.model.model."
#define ENC_PRE A_PRE "conformer."
#define X_PRE "mulan.text.model."

typedef struct loader {
  hm_clap_model *m;
  char name[320];
} loader;

static const char *nm(loader *L, const char *fmt, ...) HM_PRINTF(2, 3);
static const char *nm(loader *L, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(L->name, sizeof L->name, fmt, ap);
  va_end(ap);
  return L->name;
}

static hm_status vec(loader *L, const char *name, int64_t n, const float **out) {
  float *p;
  HM_TRY(hm_weights_vec(L->m->w, name, n, &p));
  *out = p;
  return HM_OK;
}

static hm_status mat(loader *L, const char *name, int64_t rows, int64_t cols, hm_mat *out) {
  return hm_weights_mat(L->m->w, name, rows, cols, HM_DTMASK_FLOAT, out);
}

/* A tensor with more than two dims used as a [rows, cols] f32 matrix (convolution kernels). */
static hm_status mat_nd(loader *L, const char *name, int n_dims, const int64_t *shape, int64_t rows, int64_t cols,
                        hm_mat *out) {
  float *p;
  HM_TRY(hm_weights_f32(L->m->w, name, n_dims, shape, &p));
  out->type = HM_DT_F32;
  out->rows = rows;
  out->cols = cols;
  out->data = p;
  return HM_OK;
}

/* The size of dimension `dim` of a tensor that must exist (error names it). */
static hm_status dim_of(loader *L, const char *name, int n_dims, int dim, int64_t *out) {
  const hm_tensor_view *t;
  HM_TRY(hm_weights_get(L->m->w, name, 0, -1, NULL, &t));
  if (t->n_dims != n_dims)
    return hm_error(HM_ERR_FORMAT, "%s: tensor '%s' has %d dims, expected %d", t->file, name, t->n_dims, n_dims);
  *out = t->shape[dim];
  if (*out < 1 || *out > (1 << 24))
    return hm_error(HM_ERR_FORMAT, "%s: tensor '%s' dim %d = %lld is out of range", t->file, name, dim,
                    (long long)*out);
  return HM_OK;
}

/* layers named <pre><n><post>, n = 0, 1, ... present in the file */
static int count_layers(loader *L, const char *pre, const char *post) {
  int n = 0;
  while (n < 4096 && hm_weights_find(L->m->w, nm(L, "%s%d%s", pre, n, post))) n++;
  return n;
}

/* eval BatchNorm (eps 1e-5) after a product with bias b (may be NULL): y = x * scale + shift. */
static hm_status batchnorm(loader *L, const char *pre, int64_t c, const float *b, float **scale, float **shift) {
  const float *w, *bb, *mean, *var;
  HM_TRY(vec(L, nm(L, "%s.weight", pre), c, &w));
  HM_TRY(vec(L, nm(L, "%s.bias", pre), c, &bb));
  HM_TRY(vec(L, nm(L, "%s.running_mean", pre), c, &mean));
  HM_TRY(vec(L, nm(L, "%s.running_var", pre), c, &var));
  float *s, *t;
  HM_TRY(hm_weights_alloc(L->m->w, sizeof(float) * (size_t)c, (void **)&s));
  HM_TRY(hm_weights_alloc(L->m->w, sizeof(float) * (size_t)c, (void **)&t));
  for (int64_t i = 0; i < c; i++) {
    if (!(var[i] >= 0)) return hm_error(HM_ERR_FORMAT, "tensor '%s.running_var' has a negative or NaN value", pre);
    double inv = 1.0 / sqrt((double)var[i] + 1e-5);
    s[i] = (float)(w[i] * inv);
    t[i] = (float)(((b ? (double)b[i] : 0.0) - mean[i]) * w[i] * inv + bb[i]);
  }
  *scale = s;
  *shift = t;
  return HM_OK;
}

static hm_status conv2d(loader *L, const char *pre, const char *conv, const char *bn, int c_in, int c_out, int sf,
                        int st, hm_clap_conv2d *out) {
  int64_t shape[4] = {c_out, c_in, 3, 3};
  out->c_in = c_in;
  out->c_out = c_out;
  out->stride_f = sf;
  out->stride_t = st;
  HM_TRY(mat_nd(L, nm(L, "%s.%s.weight", pre, conv), 4, shape, c_out, (int64_t)c_in * 9, &out->w));
  const float *b;
  HM_TRY(vec(L, nm(L, "%s.%s.bias", pre, conv), c_out, &b));
  char bpre[256];
  snprintf(bpre, sizeof bpre, "%s.%s", pre, bn);
  return batchnorm(L, bpre, c_out, b, &out->scale, &out->shift);
}

static hm_status tf_load(loader *L, const char *pre, int dim, int depth, hm_clap_tf *tf) {
  tf->dim = dim;
  tf->depth = depth;
  int64_t dh = 1, inner = 0, ff2 = 0;
  HM_TRY(dim_of(L, nm(L, "%s.layers.0.0.q_scale", pre), 1, 0, &dh));
  HM_TRY(dim_of(L, nm(L, "%s.layers.0.0.to_q.weight", pre), 2, 0, &inner));
  HM_TRY(dim_of(L, nm(L, "%s.layers.0.1.1.weight", pre), 2, 0, &ff2));
  if (inner % dh || ff2 % 2)
    return hm_error(HM_ERR_FORMAT, "%s: to_q rows %lld are not a multiple of dim_head %lld (or odd FF width %lld)",
                    pre, (long long)inner, (long long)dh, (long long)ff2);
  tf->dim_head = (int)dh;
  tf->heads = (int)(inner / dh);
  tf->ff_hidden = (int)(ff2 / 2);
  tf->layers = calloc((size_t)depth, sizeof *tf->layers);
  if (!tf->layers) return hm_error(HM_ERR_NOMEM, "out of memory");
  for (int i = 0; i < depth; i++) {
    hm_clap_tf_layer *ly = &tf->layers[i];
    HM_TRY(vec(L, nm(L, "%s.layers.%d.0.norm.learned_gamma", pre, i), dim, &ly->attn_gamma));
    HM_TRY(vec(L, nm(L, "%s.layers.%d.0.q_scale", pre, i), dh, &ly->q_scale));
    HM_TRY(vec(L, nm(L, "%s.layers.%d.0.k_scale", pre, i), dh, &ly->k_scale));
    HM_TRY(mat(L, nm(L, "%s.layers.%d.0.to_q.weight", pre, i), inner, dim, &ly->to_q));
    HM_TRY(mat(L, nm(L, "%s.layers.%d.0.to_kv.weight", pre, i), 2 * inner, dim, &ly->to_kv));
    HM_TRY(mat(L, nm(L, "%s.layers.%d.0.to_out.0.weight", pre, i), dim, inner, &ly->to_out));
    HM_TRY(vec(L, nm(L, "%s.layers.%d.1.0.learned_gamma", pre, i), dim, &ly->ff_gamma));
    HM_TRY(mat(L, nm(L, "%s.layers.%d.1.1.weight", pre, i), ff2, dim, &ly->ff_w1));
    HM_TRY(mat(L, nm(L, "%s.layers.%d.1.4.weight", pre, i), dim, ff2 / 2, &ly->ff_w2));
  }
  return HM_OK;
}

/* ---- configs ---- */
static hm_status read_configs(hm_clap_model *m, const char *dir) {
  hm_clap_config *c = &m->cfg;
  c->sample_rate_hz = 24000;
  c->clip_secs = 10;
  c->dim_latent = 512;
  c->n_fft = 2048;
  c->hop = 240;
  c->n_mels = 128;
  c->stat_mean = 6.768444971712967; /* MuQ-large-msd-iter's stat */
  c->stat_std = 18.417922652295623;
  c->enc_ln_eps = 1e-5f;
  c->rope_base = 10000.0f;
  c->use_layer_idx = -1;
  c->x_ln_eps = 1e-5f;
  c->x_pad = 1;
  c->enc_heads = 0; /* from the rotary buffer when no muq_config.json says */
  c->x_heads = 0;
  c->a_dim = c->t_dim = 768;
  c->a_depth = c->t_depth = 8;
  c->a_in = 1024;
  c->t_in = 768;
  char path[4096];
  json_t *j = NULL;
  hm_status st = HM_OK;
  const char *s = NULL;
#define T(x) do { st = (x); if (st != HM_OK) goto done; } while (0)
  HM_TRY(hm_path_join(path, sizeof path, dir, "config.json"));
  if (!hm_file_exists(path)) return hm_error(HM_ERR_IO, "model folder '%s' has no config.json", dir);
  HM_TRY(hm_json_load(path, &j));
  {
    const json_t *root = j;
    if (!json_object_get(root, "mulan") && json_is_object(json_object_get(root, "config")))
      root = json_object_get(root, "config");
    const json_t *mu = json_object_get(root, "mulan"), *am = json_object_get(root, "audio_model");
    const json_t *tm = json_object_get(root, "text_model"), *at = json_object_get(root, "audio_transformer");
    const json_t *tt = json_object_get(root, "text_transformer");
    if (!json_is_object(mu) || !json_is_object(am) || !json_is_object(tm) || !json_is_object(at) || !json_is_object(tt)) {
      st = hm_error(HM_ERR_FORMAT,
                    "%s: not a MuQ-MuLan config (needs the objects mulan, audio_model, text_model, audio_transformer, "
                    "text_transformer)", path);
      goto done;
    }
    T(hm_json_int_in(mu, "sr", path, false, 8000, 192000, &c->sample_rate_hz));
    T(hm_json_num_opt(mu, "clip_secs", path, &c->clip_secs));
    if (!(c->clip_secs >= 1 && c->clip_secs <= 600)) {
      st = hm_error(HM_ERR_FORMAT, "%s: field 'mulan.clip_secs' = %g is out of range [1, 600]", path, c->clip_secs);
      goto done;
    }
    T(hm_json_int_in(mu, "dim_latent", path, false, 1, 65536, &c->dim_latent));
    T(hm_json_str_opt(am, "name", path, &s));
    if (s && !strstr(s, "muq") && !strstr(s, "MuQ")) {
      st = hm_error(HM_ERR_UNSUPPORTED, "%s: audio_model '%s' is not supported (MuQ only)", path, s);
      goto done;
    }
    T(hm_json_int_in(am, "model_dim", path, false, 1, 65536, &c->a_in));
    T(hm_json_int_in(am, "use_layer_idx", path, false, -4096, 4096, &c->use_layer_idx));
    s = NULL;
    T(hm_json_str_opt(tm, "name", path, &s));
    if (s && !strstr(s, "xlm-roberta")) {
      st = hm_error(HM_ERR_UNSUPPORTED, "%s: text_model '%s' is not supported (xlm-roberta only)", path, s);
      goto done;
    }
    c->t_in = 0; /* null: no projection */
    T(hm_json_int_in(tm, "model_dim", path, false, 1, 65536, &c->t_in));
    T(hm_json_int_in(at, "dim", path, false, 1, 65536, &c->a_dim));
    T(hm_json_int_in(at, "tf_depth", path, false, 0, 1024, &c->a_depth));
    T(hm_json_int_in(tt, "dim", path, false, 1, 65536, &c->t_dim));
    T(hm_json_int_in(tt, "tf_depth", path, false, 0, 1024, &c->t_depth));
    if (c->t_in == 0) c->t_in = c->t_dim;
    c->t_has_proj = c->t_in != c->t_dim;
  }
  json_decref(j);
  j = NULL;

  /* MuQ's own config (the published MuQ-MuLan takes it from OpenMuQ/MuQ-large-msd-iter) */
  HM_TRY(hm_path_join(path, sizeof path, dir, "muq_config.json"));
  if (hm_file_exists(path)) {
    T(hm_json_load(path, &j));
    int label_rate = 25;
    T(hm_json_int_in(j, "label_rate", path, false, 1, 1000, &label_rate));
    if (100 / label_rate != 4) {
      st = hm_error(HM_ERR_UNSUPPORTED, "%s: label_rate %d is not supported (25: 4x subsampling)", path, label_rate);
      goto done;
    }
    T(hm_json_int_in(j, "hop_length", path, false, 1, 65536, &c->hop));
    T(hm_json_int_in(j, "n_mels", path, false, 4, 1024, &c->n_mels));
    const json_t *stat = json_object_get(j, "stat");
    if (json_is_object(stat)) {
      T(hm_json_num_opt(stat, "melspec_2048_mean", path, &c->stat_mean));
      T(hm_json_num_opt(stat, "melspec_2048_std", path, &c->stat_std));
    }
    if (!(c->stat_std > 0)) { st = hm_error(HM_ERR_FORMAT, "%s: stat.melspec_2048_std must be > 0", path); goto done; }
    const json_t *w2 = json_object_get(j, "w2v2_config");
    if (json_is_object(w2)) {
      T(hm_json_int_in(w2, "num_attention_heads", path, false, 1, 1024, &c->enc_heads));
      s = NULL;
      T(hm_json_str_opt(w2, "hidden_act", path, &s));
      if (s && strcmp(s, "swish") && strcmp(s, "silu")) {
        st = hm_error(HM_ERR_UNSUPPORTED, "%s: w2v2_config.hidden_act '%s' is not supported (swish)", path, s);
        goto done;
      }
      s = NULL;
      T(hm_json_str_opt(w2, "position_embeddings_type", path, &s));
      if (s && strcmp(s, "rotary")) {
        st = hm_error(HM_ERR_UNSUPPORTED, "%s: w2v2_config.position_embeddings_type '%s' is not supported (rotary)",
                      path, s);
        goto done;
      }
      double v = c->enc_ln_eps;
      T(hm_json_num_opt(w2, "layer_norm_eps", path, &v));
      c->enc_ln_eps = (float)v;
      v = c->rope_base;
      T(hm_json_num_opt(w2, "rotary_embedding_base", path, &v));
      c->rope_base = (float)v;
    }
    json_decref(j);
    j = NULL;
  }
  HM_TRY(hm_path_join(path, sizeof path, dir, "xlmr_config.json"));
  if (hm_file_exists(path)) {
    T(hm_json_load(path, &j));
    T(hm_json_int_in(j, "num_attention_heads", path, false, 1, 1024, &c->x_heads));
    T(hm_json_int_in(j, "pad_token_id", path, false, 0, 1 << 24, &c->x_pad));
    double v = c->x_ln_eps;
    T(hm_json_num_opt(j, "layer_norm_eps", path, &v));
    c->x_ln_eps = (float)v;
    json_decref(j);
    j = NULL;
  }
#undef T
done:
  json_decref(j);
  return st;
}

/* ---- weights ---- */
static hm_status load_audio(loader *L) {
  hm_clap_model *m = L->m;
  hm_clap_config *c = &m->cfg;
  int64_t v;
  HM_TRY(dim_of(L, A_PRE "conv.conv.0.conv1.weight", 4, 0, &v));
  c->conv_dim = (int)v;
  HM_TRY(dim_of(L, A_PRE "conv.linear.weight", 2, 0, &v));
  c->enc_dim = (int)v;
  if (c->n_mels % 4) return hm_error(HM_ERR_FORMAT, "n_mels %d is not a multiple of 4", c->n_mels);
  for (int b = 0; b < 2; b++) {
    char pre[128];
    snprintf(pre, sizeof pre, A_PRE "conv.conv.%d", b);
    int cin = b ? c->conv_dim : 1;
    HM_TRY(conv2d(L, pre, "conv1", "bn1", cin, c->conv_dim, 2, 2, &m->conv[b].c1));
    HM_TRY(conv2d(L, pre, "conv2", "bn2", c->conv_dim, c->conv_dim, 1, 1, &m->conv[b].c2));
    HM_TRY(conv2d(L, pre, "conv3", "bn3", cin, c->conv_dim, 2, 2, &m->conv[b].c3));
  }
  HM_TRY(mat(L, A_PRE "conv.linear.weight", c->enc_dim, (int64_t)c->conv_dim * c->n_mels / 4, &m->conv_lin));
  HM_TRY(vec(L, A_PRE "conv.linear.bias", c->enc_dim, &m->conv_lin_b));
  /* conformer */
  c->enc_depth = count_layers(L, ENC_PRE "layers.", ".final_layer_norm.weight");
  if (c->enc_depth < 1) return hm_error(HM_ERR_FORMAT, "%s: no conformer layers (" ENC_PRE "layers.0.*)", hm_weights_path(m->w));
  int64_t half;
  HM_TRY(dim_of(L, ENC_PRE "embed_positions.inv_freq", 1, 0, &half));
  if (c->enc_heads == 0) c->enc_heads = (int)(c->enc_dim / (2 * half));
  if (c->enc_heads < 1 || c->enc_dim % c->enc_heads || c->enc_dim / c->enc_heads != 2 * half)
    return hm_error(HM_ERR_FORMAT, "tensor '" ENC_PRE "embed_positions.inv_freq' has %lld values; %d heads of %d need %d",
                    (long long)half, c->enc_heads, c->enc_dim, c->enc_heads ? c->enc_dim / c->enc_heads / 2 : 0);
  HM_TRY(hm_weights_vec(m->w, ENC_PRE "embed_positions.inv_freq", half, &m->rope_inv_freq));
  HM_TRY(dim_of(L, ENC_PRE "layers.0.ffn1.intermediate_dense.weight", 2, 0, &v));
  c->enc_ffn = (int)v;
  HM_TRY(dim_of(L, ENC_PRE "layers.0.conv_module.depthwise_conv.weight", 3, 2, &v));
  c->dw_kernel = (int)v;
  if (c->dw_kernel % 2 == 0) return hm_error(HM_ERR_FORMAT, "depthwise conv kernel %d is not odd", c->dw_kernel);
  const int D = c->enc_dim, F = c->enc_ffn;
  m->enc = calloc((size_t)c->enc_depth, sizeof *m->enc);
  if (!m->enc) return hm_error(HM_ERR_NOMEM, "out of memory");
  for (int i = 0; i < c->enc_depth; i++) {
    hm_clap_conformer_layer *ly = &m->enc[i];
    char p[128];
    snprintf(p, sizeof p, ENC_PRE "layers.%d.", i);
    HM_TRY(vec(L, nm(L, "%sffn1_layer_norm.weight", p), D, &ly->ffn1_ln_w));
    HM_TRY(vec(L, nm(L, "%sffn1_layer_norm.bias", p), D, &ly->ffn1_ln_b));
    HM_TRY(mat(L, nm(L, "%sffn1.intermediate_dense.weight", p), F, D, &ly->ffn1_w1));
    HM_TRY(vec(L, nm(L, "%sffn1.intermediate_dense.bias", p), F, &ly->ffn1_b1));
    HM_TRY(mat(L, nm(L, "%sffn1.output_dense.weight", p), D, F, &ly->ffn1_w2));
    HM_TRY(vec(L, nm(L, "%sffn1.output_dense.bias", p), D, &ly->ffn1_b2));
    HM_TRY(vec(L, nm(L, "%sself_attn_layer_norm.weight", p), D, &ly->attn_ln_w));
    HM_TRY(vec(L, nm(L, "%sself_attn_layer_norm.bias", p), D, &ly->attn_ln_b));
    HM_TRY(mat(L, nm(L, "%sself_attn.linear_q.weight", p), D, D, &ly->q));
    HM_TRY(vec(L, nm(L, "%sself_attn.linear_q.bias", p), D, &ly->qb));
    HM_TRY(mat(L, nm(L, "%sself_attn.linear_k.weight", p), D, D, &ly->k));
    HM_TRY(vec(L, nm(L, "%sself_attn.linear_k.bias", p), D, &ly->kb));
    HM_TRY(mat(L, nm(L, "%sself_attn.linear_v.weight", p), D, D, &ly->v));
    HM_TRY(vec(L, nm(L, "%sself_attn.linear_v.bias", p), D, &ly->vb));
    HM_TRY(mat(L, nm(L, "%sself_attn.linear_out.weight", p), D, D, &ly->o));
    HM_TRY(vec(L, nm(L, "%sself_attn.linear_out.bias", p), D, &ly->ob));
    HM_TRY(vec(L, nm(L, "%sconv_module.layer_norm.weight", p), D, &ly->conv_ln_w));
    HM_TRY(vec(L, nm(L, "%sconv_module.layer_norm.bias", p), D, &ly->conv_ln_b));
    int64_t s1[3] = {2 * D, D, 1}, s2[3] = {D, D, 1}, sd[3] = {D, 1, c->dw_kernel};
    HM_TRY(mat_nd(L, nm(L, "%sconv_module.pointwise_conv1.weight", p), 3, s1, 2 * D, D, &ly->pw1));
    HM_TRY(mat_nd(L, nm(L, "%sconv_module.pointwise_conv2.weight", p), 3, s2, D, D, &ly->pw2));
    float *dw;
    HM_TRY(hm_weights_f32(m->w, nm(L, "%sconv_module.depthwise_conv.weight", p), 3, sd, &dw));
    ly->dw = dw;
    char bn[160];
    snprintf(bn, sizeof bn, "%sconv_module.batch_norm", p);
    HM_TRY(batchnorm(L, bn, D, NULL, &ly->bn_scale, &ly->bn_shift));
    HM_TRY(vec(L, nm(L, "%sffn2_layer_norm.weight", p), D, &ly->ffn2_ln_w));
    HM_TRY(vec(L, nm(L, "%sffn2_layer_norm.bias", p), D, &ly->ffn2_ln_b));
    HM_TRY(mat(L, nm(L, "%sffn2.intermediate_dense.weight", p), F, D, &ly->ffn2_w1));
    HM_TRY(vec(L, nm(L, "%sffn2.intermediate_dense.bias", p), F, &ly->ffn2_b1));
    HM_TRY(mat(L, nm(L, "%sffn2.output_dense.weight", p), D, F, &ly->ffn2_w2));
    HM_TRY(vec(L, nm(L, "%sffn2.output_dense.bias", p), D, &ly->ffn2_b2));
    HM_TRY(vec(L, nm(L, "%sfinal_layer_norm.weight", p), D, &ly->final_ln_w));
    HM_TRY(vec(L, nm(L, "%sfinal_layer_norm.bias", p), D, &ly->final_ln_b));
  }
  HM_TRY(vec(L, ENC_PRE "layer_norm.weight", D, &m->enc_ln_w));
  HM_TRY(vec(L, ENC_PRE "layer_norm.bias", D, &m->enc_ln_b));
  int n_hidden = c->enc_depth + 1;
  if (c->use_layer_idx < -n_hidden || c->use_layer_idx >= n_hidden)
    return hm_error(HM_ERR_FORMAT, "config.json: audio_model.use_layer_idx %d is outside the %d hidden states",
                    c->use_layer_idx, n_hidden);
  if (c->a_in != D)
    return hm_error(HM_ERR_FORMAT, "config.json: audio_model.model_dim %d differs from the conformer width %d", c->a_in, D);
  HM_TRY(mat(L, "mulan.audio.proj.weight", c->a_dim, c->a_in, &m->a_proj));
  HM_TRY(vec(L, "mulan.audio.proj.bias", c->a_dim, &m->a_proj_b));
  HM_TRY(tf_load(L, "mulan.audio.transformer", c->a_dim, c->a_depth, &m->a_tf));
  c->a_heads = m->a_tf.heads;
  c->a_dim_head = m->a_tf.dim_head;
  c->a_ff_hidden = m->a_tf.ff_hidden;
  HM_TRY(mat(L, "mulan.audio_to_latents.weight", c->dim_latent, c->a_dim, &m->a_lat));
  HM_TRY(vec(L, "mulan.audio_to_latents.bias", c->dim_latent, &m->a_lat_b));
  return HM_OK;
}

static hm_status load_text(loader *L) {
  hm_clap_model *m = L->m;
  hm_clap_config *c = &m->cfg;
  int64_t v;
  HM_TRY(dim_of(L, X_PRE "embeddings.word_embeddings.weight", 2, 0, &v));
  c->x_vocab = (int)v;
  HM_TRY(dim_of(L, X_PRE "embeddings.word_embeddings.weight", 2, 1, &v));
  c->x_hidden = (int)v;
  HM_TRY(dim_of(L, X_PRE "embeddings.position_embeddings.weight", 2, 0, &v));
  c->x_max_pos = (int)v;
  HM_TRY(dim_of(L, X_PRE "embeddings.token_type_embeddings.weight", 2, 0, &v));
  c->x_type_vocab = (int)v;
  HM_TRY(dim_of(L, X_PRE "encoder.layer.0.intermediate.dense.weight", 2, 0, &v));
  c->x_ffn = (int)v;
  c->x_layers = count_layers(L, X_PRE "encoder.layer.", ".output.LayerNorm.weight");
  if (c->x_layers < 1) return hm_error(HM_ERR_FORMAT, "%s: no XLM-R layers (" X_PRE "encoder.layer.0.*)", hm_weights_path(m->w));
  if (c->x_heads == 0) c->x_heads = c->x_hidden % 64 == 0 ? c->x_hidden / 64 : 1;
  if (c->x_hidden % c->x_heads)
    return hm_error(HM_ERR_FORMAT, "XLM-R hidden size %d is not a multiple of %d heads", c->x_hidden, c->x_heads);
  if (c->x_pad >= c->x_max_pos || c->x_pad >= c->x_vocab)
    return hm_error(HM_ERR_FORMAT, "XLM-R pad_token_id %d is outside the embeddings", c->x_pad);
  const int H = c->x_hidden, F = c->x_ffn;
  HM_TRY(mat(L, X_PRE "embeddings.word_embeddings.weight", c->x_vocab, H, &m->x_word));
  int64_t ps[2] = {c->x_max_pos, H}, ts[2] = {c->x_type_vocab, H};
  float *p;
  HM_TRY(hm_weights_f32(m->w, X_PRE "embeddings.position_embeddings.weight", 2, ps, &p));
  m->x_pos = p;
  HM_TRY(hm_weights_f32(m->w, X_PRE "embeddings.token_type_embeddings.weight", 2, ts, &p));
  m->x_type = p;
  HM_TRY(vec(L, X_PRE "embeddings.LayerNorm.weight", H, &m->x_emb_ln_w));
  HM_TRY(vec(L, X_PRE "embeddings.LayerNorm.bias", H, &m->x_emb_ln_b));
  m->xl = calloc((size_t)c->x_layers, sizeof *m->xl);
  if (!m->xl) return hm_error(HM_ERR_NOMEM, "out of memory");
  for (int i = 0; i < c->x_layers; i++) {
    hm_clap_xlmr_layer *ly = &m->xl[i];
    char pre[128];
    snprintf(pre, sizeof pre, X_PRE "encoder.layer.%d.", i);
    HM_TRY(mat(L, nm(L, "%sattention.self.query.weight", pre), H, H, &ly->q));
    HM_TRY(vec(L, nm(L, "%sattention.self.query.bias", pre), H, &ly->qb));
    HM_TRY(mat(L, nm(L, "%sattention.self.key.weight", pre), H, H, &ly->k));
    HM_TRY(vec(L, nm(L, "%sattention.self.key.bias", pre), H, &ly->kb));
    HM_TRY(mat(L, nm(L, "%sattention.self.value.weight", pre), H, H, &ly->v));
    HM_TRY(vec(L, nm(L, "%sattention.self.value.bias", pre), H, &ly->vb));
    HM_TRY(mat(L, nm(L, "%sattention.output.dense.weight", pre), H, H, &ly->o));
    HM_TRY(vec(L, nm(L, "%sattention.output.dense.bias", pre), H, &ly->ob));
    HM_TRY(vec(L, nm(L, "%sattention.output.LayerNorm.weight", pre), H, &ly->ln1_w));
    HM_TRY(vec(L, nm(L, "%sattention.output.LayerNorm.bias", pre), H, &ly->ln1_b));
    HM_TRY(mat(L, nm(L, "%sintermediate.dense.weight", pre), F, H, &ly->fc1));
    HM_TRY(vec(L, nm(L, "%sintermediate.dense.bias", pre), F, &ly->fc1_b));
    HM_TRY(mat(L, nm(L, "%soutput.dense.weight", pre), H, F, &ly->fc2));
    HM_TRY(vec(L, nm(L, "%soutput.dense.bias", pre), H, &ly->fc2_b));
    HM_TRY(vec(L, nm(L, "%soutput.LayerNorm.weight", pre), H, &ly->ln2_w));
    HM_TRY(vec(L, nm(L, "%soutput.LayerNorm.bias", pre), H, &ly->ln2_b));
  }
  if (c->t_in != H)
    return hm_error(HM_ERR_FORMAT, "config.json: text_model.model_dim %d differs from the XLM-R width %d", c->t_in, H);
  if (c->t_has_proj) {
    HM_TRY(mat(L, "mulan.text.proj.weight", c->t_dim, c->t_in, &m->t_proj));
    HM_TRY(vec(L, "mulan.text.proj.bias", c->t_dim, &m->t_proj_b));
  }
  HM_TRY(tf_load(L, "mulan.text.transformer", c->t_dim, c->t_depth, &m->t_tf));
  c->t_heads = m->t_tf.heads;
  c->t_dim_head = m->t_tf.dim_head;
  c->t_ff_hidden = m->t_tf.ff_hidden;
  HM_TRY(mat(L, "mulan.text_to_latents.weight", c->dim_latent, c->t_dim, &m->t_lat));
  HM_TRY(vec(L, "mulan.text_to_latents.bias", c->dim_latent, &m->t_lat_b));
  const hm_tensor_view *tv = hm_weights_find(m->w, "mulan.contrast.temperatures");
  if (tv && tv->n_elems >= 1) {
    float t;
    if (hm_tensor_to_f32(tv, &t) == HM_OK && tv->n_elems == 1) m->temperature = expf(t);
    else if (tv->n_elems > 1) {
      float *all = malloc(sizeof(float) * (size_t)tv->n_elems);
      if (all && hm_tensor_to_f32(tv, all) == HM_OK) m->temperature = expf(all[0]);
      free(all);
    }
  }
  return HM_OK;
}

/* The tokenizer: sentencepiece.bpe.model in the folder, its tokenizer/ or ../tokenizer/, or xlm-roberta-base/. */
static void find_spm(hm_clap_model *m, const char *dir) {
  static const char *const rel[] = {"sentencepiece.bpe.model", "tokenizer/sentencepiece.bpe.model",
                                    "../tokenizer/sentencepiece.bpe.model", "xlm-roberta-base/sentencepiece.bpe.model",
                                    "../xlm-roberta-base/sentencepiece.bpe.model"};
  char path[4096];
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++)
    if (hm_path_join(path, sizeof path, dir, rel[i]) == HM_OK && hm_file_exists(path)) {
      m->spm_path = strdup(path);
      return;
    }
}

hm_clap_params hm_clap_default_params(void) {
  hm_clap_params p = {.n_threads = 0, .load_text = true};
  return p;
}

void hm_clap_free(hm_clap_model *m) {
  if (!m) return;
  free(m->enc);
  free(m->a_tf.layers);
  free(m->t_tf.layers);
  free(m->xl);
  free(m->mel_filters);
  hm_clap_spm_free(m->spm);
  free(m->spm_path);
  if (m->w) hm_weights_set_pool(m->w, NULL);
  hm_weights_close(m->w);
  hm_pool_free(m->pool);
  pthread_mutex_destroy(&m->lock);
  free(m->dir);
  free(m);
}

hm_status hm_clap_load(const char *dir, const hm_clap_params *params, hm_clap_model **out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_clap_load: out is NULL");
  *out = NULL;
  if (!dir || !*dir) return hm_error(HM_ERR_INVALID_ARG, "hm_clap_load: no model folder given");
  hm_clap_params p = params ? *params : hm_clap_default_params();
  if (!hm_dir_exists(dir)) return hm_error(HM_ERR_IO, "CLAP model folder '%s' does not exist", dir);
  hm_clap_model *m = calloc(1, sizeof *m);
  if (!m) return hm_error(HM_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&m->lock, NULL);
  m->dir = strdup(dir);
  loader L = {.m = m};
  m->n_threads = p.n_threads > 0 ? p.n_threads : hm_num_cores();
  m->pool = hm_compute_pool_create(m->n_threads);
  hm_status st = m->dir && m->pool ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory");
  if (st == HM_OK) st = read_configs(m, dir);
  if (st == HM_OK) {
    char path[4096], idx[4096];
    st = hm_path_join(path, sizeof path, dir, "model.safetensors");
    if (st == HM_OK) st = hm_path_join(idx, sizeof idx, dir, "model.safetensors.index.json");
    if (st == HM_OK && !hm_file_exists(path) && !hm_file_exists(idx)) {
      char bin[4096];
      if (hm_path_join(bin, sizeof bin, dir, "pytorch_model.bin") == HM_OK && hm_file_exists(bin))
        st = hm_error(HM_ERR_UNSUPPORTED, "model folder '%s' has pytorch_model.bin but no model.safetensors", dir);
      else st = hm_error(HM_ERR_IO, "model folder '%s' has no model.safetensors", dir);
    }
  }
  if (st == HM_OK) st = hm_weights_open(dir, &m->w);
  if (st == HM_OK) hm_weights_set_pool(m->w, m->pool);
  if (st == HM_OK) st = load_audio(&L);
  if (st == HM_OK) {
    m->mel_filters = malloc(sizeof(float) * (size_t)m->cfg.n_mels * (size_t)(m->cfg.n_fft / 2 + 1));
    st = m->mel_filters ? hm_clap_mel_filters(m->cfg.sample_rate_hz, m->cfg.n_fft, m->cfg.n_mels, m->mel_filters)
                        : hm_error(HM_ERR_NOMEM, "out of memory");
  }
  if (st == HM_OK && p.load_text) st = load_text(&L);
  if (st == HM_OK && p.load_text) {
    find_spm(m, dir);
    if (m->spm_path) st = hm_clap_spm_load(m->spm_path, &m->spm);
  }
  if (st != HM_OK) {
    hm_error_context(st, "loading MuQ-MuLan model '%s'", dir);
    hm_clap_free(m);
    return st;
  }
  hm_log(HM_LOG_INFO, "clap: %s: MuQ %d x %d (conv %d), MuLan audio %d x %d, XLM-R %d x %d, latent %d%s", dir,
         m->cfg.enc_depth, m->cfg.enc_dim, m->cfg.conv_dim, m->cfg.a_depth, m->cfg.a_dim, m->cfg.x_layers,
         m->cfg.x_hidden, m->cfg.dim_latent, m->spm ? "" : " (no tokenizer found: text embeddings unavailable)");
  *out = m;
  return HM_OK;
}

int hm_clap_dim(const hm_clap_model *m) { return m ? m->cfg.dim_latent : 0; }
int hm_clap_sample_rate(const hm_clap_model *m) { return m ? m->cfg.sample_rate_hz : 0; }
