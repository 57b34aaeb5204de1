/* Whisper model: loading the Hugging Face layout (config.json,
 * generation_config.json, preprocessor_config.json, model.safetensors,
 * tokenizer.json), the encoder and the decoder step with KV cache. */
#include "transcriptor/whisper.h"
#include "io/fs.h"
#include "io/json.h"
#include "io/weights.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct loader {
  hm_whisper_model *m;
  char name[256];
} loader;

/* base (the layer number already in it) + suffix; no run-time format strings */
static const char *tname(loader *L, const char *base, int layer, const char *suffix) {
  (void)layer;
  snprintf(L->name, sizeof L->name, "%s%s", base, suffix);
  return L->name;
}

static hm_status get_f32(loader *L, const char *name, int n_dims, const int64_t *shape, const float **out) {
  float *p;
  HM_TRY(hm_weights_f32(L->m->w, name, n_dims, shape, &p));
  *out = p;
  return HM_OK;
}

static hm_status get_vec(loader *L, const char *name, int64_t n, const float **out) {
  return get_f32(L, name, 1, &n, out);
}

/* Matrices are used in place, in the dtype stored. */
static hm_status get_mat(loader *L, const char *name, int64_t rows, int64_t cols, hm_mat *out) {
  return hm_weights_mat(L->m->w, name, rows, cols, HM_DTMASK_FLOAT, out);
}

static hm_status load_attn(loader *L, const char *prefix, int layer, const char *which, int d, hm_wattn *a) {
  char buf[160];
  snprintf(buf, sizeof buf, "%s.%s.q_proj.weight", prefix, which);
  HM_TRY(get_mat(L, tname(L, buf, layer, ""), d, d, &a->q));
  snprintf(buf, sizeof buf, "%s.%s.k_proj.weight", prefix, which);
  HM_TRY(get_mat(L, tname(L, buf, layer, ""), d, d, &a->k));
  snprintf(buf, sizeof buf, "%s.%s.v_proj.weight", prefix, which);
  HM_TRY(get_mat(L, tname(L, buf, layer, ""), d, d, &a->v));
  snprintf(buf, sizeof buf, "%s.%s.out_proj.weight", prefix, which);
  HM_TRY(get_mat(L, tname(L, buf, layer, ""), d, d, &a->o));
  snprintf(buf, sizeof buf, "%s.%s.q_proj.bias", prefix, which);
  HM_TRY(get_vec(L, tname(L, buf, layer, ""), d, &a->qb));
  snprintf(buf, sizeof buf, "%s.%s.v_proj.bias", prefix, which);
  HM_TRY(get_vec(L, tname(L, buf, layer, ""), d, &a->vb));
  snprintf(buf, sizeof buf, "%s.%s.out_proj.bias", prefix, which);
  HM_TRY(get_vec(L, tname(L, buf, layer, ""), d, &a->ob));
  return HM_OK;
}

static hm_status load_layer(loader *L, const char *prefix, int i, int d, int ffn, bool cross, hm_wlayer *ly) {
  char pre[160];
  snprintf(pre, sizeof pre, "%s.layers.%d.", prefix, i);
  char n[256];
#define NAME(s) (snprintf(n, sizeof n, "%s%s", pre, s), n)
  HM_TRY(get_vec(L, NAME("self_attn_layer_norm.weight"), d, &ly->ln1_w));
  HM_TRY(get_vec(L, NAME("self_attn_layer_norm.bias"), d, &ly->ln1_b));
  char lp[160];
  snprintf(lp, sizeof lp, "%s.layers.%d", prefix, i);
  HM_TRY(load_attn(L, lp, i, "self_attn", d, &ly->attn));
  if (cross) {
    HM_TRY(get_vec(L, NAME("encoder_attn_layer_norm.weight"), d, &ly->lnx_w));
    HM_TRY(get_vec(L, NAME("encoder_attn_layer_norm.bias"), d, &ly->lnx_b));
    HM_TRY(load_attn(L, lp, i, "encoder_attn", d, &ly->xattn));
  }
  HM_TRY(get_vec(L, NAME("final_layer_norm.weight"), d, &ly->ln2_w));
  HM_TRY(get_vec(L, NAME("final_layer_norm.bias"), d, &ly->ln2_b));
  HM_TRY(get_mat(L, NAME("fc1.weight"), ffn, d, &ly->fc1));
  HM_TRY(get_vec(L, NAME("fc1.bias"), ffn, &ly->fc1_b));
  HM_TRY(get_mat(L, NAME("fc2.weight"), d, ffn, &ly->fc2));
  HM_TRY(get_vec(L, NAME("fc2.bias"), d, &ly->fc2_b));
#undef NAME
  return HM_OK;
}

/* ---- config ---- */
static hm_status id_list(const json_t *o, const char *key, const char *file, int n_vocab, int32_t **out, int *n_out) {
  return hm_json_int_list(o, key, file, 0, 1 << 20, 0, n_vocab - 1, out, n_out);
}

static hm_status read_config(hm_whisper_model *m, const char *dir) {
  hm_whisper_config *c = &m->cfg;
  char path[4096];
  json_t *j = NULL;
  HM_TRY(hm_path_join(path, sizeof path, dir, "config.json"));
  if (!hm_file_exists(path)) return hm_error(HM_ERR_IO, "model folder '%s' has no config.json", dir);
  HM_TRY(hm_json_load(path, &j));
  hm_status st = HM_OK;
  const char *mt = NULL, *act = NULL;
  bool scale_emb = false;
#define T(x) do { st = (x); if (st != HM_OK) goto done; } while (0)
  T(hm_json_str_opt(j, "model_type", path, &mt));
  if (mt && strcmp(mt, "whisper") != 0) { st = hm_error(HM_ERR_FORMAT, "%s: model_type is '%s', not 'whisper'", path, mt); goto done; }
  T(hm_json_int_in(j, "d_model", path, true, 1, 16384, &c->d_model));
  T(hm_json_int_in(j, "encoder_layers", path, true, 1, 256, &c->enc_layers));
  T(hm_json_int_in(j, "decoder_layers", path, true, 1, 256, &c->dec_layers));
  T(hm_json_int_in(j, "encoder_attention_heads", path, true, 1, 1024, &c->enc_heads));
  T(hm_json_int_in(j, "decoder_attention_heads", path, true, 1, 1024, &c->dec_heads));
  T(hm_json_int_in(j, "encoder_ffn_dim", path, true, 1, 1 << 20, &c->enc_ffn));
  T(hm_json_int_in(j, "decoder_ffn_dim", path, true, 1, 1 << 20, &c->dec_ffn));
  T(hm_json_int_in(j, "num_mel_bins", path, true, 1, 1024, &c->n_mels));
  T(hm_json_int_in(j, "vocab_size", path, true, 16, 1 << 24, &c->n_vocab));
  T(hm_json_int_in(j, "max_source_positions", path, true, 1, 1 << 20, &c->n_audio_ctx));
  T(hm_json_int_in(j, "max_target_positions", path, true, 4, 1 << 20, &c->n_text_ctx));
  T(hm_json_str_opt(j, "activation_function", path, &act));
  if (act && strcmp(act, "gelu") != 0) { st = hm_error(HM_ERR_UNSUPPORTED, "%s: activation_function '%s' is not supported (gelu only)", path, act); goto done; }
  T(hm_json_bool_opt(j, "scale_embedding", path, &scale_emb));
  if (scale_emb) { st = hm_error(HM_ERR_UNSUPPORTED, "%s: scale_embedding true is not supported", path); goto done; }
  if (c->d_model % c->enc_heads || c->d_model % c->dec_heads) {
    st = hm_error(HM_ERR_FORMAT, "%s: d_model %d is not a multiple of the attention heads", path, c->d_model);
    goto done;
  }
  c->sot = 50258; c->eot = 50257;
  int v;
  v = c->sot; T(hm_json_int_in(j, "decoder_start_token_id", path, false, 0, c->n_vocab - 1, &v)); c->sot = v;
  v = c->eot; T(hm_json_int_in(j, "eos_token_id", path, false, 0, c->n_vocab - 1, &v)); c->eot = v;
  T(id_list(j, "begin_suppress_tokens", path, c->n_vocab, &c->begin_suppress, &c->n_begin_suppress));
  T(id_list(j, "suppress_tokens", path, c->n_vocab, &c->suppress, &c->n_suppress));
  json_decref(j);
  j = NULL;

  /* generation_config.json (optional, but the published model has it) */
  c->no_timestamps = -1;
  c->transcribe = -1;
  c->translate = -1;
  c->lang_first = -1;
  c->n_langs = 0;
  c->max_initial_timestamp_index = 50;
  c->multilingual = c->n_vocab >= 51865;
  HM_TRY(hm_path_join(path, sizeof path, dir, "generation_config.json"));
  if (hm_file_exists(path)) {
    T(hm_json_load(path, &j));
    v = c->sot; T(hm_json_int_in(j, "decoder_start_token_id", path, false, 0, c->n_vocab - 1, &v)); c->sot = v;
    v = c->eot; T(hm_json_int_in(j, "eos_token_id", path, false, 0, c->n_vocab - 1, &v)); c->eot = v;
    v = -1; T(hm_json_int_in(j, "no_timestamps_token_id", path, false, 0, c->n_vocab - 2, &v)); c->no_timestamps = v;
    v = c->max_initial_timestamp_index; T(hm_json_int_in(j, "max_initial_timestamp_index", path, false, 0, 1 << 20, &v));
    c->max_initial_timestamp_index = v;
    T(hm_json_bool_opt(j, "is_multilingual", path, &c->multilingual));
    T(id_list(j, "begin_suppress_tokens", path, c->n_vocab, &c->begin_suppress, &c->n_begin_suppress));
    T(id_list(j, "suppress_tokens", path, c->n_vocab, &c->suppress, &c->n_suppress));
    json_t *tt = json_object_get(j, "task_to_id");
    if (json_is_object(tt)) {
      v = -1; T(hm_json_int_in(tt, "transcribe", path, false, 0, c->n_vocab - 1, &v)); c->transcribe = v;
      v = -1; T(hm_json_int_in(tt, "translate", path, false, 0, c->n_vocab - 1, &v)); c->translate = v;
    }
    json_t *lt = json_object_get(j, "lang_to_id");
    if (json_is_object(lt)) {
      const char *key;
      json_t *val;
      int lo = 1 << 30, hi = -1, cnt = 0;
      json_object_foreach(lt, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= c->n_vocab) {
          st = hm_error(HM_ERR_FORMAT, "%s: lang_to_id[\"%s\"] is not a token id", path, key);
          goto done;
        }
        int id = (int)json_integer_value(val);
        if (id < lo) lo = id;
        if (id > hi) hi = id;
        cnt++;
      }
      if (cnt > 0) {
        if (hi - lo + 1 != cnt) { st = hm_error(HM_ERR_FORMAT, "%s: lang_to_id ids are not contiguous", path); goto done; }
        c->lang_first = lo;
        c->n_langs = cnt;
      }
    }
    json_decref(j);
    j = NULL;
  }
  /* Whisper's fixed layout around <|notimestamps|> when generation_config lacks it. */
  if (c->no_timestamps < 0) c->no_timestamps = c->n_vocab >= 51865 ? 50364 : 50363;
  if (c->no_timestamps + 1 >= c->n_vocab) { st = hm_error(HM_ERR_FORMAT, "%s: no timestamp tokens after <|notimestamps|> (%d) in a vocab of %d", path, c->no_timestamps, c->n_vocab); goto done; }
  c->timestamp_begin = c->no_timestamps + 1;
  c->no_speech = c->no_timestamps - 1;
  if (c->transcribe < 0) c->transcribe = c->no_timestamps - 4;
  if (c->translate < 0) c->translate = c->no_timestamps - 5;
  if (c->lang_first < 0 && c->multilingual) {
    c->lang_first = c->sot + 1;
    c->n_langs = c->translate - c->lang_first;
  }

  /* preprocessor_config.json (optional) */
  c->sample_rate_hz = 16000;
  c->n_fft = 400;
  c->hop = 160;
  c->n_samples = 480000;
  HM_TRY(hm_path_join(path, sizeof path, dir, "preprocessor_config.json"));
  if (hm_file_exists(path)) {
    T(hm_json_load(path, &j));
    int fs = c->n_mels;
    T(hm_json_int_in(j, "sampling_rate", path, false, 1000, 384000, &c->sample_rate_hz));
    T(hm_json_int_in(j, "n_fft", path, false, 4, 1 << 16, &c->n_fft));
    T(hm_json_int_in(j, "hop_length", path, false, 1, 1 << 16, &c->hop));
    T(hm_json_int_in(j, "n_samples", path, false, 1, 1 << 30, &c->n_samples));
    T(hm_json_int_in(j, "feature_size", path, false, 1, 1024, &fs));
    if (fs != c->n_mels) { st = hm_error(HM_ERR_FORMAT, "%s: feature_size %d differs from config.json num_mel_bins %d", path, fs, c->n_mels); goto done; }
  }
  if (c->n_samples / c->hop != 2 * c->n_audio_ctx) {
    st = hm_error(HM_ERR_FORMAT, "%s: %d samples / hop %d = %d mel frames, but the encoder takes 2 x max_source_positions = %d",
                  path, c->n_samples, c->hop, c->n_samples / c->hop, 2 * c->n_audio_ctx);
    goto done;
  }
done:
#undef T
  if (j) json_decref(j);
  return st;
}

void hm_whisper_free(hm_whisper_model *m) {
  if (!m) return;
  free(m->enc);
  free(m->dec);
  free(m->cfg.suppress);
  free(m->cfg.begin_suppress);
  if (m->tok) hm_tokenizer_free(m->tok);
  hm_weights_close(m->w);
  free(m->dir);
  free(m);
}

static hm_status load_weights(loader *L) {
  hm_whisper_model *m = L->m;
  const hm_whisper_config *c = &m->cfg;
  const int d = c->d_model;
  int64_t s3[3];
  s3[0] = d; s3[1] = c->n_mels; s3[2] = 3;
  HM_TRY(get_f32(L, "model.encoder.conv1.weight", 3, s3, &m->conv1_w));
  HM_TRY(get_vec(L, "model.encoder.conv1.bias", d, &m->conv1_b));
  s3[1] = d;
  HM_TRY(get_f32(L, "model.encoder.conv2.weight", 3, s3, &m->conv2_w));
  HM_TRY(get_vec(L, "model.encoder.conv2.bias", d, &m->conv2_b));
  int64_t s2[2] = {c->n_audio_ctx, d};
  HM_TRY(get_f32(L, "model.encoder.embed_positions.weight", 2, s2, &m->enc_pos));
  m->enc = calloc((size_t)c->enc_layers, sizeof(hm_wlayer));
  m->dec = calloc((size_t)c->dec_layers, sizeof(hm_wlayer));
  if (!m->enc || !m->dec) return hm_error(HM_ERR_NOMEM, "out of memory");
  for (int i = 0; i < c->enc_layers; i++)
    HM_TRY(load_layer(L, "model.encoder", i, d, c->enc_ffn, false, &m->enc[i]));
  HM_TRY(get_vec(L, "model.encoder.layer_norm.weight", d, &m->enc_ln_w));
  HM_TRY(get_vec(L, "model.encoder.layer_norm.bias", d, &m->enc_ln_b));
  HM_TRY(get_mat(L, "model.decoder.embed_tokens.weight", c->n_vocab, d, &m->tok_emb));
  s2[0] = c->n_text_ctx;
  HM_TRY(get_f32(L, "model.decoder.embed_positions.weight", 2, s2, &m->dec_pos));
  for (int i = 0; i < c->dec_layers; i++)
    HM_TRY(load_layer(L, "model.decoder", i, d, c->dec_ffn, true, &m->dec[i]));
  HM_TRY(get_vec(L, "model.decoder.layer_norm.weight", d, &m->dec_ln_w));
  HM_TRY(get_vec(L, "model.decoder.layer_norm.bias", d, &m->dec_ln_b));
  if (hm_weights_find(m->w, "proj_out.weight")) {
    /* an untied output projection; the published model ties it to embed_tokens */
    HM_TRY(get_mat(L, "proj_out.weight", c->n_vocab, d, &m->proj_out));
    m->has_proj_out = true;
  }
  return HM_OK;
}

hm_status hm_whisper_load(const char *dir, hm_whisper_model **out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_whisper_load: out is NULL");
  *out = NULL;
  if (!dir || !*dir) return hm_error(HM_ERR_INVALID_ARG, "hm_whisper_load: no model folder given");
  if (!hm_dir_exists(dir)) return hm_error(HM_ERR_IO, "model folder '%s' does not exist", dir);
  hm_whisper_model *m = calloc(1, sizeof *m);
  if (!m) return hm_error(HM_ERR_NOMEM, "out of memory");
  m->dir = strdup(dir);
  loader L = {.m = m};
  hm_status st = read_config(m, dir);
  char path[4096];
  if (st == HM_OK) st = hm_path_join(path, sizeof path, dir, "tokenizer.json");
  if (st == HM_OK && !hm_file_exists(path)) st = hm_error(HM_ERR_IO, "model folder '%s' has no tokenizer.json", dir);
  if (st == HM_OK) st = hm_tokenizer_load(path, &m->tok);
  if (st == HM_OK) {
    int64_t tv = hm_tokenizer_vocab_size(m->tok);
    if (tv > m->cfg.n_vocab)
      st = hm_error(HM_ERR_FORMAT, "%s: %lld tokens, more than config.json vocab_size %d", path, (long long)tv, m->cfg.n_vocab);
  }
  if (st == HM_OK) {
    /* the tokenizer's own special tokens, where it has them */
    int32_t id = hm_tokenizer_token_id(m->tok, "<|nospeech|>");
    if (id < 0) id = hm_tokenizer_token_id(m->tok, "<|nocaptions|>");
    if (id >= 0 && id < m->cfg.n_vocab) m->cfg.no_speech = id;
  }
  if (st == HM_OK) {
    st = hm_path_join(path, sizeof path, dir, "model.safetensors");
    if (st == HM_OK) {
      char idx[4096];
      st = hm_path_join(idx, sizeof idx, dir, "model.safetensors.index.json");
      if (st == HM_OK && !hm_file_exists(path) && !hm_file_exists(idx))
        st = hm_error(HM_ERR_IO, "model folder '%s' has no model.safetensors", dir);
    }
  }
  if (st == HM_OK) st = hm_weights_open(dir, &m->w);
  if (st == HM_OK) st = load_weights(&L);
  if (st != HM_OK) {
    hm_error_context(st, "loading Whisper model '%s'", dir);
    hm_whisper_free(m);
    return st;
  }
  hm_log(HM_LOG_INFO, "whisper: %s: d_model %d, %d+%d layers, %d mels, vocab %d", dir, m->cfg.d_model,
         m->cfg.enc_layers, m->cfg.dec_layers, m->cfg.n_mels, m->cfg.n_vocab);
  *out = m;
  return HM_OK;
}

/* ---- state ---- */
void hm_whisper_state_free(hm_whisper_state *s) {
  if (!s) return;
  hm_mel_ctx_free(s->mel_ctx);
  hm_pool_free(s->pool);
  hm_free_aligned(s->mel);
  hm_free_aligned(s->enc_out);
  hm_free_aligned(s->enc_buf);
  hm_free_aligned(s->xk);
  hm_free_aligned(s->xv);
  hm_free_aligned(s->kc);
  hm_free_aligned(s->vc);
  hm_free_aligned(s->x);
  hm_free_aligned(s->logits);
  hm_free_aligned(s->scores);
  free(s->work);
  free(s);
}

hm_status hm_whisper_state_create(const hm_whisper_model *m, int n_threads, hm_whisper_state **out) {
  *out = NULL;
  const hm_whisper_config *c = &m->cfg;
  hm_whisper_state *s = calloc(1, sizeof *s);
  if (!s) return hm_error(HM_ERR_NOMEM, "out of memory");
  s->m = m;
  hm_status st = hm_mel_ctx_create(c->sample_rate_hz, c->n_fft, c->hop, c->n_mels, c->n_samples, &s->mel_ctx);
  if (st != HM_OK) { hm_whisper_state_free(s); return st; }
  s->pool = n_threads == 1 ? NULL : hm_compute_pool_create(n_threads);
  const size_t d = (size_t)c->d_model, T = (size_t)c->n_audio_ctx, F = (size_t)2 * c->n_audio_ctx;
  size_t ffn = (size_t)(c->enc_ffn > c->dec_ffn ? c->enc_ffn : c->dec_ffn);
  /* encoder scratch: x, h, q, k, v, a (T x d each) + ffn (T x ffn); conv1 out d x F */
  size_t enc_n = 6 * T * d + (T * ffn > T * T ? T * ffn : T * T); /* the ffn block doubles as attention scores */
  if (enc_n < d * F + T * d) enc_n = d * F + T * d;
  s->enc_buf_n = enc_n;
  s->mel = hm_malloc_aligned(sizeof(float) * (size_t)c->n_mels * F);
  s->enc_out = hm_malloc_aligned(sizeof(float) * T * d);
  s->enc_buf = hm_malloc_aligned(sizeof(float) * enc_n);
  s->xk = hm_malloc_aligned(sizeof(float) * (size_t)c->dec_layers * T * d);
  s->xv = hm_malloc_aligned(sizeof(float) * (size_t)c->dec_layers * T * d);
  s->kc = hm_malloc_aligned(sizeof(float) * (size_t)c->dec_layers * c->n_text_ctx * d);
  s->vc = hm_malloc_aligned(sizeof(float) * (size_t)c->dec_layers * c->n_text_ctx * d);
  s->x = hm_malloc_aligned(sizeof(float) * (4 * d + ffn));
  s->logits = hm_malloc_aligned(sizeof(float) * (size_t)c->n_vocab);
  s->scores = hm_malloc_aligned(sizeof(float) * T);
  s->work = malloc(sizeof(double) * (size_t)c->n_vocab);
  if (!s->mel || !s->enc_out || !s->enc_buf || !s->xk || !s->xv || !s->kc || !s->vc || !s->x || !s->logits || !s->scores || !s->work) {
    hm_whisper_state_free(s);
    return hm_error(HM_ERR_NOMEM, "out of memory for the Whisper state (d_model %zu)", d);
  }
  s->h = s->x + d;
  s->q = s->h + d;
  s->att = s->q + d;
  s->ffn = s->att + d;
  *out = s;
  return HM_OK;
}

/* ---- encoder ---- */
static void layernorm_rows(float *y, const float *x, const float *w, const float *b, int64_t rows, int64_t d) {
  for (int64_t r = 0; r < rows; r++) hm_layernorm(y + r * d, x + r * d, w, b, d, 1e-5f);
}

hm_status hm_whisper_encode(hm_whisper_state *s, const float *mel, int layers) {
  const hm_whisper_model *m = s->m;
  const hm_whisper_config *c = &m->cfg;
  const int64_t d = c->d_model, T = c->n_audio_ctx, F = 2 * (int64_t)c->n_audio_ctx;
  const int H = c->enc_heads, hd = (int)(d / H);
  if (layers < 0 || layers > c->enc_layers) layers = c->enc_layers;
  float *buf = s->enc_buf;
  /* conv stem: conv1 -> [d, F], conv2 -> [d, T] */
  float *y1 = buf, *y2 = buf + d * F;
  hm_conv1d(s->pool, mel, c->n_mels, F, m->conv1_w, m->conv1_b, d, 3, 1, 1, 1, 1, 1, y1);
  hm_gelu(y1, d * F);
  hm_conv1d(s->pool, y1, d, F, m->conv2_w, m->conv2_b, d, 3, 2, 1, 1, 1, 1, y2);
  hm_gelu(y2, d * T);
  float *x = s->enc_out; /* residual stream lives in enc_out */
  for (int64_t t = 0; t < T; t++)
    for (int64_t i = 0; i < d; i++) x[t * d + i] = y2[i * T + t] + m->enc_pos[t * d + i];
  float *h = buf, *q = h + T * d, *k = q + T * d, *v = k + T * d, *a = v + T * d, *o = a + T * d, *f = o + T * d;
  const float scale = 1.0f / sqrtf((float)hd);
  for (int l = 0; l < layers; l++) {
    const hm_wlayer *ly = &m->enc[l];
    layernorm_rows(h, x, ly->ln1_w, ly->ln1_b, T, d);
    hm_linear(s->pool, &ly->attn.q, ly->attn.qb, T, h, q);
    hm_linear(s->pool, &ly->attn.k, NULL, T, h, k);
    hm_linear(s->pool, &ly->attn.v, ly->attn.vb, T, h, v);
    hm_attention(s->pool, q, T, d, k, v, T, d, H, H, hd, scale, -1, a, d); /* fused, tiled GEMMs */
    hm_linear(s->pool, &ly->attn.o, ly->attn.ob, T, a, o);
    hm_add(x, x, o, T * d);
    layernorm_rows(h, x, ly->ln2_w, ly->ln2_b, T, d);
    hm_linear(s->pool, &ly->fc1, ly->fc1_b, T, h, f);
    hm_gelu(f, T * (int64_t)c->enc_ffn);
    hm_linear(s->pool, &ly->fc2, ly->fc2_b, T, f, o);
    hm_add(x, x, o, T * d);
  }
  layernorm_rows(x, x, m->enc_ln_w, m->enc_ln_b, T, d);
  return HM_OK;
}

/* ---- decoder ---- */
/* One query against the T cross-attention rows, per head, with the
 * memory-bound matvec kernels: K in [H][T][hd] and V in [H][hd][T] layouts
 * (hm_whisper_cross_kv), so s = scale * K_h q_h and out_h = V_h^T s are plain
 * contiguous matrix-vector products. */
static void cross_attention(hm_pool *pool, const float *q, const float *kh, const float *vt, int64_t T, int64_t d,
                            int H, float scale, float *S, float *out) {
  const int64_t hd = d / H;
  for (int h = 0; h < H; h++) {
    hm_mat K = {HM_DT_F32, T, hd, kh + (size_t)h * T * hd};
    hm_matvec(pool, &K, 1, q + h * hd, hd, S, T);
    for (int64_t t = 0; t < T; t++) S[t] *= scale;
    hm_softmax(S, T);
    hm_mat V = {HM_DT_F32, hd, T, vt + (size_t)h * hd * T};
    hm_matvec(pool, &V, 1, S, T, out + h * hd, hd);
  }
}

void hm_whisper_cross_kv(hm_whisper_state *s) {
  const hm_whisper_model *m = s->m;
  const hm_whisper_config *c = &m->cfg;
  const int64_t d = c->d_model, T = c->n_audio_ctx;
  const int H = c->dec_heads;
  const int64_t hd = d / H;
  float *tmp = s->enc_buf; /* encoder scratch, free once enc_out is computed */
  for (int l = 0; l < c->dec_layers; l++) {
    const hm_wlayer *ly = &m->dec[l];
    float *kh = s->xk + (size_t)l * T * d, *vt = s->xv + (size_t)l * T * d;
    hm_linear(s->pool, &ly->xattn.k, NULL, T, s->enc_out, tmp);
    for (int h = 0; h < H; h++) /* [T, d] -> [H][T][hd] */
      for (int64_t t = 0; t < T; t++) memcpy(kh + ((size_t)h * T + t) * hd, tmp + t * d + h * hd, sizeof(float) * (size_t)hd);
    hm_linear(s->pool, &ly->xattn.v, ly->xattn.vb, T, s->enc_out, tmp);
    for (int64_t t0 = 0; t0 < T; t0 += 32) /* [T, d] -> [d][T] = [H][hd][T], in 32 x 32 tiles */
      for (int64_t i0 = 0; i0 < d; i0 += 32) {
        int64_t t1 = t0 + 32 < T ? t0 + 32 : T, i1 = i0 + 32 < d ? i0 + 32 : d;
        for (int64_t i = i0; i < i1; i++)
          for (int64_t t = t0; t < t1; t++) vt[(size_t)i * T + t] = tmp[t * d + i];
      }
  }
  s->n_past = 0;
}

hm_status hm_whisper_decoder_step(hm_whisper_state *s, int32_t token) {
  const hm_whisper_model *m = s->m;
  const hm_whisper_config *c = &m->cfg;
  const int64_t d = c->d_model, T = c->n_audio_ctx, ctx = c->n_text_ctx;
  const int H = c->dec_heads, hd = (int)(d / H);
  if (token < 0 || token >= c->n_vocab) return hm_error(HM_ERR_INVALID_ARG, "decoder: token id %d out of range", (int)token);
  if (s->n_past >= ctx) return hm_error(HM_ERR_INVALID_ARG, "decoder: the text context of %d positions is full", (int)ctx);
  const int pos = s->n_past;
  float *x = s->x, *h = s->h, *q = s->q, *a = s->att, *f = s->ffn;
  hm_mat_row_f32(&m->tok_emb, token, x);
  const float *pe = m->dec_pos + (size_t)pos * d;
  for (int64_t i = 0; i < d; i++) x[i] += pe[i];
  const float scale = 1.0f / sqrtf((float)hd);
  for (int l = 0; l < c->dec_layers; l++) {
    const hm_wlayer *ly = &m->dec[l];
    float *kc = s->kc + (size_t)l * ctx * d, *vc = s->vc + (size_t)l * ctx * d;
    hm_layernorm(h, x, ly->ln1_w, ly->ln1_b, d, 1e-5f);
    hm_matvec_bias(s->pool, &ly->attn.q, ly->attn.qb, 1, h, d, q, d);
    hm_matvec(s->pool, &ly->attn.k, 1, h, d, kc + (size_t)pos * d, d);
    hm_matvec_bias(s->pool, &ly->attn.v, ly->attn.vb, 1, h, d, vc + (size_t)pos * d, d);
    hm_attention(s->pool, q, 1, d, kc, vc, pos + 1, d, H, H, hd, scale, -1, a, d);
    hm_matvec_bias(s->pool, &ly->attn.o, ly->attn.ob, 1, a, d, h, d);
    hm_add(x, x, h, d);
    hm_layernorm(h, x, ly->lnx_w, ly->lnx_b, d, 1e-5f);
    hm_matvec_bias(s->pool, &ly->xattn.q, ly->xattn.qb, 1, h, d, q, d);
    cross_attention(s->pool, q, s->xk + (size_t)l * T * d, s->xv + (size_t)l * T * d, T, d, H, scale, s->scores, a);
    hm_matvec_bias(s->pool, &ly->xattn.o, ly->xattn.ob, 1, a, d, h, d);
    hm_add(x, x, h, d);
    hm_layernorm(h, x, ly->ln2_w, ly->ln2_b, d, 1e-5f);
    hm_matvec_bias(s->pool, &ly->fc1, ly->fc1_b, 1, h, d, f, c->dec_ffn);
    hm_gelu(f, c->dec_ffn);
    hm_matvec_bias(s->pool, &ly->fc2, ly->fc2_b, 1, f, c->dec_ffn, h, d);
    hm_add(x, x, h, d);
  }
  hm_layernorm(h, x, m->dec_ln_w, m->dec_ln_b, d, 1e-5f);
  hm_matvec(s->pool, m->has_proj_out ? &m->proj_out : &m->tok_emb, 1, h, d, s->logits, c->n_vocab);
  s->n_past++;
  return HM_OK;
}
