/* HeartMuLa model loading: config, gen_config, safetensors tensors (names
 * exactly as the state_dict), optional conversion at load. */
#include "mula/mula.h"
#include "io/fs.h"
#include "io/weights.h"
#include <stdio.h>
#include <stdlib.h>

hm_mula_params hm_mula_default_params(void) {
  return (hm_mula_params){.weights = HM_MULA_WEIGHTS_AS_STORED}; /* all cores, the folder's weights and gen_config */
}

static hm_dtype target_type(hm_mula_weights w, hm_dtype stored, int64_t cols) {
  switch (w) {
    case HM_MULA_WEIGHTS_F32: return HM_DT_F32;
    case HM_MULA_WEIGHTS_BF16: /* the default: F32/F16 -> BF16; a quantized file stays as it is */
      return stored == HM_DT_Q8_0 || stored == HM_DT_Q4_0 ? stored : HM_DT_BF16;
    case HM_MULA_WEIGHTS_Q8_0: return cols % HM_QBLOCK == 0 ? HM_DT_Q8_0 : HM_DT_BF16;
    case HM_MULA_WEIGHTS_Q4_0: return cols % HM_QBLOCK == 0 ? HM_DT_Q4_0 : HM_DT_BF16;
    default: return stored;
  }
}

#define HM_DTMASK_MAT (HM_DTMASK_FLOAT | HM_DTMASK(HM_DT_Q8_0) | HM_DTMASK(HM_DT_Q4_0))

/* A [rows, cols] matrix, in place or (convert) in the load's storage type. */
static hm_status get_mat(hm_mula_model *m, const char *name, int64_t rows, int64_t cols, bool convert,
                         hm_mula_weights w, hm_mat *out) {
  HM_TRY(hm_weights_mat(m->w, name, rows, cols, HM_DTMASK_MAT, out));
  return convert ? hm_weights_convert(m->w, out, target_type(w, out->type, cols), name) : HM_OK;
}

static hm_status load_llama(hm_mula_model *m, const char *prefix, const hm_llama_config *c, hm_mula_weights w,
                            hm_llama *L) {
  L->cfg = *c;
  L->layers = calloc((size_t)c->num_layers, sizeof *L->layers);
  if (!L->layers) return hm_error(HM_ERR_NOMEM, "out of memory");
  const int64_t D = c->embed_dim, hd = c->head_dim, qd = (int64_t)c->num_heads * hd,
                kvd = (int64_t)c->num_kv_heads * hd, I = c->intermediate_dim;
  char name[256];
  for (int l = 0; l < c->num_layers; l++) {
    hm_llama_layer *y = &L->layers[l];
#define MAT(field, suffix, r, cc) \
    snprintf(name, sizeof name, "%s.layers.%d.%s", prefix, l, suffix); \
    HM_TRY(get_mat(m, name, r, cc, true, w, &y->field));
    MAT(wq, "attn.q_proj.weight", qd, D)
    MAT(wk, "attn.k_proj.weight", kvd, D)
    MAT(wv, "attn.v_proj.weight", kvd, D)
    MAT(wo, "attn.output_proj.weight", D, qd)
    MAT(w1, "mlp.w1.weight", I, D)
    MAT(w2, "mlp.w2.weight", D, I)
    MAT(w3, "mlp.w3.weight", I, D)
#undef MAT
    snprintf(name, sizeof name, "%s.layers.%d.sa_norm.scale", prefix, l);
    HM_TRY(hm_weights_vec(m->w, name, D, &y->sa_norm));
    snprintf(name, sizeof name, "%s.layers.%d.mlp_norm.scale", prefix, l);
    HM_TRY(hm_weights_vec(m->w, name, D, &y->mlp_norm));
  }
  snprintf(name, sizeof name, "%s.norm.scale", prefix);
  HM_TRY(hm_weights_vec(m->w, name, D, &L->norm));
  L->rope_len = c->max_seq_len;
  const size_t n = (size_t)L->rope_len * (size_t)(hd / 2);
  L->rope_cos = hm_malloc_aligned(n * sizeof(float));
  L->rope_sin = hm_malloc_aligned(n * sizeof(float));
  if (!L->rope_cos || !L->rope_sin) return hm_error(HM_ERR_NOMEM, "out of memory for RoPE tables");
  hm_llama3_rope_tables((int)hd, c->rope_base, c->scale_factor, L->rope_len, L->rope_cos, L->rope_sin);
  return HM_OK;
}

static int64_t mat_bytes(const hm_mat *W) { return (int64_t)hm_mat_nbytes(W); }

static int64_t llama_bytes(const hm_llama *L) {
  int64_t b = 0;
  for (int l = 0; l < L->cfg.num_layers; l++) {
    const hm_llama_layer *y = &L->layers[l];
    b += mat_bytes(&y->wq) + mat_bytes(&y->wk) + mat_bytes(&y->wv) + mat_bytes(&y->wo) + mat_bytes(&y->w1) +
         mat_bytes(&y->w2) + mat_bytes(&y->w3);
  }
  return b;
}

/* audio_head [n_cb-1, Ddec, V] -> transposed [(n_cb-1) * V, Ddec] so that logits are a matvec. */
static hm_status load_audio_head(hm_mula_model *m, hm_mula_weights w) {
  const hm_mula_config *c = &m->cfg;
  const int64_t K = c->audio_num_codebooks - 1, Dd = c->decoder.embed_dim, V = c->audio_vocab_size;
  const hm_tensor_view *t;
  int64_t shape[3] = {K, Dd, V};
  HM_TRY(hm_weights_get(m->w, "audio_head", HM_DTMASK_FLOAT, 3, shape, &t));
  float *tr = hm_malloc_aligned((size_t)(K * V * Dd) * sizeof(float));
  float *slice = hm_malloc_aligned((size_t)(Dd * V) * sizeof(float));
  if (!tr || !slice) {
    hm_free_aligned(tr);
    hm_free_aligned(slice);
    return hm_error(HM_ERR_NOMEM, "out of memory for audio_head");
  }
  hm_status st = HM_OK;
  const size_t esz = hm_dtype_bytes(t->dtype, 1);
  for (int64_t k = 0; k < K && st == HM_OK; k++) {
    hm_tensor_view sub = *t;
    sub.n_dims = 2;
    sub.shape[0] = Dd;
    sub.shape[1] = V;
    sub.n_elems = Dd * V;
    sub.nbytes = (size_t)(Dd * V) * esz;
    sub.data = (const char *)t->data + (size_t)k * sub.nbytes;
    st = hm_tensor_to_f32(&sub, slice);
    for (int64_t d0 = 0; d0 < Dd && st == HM_OK; d0 += 32) /* 32 x 32 tiles */
      for (int64_t v0 = 0; v0 < V; v0 += 32)
        for (int64_t v = v0; v < V && v < v0 + 32; v++)
          for (int64_t d = d0; d < Dd && d < d0 + 32; d++) tr[(k * V + v) * Dd + d] = slice[d * V + v];
  }
  hm_free_aligned(slice);
  if (st != HM_OK) { hm_free_aligned(tr); return st; }
  hm_weights_release(m->w, t->data, t->nbytes); /* transposed copy made */
  const hm_dtype to = target_type(w, t->dtype, Dd);
  if (to == HM_DT_F32) {
    m->audio_head_t = (hm_mat){HM_DT_F32, K * V, Dd, tr};
    return hm_weights_adopt(m->w, tr, hm_free_aligned);
  }
  /* one codebook's slice (V rows) at a time: frame_step uses each slice as a matrix of
   * its own, so each must be whole in the quantized layouts' row groups */
  const size_t slice_bytes = hm_dtype_bytes(to, Dd) * (size_t)V;
  uint8_t *all = hm_alloc_big(slice_bytes * (size_t)K);
  if (!all) { hm_free_aligned(tr); return hm_error(HM_ERR_NOMEM, "out of memory for audio_head"); }
  for (int64_t k = 0; k < K && st == HM_OK; k++) {
    hm_mat sf = {HM_DT_F32, V, Dd, tr + (size_t)(k * V * Dd)}, q;
    st = hm_mat_convert_pool(m->load_pool, &sf, to, &q);
    if (st != HM_OK) { st = hm_error_context(st, "%s: tensor 'audio_head'", hm_weights_path(m->w)); break; }
    memcpy(all + (size_t)k * slice_bytes, q.data, slice_bytes);
    hm_mat_free_owned(&q);
  }
  hm_free_aligned(tr);
  if (st != HM_OK) { hm_free_aligned(all); return st; }
  HM_TRY(hm_weights_adopt(m->w, all, hm_free_aligned));
  m->audio_head_t = (hm_mat){to, K * V, Dd, all};
  return HM_OK;
}

static hm_status load_all(hm_mula_model *m, const char *dir, const hm_mula_params *p) {
  char cfg_path[4096], path[4096], gen_path[4096];
  if (!hm_dir_exists(dir)) return hm_error(HM_ERR_IO, "%s: no such folder (expected a HeartMuLa checkpoint)", dir);
  HM_TRY(hm_path_join(cfg_path, sizeof cfg_path, dir, "config.json"));
  if (!hm_file_exists(cfg_path)) return hm_error(HM_ERR_IO, "%s: missing (HeartMuLa config)", cfg_path);
  HM_TRY(hm_mula_config_load(cfg_path, &m->cfg));

  const char *gp = NULL;
  if (p->gen_config_path) {
    if (!hm_file_exists(p->gen_config_path)) return hm_error(HM_ERR_IO, "%s: no such file (gen_config)", p->gen_config_path);
    gp = p->gen_config_path;
  } else {
    HM_TRY(hm_path_join(gen_path, sizeof gen_path, dir, "gen_config.json"));
    if (hm_file_exists(gen_path)) gp = gen_path;
    else {
      HM_TRY(hm_path_join(gen_path, sizeof gen_path, dir, "../gen_config.json"));
      if (hm_file_exists(gen_path)) gp = gen_path;
    }
  }
  HM_TRY(hm_mula_gen_config_load(gp, &m->cfg));

  const char *wpath = dir;
  if (p->weights_file) {
    HM_TRY(hm_path_join(path, sizeof path, dir, p->weights_file));
    wpath = (p->weights_file[0] == '/' || !hm_file_exists(path)) && hm_file_exists(p->weights_file) ? p->weights_file : path;
  }
  HM_TRY(hm_weights_open(wpath, &m->w));
  hm_weights_set_pool(m->w, m->load_pool);

  const hm_mula_config *c = &m->cfg;
  const int64_t D = c->backbone.embed_dim, Dd = c->decoder.embed_dim, V = c->audio_vocab_size;
  const hm_mula_weights w = p->weights;
  HM_TRY(load_llama(m, "backbone", &c->backbone, w, &m->backbone));
  HM_TRY(load_llama(m, "decoder", &c->decoder, w, &m->decoder));
  HM_TRY(get_mat(m, "text_embeddings.weight", c->text_vocab_size, D, false, w, &m->text_emb));
  HM_TRY(get_mat(m, "audio_embeddings.weight", V * c->audio_num_codebooks, D, false, w, &m->audio_emb));
  HM_TRY(get_mat(m, "unconditional_text_embedding.weight", 1, D, false, w, &m->uncond_emb));
  HM_TRY(get_mat(m, "projection.weight", Dd, D, true, w, &m->projection));
  HM_TRY(get_mat(m, "codebook0_head.weight", V, D, true, w, &m->codebook0_head));
  HM_TRY(get_mat(m, "muq_linear.weight", D, c->muq_dim, false, w, &m->muq_w));
  HM_TRY(hm_weights_vec(m->w, "muq_linear.bias", D, &m->muq_b));
  HM_TRY(load_audio_head(m, w));
  m->bytes_per_frame = llama_bytes(&m->backbone) + mat_bytes(&m->codebook0_head) +
                       (int64_t)(c->audio_num_codebooks - 1) * (llama_bytes(&m->decoder) + mat_bytes(&m->projection)) +
                       mat_bytes(&m->audio_head_t);
  hm_log(HM_LOG_INFO, "HeartMuLa: %d+%d layers, dim %d/%d, %.2f GB streamed per frame", c->backbone.num_layers,
         c->decoder.num_layers, (int)D, (int)Dd, (double)m->bytes_per_frame / 1e9);
  return HM_OK;
}

hm_status hm_mula_load(const char *dir, const hm_mula_params *params, hm_mula_model **out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_mula_load: out is NULL");
  *out = NULL;
  if (!dir || !*dir) return hm_error(HM_ERR_INVALID_ARG, "hm_mula_load: dir is empty");
  hm_mula_params p = params ? *params : hm_mula_default_params();
  if ((int)p.weights < 0 || p.weights > HM_MULA_WEIGHTS_Q4_0)
    return hm_error(HM_ERR_INVALID_ARG, "hm_mula_load: unknown weights format %d", (int)p.weights);
  hm_mula_model *m = calloc(1, sizeof *m);
  if (!m) return hm_error(HM_ERR_NOMEM, "out of memory");
  m->load_pool = hm_compute_pool_create(p.n_threads);
  hm_status st = m->load_pool ? load_all(m, dir, &p) : hm_error(HM_ERR_NOMEM, "cannot create a thread pool");
  if (m->w) hm_weights_set_pool(m->w, NULL);
  hm_pool_free(m->load_pool);
  m->load_pool = NULL;
  if (st != HM_OK) {
    hm_error_context(st, "loading HeartMuLa from %s", dir);
    hm_mula_free(m);
    return st;
  }
  *out = m;
  return HM_OK;
}

static void free_llama(hm_llama *L) {
  free(L->layers);
  hm_free_aligned(L->rope_cos);
  hm_free_aligned(L->rope_sin);
}

void hm_mula_free(hm_mula_model *m) {
  if (!m) return;
  free_llama(&m->backbone);
  free_llama(&m->decoder);
  hm_weights_close(m->w);
  free(m);
}

void hm_mula_get_info(const hm_mula_model *m, hm_mula_info *out) {
  memset(out, 0, sizeof *out);
  if (!m) return;
  const hm_mula_config *c = &m->cfg;
  out->n_codebooks = c->audio_num_codebooks;
  out->audio_vocab_size = c->audio_vocab_size;
  out->text_vocab_size = c->text_vocab_size;
  out->muq_dim = c->muq_dim;
  out->backbone_dim = c->backbone.embed_dim;
  out->decoder_dim = c->decoder.embed_dim;
  out->backbone_layers = c->backbone.num_layers;
  out->decoder_layers = c->decoder.num_layers;
  out->max_seq_len = c->backbone.max_seq_len;
  out->text_bos_id = c->text_bos_id;
  out->text_eos_id = c->text_eos_id;
  out->audio_eos_id = c->audio_eos_id;
  out->empty_id = c->empty_id;
  out->weight_bytes_per_frame = m->bytes_per_frame;
}
