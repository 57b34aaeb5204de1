/* HeartCodec checkpoint maker and bad input: the tiny random checkpoint has
 * exactly the fixture's state_dict names and shapes and loads; broken
 * checkpoints, configs, codes and parameters give clear errors, no crash. */
#include "harness.h"
#include "testkit.h"
#include "codec/codec_internal.h"
#include "io/fs.h"
#include "io/json.h"

#include <stdlib.h>
#include <sys/stat.h>

static void copy_file(const char *from, const char *to) {
  char *buf = NULL;
  size_t n = 0;
  CHECK_OK(hm_read_file(from, &buf, &n));
  FILE *f = fopen(to, "wb");
  CHECK(f != NULL);
  if (f) { fwrite(buf, 1, n, f); fclose(f); }
  free(buf);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (f) { fputs(text, f); fclose(f); }
}

/* dir/<sub>/ with config.json from src_dir and a model.safetensors holding
 * src's tensors except `drop`, and `reshape` given a different shape. */
static const char *variant(const char *src_dir, const char *sub, const char *drop, const char *reshape) {
  static char out[1024];
  char p[1100];
  snprintf(out, sizeof out, "%s/%s", hm_test_tmpdir(), sub);
  mkdir(out, 0755);
  char cfg_from[1100], cfg_to[1100];
  snprintf(cfg_from, sizeof cfg_from, "%s/config.json", src_dir);
  snprintf(cfg_to, sizeof cfg_to, "%s/config.json", out);
  copy_file(cfg_from, cfg_to);
  hm_st *st = NULL;
  CHECK_OK(hm_st_open(src_dir, &st));
  if (!st) return out;
  int n = hm_st_count(st), k = 0;
  hm_st_entry *e = calloc((size_t)n, sizeof *e);
  for (int i = 0; i < n; i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    if (drop && !strcmp(t->name, drop)) continue;
    e[k] = hm_st_entry_of(t);
    if (reshape && !strcmp(t->name, reshape) && t->n_dims == 2) { /* [a, b] -> [a/2, b] using the first half */
      e[k].shape[0] = t->shape[0] / 2;
    }
    k++;
  }
  snprintf(p, sizeof p, "%s/model.safetensors", out);
  CHECK_OK(hm_st_write(p, e, k, NULL));
  free(e);
  hm_st_close(st);
  return out;
}

static void test_make_tiny(char *tiny, size_t n) {
  snprintf(tiny, n, "%s/HeartCodec-tiny", hm_test_tmpdir());
  CHECK_OK(hm_codec_make_checkpoint(tiny, "tiny", 5));
  CHECK_ERR(hm_codec_make_checkpoint(tiny, "huge", 5), "unknown flavor");
  /* same names and shapes as the real (fixture) state_dict */
  char mp[1024];
  json_t *man = NULL;
  CHECK_OK(hm_json_load(hm_test_path(mp, sizeof mp, "fixtures/manifest.json"), &man));
  hm_st *st = NULL;
  CHECK_OK(hm_st_open(tiny, &st));
  if (!man || !st) { if (man) json_decref(man); hm_st_close(st); return; }
  json_t *shapes = json_object_get(man, "heartcodec_param_shapes");
  CHECK(json_is_object(shapes));
  CHECK_MSG((int)json_object_size(shapes) == hm_st_count(st), "manifest %d names, made %d", (int)json_object_size(shapes),
            hm_st_count(st));
  const char *key;
  json_t *val;
  int mismatched = 0;
  json_object_foreach(shapes, key, val) {
    const hm_tensor_view *t = hm_st_find(st, key);
    bool ok = t && t->n_dims == (int)json_array_size(val);
    for (int d = 0; ok && d < t->n_dims; d++) ok = t->shape[d] == json_integer_value(json_array_get(val, (size_t)d));
    if (!ok && mismatched++ < 5) fprintf(stderr, "made checkpoint differs at '%s'\n", key);
  }
  CHECK(mismatched == 0);
  hm_st_close(st);
  json_decref(man);
  /* it loads and decodes to a finite waveform */
  hm_codec_model *m = NULL;
  CHECK_OK(hm_codec_load(tiny, NULL, &m));
  if (!m) return;
  int32_t codes[8 * 12];
  for (int i = 0; i < 8 * 12; i++) codes[i] = (i * 131) % 512;
  hm_codec_params p = hm_codec_default_params();
  p.steps = 2;
  float *wav = NULL;
  int64_t ns = 0;
  CHECK_OK(hm_codec_decode(m, codes, 12, &p, NULL, NULL, NULL, &wav, &ns));
  CHECK(ns == 12 * 3840);
  bool finite = wav != NULL;
  for (int64_t i = 0; wav && i < 2 * ns; i++) if (!isfinite(wav[i])) finite = false;
  CHECK(finite);
  free(wav);
  /* BF16 weights: same shapes, close output */
  hm_codec_model *mb = NULL;
  p.bf16_weights = true;
  CHECK_OK(hm_codec_load(tiny, &p, &mb));
  if (mb) {
    float *w2 = NULL;
    CHECK_OK(hm_codec_decode(mb, codes, 12, &p, NULL, NULL, NULL, &w2, &ns));
    CHECK(w2 != NULL && ns == 12 * 3840);
    free(w2);
    hm_codec_free(mb);
  }
  hm_codec_free(m);
}

/* The fixture checkpoint stored as BF16 (as a published checkpoint might be):
 * loads in F32 and BF16 modes and decodes. */
static void test_bf16_file(const char *fx) {
  char out[1024], p[1100], cfg_from[1100];
  snprintf(out, sizeof out, "%s/bf16file", hm_test_tmpdir());
  mkdir(out, 0755);
  snprintf(cfg_from, sizeof cfg_from, "%s/config.json", fx);
  snprintf(p, sizeof p, "%s/config.json", out);
  copy_file(cfg_from, p);
  hm_st *st = NULL;
  CHECK_OK(hm_st_open(fx, &st));
  if (!st) return;
  int n = hm_st_count(st);
  hm_st_entry *e = calloc((size_t)n, sizeof *e);
  uint16_t **bufs = calloc((size_t)n, sizeof *bufs);
  for (int i = 0; i < n; i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    e[i].name = t->name;
    e[i].n_dims = t->n_dims;
    for (int d = 0; d < t->n_dims; d++) e[i].shape[d] = t->shape[d];
    if (t->dtype == HM_DT_F32) {
      bufs[i] = malloc((size_t)(t->n_elems ? t->n_elems : 1) * 2);
      for (int64_t k = 0; k < t->n_elems; k++) bufs[i][k] = hm_f32_to_bf16(((const float *)t->data)[k]);
      e[i].dtype = HM_DT_BF16;
      e[i].data = bufs[i];
    } else {
      e[i].dtype = t->dtype;
      e[i].data = t->data;
    }
  }
  snprintf(p, sizeof p, "%s/model.safetensors", out);
  CHECK_OK(hm_st_write(p, e, n, NULL));
  for (int i = 0; i < n; i++) free(bufs[i]);
  free(bufs);
  free(e);
  hm_st_close(st);
  int32_t codes[8 * 12];
  for (int i = 0; i < 8 * 12; i++) codes[i] = (i * 37) % 512;
  for (int mode = 0; mode < 2; mode++) {
    hm_codec_params prm = hm_codec_default_params();
    prm.bf16_weights = mode == 1;
    prm.steps = 1;
    hm_codec_model *m = NULL;
    CHECK_OK(hm_codec_load(out, &prm, &m));
    if (!m) continue;
    float *wav = NULL;
    int64_t ns = 0;
    CHECK_OK(hm_codec_decode(m, codes, 12, &prm, NULL, NULL, NULL, &wav, &ns));
    bool finite = wav && ns == 12 * 3840;
    for (int64_t i = 0; finite && i < 2 * ns; i++) finite = isfinite(wav[i]);
    CHECK(finite);
    free(wav);
    hm_codec_free(m);
  }
}

typedef struct warn_capture { int n; char last[512]; } warn_capture;
static warn_capture warn_log;
static void capture_warnings(void *ud, hm_log_level level, const char *msg) {
  warn_capture *w = ud;
  if (level != HM_LOG_WARN) return;
  w->n++;
  snprintf(w->last, sizeof w->last, "%s", msg);
}

void hm_test_main(void) {
  char fx[1024], tiny[1024];
  hm_test_path(fx, sizeof fx, "fixtures/heartcodec");
  hm_codec_model *m = NULL;

  /* folders and configs */
  CHECK_ERR(hm_codec_load("/no/such/codec", NULL, &m), "does not exist");
  CHECK(m == NULL);
  CHECK_ERR(hm_codec_load(hm_test_tmpdir(), NULL, &m), "config.json");
  CHECK_ERR(hm_codec_load(NULL, NULL, &m), "NULL");

  test_make_tiny(tiny, sizeof tiny);
  test_bf16_file(fx);

  /* missing and mis-shaped tensors */
  const char *d = variant(fx, "missing", "flow_matching.estimator.proj_out.ffn_2.weight", NULL);
  CHECK_ERR(hm_codec_load(d, NULL, &m), "flow_matching.estimator.proj_out.ffn_2.weight");
  CHECK(m == NULL);
  d = variant(fx, "missing_wn", "scalar_model.decoder.3.convs.2.conv1.parametrizations.weight.original0", NULL);
  CHECK_ERR(hm_codec_load(d, NULL, &m), "scalar_model.decoder.3.convs.2.conv1.parametrizations.weight.original0");
  d = variant(fx, "missing_cb", "flow_matching.vq_embed.layers.7._codebook.embed", NULL);
  CHECK_ERR(hm_codec_load(d, NULL, &m), "layers.7._codebook.embed");
  d = variant(fx, "shape", NULL, "flow_matching.cond_feature_emb.weight");
  CHECK_ERR(hm_codec_load(d, NULL, &m), "flow_matching.cond_feature_emb.weight");
  CHECK(m == NULL);

  /* configs that disagree with the weights or are malformed */
  char cfg[1100];
  d = variant(fx, "badjson", NULL, NULL);
  snprintf(cfg, sizeof cfg, "%s/config.json", d);
  write_text(cfg, "{\"dim\": 64, \"num_layers\": }");
  CHECK_ERR(hm_codec_load(d, NULL, &m), "config.json");
  write_text(cfg, "{\"dim\": 64, \"codebook_size\": 512, \"codebook_dim\": 16, \"attention_head_dim\": 16, \"in_channels\": 576,"
                  " \"num_attention_heads\": 2, \"num_layers\": 3, \"num_layers_2\": 1, \"init_channel\": 4}");
  CHECK_ERR(hm_codec_load(d, NULL, &m), "transformer_blocks.2");
  write_text(cfg, "{\"dim\": 64, \"in_channels\": 999}");
  CHECK_ERR(hm_codec_load(d, NULL, &m), "in_channels");
  write_text(cfg, "{\"dim\": \"wide\"}");
  CHECK_ERR(hm_codec_load(d, NULL, &m), "dim");
  write_text(cfg, "{\"dim\": 64, \"codebook_size\": 512, \"codebook_dim\": 16, \"attention_head_dim\": 16, \"in_channels\": 576,"
                  " \"num_attention_heads\": 2, \"num_layers\": 2, \"num_layers_2\": 1, \"init_channel\": 4, \"num_quantizers\": 7}");
  CHECK_ERR(hm_codec_load(d, NULL, &m), "num_quantizers");

  /* codes and parameters */
  CHECK_OK(hm_codec_load(fx, NULL, &m));
  if (!m) return;
  int32_t codes[8 * 20];
  for (int i = 0; i < 8 * 20; i++) codes[i] = i % 512;
  float *wav = (float *)1;
  int64_t n = 7;
  codes[3 * 20 + 5] = 513;
  CHECK_ERR(hm_codec_decode(m, codes, 20, NULL, NULL, NULL, NULL, &wav, &n), "code 513 at codebook 3, frame 5");
  CHECK(wav == NULL && n == 0);
  /* 512 == codebook_size (8192 in the published codec: the LM can emit it) decodes
   * as 511 with one warning; the caller's codes are left as they were */
  {
    hm_codec_params q = hm_codec_default_params();
    q.steps = 1;
    float *w512 = NULL;
    int64_t n512 = 0;
    codes[3 * 20 + 5] = 512;
    codes[6 * 20 + 19] = 512;
    warn_log.n = 0;
    warn_log.last[0] = 0;
    hm_log_set(capture_warnings, &warn_log);
    CHECK_OK(hm_codec_decode(m, codes, 20, &q, NULL, NULL, NULL, &w512, &n512));
    hm_log_set(NULL, NULL);
    CHECK(codes[3 * 20 + 5] == 512 && codes[6 * 20 + 19] == 512);
    CHECK_MSG(warn_log.n == 1 && strstr(warn_log.last, "2 code(s) equal to 512") &&
              strstr(warn_log.last, "first at codebook 3, frame 5") && strstr(warn_log.last, "decoded as 511"),
              "%d warnings, last '%s'", warn_log.n, warn_log.last);
    codes[6 * 20 + 19] = 511;
    float *w511b = NULL;
    int64_t n511b = 0;
    codes[3 * 20 + 5] = 511;
    CHECK_OK(hm_codec_decode(m, codes, 20, &q, NULL, NULL, NULL, &w511b, &n511b));
    codes[3 * 20 + 5] = 0;
    codes[6 * 20 + 19] = (6 * 20 + 19) % 512;
    CHECK(n512 == n511b && n512 > 0 && w512 && w511b && !memcmp(w512, w511b, (size_t)(2 * n512) * sizeof(float)));
    free(w512);
    free(w511b);
  }
  codes[3 * 20 + 5] = -1;
  CHECK_ERR(hm_codec_decode(m, codes, 20, NULL, NULL, NULL, NULL, &wav, &n), "outside [0, 512)");
  codes[3 * 20 + 5] = 0;
  CHECK_ERR(hm_codec_decode(m, codes, 0, NULL, NULL, NULL, NULL, &wav, &n), "empty");
  CHECK_ERR(hm_codec_decode(m, NULL, 20, NULL, NULL, NULL, NULL, &wav, &n), "NULL");
  hm_codec_params p = hm_codec_default_params();
  p.steps = 0;
  CHECK_ERR(hm_codec_decode(m, codes, 20, &p, NULL, NULL, NULL, &wav, &n), "steps");
  p = hm_codec_default_params();
  p.guidance = NAN;
  CHECK_ERR(hm_codec_decode(m, codes, 20, &p, NULL, NULL, NULL, &wav, &n), "guidance");
  CHECK(hm_codec_num_codebooks(m) == 8 && hm_codec_codebook_size(m) == 512 && hm_codec_sample_rate(m) == 48000);
  hm_codec_free(m);
}
