/* Random Whisper checkpoints in the published Hugging Face layout, for tests
 * and benchmarks: "tiny" (the fixture's shape) and "large-v3" (full size). */
#include "transcriptor/whisper.h"
#include "testkit.h"
#include "io/fs.h"
#include "io/json.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Whisper large-v3's languages in token order (<|en|> = 50259 ... <|yue|> = 50358). */
static const char *const k_langs[] = {
  "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id", "hi", "fi", "vi",
  "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk",
  "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw",
  "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo",
  "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue"};
#define N_LANGS ((int)(sizeof k_langs / sizeof k_langs[0]))

/* large-v3 generation_config suppress_tokens: the non-speech symbols, then specials */
static const int32_t k_suppress[] = {
  1, 2, 7, 8, 9, 10, 14, 25, 26, 27, 28, 29, 31, 58, 59, 60, 61, 62, 63, 90, 91, 92, 93, 359, 503, 522, 542, 873, 893,
  902, 918, 922, 931, 1350, 1853, 1982, 2460, 2627, 3246, 3253, 3268, 3536, 3846, 3961, 4183, 4667, 6585, 6647, 7273,
  9061, 9383, 10428, 10929, 11938, 12033, 12331, 12562, 13793, 14157, 14635, 15265, 15618, 16553, 16604, 18362, 18956,
  20075, 21675, 22520, 26130, 26161, 26435, 28279, 29464, 31650, 32302, 32470, 36865, 42863, 47425, 49870, 50254,
  50258, 50359, 50360, 50361, 50362, 50363};

typedef struct mk_dims { int d, enc_layers, dec_layers, heads, ffn, n_mels, vocab, audio_ctx, text_ctx; } mk_dims;

static hm_status write_text(const char *dir, const char *name, const char *text) {
  char path[4096], tmp[4200];
  HM_TRY(hm_path_join(path, sizeof path, dir, name));
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return hm_error(HM_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
  size_t n = strlen(text);
  bool ok = fwrite(text, 1, n, f) == n;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) { remove(tmp); return hm_error(HM_ERR_IO, "cannot write '%s'", path); }
  return HM_OK;
}

static hm_status write_json(const char *dir, const char *name, json_t *j) {
  char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
  json_decref(j);
  if (!s) return hm_error(HM_ERR_NOMEM, "out of memory writing %s", name);
  hm_status st = write_text(dir, name, s);
  free(s);
  return st;
}

static json_t *id_array(const int32_t *ids, int n) {
  json_t *a = json_array();
  for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(ids[i]));
  return a;
}

static hm_status write_configs(const char *dir, const mk_dims *D) {
  json_t *c = json_object();
  json_object_set_new(c, "_name_or_path", json_string("random-whisper-large-v3-layout"));
  json_object_set_new(c, "activation_function", json_string("gelu"));
  json_t *arch = json_array();
  json_array_append_new(arch, json_string("WhisperForConditionalGeneration"));
  json_object_set_new(c, "architectures", arch);
  int32_t bs[2] = {220, 50257};
  json_object_set_new(c, "begin_suppress_tokens", id_array(bs, 2));
  json_object_set_new(c, "bos_token_id", json_integer(50257));
  json_object_set_new(c, "d_model", json_integer(D->d));
  json_object_set_new(c, "decoder_attention_heads", json_integer(D->heads));
  json_object_set_new(c, "decoder_ffn_dim", json_integer(D->ffn));
  json_object_set_new(c, "decoder_layers", json_integer(D->dec_layers));
  json_object_set_new(c, "decoder_start_token_id", json_integer(50258));
  json_object_set_new(c, "encoder_attention_heads", json_integer(D->heads));
  json_object_set_new(c, "encoder_ffn_dim", json_integer(D->ffn));
  json_object_set_new(c, "encoder_layers", json_integer(D->enc_layers));
  json_object_set_new(c, "eos_token_id", json_integer(50257));
  json_object_set_new(c, "is_encoder_decoder", json_true());
  json_object_set_new(c, "max_length", json_integer(D->text_ctx));
  json_object_set_new(c, "max_source_positions", json_integer(D->audio_ctx));
  json_object_set_new(c, "max_target_positions", json_integer(D->text_ctx));
  json_object_set_new(c, "model_type", json_string("whisper"));
  json_object_set_new(c, "num_hidden_layers", json_integer(D->enc_layers));
  json_object_set_new(c, "num_mel_bins", json_integer(D->n_mels));
  json_object_set_new(c, "pad_token_id", json_integer(50256));
  json_object_set_new(c, "scale_embedding", json_false());
  json_object_set_new(c, "torch_dtype", json_string("float16"));
  json_object_set_new(c, "use_cache", json_true());
  json_object_set_new(c, "vocab_size", json_integer(D->vocab));
  HM_TRY(write_json(dir, "config.json", c));

  json_t *g = json_object();
  json_object_set_new(g, "begin_suppress_tokens", id_array(bs, 2));
  json_object_set_new(g, "bos_token_id", json_integer(50257));
  json_object_set_new(g, "decoder_start_token_id", json_integer(50258));
  json_object_set_new(g, "eos_token_id", json_integer(50257));
  json_object_set_new(g, "is_multilingual", json_true());
  json_t *langs = json_object();
  for (int i = 0; i < N_LANGS; i++) {
    char k[32];
    snprintf(k, sizeof k, "<|%s|>", k_langs[i]);
    json_object_set_new(langs, k, json_integer(50259 + i));
  }
  json_object_set_new(g, "lang_to_id", langs);
  json_object_set_new(g, "max_initial_timestamp_index", json_integer(50));
  json_object_set_new(g, "max_length", json_integer(D->text_ctx));
  json_object_set_new(g, "no_timestamps_token_id", json_integer(50364));
  json_object_set_new(g, "pad_token_id", json_integer(50257));
  json_object_set_new(g, "prev_sot_token_id", json_integer(50362));
  json_object_set_new(g, "return_timestamps", json_false());
  json_object_set_new(g, "suppress_tokens", id_array(k_suppress, (int)(sizeof k_suppress / sizeof k_suppress[0])));
  json_t *tasks = json_object();
  json_object_set_new(tasks, "transcribe", json_integer(50360));
  json_object_set_new(tasks, "translate", json_integer(50359));
  json_object_set_new(g, "task_to_id", tasks);
  HM_TRY(write_json(dir, "generation_config.json", g));

  json_t *p = json_object();
  json_object_set_new(p, "chunk_length", json_integer(30));
  json_object_set_new(p, "feature_extractor_type", json_string("WhisperFeatureExtractor"));
  json_object_set_new(p, "feature_size", json_integer(D->n_mels));
  json_object_set_new(p, "hop_length", json_integer(160));
  json_object_set_new(p, "n_fft", json_integer(400));
  json_object_set_new(p, "n_samples", json_integer(480000));
  json_object_set_new(p, "nb_max_frames", json_integer(3000));
  json_object_set_new(p, "padding_side", json_string("right"));
  json_object_set_new(p, "padding_value", json_real(0.0));
  json_object_set_new(p, "processor_class", json_string("WhisperProcessor"));
  json_object_set_new(p, "return_attention_mask", json_false());
  json_object_set_new(p, "sampling_rate", json_integer(16000));
  return write_json(dir, "preprocessor_config.json", p);
}

/* GPT-2's byte -> unicode map (the ByteLevel alphabet), as UTF-8 into out (<= 3 bytes). */
static int byte_char(int b, char *out) {
  int cp;
  if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) cp = b;
  else {
    int n = 0;
    for (int x = 0; x < b; x++)
      if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) n++;
    cp = 256 + n;
  }
  if (cp < 0x80) { out[0] = (char)cp; return 1; }
  out[0] = (char)(0xC0 | (cp >> 6));
  out[1] = (char)(0x80 | (cp & 0x3F));
  return 2;
}

/* A stand-in tokenizer.json: ids 0..255 the bytes, 256..50256 filler words,
 * then Whisper's added tokens at their large-v3 ids. */
static hm_status write_stub_tokenizer(const char *dir) {
  json_t *vocab = json_object();
  char s[64];
  for (int b = 0; b < 256; b++) {
    int n = byte_char(b, s);
    s[n] = 0;
    json_object_set_new(vocab, s, json_integer(b));
  }
  for (int id = 256; id < 50257; id++) {
    int n = byte_char(' ', s);
    snprintf(s + n, sizeof s - (size_t)n, "w%d", id);
    json_object_set_new(vocab, s, json_integer(id));
  }
  json_t *added = json_array();
  int id = 50257;
  const char *fixed[] = {"<|endoftext|>", "<|startoftranscript|>"};
  for (int i = 0; i < 2; i++, id++) {
    json_t *t = json_object();
    json_object_set_new(t, "id", json_integer(id));
    json_object_set_new(t, "content", json_string(fixed[i]));
    json_object_set_new(t, "special", json_true());
    json_array_append_new(added, t);
  }
  for (int i = 0; i < N_LANGS; i++, id++) {
    snprintf(s, sizeof s, "<|%s|>", k_langs[i]);
    json_t *t = json_object();
    json_object_set_new(t, "id", json_integer(id));
    json_object_set_new(t, "content", json_string(s));
    json_object_set_new(t, "special", json_true());
    json_array_append_new(added, t);
  }
  const char *tail[] = {"<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"};
  for (int i = 0; i < 6; i++, id++) {
    json_t *t = json_object();
    json_object_set_new(t, "id", json_integer(id));
    json_object_set_new(t, "content", json_string(tail[i]));
    json_object_set_new(t, "special", json_true());
    json_array_append_new(added, t);
  }
  for (int k = 0; k <= 1500; k++, id++) {
    snprintf(s, sizeof s, "<|%d.%02d|>", k / 50, (k % 50) * 2);
    json_t *t = json_object();
    json_object_set_new(t, "id", json_integer(id));
    json_object_set_new(t, "content", json_string(s));
    json_object_set_new(t, "special", json_false());
    json_array_append_new(added, t);
  }
  json_t *root = json_object();
  json_object_set_new(root, "version", json_string("1.0"));
  json_object_set_new(root, "added_tokens", added);
  json_object_set_new(root, "normalizer", json_null());
  json_t *pre = json_object();
  json_object_set_new(pre, "type", json_string("ByteLevel"));
  json_object_set_new(pre, "add_prefix_space", json_false());
  json_object_set_new(pre, "trim_offsets", json_true());
  json_object_set_new(pre, "use_regex", json_true());
  json_object_set_new(root, "pre_tokenizer", pre);
  json_object_set_new(root, "post_processor", json_null());
  json_t *dec = json_object();
  json_object_set_new(dec, "type", json_string("ByteLevel"));
  json_object_set_new(dec, "add_prefix_space", json_true());
  json_object_set_new(dec, "trim_offsets", json_true());
  json_object_set_new(dec, "use_regex", json_true());
  json_object_set_new(root, "decoder", dec);
  json_t *model = json_object();
  json_object_set_new(model, "type", json_string("BPE"));
  json_object_set_new(model, "dropout", json_null());
  json_object_set_new(model, "unk_token", json_null());
  json_object_set_new(model, "continuing_subword_prefix", json_string(""));
  json_object_set_new(model, "end_of_word_suffix", json_string(""));
  json_object_set_new(model, "fuse_unk", json_false());
  json_object_set_new(model, "byte_fallback", json_false());
  json_object_set_new(model, "vocab", vocab);
  json_object_set_new(model, "merges", json_array());
  json_object_set_new(root, "model", model);
  return write_json(dir, "tokenizer.json", root);
}

static hm_status copy_file(const char *src, const char *dir, const char *name) {
  char *buf = NULL;
  size_t len = 0;
  HM_TRY(hm_read_file(src, &buf, &len));
  hm_status st = write_text(dir, name, buf);
  free(buf);
  return st;
}

/* ---- weights ---- */
typedef struct mk_tensors {
  hm_st_entry *e;
  int n, cap;
  hm_rng rng;
  bool oom;
} mk_tensors;

static uint16_t *mk_add(mk_tensors *T, const char *name, int n_dims, int64_t d0, int64_t d1, int64_t d2) {
  if (T->oom) return NULL;
  if (T->n == T->cap) {
    int cap = T->cap ? T->cap * 2 : 512;
    hm_st_entry *p = realloc(T->e, sizeof *p * (size_t)cap);
    if (!p) { T->oom = true; return NULL; }
    T->e = p;
    T->cap = cap;
  }
  hm_st_entry *e = &T->e[T->n];
  memset(e, 0, sizeof *e);
  e->name = strdup(name);
  e->dtype = HM_DT_F16;
  e->n_dims = n_dims;
  e->shape[0] = d0;
  e->shape[1] = d1;
  e->shape[2] = d2;
  int64_t n = d0 * (n_dims > 1 ? d1 : 1) * (n_dims > 2 ? d2 : 1);
  uint16_t *data = malloc(sizeof(uint16_t) * (size_t)n);
  if (!e->name || !data) { free((void *)e->name); free(data); T->oom = true; return NULL; }
  e->data = data;
  T->n++;
  return data;
}

static void mk_normal(mk_tensors *T, const char *name, int n_dims, int64_t d0, int64_t d1, int64_t d2, float mean, float std) {
  uint16_t *p = mk_add(T, name, n_dims, d0, d1, d2);
  if (!p) return;
  int64_t n = d0 * (n_dims > 1 ? d1 : 1) * (n_dims > 2 ? d2 : 1);
  for (int64_t i = 0; i < n; i++) p[i] = hm_f32_to_f16(mean + std * hm_rng_normal(&T->rng));
}

static void mk_attn(mk_tensors *T, const char *pre, int d, float wstd) {
  char n[256];
  const char *proj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
  for (int i = 0; i < 4; i++) {
    snprintf(n, sizeof n, "%s.%s.weight", pre, proj[i]);
    mk_normal(T, n, 2, d, d, 0, 0.0f, wstd);
    if (i != 1) {
      snprintf(n, sizeof n, "%s.%s.bias", pre, proj[i]);
      mk_normal(T, n, 1, d, 0, 0, 0.0f, 0.02f);
    }
  }
}

static void mk_ln(mk_tensors *T, const char *pre, int d) {
  char n[256];
  snprintf(n, sizeof n, "%s.weight", pre);
  mk_normal(T, n, 1, d, 0, 0, 1.0f, 0.1f);
  snprintf(n, sizeof n, "%s.bias", pre);
  mk_normal(T, n, 1, d, 0, 0, 0.0f, 0.02f);
}

static void mk_layer(mk_tensors *T, const char *stack, int i, const mk_dims *D, bool cross, float wstd) {
  char pre[128], n[256];
  snprintf(pre, sizeof pre, "model.%s.layers.%d", stack, i);
  snprintf(n, sizeof n, "%s.self_attn", pre);
  mk_attn(T, n, D->d, wstd);
  snprintf(n, sizeof n, "%s.self_attn_layer_norm", pre);
  mk_ln(T, n, D->d);
  if (cross) {
    snprintf(n, sizeof n, "%s.encoder_attn", pre);
    mk_attn(T, n, D->d, wstd);
    snprintf(n, sizeof n, "%s.encoder_attn_layer_norm", pre);
    mk_ln(T, n, D->d);
  }
  snprintf(n, sizeof n, "%s.fc1.weight", pre);
  mk_normal(T, n, 2, D->ffn, D->d, 0, 0.0f, wstd);
  snprintf(n, sizeof n, "%s.fc1.bias", pre);
  mk_normal(T, n, 1, D->ffn, 0, 0, 0.0f, 0.02f);
  snprintf(n, sizeof n, "%s.fc2.weight", pre);
  mk_normal(T, n, 2, D->d, D->ffn, 0, 0.0f, wstd);
  snprintf(n, sizeof n, "%s.fc2.bias", pre);
  mk_normal(T, n, 1, D->d, 0, 0, 0.0f, 0.02f);
  snprintf(n, sizeof n, "%s.final_layer_norm", pre);
  mk_ln(T, n, D->d);
}

static void mk_tensors_free(mk_tensors *T) {
  for (int i = 0; i < T->n; i++) { free((void *)T->e[i].name); free((void *)T->e[i].data); }
  free(T->e);
}

hm_status hm_whisper_make_checkpoint_ex(const char *dir, const char *flavor, uint64_t seed, const char *tokenizer_json) {
  if (!dir || !*dir) return hm_error(HM_ERR_INVALID_ARG, "make checkpoint: no folder given");
  mk_dims D;
  if (!flavor || !strcmp(flavor, "tiny")) D = (mk_dims){64, 2, 2, 4, 256, 128, 51866, 1500, 448};
  else if (!strcmp(flavor, "large-v3")) D = (mk_dims){1280, 32, 32, 20, 5120, 128, 51866, 1500, 448};
  else return hm_error(HM_ERR_INVALID_ARG, "make checkpoint: unknown Whisper flavor '%s' (tiny, large-v3)", flavor);
  if (tokenizer_json && !hm_file_exists(tokenizer_json))
    return hm_error(HM_ERR_IO, "make checkpoint: tokenizer '%s' does not exist", tokenizer_json);
  HM_TRY(hm_mkdir_p(dir));
  char path[4096];
  HM_TRY(hm_path_join(path, sizeof path, dir, "model.safetensors"));
  if (hm_file_exists(path)) return hm_error(HM_ERR_IO, "'%s' already exists; not overwriting it", path);
  HM_TRY(write_configs(dir, &D));
  if (tokenizer_json) HM_TRY(copy_file(tokenizer_json, dir, "tokenizer.json"));
  else HM_TRY(write_stub_tokenizer(dir));

  mk_tensors T;
  memset(&T, 0, sizeof T);
  hm_rng_seed(&T.rng, seed, 7);
  mk_normal(&T, "model.encoder.conv1.weight", 3, D.d, D.n_mels, 3, 0.0f, 0.05f);
  mk_normal(&T, "model.encoder.conv1.bias", 1, D.d, 0, 0, 0.0f, 0.02f);
  mk_normal(&T, "model.encoder.conv2.weight", 3, D.d, D.d, 3, 0.0f, 0.05f);
  mk_normal(&T, "model.encoder.conv2.bias", 1, D.d, 0, 0, 0.0f, 0.02f);
  uint16_t *pos = mk_add(&T, "model.encoder.embed_positions.weight", 2, D.audio_ctx, D.d, 0);
  if (pos) { /* Whisper's sinusoids(length, channels) */
    int half = D.d / 2;
    double inc = log(10000.0) / (half - 1);
    for (int t = 0; t < D.audio_ctx; t++)
      for (int i = 0; i < half; i++) {
        double a = t * exp(-inc * i);
        pos[(size_t)t * D.d + i] = hm_f32_to_f16((float)sin(a));
        pos[(size_t)t * D.d + half + i] = hm_f32_to_f16((float)cos(a));
      }
  }
  for (int i = 0; i < D.enc_layers; i++) mk_layer(&T, "encoder", i, &D, false, 0.02f);
  mk_ln(&T, "model.encoder.layer_norm", D.d);
  mk_normal(&T, "model.decoder.embed_tokens.weight", 2, D.vocab, D.d, 0, 0.0f, 0.1f);
  mk_normal(&T, "model.decoder.embed_positions.weight", 2, D.text_ctx, D.d, 0, 0.0f, 0.5f);
  for (int i = 0; i < D.dec_layers; i++) mk_layer(&T, "decoder", i, &D, true, 0.1f);
  mk_ln(&T, "model.decoder.layer_norm", D.d);
  hm_status st;
  if (T.oom) st = hm_error(HM_ERR_NOMEM, "make checkpoint: out of memory for the '%s' weights", flavor ? flavor : "tiny");
  else {
    const char *meta[] = {"format", "pt", NULL};
    st = hm_st_write(path, T.e, T.n, meta);
  }
  mk_tensors_free(&T);
  return st;
}

hm_status hm_whisper_make_checkpoint(const char *dir, const char *flavor, uint64_t seed) {
  return hm_whisper_make_checkpoint_ex(dir, flavor, seed, NULL);
}
