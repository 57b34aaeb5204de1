/* Random HeartCodec checkpoints in the published HeartCodec-oss layout
 * (config.json with HeartCodecConfig fields; model.safetensors, or
 * model-0000k-of-0000n.safetensors + model.safetensors.index.json when large),
 * with every state_dict name upstream has: RVQ buffers, the DiT, and the
 * ScalarModel encoder and decoder with weight-norm parametrizations.
 * "tiny" = the fixture's sizes, "full" = HeartCodecConfig's defaults. */
#include "codec/codec_internal.h"
#include "testkit.h"
#include "st_make.h"
#include "io/fs.h"
#include "io/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define SHARD_BYTES ((int64_t)1 << 30)



static void linear(tk_specs *s, const char *p, int64_t out, int64_t in, bool bias) {
  tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)in), 2, TK_SH(out, in), "%s.weight", p);
  if (bias) tk_add(s, TK_NORMAL, 0.02f, 1, TK_SH(out), "%s.bias", p);
}

/* conv [c_out, c_in, k]; wn: parametrizations.weight.original0 (g) / original1 (v);
 * transposed convs pass d0 = c_in (weight [c_in, c_out, k], bias c_out). */
static void conv(tk_specs *s, const char *p, int64_t d0, int64_t d1, int64_t k, int64_t n_bias, bool wn) {
  if (wn) {
    tk_add(s, TK_NORMAL, 0.02f, 1, TK_SH(n_bias), "%s.bias", p);
    tk_add(s, TK_CONST, 1.0f, 3, TK_SH(d0, 1, 1), "%s.parametrizations.weight.original0", p);
    tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)(d1 * k)), 3, TK_SH(d0, d1, k), "%s.parametrizations.weight.original1", p);
  } else {
    tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)(d1 * k)), 3, TK_SH(d0, d1, k), "%s.weight", p);
    tk_add(s, TK_NORMAL, 0.02f, 1, TK_SH(n_bias), "%s.bias", p);
  }
}

static void prelu(tk_specs *s, const char *p) { tk_add(s, TK_CONST, 0.25f, 1, TK_SH(1), "%s.weight", p); }

static void resunit(tk_specs *s, const char *p, int64_t n_in, int64_t n_out, int rk) {
  char b[160];
  snprintf(b, sizeof b, "%s.conv1", p); conv(s, b, n_out, n_in, rk, n_out, true);
  snprintf(b, sizeof b, "%s.conv2", p); conv(s, b, n_out, n_in, 1, n_out, true);
  snprintf(b, sizeof b, "%s.activation1", p); prelu(s, b);
  snprintf(b, sizeof b, "%s.activation2", p); prelu(s, b);
}

static int mlp_hidden(int dim) {
  int h = (int)(2 * (4 * dim) / 3);
  return 256 * ((h + 255) / 256);
}

static void block(tk_specs *s, const char *p, int D) {
  char b[160];
  int F = mlp_hidden(D);
  tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)D), 2, TK_SH(6, D), "%s.scale_shift_table", p);
  tk_add(s, TK_CONST, 1.0f, 1, TK_SH(D), "%s.attn_norm.weight", p);
  const char *qkvo[4] = {"q_proj", "k_proj", "v_proj", "o_proj"};
  for (int i = 0; i < 4; i++) { snprintf(b, sizeof b, "%s.attn.%s", p, qkvo[i]); linear(s, b, D, D, false); }
  tk_add(s, TK_CONST, 1.0f, 1, TK_SH(D), "%s.mlp_norm.weight", p);
  snprintf(b, sizeof b, "%s.mlp.gate", p); linear(s, b, F, D, false);
  snprintf(b, sizeof b, "%s.mlp.up", p); linear(s, b, F, D, false);
  snprintf(b, sizeof b, "%s.mlp.down", p); linear(s, b, D, F, false);
}

static void project(tk_specs *s, const char *p, int c_in, int c_out) {
  char b[160];
  snprintf(b, sizeof b, "%s.ffn_1", p); conv(s, b, c_out, c_in, 3, c_out, false);
  snprintf(b, sizeof b, "%s.ffn_2", p); linear(s, b, c_out, c_out, true);
}

static void adaln(tk_specs *s, const char *p, int D) {
  char b[160];
  snprintf(b, sizeof b, "%s.emb.timestep_embedder.linear_1", p); linear(s, b, D, 512, true);
  snprintf(b, sizeof b, "%s.emb.timestep_embedder.linear_2", p); linear(s, b, D, D, true);
  snprintf(b, sizeof b, "%s.linear", p); linear(s, b, 6 * D, D, true);
}

typedef struct flavor_cfg {
  cx_config c;
  int down_f[5], down_k[5];
} flavor_cfg;

static void build(tk_specs *s, const flavor_cfg *f) {
  const cx_config *c = &f->c;
  char b[160];
  const char *vq = "flow_matching.vq_embed";
  if (c->codebook_dim != c->dim) {
    snprintf(b, sizeof b, "%s.project_in", vq); linear(s, b, c->codebook_dim, c->dim, true);
    snprintf(b, sizeof b, "%s.project_out", vq); linear(s, b, c->dim, c->codebook_dim, true);
  }
  for (int q = 0; q < c->num_quantizers; q++) {
    tk_add(s, TK_BOOL, 1.0f, 0, TK_SH(0), "%s.layers.%d._codebook.initted", vq, q);
    tk_add(s, TK_CONST, 1.0f, 2, TK_SH(1, c->codebook_size), "%s.layers.%d._codebook.cluster_size", vq, q);
    tk_add(s, TK_NORMAL, 1.0f, 3, TK_SH(1, c->codebook_size, c->codebook_dim), "%s.layers.%d._codebook.embed_avg", vq, q);
    tk_add(s, TK_NORMAL, 1.0f, 3, TK_SH(1, c->codebook_size, c->codebook_dim), "%s.layers.%d._codebook.embed", vq, q);
  }
  linear(s, "flow_matching.cond_feature_emb", c->dim, c->dim, true);
  tk_add(s, TK_NORMAL, 1.0f, 1, TK_SH(c->dim), "flow_matching.zero_cond_embedding1");
  const char *e = "flow_matching.estimator";
  int D = c->n_heads * c->head_dim, D2 = 2 * D;
  snprintf(b, sizeof b, "%s.proj_in", e); project(s, b, c->in_channels, D);
  for (int i = 0; i < c->n_layers; i++) { snprintf(b, sizeof b, "%s.transformer_blocks.%d", e, i); block(s, b, D); }
  for (int i = 0; i < c->n_layers_2; i++) { snprintf(b, sizeof b, "%s.transformer_blocks_2.%d", e, i); block(s, b, D2); }
  snprintf(b, sizeof b, "%s.connection_proj", e); project(s, b, c->in_channels + D, D2);
  tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)D), 2, TK_SH(2, D), "%s.scale_shift_table", e);
  tk_add(s, TK_NORMAL, 1.0f / sqrtf((float)D2), 2, TK_SH(2, D2), "%s.scale_shift_table_2", e);
  snprintf(b, sizeof b, "%s.proj_out", e); project(s, b, D2, c->out_channels);
  snprintf(b, sizeof b, "%s.adaln_single", e); adaln(s, b, D);
  snprintf(b, sizeof b, "%s.adaln_single_2", e); adaln(s, b, D2);
  /* ScalarModel encoder */
  int ic = c->init_channel, rk = c->res_kernel;
  conv(s, "scalar_model.encoder.0", ic, 1, c->default_kernel, ic, true);
  conv(s, "scalar_model.encoder.1.conv", ic, ic, c->default_kernel, ic, false);
  prelu(s, "scalar_model.encoder.1.activation");
  for (int i = 0; i < 5; i++) {
    int64_t n_in = (int64_t)ic << i, n_out = (int64_t)ic << (i + 1);
    for (int r = 0; r < CX_RES_UNITS; r++) {
      snprintf(b, sizeof b, "scalar_model.encoder.%d.convs.%d", i + 2, r);
      resunit(s, b, r ? n_out / 2 : n_in, n_out / 2, rk);
    }
    snprintf(b, sizeof b, "scalar_model.encoder.%d.down_conv.layer", i + 2);
    conv(s, b, n_out, n_in, f->down_k[i], n_out, true);
    snprintf(b, sizeof b, "scalar_model.encoder.%d.down_conv.activation", i + 2);
    prelu(s, b);
  }
  conv(s, "scalar_model.encoder.7", c->latent_hidden_dim, (int64_t)ic << 5, c->default_kernel, c->latent_hidden_dim, true);
  /* decoder */
  conv(s, "scalar_model.decoder.0", (int64_t)ic << c->n_up, c->latent_hidden_dim, c->delay_kernel, (int64_t)ic << c->n_up, true);
  for (int i = 0; i < c->n_up; i++) {
    int64_t c_in = (int64_t)ic << (c->n_up - i), c_out = (int64_t)ic << (c->n_up - i - 1);
    snprintf(b, sizeof b, "scalar_model.decoder.%d.up_conv.layer", i + 1);
    conv(s, b, c_in, c_out, c->up_kernels[i], c_out, true);
    for (int r = 0; r < CX_RES_UNITS; r++) {
      snprintf(b, sizeof b, "scalar_model.decoder.%d.convs.%d", i + 1, r);
      resunit(s, b, c_out, c_out, rk);
    }
  }
  snprintf(b, sizeof b, "scalar_model.decoder.%d.conv", c->n_up + 1);
  conv(s, b, ic, ic, c->default_kernel, ic, false);
  snprintf(b, sizeof b, "scalar_model.decoder.%d.activation", c->n_up + 1);
  prelu(s, b);
  snprintf(b, sizeof b, "scalar_model.decoder.%d", c->n_up + 2);
  conv(s, b, 1, ic, c->default_kernel, 1, true);
}

static hm_status write_config(const char *path, const flavor_cfg *f) {
  const cx_config *c = &f->c;
  json_t *j = json_object();
  json_t *uf = json_array(), *uk = json_array(), *df = json_array(), *dk = json_array();
  for (int i = 0; i < c->n_up; i++) {
    json_array_append_new(uf, json_integer(c->up_factors[i]));
    json_array_append_new(uk, json_integer(c->up_kernels[i]));
  }
  for (int i = 0; i < 5; i++) {
    json_array_append_new(df, json_integer(f->down_f[i]));
    json_array_append_new(dk, json_integer(f->down_k[i]));
  }
  json_object_set_new(j, "dim", json_integer(c->dim));
  json_object_set_new(j, "codebook_size", json_integer(c->codebook_size));
  json_object_set_new(j, "decay", json_real(0.9));
  json_object_set_new(j, "commitment_weight", json_real(1.0));
  json_object_set_new(j, "threshold_ema_dead_code", json_integer(2));
  json_object_set_new(j, "use_cosine_sim", json_false());
  json_object_set_new(j, "codebook_dim", json_integer(c->codebook_dim));
  json_object_set_new(j, "num_quantizers", json_integer(c->num_quantizers));
  json_object_set_new(j, "attention_head_dim", json_integer(c->head_dim));
  json_object_set_new(j, "in_channels", json_integer(c->in_channels));
  json_object_set_new(j, "norm_type", json_string("ada_norm_single"));
  json_object_set_new(j, "num_attention_heads", json_integer(c->n_heads));
  json_object_set_new(j, "num_layers", json_integer(c->n_layers));
  json_object_set_new(j, "num_layers_2", json_integer(c->n_layers_2));
  json_object_set_new(j, "out_channels", json_integer(c->out_channels));
  json_object_set_new(j, "num_bands", json_integer(1));
  json_object_set_new(j, "sample_rate", json_integer(c->sample_rate));
  json_object_set_new(j, "causal", json_true());
  json_object_set_new(j, "num_samples", json_integer(c->num_samples));
  json_object_set_new(j, "downsample_factors", df);
  json_object_set_new(j, "downsample_kernel_sizes", dk);
  json_object_set_new(j, "upsample_factors", uf);
  json_object_set_new(j, "upsample_kernel_sizes", uk);
  json_object_set_new(j, "latent_hidden_dim", json_integer(c->latent_hidden_dim));
  json_object_set_new(j, "default_kernel_size", json_integer(c->default_kernel));
  json_object_set_new(j, "delay_kernel_size", json_integer(c->delay_kernel));
  json_object_set_new(j, "init_channel", json_integer(c->init_channel));
  json_object_set_new(j, "res_kernel_size", json_integer(c->res_kernel));
  json_object_set_new(j, "model_type", json_string("heartcodec"));
  json_t *arch = json_array();
  json_array_append_new(arch, json_string("HeartCodec"));
  json_object_set_new(j, "architectures", arch);
  json_object_set_new(j, "torch_dtype", json_string("float32"));
  hm_status st = hm_json_write(path, j, JSON_INDENT(2));
  json_decref(j);
  return st;
}

hm_status hm_codec_make_checkpoint(const char *dir, const char *flavor, uint64_t seed) {
  if (!dir || !flavor) return hm_error(HM_ERR_INVALID_ARG, "hm_codec_make_checkpoint: dir and flavor must not be NULL");
  flavor_cfg f;
  memset(&f, 0, sizeof f);
  static const int up_f[5] = {5, 4, 4, 4, 3}, up_k[5] = {10, 8, 8, 8, 6}, dn_f[5] = {3, 4, 4, 4, 5}, dn_k[5] = {6, 8, 8, 8, 10};
  cx_config *c = &f.c;
  memcpy(c->up_factors, up_f, sizeof up_f); memcpy(c->up_kernels, up_k, sizeof up_k);
  memcpy(f.down_f, dn_f, sizeof dn_f); memcpy(f.down_k, dn_k, sizeof dn_k);
  c->n_up = 5; c->sample_rate = 48000; c->num_samples = 2; c->latent_hidden_dim = 128; c->default_kernel = 7;
  c->delay_kernel = 5; c->res_kernel = 7; c->out_channels = 256; c->num_quantizers = 8; c->causal = true;
  if (!strcmp(flavor, "full")) {
    c->dim = 512; c->codebook_size = 8192; c->codebook_dim = 32; c->head_dim = 64; c->n_heads = 24;
    c->n_layers = 24; c->n_layers_2 = 6; c->init_channel = 64;
  } else if (!strcmp(flavor, "tiny")) {
    c->dim = 64; c->codebook_size = 512; c->codebook_dim = 16; c->head_dim = 16; c->n_heads = 2;
    c->n_layers = 2; c->n_layers_2 = 1; c->init_channel = 4;
  } else {
    return hm_error(HM_ERR_INVALID_ARG, "hm_codec_make_checkpoint: unknown flavor '%s' (tiny, full)", flavor);
  }
  c->in_channels = 2 * c->out_channels + c->dim;
  tk_specs s = {0};
  build(&s, &f);
  char path[4200];
  HM_TRY(hm_mkdir_p(dir));
  if (!hm_dir_exists(dir)) { free(s.a); return hm_error(HM_ERR_IO, "'%s' is not a folder", dir); }
  hm_status st = hm_path_join(path, sizeof path, dir, "config.json");
  if (!st) st = write_config(path, &f);
  if (st) { free(s.a); return st; }
  int n_shards = 0;
  int64_t total = 0, n_tensors = s.n;
  st = tk_write(dir, &s, seed, 7, SHARD_BYTES, &n_shards, &total);
  if (st == HM_OK)
    hm_log(HM_LOG_INFO, "codec make: %s flavor, %lld tensors, %.1f MB in %d file(s) under %s", flavor,
           (long long)n_tensors, total / 1e6, n_shards, dir);
  return st;
}
