/* Random MuQ-MuLan checkpoints in the published layout (config.json as MuQMuLanConfig, model.safetensors
 * with MuQMuLan.state_dict()'s names, muq_config.json, xlmr_config.json), for tests and benchmarks.
 *
 * "tiny": the shapes of ../shared/fixtures-clap (conv 8, conformer 32 x 2, MuLan 32 x 2, XLM-R 24 x 2).
 * "large": OpenMuQ/MuQ-MuLan-large. Sources of the sizes:
 *   MuQ (OpenMuQ/MuQ-large-msd-iter) = tencent-ailab/MuQ src/muq/muq/muq.py MuQConfig defaults: conv_dim 512,
 *     encoder_dim 1024, encoder_depth 12, n_mels 128, codebook 4096 x 16; its w2v2 config (the fairseq
 *     W2v2Config defaults): 16 heads, intermediate 4096, depthwise kernel 31, rotary base 10000,
 *     num_conv_pos_embeddings 128 in 16 groups, layer_norm_eps 1e-5;
 *   MuLan = src/muq/muq_mulan/muq_mulan.py defaults: dim_latent 512, audio/text transformers 768 x 8 layers,
 *     8 heads of 64, ff_mult 4 (GEGLU hidden int(768 * 4 * 2 / 3) = 2048); audio_model model_dim 1024,
 *     use_layer_idx -1; text_model xlm-roberta-base, model_dim 768 (= the text transformer's dim: no proj);
 *   XLM-R = xlm-roberta-base's config.json: vocab 250002, hidden 768, 12 layers, 12 heads, 3072, 514 positions,
 *     1 token type, pad 1, layer_norm_eps 1e-5.
 * Weights: N(0, 1/fan_in) matrices, N(0, 0.02^2) biases, LayerNorm/BatchNorm identity (running var 1), the
 * rotary inv_freq buffer exact. No tokenizer is written (xlm-roberta-base's sentencepiece.bpe.model is not
 * ours to ship): text embeddings need one copied beside it. */
#include "testkit.h"
#include "st_make.h"
#include "io/fs.h"
#include "io/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARD_BYTES ((int64_t)1 << 30)

typedef struct clap_shape {
  int conv_dim, enc_dim, enc_depth, enc_heads, enc_ffn, dw_k, n_mels, codebook, codebook_dim, pos_conv, pos_groups;
  int a_in, a_dim, a_depth, a_heads, a_dim_head;
  int x_vocab, x_hidden, x_layers, x_heads, x_ffn, x_pos;
  int t_in, t_dim, t_depth, t_heads, t_dim_head;
  int latent;
} clap_shape;

static const clap_shape TINY = {8, 32, 2, 4, 64, 31, 128, 32, 16, 16, 4,
                                32, 32, 2, 2, 16,
                                222, 24, 2, 2, 48, 66,
                                24, 32, 2, 2, 16,
                                512};
static const clap_shape LARGE = {512, 1024, 12, 16, 4096, 31, 128, 4096, 16, 128, 16,
                                 1024, 768, 8, 8, 64,
                                 250002, 768, 12, 12, 3072, 514,
                                 768, 768, 8, 8, 64,
                                 512};

static void lin(tk_specs *s, int64_t out, int64_t in, bool bias, const char *p) {
  tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)in), 2, TK_SH(out, in), "%s.weight", p);
  if (bias) tk_add(s, TK_NORMAL, 0.02f, 1, TK_SH(out), "%s.bias", p);
}

static void norm(tk_specs *s, int64_t d, const char *p) {
  tk_add(s, TK_CONST, 1.0f, 1, TK_SH(d), "%s.weight", p);
  tk_add(s, TK_CONST, 0.0f, 1, TK_SH(d), "%s.bias", p);
}

static void bn(tk_specs *s, int64_t d, const char *p) {
  norm(s, d, p);
  tk_add(s, TK_CONST, 0.0f, 1, TK_SH(d), "%s.running_mean", p);
  tk_add(s, TK_CONST, 1.0f, 1, TK_SH(d), "%s.running_var", p);
  tk_add(s, TK_I64, 0.0f, 0, TK_SH(0), "%s.num_batches_tracked", p);
}

static void conv2d(tk_specs *s, int64_t co, int64_t ci, const char *pre, int i) {
  char p[192];
  snprintf(p, sizeof p, "%s.conv%d", pre, i);
  tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)(ci * 9)), 4, TK_SH(co, ci, 3, 3), "%s.weight", p);
  tk_add(s, TK_NORMAL, 0.02f, 1, TK_SH(co), "%s.bias", p);
  snprintf(p, sizeof p, "%s.bn%d", pre, i);
  bn(s, co, p);
}

static void mulan_tf(tk_specs *s, const char *pre, int dim, int depth, int heads, int dh) {
  const int inner = heads * dh, hid = (int)(dim * 4 * 2 / 3);
  char p[192];
  for (int l = 0; l < depth; l++) {
    tk_add(s, TK_CONST, 1.0f, 1, TK_SH(dh), "%s.layers.%d.0.q_scale", pre, l);
    tk_add(s, TK_CONST, 1.0f, 1, TK_SH(dh), "%s.layers.%d.0.k_scale", pre, l);
    tk_add(s, TK_CONST, 1.0f, 1, TK_SH(dim), "%s.layers.%d.0.norm.learned_gamma", pre, l);
    snprintf(p, sizeof p, "%s.layers.%d.0.to_q", pre, l); lin(s, inner, dim, false, p);
    snprintf(p, sizeof p, "%s.layers.%d.0.to_kv", pre, l); lin(s, 2 * inner, dim, false, p);
    snprintf(p, sizeof p, "%s.layers.%d.0.to_out.0", pre, l); lin(s, dim, inner, false, p);
    tk_add(s, TK_CONST, 1.0f, 1, TK_SH(dim), "%s.layers.%d.1.0.learned_gamma", pre, l);
    snprintf(p, sizeof p, "%s.layers.%d.1.1", pre, l); lin(s, 2 * hid, dim, false, p);
    snprintf(p, sizeof p, "%s.layers.%d.1.4", pre, l); lin(s, dim, hid, false, p);
  }
}

static void build(tk_specs *s, const clap_shape *c) {
  char p[192];
  const char *A = "mulan.audio.model.model", *E = "mulan.audio.model.model.conformer", *X = "mulan.text.model";
  /* MuQ */
  tk_add(s, TK_NORMAL, 1.0f, 1, TK_SH(c->enc_dim), "%s.cls_token", A);
  tk_add(s, TK_NORMAL, 1.0f, 2, TK_SH(c->n_mels * 4, c->codebook_dim), "%s.quantizer_melspec_2048.random_projection", A);
  tk_add(s, TK_NORMAL, 1.0f, 2, TK_SH(c->codebook, c->codebook_dim), "%s.quantizer_melspec_2048.codebook", A);
  for (int b = 0; b < 2; b++) {
    char pre[128];
    snprintf(pre, sizeof pre, "%s.conv.conv.%d", A, b);
    int cin = b ? c->conv_dim : 1;
    conv2d(s, c->conv_dim, cin, pre, 1);
    conv2d(s, c->conv_dim, c->conv_dim, pre, 2);
    conv2d(s, c->conv_dim, cin, pre, 3);
  }
  snprintf(p, sizeof p, "%s.conv.linear", A); lin(s, c->enc_dim, (int64_t)c->conv_dim * c->n_mels / 4, true, p);
  tk_add(s, TK_ROPE, 10000.0f, 1, TK_SH(c->enc_dim / c->enc_heads / 2), "%s.embed_positions.inv_freq", E);
  tk_add(s, TK_NORMAL, 0.02f, 1, TK_SH(c->enc_dim), "%s.pos_conv_embed.conv.bias", E);
  tk_add(s, TK_CONST, 1.0f, 3, TK_SH(1, 1, c->pos_conv), "%s.pos_conv_embed.conv.weight_g", E);
  tk_add(s, TK_NORMAL, 0.02f, 3, TK_SH(c->enc_dim, c->enc_dim / c->pos_groups, c->pos_conv),
         "%s.pos_conv_embed.conv.weight_v", E);
  snprintf(p, sizeof p, "%s.layer_norm", E); norm(s, c->enc_dim, p);
  const int D = c->enc_dim, F = c->enc_ffn;
  for (int l = 0; l < c->enc_depth; l++) {
    char L[128];
    snprintf(L, sizeof L, "%s.layers.%d", E, l);
    for (int k = 1; k <= 2; k++) {
      snprintf(p, sizeof p, "%s.ffn%d_layer_norm", L, k); norm(s, D, p);
      snprintf(p, sizeof p, "%s.ffn%d.intermediate_dense", L, k); lin(s, F, D, true, p);
      snprintf(p, sizeof p, "%s.ffn%d.output_dense", L, k); lin(s, D, F, true, p);
    }
    snprintf(p, sizeof p, "%s.self_attn_layer_norm", L); norm(s, D, p);
    static const char *const qkvo[4] = {"linear_q", "linear_k", "linear_v", "linear_out"};
    for (int i = 0; i < 4; i++) { snprintf(p, sizeof p, "%s.self_attn.%s", L, qkvo[i]); lin(s, D, D, true, p); }
    snprintf(p, sizeof p, "%s.conv_module.layer_norm", L); norm(s, D, p);
    tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)D), 3, TK_SH(2 * D, D, 1), "%s.conv_module.pointwise_conv1.weight", L);
    tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)c->dw_k), 3, TK_SH(D, 1, c->dw_k), "%s.conv_module.depthwise_conv.weight", L);
    snprintf(p, sizeof p, "%s.conv_module.batch_norm", L); bn(s, D, p);
    tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)D), 3, TK_SH(D, D, 1), "%s.conv_module.pointwise_conv2.weight", L);
    snprintf(p, sizeof p, "%s.final_layer_norm", L); norm(s, D, p);
  }
  snprintf(p, sizeof p, "%s.linear", A); lin(s, c->codebook, c->enc_dim, true, p);
  /* MuLan audio branch */
  tk_add(s, TK_NORMAL, 0.2f, 3, TK_SH(1, 25, 1), "mulan.audio.aggregator.weight");
  tk_add(s, TK_CONST, 0.0f, 1, TK_SH(1), "mulan.audio.aggregator.bias");
  mulan_tf(s, "mulan.audio.transformer", c->a_dim, c->a_depth, c->a_heads, c->a_dim_head);
  lin(s, c->a_dim, c->a_in, true, "mulan.audio.proj");
  /* XLM-R */
  tk_add(s, TK_NORMAL, 0.02f, 2, TK_SH(c->x_vocab, c->x_hidden), "%s.embeddings.word_embeddings.weight", X);
  tk_add(s, TK_NORMAL, 0.02f, 2, TK_SH(c->x_pos, c->x_hidden), "%s.embeddings.position_embeddings.weight", X);
  tk_add(s, TK_NORMAL, 0.02f, 2, TK_SH(1, c->x_hidden), "%s.embeddings.token_type_embeddings.weight", X);
  snprintf(p, sizeof p, "%s.embeddings.LayerNorm", X); norm(s, c->x_hidden, p);
  for (int l = 0; l < c->x_layers; l++) {
    char L[128];
    const int H = c->x_hidden;
    snprintf(L, sizeof L, "%s.encoder.layer.%d", X, l);
    snprintf(p, sizeof p, "%s.attention.self.query", L); lin(s, H, H, true, p);
    snprintf(p, sizeof p, "%s.attention.self.key", L); lin(s, H, H, true, p);
    snprintf(p, sizeof p, "%s.attention.self.value", L); lin(s, H, H, true, p);
    snprintf(p, sizeof p, "%s.attention.output.dense", L); lin(s, H, H, true, p);
    snprintf(p, sizeof p, "%s.attention.output.LayerNorm", L); norm(s, H, p);
    snprintf(p, sizeof p, "%s.intermediate.dense", L); lin(s, c->x_ffn, H, true, p);
    snprintf(p, sizeof p, "%s.output.dense", L); lin(s, H, c->x_ffn, true, p);
    snprintf(p, sizeof p, "%s.output.LayerNorm", L); norm(s, H, p);
  }
  snprintf(p, sizeof p, "%s.pooler.dense", X); lin(s, c->x_hidden, c->x_hidden, true, p);
  /* MuLan text branch and heads */
  mulan_tf(s, "mulan.text.transformer", c->t_dim, c->t_depth, c->t_heads, c->t_dim_head);
  if (c->t_in != c->t_dim) lin(s, c->t_dim, c->t_in, true, "mulan.text.proj");
  lin(s, c->latent, c->t_dim, true, "mulan.text_to_latents");
  lin(s, c->latent, c->a_dim, true, "mulan.audio_to_latents");
  tk_add(s, TK_CONST, 2.302585f, 3, TK_SH(1, 1, 1), "mulan.contrast.temperatures"); /* log 10 */
}

static json_t *obj(json_t *o, const char *k, json_t *v) {
  json_object_set_new(o, k, v);
  return o;
}

static hm_status write_configs(const char *dir, const clap_shape *c) {
  char path[4200];
  json_t *root = json_object(), *mu = json_object(), *am = json_object(), *tm = json_object(), *at = json_object(),
         *tt = json_object();
  obj(mu, "sr", json_integer(24000));
  obj(mu, "clip_secs", json_integer(10));
  obj(mu, "dim_latent", json_integer(c->latent));
  obj(mu, "decoupled_contrastive_learning", json_true());
  obj(mu, "hierarchical_contrastive_loss", json_false());
  obj(mu, "hierarchical_contrastive_loss_layers", json_null());
  obj(mu, "sigmoid_contrastive_loss", json_false());
  obj(mu, "rank_contrast", json_true());
  obj(am, "name", json_string("OpenMuQ/MuQ-large-msd-iter"));
  obj(am, "model_dim", json_integer(c->a_in));
  obj(am, "use_layer_idx", json_integer(-1));
  obj(tm, "name", json_string("xlm-roberta-base"));
  obj(tm, "model_dim", json_integer(c->t_in));
  json_t *tfs[2] = {at, tt};
  const int dims[2][4] = {{c->a_dim, c->a_depth, c->a_heads, c->a_dim_head}, {c->t_dim, c->t_depth, c->t_heads, c->t_dim_head}};
  for (int i = 0; i < 2; i++) {
    obj(tfs[i], "dim", json_integer(dims[i][0]));
    obj(tfs[i], "tf_depth", json_integer(dims[i][1]));
    if (i) obj(tfs[i], "max_seq_len", json_integer(1024));
    obj(tfs[i], "heads", json_integer(dims[i][2]));
    obj(tfs[i], "dim_head", json_integer(dims[i][3]));
    obj(tfs[i], "attn_dropout", json_real(0));
    obj(tfs[i], "ff_dropout", json_real(0));
    obj(tfs[i], "ff_mult", json_integer(4));
  }
  obj(root, "mulan", mu);
  obj(root, "audio_model", am);
  obj(root, "text_model", tm);
  obj(root, "audio_transformer", at);
  obj(root, "text_transformer", tt);
  hm_status st = hm_path_join(path, sizeof path, dir, "config.json");
  if (!st) st = hm_json_write(path, root, JSON_INDENT(1));
  json_decref(root);
  if (st) return st;

  json_t *mq = json_object(), *stat = json_object(), *w2 = json_object(), *feats = json_array();
  json_array_append_new(feats, json_string("melspec_2048"));
  obj(mq, "label_rate", json_integer(25));
  obj(mq, "num_codebooks", json_integer(1));
  obj(mq, "codebook_dim", json_integer(c->codebook_dim));
  obj(mq, "codebook_size", json_integer(c->codebook));
  obj(mq, "features", feats);
  obj(mq, "hop_length", json_integer(240));
  obj(mq, "n_mels", json_integer(c->n_mels));
  obj(mq, "conv_dim", json_integer(c->conv_dim));
  obj(mq, "encoder_dim", json_integer(c->enc_dim));
  obj(mq, "encoder_depth", json_integer(c->enc_depth));
  obj(mq, "is_flash", json_false());
  obj(stat, "melspec_2048_mean", json_real(6.768444971712967));
  obj(stat, "melspec_2048_std", json_real(18.417922652295623));
  obj(mq, "stat", stat);
  obj(w2, "hidden_size", json_integer(c->enc_dim));
  obj(w2, "num_hidden_layers", json_integer(c->enc_depth));
  obj(w2, "num_attention_heads", json_integer(c->enc_heads));
  obj(w2, "intermediate_size", json_integer(c->enc_ffn));
  obj(w2, "hidden_act", json_string("swish"));
  obj(w2, "position_embeddings_type", json_string("rotary"));
  obj(w2, "rotary_embedding_base", json_integer(10000));
  obj(w2, "conv_depthwise_kernel_size", json_integer(c->dw_k));
  obj(w2, "layer_norm_eps", json_real(1e-5));
  obj(w2, "num_conv_pos_embeddings", json_integer(c->pos_conv));
  obj(w2, "num_conv_pos_embedding_groups", json_integer(c->pos_groups));
  obj(mq, "w2v2_config", w2);
  obj(mq, "use_rvq_target", json_false());
  st = hm_path_join(path, sizeof path, dir, "muq_config.json");
  if (!st) st = hm_json_write(path, mq, JSON_INDENT(1));
  json_decref(mq);
  if (st) return st;

  json_t *xr = json_object();
  obj(xr, "vocab_size", json_integer(c->x_vocab));
  obj(xr, "hidden_size", json_integer(c->x_hidden));
  obj(xr, "num_hidden_layers", json_integer(c->x_layers));
  obj(xr, "num_attention_heads", json_integer(c->x_heads));
  obj(xr, "intermediate_size", json_integer(c->x_ffn));
  obj(xr, "max_position_embeddings", json_integer(c->x_pos));
  obj(xr, "type_vocab_size", json_integer(1));
  obj(xr, "layer_norm_eps", json_real(1e-5));
  obj(xr, "pad_token_id", json_integer(1));
  st = hm_path_join(path, sizeof path, dir, "xlmr_config.json");
  if (!st) st = hm_json_write(path, xr, JSON_INDENT(1));
  json_decref(xr);
  return st;
}

hm_status hm_clap_make_checkpoint(const char *dir, const char *flavor, uint64_t seed) {
  if (!dir || !flavor) return hm_error(HM_ERR_INVALID_ARG, "hm_clap_make_checkpoint: dir and flavor must not be NULL");
  const clap_shape *c = !strcmp(flavor, "tiny") ? &TINY : !strcmp(flavor, "large") ? &LARGE : NULL;
  if (!c) return hm_error(HM_ERR_INVALID_ARG, "hm_clap_make_checkpoint: unknown flavor '%s' (tiny, large)", flavor);
  char path[4200], idx[4200];
  HM_TRY(hm_path_join(path, sizeof path, dir, "model.safetensors"));
  HM_TRY(hm_path_join(idx, sizeof idx, dir, "model.safetensors.index.json"));
  if (hm_file_exists(path) || hm_file_exists(idx))
    return hm_error(HM_ERR_IO, "'%s' already holds a model: refusing to overwrite it", dir);
  HM_TRY(hm_mkdir_p(dir));
  HM_TRY(write_configs(dir, c));
  tk_specs s = {0};
  build(&s, c);
  int n_files = 0;
  int64_t total = 0, n_tensors = s.n;
  HM_TRY(tk_write(dir, &s, seed, 9, SHARD_BYTES, &n_files, &total));
  hm_log(HM_LOG_INFO, "clap make: %s flavor, %lld tensors, %.1f MB in %d file(s) under %s", flavor,
         (long long)n_tensors, (double)total / 1e6, n_files, dir);
  return HM_OK;
}
