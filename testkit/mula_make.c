/* Random HeartMuLa checkpoints in the published layout:
 *   <root>/HeartMuLa-oss-<ver>/config.json
 *   <root>/HeartMuLa-oss-<ver>/model-0000k-of-0000n.safetensors (F32) + model.safetensors.index.json
 *     (or one model.safetensors when n_shards <= 1)
 *   <root>/gen_config.json
 * Tensor names are exactly HeartMuLa.state_dict() names. Values: normal(0, 0.02) for
 * matrices and embeddings, ones for RMSNorm scales, zeros for the muq_linear bias; the
 * weights producing the 5 special audio ids are halved (as the fixtures) so random
 * models do not stop at once. Written shard by shard: only one shard is in memory. */
#include "mula/mula.h"
#include "testkit.h"
#include "io/fs.h"
#include "io/json.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <errno.h>

typedef struct mk_tensor {
  char name[96];
  int n_dims;
  int64_t shape[3];
  int64_t n;
  int init; /* 0 normal, 1 ones, 2 zeros */
  int special; /* 1: rows >= V-5 halved ([V, D]); 2: last dim >= V-5 halved */
} mk_tensor;

typedef struct mk_list { mk_tensor *t; int n, cap; } mk_list;

static hm_status add(mk_list *l, const char *name, int n_dims, int64_t a, int64_t b, int64_t c, int init, int special) {
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 128;
    mk_tensor *t = realloc(l->t, (size_t)cap * sizeof *t);
    if (!t) return hm_error(HM_ERR_NOMEM, "out of memory");
    l->t = t;
    l->cap = cap;
  }
  mk_tensor *t = &l->t[l->n++];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->n_dims = n_dims;
  t->shape[0] = a; t->shape[1] = b; t->shape[2] = c;
  t->n = a * (n_dims > 1 ? b : 1) * (n_dims > 2 ? c : 1);
  t->init = init;
  t->special = special;
  return HM_OK;
}

static hm_status add_llama(mk_list *l, const char *prefix, const hm_llama_config *c) {
  const int64_t D = c->embed_dim, hd = c->head_dim, qd = (int64_t)c->num_heads * hd,
                kvd = (int64_t)c->num_kv_heads * hd, I = c->intermediate_dim;
  char n[96];
  for (int i = 0; i < c->num_layers; i++) {
#define T2(s, r, cc) snprintf(n, sizeof n, "%s.layers.%d.%s", prefix, i, s); HM_TRY(add(l, n, 2, r, cc, 0, 0, 0));
    T2("attn.q_proj.weight", qd, D)
    T2("attn.k_proj.weight", kvd, D)
    T2("attn.v_proj.weight", kvd, D)
    T2("attn.output_proj.weight", D, qd)
    T2("mlp.w1.weight", I, D)
    T2("mlp.w2.weight", D, I)
    T2("mlp.w3.weight", I, D)
#undef T2
    snprintf(n, sizeof n, "%s.layers.%d.sa_norm.scale", prefix, i);
    HM_TRY(add(l, n, 1, D, 0, 0, 1, 0));
    snprintf(n, sizeof n, "%s.layers.%d.mlp_norm.scale", prefix, i);
    HM_TRY(add(l, n, 1, D, 0, 0, 1, 0));
  }
  snprintf(n, sizeof n, "%s.norm.scale", prefix);
  return add(l, n, 1, D, 0, 0, 1, 0);
}

static void tiny_llama(hm_llama_config *c, int dim, int inter, int max_seq) {
  memset(c, 0, sizeof *c);
  c->num_layers = 2; c->num_heads = 4; c->num_kv_heads = 2;
  c->embed_dim = dim; c->intermediate_dim = inter; c->max_seq_len = max_seq;
  c->head_dim = dim / 4; c->norm_eps = 1e-5f; c->rope_base = 500000; c->scale_factor = 32;
}

static json_t *llama_json(const hm_llama_config *c) {
  json_t *o = json_object();
  json_object_set_new(o, "num_layers", json_integer(c->num_layers));
  json_object_set_new(o, "num_heads", json_integer(c->num_heads));
  json_object_set_new(o, "num_kv_heads", json_integer(c->num_kv_heads));
  json_object_set_new(o, "embed_dim", json_integer(c->embed_dim));
  json_object_set_new(o, "intermediate_dim", json_integer(c->intermediate_dim));
  json_object_set_new(o, "max_seq_len", json_integer(c->max_seq_len));
  json_object_set_new(o, "norm_eps", json_real(c->norm_eps));
  json_object_set_new(o, "rope_base", json_integer((json_int_t)c->rope_base));
  json_object_set_new(o, "scale_factor", json_integer((json_int_t)c->scale_factor));
  return o;
}


typedef struct fill_task {
  const mk_tensor *t;
  float *data;
  uint64_t seed, stream0;
  int64_t V;
  float special_scale;
} fill_task;

#define MK_BLOCK ((int64_t)1 << 20)

static void fill_run(void *arg, int ith, int nth) {
  const fill_task *f = arg;
  const mk_tensor *t = f->t;
  const int64_t nblocks = (t->n + MK_BLOCK - 1) / MK_BLOCK;
  int64_t b0, b1;
  hm_split(nblocks, ith, nth, 1, &b0, &b1);
  for (int64_t b = b0; b < b1; b++) {
    const int64_t i0 = b * MK_BLOCK, i1 = i0 + MK_BLOCK < t->n ? i0 + MK_BLOCK : t->n;
    hm_rng rng;
    hm_rng_seed(&rng, f->seed, f->stream0 + (uint64_t)b); /* same values whatever the thread count */
    for (int64_t i = i0; i < i1; i++) {
      float v = t->init == 1 ? 1.0f : t->init == 2 ? 0.0f : 0.02f * hm_rng_normal(&rng);
      if (t->special == 1 && i / t->shape[1] >= f->V - 5) v *= f->special_scale;
      if (t->special == 2 && i % t->shape[2] >= f->V - 5) v *= f->special_scale;
      f->data[i] = v;
    }
  }
}


hm_status hm_mula_make_checkpoint(const char *root, const char *flavor, uint64_t seed, int n_shards) {
  if (!root || !*root || !flavor) return hm_error(HM_ERR_INVALID_ARG, "hm_mula_make_checkpoint: NULL argument");
  hm_mula_config cf;
  memset(&cf, 0, sizeof cf);
  bool tiny = false;
  const char *ver;
  float special_scale = 0.5f;
  if (!strcmp(flavor, "tiny") || !strcmp(flavor, "demo")) {
    /* demo: the tiny shapes with room for 2 minutes of frames, and the special
     * (end-of-audio) logits damped harder, so a random demo song runs its length */
    bool demo = !strcmp(flavor, "demo");
    tiny = true;
    ver = flavor;
    special_scale = demo ? 0.05f : 0.5f;
    tiny_llama(&cf.backbone, 64, 128, demo ? 2048 : 128);
    /* tiny: the fixture's shapes; demo: decoder dim 64, so that its audio heads take the
     * quantized formats too (--quant on the demo exercises every quantized path) */
    tiny_llama(&cf.decoder, demo ? 64 : 48, 96, 16);
    cf.text_vocab_size = 1024; cf.audio_vocab_size = 517; cf.audio_num_codebooks = 8; cf.muq_dim = 512;
    cf.text_bos_id = 1000; cf.text_eos_id = 1001; cf.audio_eos_id = 513; cf.empty_id = 0;
    snprintf(cf.backbone_flavor, sizeof cf.backbone_flavor, "llama-tiny-backbone");
    snprintf(cf.decoder_flavor, sizeof cf.decoder_flavor, "llama-tiny-decoder");
  } else if (!strcmp(flavor, "3B")) {
    ver = "3B";
    HM_TRY(hm_llama_flavor("llama-3B", &cf.backbone));
    HM_TRY(hm_llama_flavor("llama-300M", &cf.decoder));
    cf.text_vocab_size = 128256; cf.audio_vocab_size = 8197; cf.audio_num_codebooks = 8; cf.muq_dim = 512;
    cf.text_bos_id = 128000; cf.text_eos_id = 128001; cf.audio_eos_id = 8193; cf.empty_id = 0;
    snprintf(cf.backbone_flavor, sizeof cf.backbone_flavor, "llama-3B");
    snprintf(cf.decoder_flavor, sizeof cf.decoder_flavor, "llama-300M");
  } else {
    return hm_error(HM_ERR_INVALID_ARG, "unknown checkpoint flavor '%s' (tiny, demo, 3B)", flavor);
  }
  char dir[4096], path[4096], name[128];
  HM_TRY(hm_mkdir_p(root));
  snprintf(name, sizeof name, "HeartMuLa-oss-%s", ver);
  HM_TRY(hm_path_join(dir, sizeof dir, root, name));
  HM_TRY(hm_mkdir_p(dir));

  /* config.json */
  json_t *cj = json_object();
  json_object_set_new(cj, "backbone_flavor", json_string(cf.backbone_flavor));
  json_object_set_new(cj, "decoder_flavor", json_string(cf.decoder_flavor));
  json_object_set_new(cj, "text_vocab_size", json_integer(cf.text_vocab_size));
  json_object_set_new(cj, "audio_vocab_size", json_integer(cf.audio_vocab_size));
  json_object_set_new(cj, "audio_num_codebooks", json_integer(cf.audio_num_codebooks));
  json_object_set_new(cj, "muq_dim", json_integer(cf.muq_dim));
  json_object_set_new(cj, "model_type", json_string("heartmula"));
  json_t *arch = json_array();
  json_array_append_new(arch, json_string("HeartMuLa"));
  json_object_set_new(cj, "architectures", arch);
  if (tiny) {
    json_object_set_new(cj, "backbone_config", llama_json(&cf.backbone));
    json_object_set_new(cj, "decoder_config", llama_json(&cf.decoder));
  }
  json_object_set_new(cj, "torch_dtype", json_string("float32"));
  hm_status st = hm_path_join(path, sizeof path, dir, "config.json");
  if (st == HM_OK) st = hm_json_write(path, cj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(cj);
  HM_TRY(st);

  json_t *gj = json_object();
  json_object_set_new(gj, "text_bos_id", json_integer(cf.text_bos_id));
  json_object_set_new(gj, "text_eos_id", json_integer(cf.text_eos_id));
  json_object_set_new(gj, "audio_eos_id", json_integer(cf.audio_eos_id));
  json_object_set_new(gj, "empty_id", json_integer(cf.empty_id));
  st = hm_path_join(path, sizeof path, root, "gen_config.json");
  if (st == HM_OK) st = hm_json_write(path, gj, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(gj);
  HM_TRY(st);

  /* tensor list, in state_dict order */
  mk_list L = {0};
  const int64_t D = cf.backbone.embed_dim, Dd = cf.decoder.embed_dim, V = cf.audio_vocab_size;
  const int ncb = cf.audio_num_codebooks;
  if (!st) st = add_llama(&L, "backbone", &cf.backbone);
  if (!st) st = add_llama(&L, "decoder", &cf.decoder);
  if (!st) st = add(&L, "text_embeddings.weight", 2, cf.text_vocab_size, D, 0, 0, 0);
  if (!st) st = add(&L, "audio_embeddings.weight", 2, V * ncb, D, 0, 0, 0);
  if (!st) st = add(&L, "unconditional_text_embedding.weight", 2, 1, D, 0, 0, 0);
  if (!st) st = add(&L, "projection.weight", 2, Dd, D, 0, 0, 0);
  if (!st) st = add(&L, "codebook0_head.weight", 2, V, D, 0, 0, 1);
  if (!st) st = add(&L, "audio_head", 3, ncb - 1, Dd, V, 0, 2);
  if (!st) st = add(&L, "muq_linear.weight", 2, D, cf.muq_dim, 0, 0, 0);
  if (!st) st = add(&L, "muq_linear.bias", 1, D, 0, 0, 2, 0);
  if (st) { free(L.t); return st; }

  int64_t total = 0;
  for (int i = 0; i < L.n; i++) total += L.t[i].n * 4;
  if (n_shards < 1) n_shards = 1;
  if (n_shards > L.n) n_shards = L.n;
  hm_pool *pool = hm_pool_create(0);
  json_t *wmap = json_object();
  int first = 0;
  uint64_t stream = 1;
  for (int s = 0; s < n_shards && st == HM_OK; s++) {
    /* greedy: tensors [first, last) up to total / n_shards bytes (at least one; the last
     * shard takes the rest; one tensor is left for each later shard) */
    const int64_t per = (total + n_shards - 1) / n_shards;
    const int later = n_shards - 1 - s;
    int64_t acc = 0;
    int last = first;
    while (last < L.n - later && (later == 0 || acc == 0 || acc + L.t[last].n * 4 <= per)) {
      acc += L.t[last].n * 4;
      last++;
    }
    const int cnt = last - first;
    hm_st_entry *ents = calloc((size_t)cnt, sizeof *ents);
    if (!ents) { st = hm_error(HM_ERR_NOMEM, "out of memory"); break; }
    for (int i = 0; i < cnt && st == HM_OK; i++) {
      const mk_tensor *t = &L.t[first + i];
      float *data = hm_malloc_aligned((size_t)t->n * sizeof(float));
      if (!data) { st = hm_error(HM_ERR_NOMEM, "out of memory for tensor '%s' (%lld values)", t->name, (long long)t->n); break; }
      fill_task ft = {t, data, seed, stream, V, special_scale};
      stream += (uint64_t)((t->n + MK_BLOCK - 1) / MK_BLOCK);
      hm_pool_run(pool, fill_run, &ft);
      ents[i].name = t->name;
      ents[i].dtype = HM_DT_F32;
      ents[i].n_dims = t->n_dims;
      for (int d = 0; d < t->n_dims; d++) ents[i].shape[d] = t->shape[d];
      ents[i].data = data;
    }
    char fname[128];
    if (n_shards == 1) snprintf(fname, sizeof fname, "model.safetensors");
    else snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
    if (st == HM_OK) st = hm_path_join(path, sizeof path, dir, fname);
    static const char *const md[] = {"format", "pt", NULL};
    if (st == HM_OK) st = hm_st_write(path, ents, cnt, md);
    for (int i = 0; i < cnt; i++) {
      hm_free_aligned((void *)ents[i].data);
      if (ents[i].name) json_object_set_new(wmap, ents[i].name, json_string(fname));
    }
    free(ents);
    hm_log(HM_LOG_INFO, "wrote %s (%d tensors)", fname, cnt);
    first = last;
  }
  hm_pool_free(pool);
  if (st == HM_OK && n_shards > 1) {
    json_t *idx = json_object(), *meta = json_object();
    json_object_set_new(meta, "total_size", json_integer(total));
    json_object_set_new(idx, "metadata", meta);
    json_object_set_new(idx, "weight_map", wmap);
    wmap = NULL;
    st = hm_path_join(path, sizeof path, dir, "model.safetensors.index.json");
    if (st == HM_OK) st = hm_json_write(path, idx, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(idx);
  }
  json_decref(wmap);
  free(L.t);
  return st;
}
