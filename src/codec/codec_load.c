/* HeartCodec loading: config.json (HeartCodecConfig fields), safetensors with
 * upstream names, weight-norm folding (w = g * v / ||v||, norm over all dims
 * but 0) and the weight re-layouts the kernels want, all once at load. */
#include "codec/codec_internal.h"
#include "io/fs.h"
#include "io/json.h"
#include "io/weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void hm_codec_free(hm_codec_model *m) {
  if (!m) return;
  free(m->s1.blocks);
  free(m->s2.blocks);
  hm_weights_close(m->w);
  free(m);
}

/* ---- tensor getters ---- */

typedef struct loader {
  hm_codec_model *m;
  hm_weights *w;
  bool bf16;
} loader;

static hm_status get_f32(loader *L, const char *name, int n_dims, const int64_t *shape, float **out) {
  return hm_weights_f32(L->w, name, n_dims, shape, out);
}

static hm_status get_vec(loader *L, const char *name, int64_t n, const float **out) {
  float *p;
  HM_TRY(hm_weights_vec(L->w, name, n, &p));
  *out = p;
  return HM_OK;
}

/* A [rows, cols] matrix as F32 (in place when stored so): the big ones are packed for hm_gemm (as BF16
 * when asked) and their source released. */
static hm_status get_mat(loader *L, const char *name, int64_t rows, int64_t cols, hm_mat *out) {
  return hm_weights_mat_as(L->w, name, rows, cols, HM_DTMASK_FLOAT, HM_DT_F32, out);
}

static hm_status alloc_f32(loader *L, size_t n, float **out) {
  void *p;
  HM_TRY(hm_weights_alloc(L->w, n * sizeof(float), &p));
  *out = p;
  return HM_OK;
}

static hm_status get_linear(loader *L, const char *prefix, int64_t out_f, int64_t in_f, bool bias, cx_linear *lin) {
  char name[320];
  snprintf(name, sizeof name, "%s.weight", prefix);
  HM_TRY(get_mat(L, name, out_f, in_f, &lin->w));
  lin->b = NULL;
  lin->bm = NULL;
  lin->pm = NULL;
  if (bias) {
    snprintf(name, sizeof name, "%s.bias", prefix);
    HM_TRY(get_vec(L, name, out_f, &lin->b));
  }
  return HM_OK;
}

/* The DiT's big matrices go to AMX tiles in BF16 mode. */
static hm_status maybe_pack(loader *L, cx_linear *lin) {
  lin->pm = NULL;
  if (!L->m->amx) {
    /* the GEMM owner's packed layout (F32, or BF16 when asked); the source is not read again */
    HM_TRY(hm_weights_pack(L->w, &lin->w, L->bf16 ? HM_DT_BF16 : HM_DT_F32, &lin->pm));
    hm_weights_release(L->w, lin->w.data, hm_mat_nbytes(&lin->w));
    return HM_OK;
  }
  if (!hm_bmat_fits(lin->w.rows, lin->w.cols)) return HM_OK;
  if (lin->w.type != HM_DT_F32) return HM_OK;
  HM_TRY(hm_weights_pack_amx(L->w, (const float *)lin->w.data, lin->w.rows, lin->w.cols, &lin->bm));
  /* the F32 matrix is not read again (every use goes to the tiles) */
  hm_weights_release(L->w, lin->w.data, hm_mat_nbytes(&lin->w));
  return HM_OK;
}

/* A conv weight [d0][d1][k] as f32: either weight-normed
 * (prefix.parametrizations.weight.original0 = g [d0,1,1], original1 = v) or
 * plain (prefix.weight). */
static hm_status get_conv_weight(loader *L, const char *prefix, int64_t d0, int64_t d1, int64_t k, bool wn, float **out) {
  char name[320];
  int64_t shape[3] = {d0, d1, k};
  snprintf(name, sizeof name, "%s.parametrizations.weight.original1", prefix);
  if (!wn || !hm_weights_find(L->w, name)) {
    char plain[320];
    snprintf(plain, sizeof plain, "%s.weight", prefix);
    if (wn && !hm_weights_find(L->w, plain))
      return hm_error(HM_ERR_FORMAT, "%s: missing tensor '%s' (weight-norm v) or '%s'", hm_weights_path(L->w), name, plain);
    return get_f32(L, plain, 3, shape, out);
  }
  float *v;
  HM_TRY(get_f32(L, name, 3, shape, &v));
  float *g;
  int64_t gshape[3] = {d0, 1, 1};
  snprintf(name, sizeof name, "%s.parametrizations.weight.original0", prefix);
  HM_TRY(get_f32(L, name, 3, gshape, &g));
  int64_t n = d1 * k;
  for (int64_t i = 0; i < d0; i++) {
    float *row = v + i * n;
    double ss = 0;
    for (int64_t j = 0; j < n; j++) ss += (double)row[j] * row[j];
    float f = g[i] / (float)sqrt(ss);
    for (int64_t j = 0; j < n; j++) row[j] = row[j] * f;
  }
  *out = v;
  return HM_OK;
}

/* [c_out][c_in][k] -> w[j][c_out][c_in] */
static hm_status tap_major(loader *L, const float *w, int64_t c_out, int64_t c_in, int k, float **out) {
  float *p;
  HM_TRY(alloc_f32(L, (size_t)(c_out * c_in * k), &p));
  for (int64_t o = 0; o < c_out; o++)
    for (int64_t i = 0; i < c_in; i++)
      for (int j = 0; j < k; j++) p[((int64_t)j * c_out + o) * c_in + i] = w[(o * c_in + i) * k + j];
  *out = p;
  return HM_OK;
}

static hm_status get_project(loader *L, const char *prefix, int c_in, int c_out, cx_project *p) {
  char name[256];
  float *w;
  snprintf(name, sizeof name, "%s.ffn_1", prefix);
  HM_TRY(get_conv_weight(L, name, c_out, c_in, 3, false, &w));
  p->conv.c_in = c_in; p->conv.c_out = c_out; p->conv.k = 3;
  HM_TRY(tap_major(L, w, c_out, c_in, 3, &p->conv.w));
  hm_weights_drop(L->w, w); /* the tap-major copy replaces it */
  snprintf(name, sizeof name, "%s.ffn_1.bias", prefix);
  HM_TRY(get_vec(L, name, c_out, &p->conv.b));
  p->conv.bm = NULL;
  p->conv.pm = NULL;
  if (!L->m->amx || hm_bmat_fits(c_out, 3 * (int64_t)c_in)) {
    /* [c_out][3*c_in] with column j*c_in + i = weight[o][i][j]: one GEMM over overlapping rows */
    float *wc = malloc((size_t)c_out * 3 * c_in * sizeof(float));
    if (!wc) return hm_error(HM_ERR_NOMEM, "codec: out of memory");
    for (int64_t o = 0; o < c_out; o++)
      for (int j = 0; j < 3; j++)
        memcpy(wc + (o * 3 + j) * c_in, p->conv.w + ((int64_t)j * c_out + o) * c_in, (size_t)c_in * sizeof(float));
    hm_status st;
    if (L->m->amx) st = hm_weights_pack_amx(L->w, wc, c_out, 3 * (int64_t)c_in, &p->conv.bm);
    else {
      hm_mat wm = {HM_DT_F32, c_out, 3 * (int64_t)c_in, wc};
      st = hm_weights_pack(L->w, &wm, L->bf16 ? HM_DT_BF16 : HM_DT_F32, &p->conv.pm);
    }
    free(wc);
    HM_TRY(st);
    if (p->conv.pm) { /* every use goes to the packed matrix */
      hm_weights_drop(L->w, p->conv.w);
      p->conv.w = NULL;
    }
  }
  snprintf(name, sizeof name, "%s.ffn_2", prefix);
  HM_TRY(get_linear(L, name, c_out, c_out, true, &p->lin));
  return maybe_pack(L, &p->lin);
}

static int mlp_hidden(int dim) {
  int h = 4 * dim;
  h = (int)(2 * h / 3);
  return 256 * ((h + 255) / 256);
}

static hm_status get_stack(loader *L, const char *blocks_name, const char *ada_name, const char *sst_name,
                           int n_blocks, int n_heads, int head_dim, cx_stack *s) {
  char name[256];
  int D = n_heads * head_dim;
  s->D = D; s->n_heads = n_heads; s->head_dim = head_dim; s->ffn = mlp_hidden(D); s->n_blocks = n_blocks;
  s->blocks = calloc((size_t)(n_blocks > 0 ? n_blocks : 1), sizeof *s->blocks);
  if (!s->blocks) return hm_error(HM_ERR_NOMEM, "codec: out of memory");
  for (int i = 0; i < n_blocks; i++) {
    cx_block *b = &s->blocks[i];
    const char *pf = "flow_matching.estimator";
#define MAT(field, sub, r, c) \
    snprintf(name, sizeof name, "%s.%s.%d.%s", pf, blocks_name, i, sub); \
    HM_TRY(get_mat(L, name, r, c, &b->field.w)); \
    b->field.b = NULL; b->field.bm = NULL; b->field.pm = NULL; \
    HM_TRY(maybe_pack(L, &b->field));
    MAT(q, "attn.q_proj.weight", D, D)
    MAT(k, "attn.k_proj.weight", D, D)
    MAT(v, "attn.v_proj.weight", D, D)
    MAT(o, "attn.o_proj.weight", D, D)
    MAT(gate, "mlp.gate.weight", s->ffn, D)
    MAT(up, "mlp.up.weight", s->ffn, D)
    MAT(down, "mlp.down.weight", D, s->ffn)
#undef MAT
    snprintf(name, sizeof name, "%s.%s.%d.attn_norm.weight", pf, blocks_name, i);
    HM_TRY(get_vec(L, name, D, &b->attn_norm));
    snprintf(name, sizeof name, "%s.%s.%d.mlp_norm.weight", pf, blocks_name, i);
    HM_TRY(get_vec(L, name, D, &b->mlp_norm));
    snprintf(name, sizeof name, "%s.%s.%d.scale_shift_table", pf, blocks_name, i);
    float *sst;
    int64_t shp[2] = {6, D};
    HM_TRY(get_f32(L, name, 2, shp, &sst));
    b->sst = sst;
  }
  snprintf(name, sizeof name, "flow_matching.estimator.%s.emb.timestep_embedder.linear_1", ada_name);
  HM_TRY(get_linear(L, name, D, 512, true, &s->ada.l1));
  snprintf(name, sizeof name, "flow_matching.estimator.%s.emb.timestep_embedder.linear_2", ada_name);
  HM_TRY(get_linear(L, name, D, D, true, &s->ada.l2));
  snprintf(name, sizeof name, "flow_matching.estimator.%s.linear", ada_name);
  HM_TRY(get_linear(L, name, 6 * D, D, true, &s->ada.lin));
  snprintf(name, sizeof name, "flow_matching.estimator.%s", sst_name);
  float *sst;
  int64_t shp[2] = {2, D};
  HM_TRY(get_f32(L, name, 2, shp, &sst));
  s->sst = sst;
  return HM_OK;
}

static hm_status bf16_copy(loader *L, const float *w, int64_t n, uint16_t **out) {
  void *vp;
  HM_TRY(hm_weights_alloc(L->w, (size_t)n * sizeof(uint16_t), &vp));
  uint16_t *p = vp;
  hm_to_bf16(w, p, n);
  *out = p;
  return HM_OK;
}

/* Channel-first conv of the waveform decoder. */
static hm_status get_conv_cf(loader *L, const char *prefix, int c_in, int c_out, int k, int dil, bool causal,
                             bool wn, cx_conv_cf *c) {
  char name[256];
  float *w;
  HM_TRY(get_conv_weight(L, prefix, c_out, c_in, k, wn, &w));
  c->c_in = c_in; c->c_out = c_out; c->k = k; c->dil = dil;
  if (causal) { c->left = dil * (k - 1); c->right = 0; }
  else { c->left = (k * dil - dil) / 2; c->right = dil * (k - 1) - c->left; }
  /* [c_out][c_in][k] -> [c_out][k][c_in]: one GEMM against an im2col tile */
  float *p;
  HM_TRY(alloc_f32(L, (size_t)c_out * c_in * k, &p));
  for (int64_t o = 0; o < c_out; o++)
    for (int64_t i = 0; i < c_in; i++)
      for (int j = 0; j < k; j++) p[(o * k + j) * c_in + i] = w[(o * c_in + i) * k + j];
  hm_weights_drop(L->w, w);
  c->w = p;
  c->wb = NULL;
  if (L->m->amx && hm_bmat_fits(c_out, (int64_t)k * c_in)) HM_TRY(bf16_copy(L, p, (int64_t)c_out * k * c_in, &c->wb));
  snprintf(name, sizeof name, "%s.bias", prefix);
  return get_vec(L, name, c_out, &c->b);
}

static hm_status get_prelu(loader *L, const char *name, float *a) {
  const float *p;
  HM_TRY(get_vec(L, name, 1, &p));
  *a = p[0];
  return HM_OK;
}

static hm_status get_sq(loader *L) {
  hm_codec_model *m = L->m;
  const cx_config *c = &m->cfg;
  cx_sq *sq = &m->sq;
  char name[256], pf[200];
  int n_up = c->n_up;
  int ch = c->init_channel << n_up;
  HM_TRY(get_conv_cf(L, "scalar_model.decoder.0", c->latent_hidden_dim, ch, c->delay_kernel, 1, false, true, &sq->in));
  int hop = 1;
  double rf = 0; /* left receptive field in latent frames */
  for (int i = 0; i < n_up; i++) {
    int c_in = c->init_channel << (n_up - i), c_out = c->init_channel << (n_up - i - 1);
    int s = c->up_factors[i], k = c->up_kernels[i];
    if (c->causal && k != 2 * s)
      return hm_error(HM_ERR_UNSUPPORTED, "codec config: upsample kernel %d must be 2 x factor %d", k, s);
    if (!c->causal)
      return hm_error(HM_ERR_UNSUPPORTED, "codec config: only causal=true is supported");
    cx_decblock *b = &sq->blocks[i];
    snprintf(pf, sizeof pf, "scalar_model.decoder.%d.up_conv.layer", i + 1);
    float *w;
    HM_TRY(get_conv_weight(L, pf, c_in, c_out, k, true, &w));
    /* [c_in][c_out][k] -> [k*c_out][c_in] */
    float *p;
    HM_TRY(alloc_f32(L, (size_t)c_in * c_out * k, &p));
    for (int a = 0; a < c_in; a++)
      for (int o = 0; o < c_out; o++)
        for (int j = 0; j < k; j++) p[((int64_t)j * c_out + o) * c_in + a] = w[((int64_t)a * c_out + o) * k + j];
    hm_weights_drop(L->w, w);
    b->up.c_in = c_in; b->up.c_out = c_out; b->up.k = k; b->up.s = s; b->up.w = p; b->up.wb = NULL;
    if (m->amx && hm_bmat_fits((int64_t)k * c_out, c_in)) HM_TRY(bf16_copy(L, p, (int64_t)k * c_out * c_in, &b->up.wb));
    snprintf(name, sizeof name, "%s.bias", pf);
    HM_TRY(get_vec(L, name, c_out, &b->up.b));
    rf += 1.0 / hop; /* the transposed conv reads one earlier input frame */
    hop *= s;
    static const int dils[CX_RES_UNITS] = {1, 3, 5, 7, 9};
    for (int r = 0; r < CX_RES_UNITS; r++) {
      cx_resunit *ru = &b->ru[r];
      snprintf(pf, sizeof pf, "scalar_model.decoder.%d.convs.%d.conv1", i + 1, r);
      HM_TRY(get_conv_cf(L, pf, c_out, c_out, c->res_kernel, dils[r], true, true, &ru->c1));
      snprintf(pf, sizeof pf, "scalar_model.decoder.%d.convs.%d.conv2", i + 1, r);
      HM_TRY(get_conv_cf(L, pf, c_out, c_out, 1, 1, true, true, &ru->c2));
      snprintf(name, sizeof name, "scalar_model.decoder.%d.convs.%d.activation1.weight", i + 1, r);
      HM_TRY(get_prelu(L, name, &ru->a1));
      snprintf(name, sizeof name, "scalar_model.decoder.%d.convs.%d.activation2.weight", i + 1, r);
      HM_TRY(get_prelu(L, name, &ru->a2));
      rf += (double)ru->c1.left / hop;
    }
  }
  int idx = n_up + 1;
  sq->has_post = c->num_samples > 1;
  if (sq->has_post) {
    snprintf(pf, sizeof pf, "scalar_model.decoder.%d.conv", idx);
    HM_TRY(get_conv_cf(L, pf, c->init_channel, c->init_channel, c->default_kernel, 1, true, false, &sq->post));
    snprintf(name, sizeof name, "scalar_model.decoder.%d.activation.weight", idx);
    HM_TRY(get_prelu(L, name, &sq->post_a));
    hop *= c->num_samples;
    rf += (double)sq->post.left / hop;
    idx++;
  }
  snprintf(pf, sizeof pf, "scalar_model.decoder.%d", idx);
  HM_TRY(get_conv_cf(L, pf, c->init_channel, 1, c->default_kernel, 1, true, true, &sq->out));
  rf += (double)sq->out.left / hop;
  sq->hop = hop;
  sq->rf_frames = (int)ceil(rf) + 2;
  return HM_OK;
}

/* ---- config ---- */

/* A list of 1..CX_MAX_UP ints in [lo, hi] into out[*n]. */
static hm_status get_int_list(const json_t *o, const char *key, const char *file, int *out, int *n, int lo, int hi) {
  int32_t *v = NULL;
  int nv = 0;
  HM_TRY(hm_json_int_list(o, key, file, 1, CX_MAX_UP, lo, hi, &v, &nv));
  if (!v) return HM_OK;
  for (int i = 0; i < nv; i++) out[i] = v[i];
  *n = nv;
  free(v);
  return HM_OK;
}

static hm_status load_config(const char *path, cx_config *c) {
  /* HeartCodecConfig defaults */
  static const int up_f[5] = {5, 4, 4, 4, 3}, up_k[5] = {10, 8, 8, 8, 6};
  memset(c, 0, sizeof *c);
  c->dim = 512; c->codebook_size = 8192; c->codebook_dim = 32; c->num_quantizers = 8;
  c->head_dim = 64; c->in_channels = 1024; c->n_heads = 24; c->n_layers = 24; c->n_layers_2 = 6;
  c->out_channels = 256; c->sample_rate = 48000; c->num_samples = 2; c->n_up = 5;
  memcpy(c->up_factors, up_f, sizeof up_f); memcpy(c->up_kernels, up_k, sizeof up_k);
  c->latent_hidden_dim = 128; c->default_kernel = 7; c->delay_kernel = 5; c->init_channel = 64; c->res_kernel = 7;
  c->causal = true;
  json_t *j;
  HM_TRY(hm_json_load(path, &j));
  hm_status st = HM_OK;
  int n_up_k = 5, num_bands = 1;
  const char *norm_type = NULL;
  bool cos_sim = false;
#define GI(key, field, lo, hi) if (!st) st = hm_json_int_in(j, key, path, false, lo, hi, &c->field)
  GI("dim", dim, 1, 1 << 16);
  GI("codebook_size", codebook_size, 1, 1 << 24);
  GI("codebook_dim", codebook_dim, 1, 1 << 16);
  GI("num_quantizers", num_quantizers, 1, 64);
  GI("attention_head_dim", head_dim, 2, 1024);
  GI("in_channels", in_channels, 1, 1 << 16);
  GI("num_attention_heads", n_heads, 1, 256);
  GI("num_layers", n_layers, 0, 1024);
  GI("num_layers_2", n_layers_2, 0, 1024);
  GI("out_channels", out_channels, 2, 1 << 16);
  GI("sample_rate", sample_rate, 1, 1000000);
  GI("num_samples", num_samples, 1, 64);
  GI("latent_hidden_dim", latent_hidden_dim, 1, 1 << 16);
  GI("default_kernel_size", default_kernel, 1, 64);
  GI("delay_kernel_size", delay_kernel, 1, 64);
  GI("init_channel", init_channel, 1, 1 << 12);
  GI("res_kernel_size", res_kernel, 1, 64);
#undef GI
  if (!st) st = hm_json_int_in(j, "num_bands", path, false, 1, 64, &num_bands);
  if (!st) st = get_int_list(j, "upsample_factors", path, c->up_factors, &c->n_up, 1, 64);
  if (!st) st = get_int_list(j, "upsample_kernel_sizes", path, c->up_kernels, &n_up_k, 1, 128);
  if (!st) st = hm_json_bool_opt(j, "causal", path, &c->causal);
  if (!st) st = hm_json_bool_opt(j, "use_cosine_sim", path, &cos_sim);
  if (!st) st = hm_json_str_opt(j, "norm_type", path, &norm_type);
  if (!st && n_up_k != c->n_up)
    st = hm_error(HM_ERR_FORMAT, "%s: upsample_factors and upsample_kernel_sizes differ in length", path);
  if (!st && norm_type && strcmp(norm_type, "ada_norm_single") != 0)
    st = hm_error(HM_ERR_UNSUPPORTED, "%s: norm_type '%s' is not supported (only ada_norm_single)", path, norm_type);
  if (!st && num_bands != 1)
    st = hm_error(HM_ERR_UNSUPPORTED, "%s: num_bands = %d is not supported (only 1)", path, num_bands);
  if (!st && c->out_channels != 256)
    st = hm_error(HM_ERR_UNSUPPORTED, "%s: out_channels = %d; detokenize needs 256", path, c->out_channels);
  if (!st && c->out_channels != 2 * c->latent_hidden_dim)
    st = hm_error(HM_ERR_FORMAT, "%s: out_channels (%d) must be 2 x latent_hidden_dim (%d)", path, c->out_channels,
                  c->latent_hidden_dim);
  if (!st && c->in_channels != 2 * c->out_channels + c->dim)
    st = hm_error(HM_ERR_FORMAT, "%s: in_channels (%d) must be 2 x out_channels + dim (%d)", path, c->in_channels,
                  2 * c->out_channels + c->dim);
  if (!st && c->head_dim % 2)
    st = hm_error(HM_ERR_FORMAT, "%s: attention_head_dim must be even", path);
  json_decref(j);
  return st;
}

hm_status hm_codec_load(const char *dir, const hm_codec_params *params, hm_codec_model **out) {
  if (!dir || !out) return hm_error(HM_ERR_INVALID_ARG, "hm_codec_load: dir and out must not be NULL");
  *out = NULL;
  hm_codec_params def = hm_codec_default_params();
  if (!params) params = &def;
  if (!hm_dir_exists(dir)) return hm_error(HM_ERR_IO, "codec folder '%s' does not exist", dir);
  char path[4096];
  HM_TRY(hm_path_join(path, sizeof path, dir, "config.json"));
  if (!hm_file_exists(path)) return hm_error(HM_ERR_IO, "codec folder '%s' has no config.json", dir);
  hm_codec_model *m = calloc(1, sizeof *m);
  if (!m) return hm_error(HM_ERR_NOMEM, "codec: out of memory");
  loader L = {m, NULL, params->bf16_weights};
  m->amx = params->bf16_weights && hm_amx_available();
  hm_pool *load_pool = hm_compute_pool_create(params->n_threads); /* NULL: packing on this thread */
  hm_status st = load_config(path, &m->cfg);
  if (!st) {
    st = hm_weights_open(dir, &m->w);
    if (st) st = hm_error_context(st, "codec folder '%s'", dir);
    else hm_weights_set_pool(m->w, load_pool);
  }
  L.w = m->w;
  const cx_config *c = &m->cfg;
  char name[256];
  /* RVQ codebooks: embed [1, codebook_size, codebook_dim] per quantizer */
  if (!st) {
    size_t per = (size_t)c->codebook_size * c->codebook_dim;
    float *cb = NULL;
    st = alloc_f32(&L, per * c->num_quantizers, &cb);
    for (int q = 0; !st && q < c->num_quantizers; q++) {
      const hm_tensor_view *t;
      int64_t shape[3] = {1, c->codebook_size, c->codebook_dim};
      snprintf(name, sizeof name, "flow_matching.vq_embed.layers.%d._codebook.embed", q);
      st = hm_weights_get(m->w, name, HM_DTMASK_FLOAT, 3, shape, &t);
      if (!st) st = hm_tensor_to_f32(t, cb + per * q);
    }
    if (!st) {
      /* one quantizer more than the config says means the checkpoint disagrees */
      snprintf(name, sizeof name, "flow_matching.vq_embed.layers.%d._codebook.embed", c->num_quantizers);
      if (hm_weights_find(m->w, name))
        st = hm_error(HM_ERR_FORMAT, "%s: tensor '%s' exists but config num_quantizers = %d", hm_weights_path(m->w), name,
                      c->num_quantizers);
    }
    m->codebooks = cb;
  }
  if (!st) {
    if (c->codebook_dim != c->dim)
      st = get_linear(&L, "flow_matching.vq_embed.project_out", c->dim, c->codebook_dim, true, &m->project_out);
    else
      m->project_out.w.data = NULL; /* nn.Identity */
  }
  if (!st) st = get_linear(&L, "flow_matching.cond_feature_emb", c->dim, c->dim, true, &m->cond_emb);
  int D = c->n_heads * c->head_dim, D2 = 2 * D;
  if (!st) st = get_project(&L, "flow_matching.estimator.proj_in", c->in_channels, D, &m->proj_in);
  if (!st) st = get_project(&L, "flow_matching.estimator.connection_proj", c->in_channels + D, D2, &m->connection_proj);
  if (!st) st = get_project(&L, "flow_matching.estimator.proj_out", D2, c->out_channels, &m->proj_out);
  if (!st) st = get_stack(&L, "transformer_blocks", "adaln_single", "scale_shift_table", c->n_layers, c->n_heads,
                          c->head_dim, &m->s1);
  if (!st) st = get_stack(&L, "transformer_blocks_2", "adaln_single_2", "scale_shift_table_2", c->n_layers_2,
                          c->n_heads, 2 * c->head_dim, &m->s2);
  if (!st) st = get_sq(&L);
  if (m->w) hm_weights_set_pool(m->w, NULL);
  hm_pool_free(load_pool);
  if (st) {
    hm_codec_free(m);
    return st;
  }
  hm_log(HM_LOG_INFO, "codec: loaded %s (dim %d, %d+%d layers, %d heads, %s weights)", dir, c->dim, c->n_layers,
         c->n_layers_2, c->n_heads, m->amx ? "BF16 (AMX)" : params->bf16_weights ? "BF16" : "F32");
  *out = m;
  return HM_OK;
}

int hm_codec_sample_rate(const hm_codec_model *m) { return m ? m->cfg.sample_rate : 0; }
int hm_codec_num_codebooks(const hm_codec_model *m) { return m ? m->cfg.num_quantizers : 0; }
int hm_codec_codebook_size(const hm_codec_model *m) { return m ? m->cfg.codebook_size : 0; }
