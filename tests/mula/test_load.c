/* HeartMuLa loading and bad input: missing folder/file, malformed JSON, unknown
 * flavor, inconsistent config, truncated safetensors, missing tensor, wrong
 * shape or dtype; the random checkpoint generator (sharded); argument checks. */
#include "harness.h"
#include "testkit.h"
#include "mula/mula.h"
#include "io/fs.h"
#include "tensor/ops.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) { perror(path); return; }
  fputs(text, f);
  fclose(f);
}

static const char *mkdir_in(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", hm_test_tmpdir(), name);
  mkdir(buf, 0777);
  return buf;
}

static const char *tiny_config =
  "{\"backbone_flavor\": \"x\", \"decoder_flavor\": \"y\", \"text_vocab_size\": 1024, \"audio_vocab_size\": 517,"
  " \"audio_num_codebooks\": 8, \"muq_dim\": 512,"
  " \"backbone_config\": {\"num_layers\": 2, \"num_heads\": 4, \"num_kv_heads\": 2, \"embed_dim\": 64,"
  "   \"intermediate_dim\": 128, \"max_seq_len\": 128},"
  " \"decoder_config\": {\"num_layers\": 2, \"num_heads\": 4, \"num_kv_heads\": 2, \"embed_dim\": 48,"
  "   \"intermediate_dim\": 96, \"max_seq_len\": 16}}";

/* Writes dir/model.safetensors from the fixture's tensors, dropping `drop` and giving
 * `reshape` a transposed shape (either may be NULL); `to_i32`: stored as I32. */
static void write_variant(const char *dir, const char *drop, const char *reshape, const char *to_i32) {
  char src[1024], dst[1024];
  hm_test_path(src, sizeof src, "fixtures/heartmula/model.safetensors");
  hm_st *st = NULL;
  if (hm_st_open(src, &st) != HM_OK) { fprintf(stderr, "%s\n", hm_last_error()); return; }
  int n = hm_st_count(st), k = 0;
  hm_st_entry *e = calloc((size_t)n, sizeof *e);
  for (int i = 0; i < n; i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    if (drop && !strcmp(t->name, drop)) continue;
    e[k] = hm_st_entry_of(t);
    if (reshape && !strcmp(t->name, reshape) && t->n_dims == 2) { e[k].shape[0] = t->shape[1]; e[k].shape[1] = t->shape[0]; }
    if (to_i32 && !strcmp(t->name, to_i32)) e[k].dtype = HM_DT_I32;
    k++;
  }
  snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
  if (hm_st_write(dst, e, k, NULL) != HM_OK) fprintf(stderr, "%s\n", hm_last_error());
  free(e);
  hm_st_close(st);
  snprintf(dst, sizeof dst, "%s/config.json", dir);
  write_text(dst, tiny_config);
}

/* dir/model.safetensors from the fixture with backbone.layers.0.mlp.w1.weight as
 * Q8_0 (the R16 layout); `layout`: the header's layout mark (NULL: none). */
static void write_q8_variant(const char *dir, const char *layout) {
  char src[1024], dst[1024];
  hm_test_path(src, sizeof src, "fixtures/heartmula/model.safetensors");
  hm_st *st = NULL;
  if (hm_st_open(src, &st) != HM_OK) { fprintf(stderr, "%s\n", hm_last_error()); return; }
  int n = hm_st_count(st);
  hm_st_entry *e = calloc((size_t)n, sizeof *e);
  hm_mat q = {0};
  for (int i = 0; i < n; i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    e[i] = hm_st_entry_of(t);
    if (!strcmp(t->name, "backbone.layers.0.mlp.w1.weight")) {
      hm_mat f = {HM_DT_F32, t->shape[0], t->shape[1], t->data};
      CHECK_OK(hm_mat_convert(&f, HM_DT_Q8_0, &q));
      e[i].dtype = HM_DT_Q8_0;
      e[i].data = q.data;
    }
  }
  const char *meta[] = {HM_QUANT_LAYOUT_KEY, layout, NULL};
  snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
  if (hm_st_write(dst, e, n, layout ? meta : NULL) != HM_OK) fprintf(stderr, "%s\n", hm_last_error());
  free(e);
  hm_mat_free_owned(&q);
  hm_st_close(st);
  snprintf(dst, sizeof dst, "%s/config.json", dir);
  write_text(dst, tiny_config);
}

/* Quantized tensors are used in place, so a file must say they are in the kernels' layout. */
static void test_quant_layout(void) {
  hm_mula_model *m = NULL;
  char d[1024];
  mkdir_in(d, sizeof d, "q8_unmarked");
  write_q8_variant(d, NULL);
  CHECK_ERR(hm_mula_load(d, NULL, &m), "backbone.layers.0.mlp.w1.weight");
  CHECK(strstr(hm_last_error(), "layout") != NULL);
  mkdir_in(d, sizeof d, "q8_other_layout");
  write_q8_variant(d, "rows");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "'rows' layout");
  mkdir_in(d, sizeof d, "q8_r16");
  write_q8_variant(d, HM_QUANT_LAYOUT);
  hm_mula_params mp = hm_mula_default_params();
  mp.weights = HM_MULA_WEIGHTS_AS_STORED;
  CHECK_OK(hm_mula_load(d, &mp, &m));
  hm_mula_free(m);
}

static void test_config_errors(void) {
  hm_mula_model *m = NULL;
  char d[1024], p[1200];
  CHECK_ERR(hm_mula_load("/nonexistent/heartmula-dir", NULL, &m), "/nonexistent/heartmula-dir");
  CHECK(m == NULL);
  mkdir_in(d, sizeof d, "empty");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "config.json");

  mkdir_in(d, sizeof d, "badjson");
  snprintf(p, sizeof p, "%s/config.json", d);
  write_text(p, "{\"backbone_flavor\": \"llama-3B\", ");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "config.json");

  mkdir_in(d, sizeof d, "badflavor");
  snprintf(p, sizeof p, "%s/config.json", d);
  write_text(p, "{\"backbone_flavor\": \"llama-9B\", \"decoder_flavor\": \"llama-300M\"}");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "llama-9B");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "backbone_flavor");

  mkdir_in(d, sizeof d, "inconsistent");
  snprintf(p, sizeof p, "%s/config.json", d);
  write_text(p, "{\"backbone_config\": {\"num_layers\": 2, \"num_heads\": 5, \"embed_dim\": 64, \"max_seq_len\": 8},"
                " \"decoder_flavor\": \"llama-300M\"}");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "num_heads");

  write_text(p, "{\"backbone_config\": {\"num_layers\": -1, \"num_heads\": 4, \"embed_dim\": 64, \"max_seq_len\": 8}}");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "num_layers");

  write_text(p, "{\"backbone_config\": {\"num_heads\": 4, \"embed_dim\": 64, \"max_seq_len\": 8}}");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "num_layers");

  write_text(p, "{\"audio_vocab_size\": \"many\"}");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "audio_vocab_size");

  /* config fine, no weights */
  mkdir_in(d, sizeof d, "noweights");
  snprintf(p, sizeof p, "%s/config.json", d);
  write_text(p, tiny_config);
  CHECK_ERR(hm_mula_load(d, NULL, &m), "noweights");
}

static void test_tensor_errors(void) {
  hm_mula_model *m = NULL;
  char d[1024], p[1200];
  mkdir_in(d, sizeof d, "missing_tensor");
  write_variant(d, "codebook0_head.weight", NULL, NULL);
  CHECK_ERR(hm_mula_load(d, NULL, &m), "codebook0_head.weight");

  mkdir_in(d, sizeof d, "wrong_shape");
  write_variant(d, NULL, "decoder.layers.1.mlp.w2.weight", NULL);
  CHECK_ERR(hm_mula_load(d, NULL, &m), "decoder.layers.1.mlp.w2.weight");

  mkdir_in(d, sizeof d, "wrong_dtype");
  write_variant(d, NULL, NULL, "backbone.norm.scale");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "backbone.norm.scale");

  /* truncated file */
  mkdir_in(d, sizeof d, "truncated");
  write_variant(d, NULL, NULL, NULL);
  snprintf(p, sizeof p, "%s/model.safetensors", d);
  struct stat sb;
  if (stat(p, &sb) == 0) CHECK(truncate(p, sb.st_size / 2) == 0);
  CHECK_ERR(hm_mula_load(d, NULL, &m), "model.safetensors");

  /* the untouched variant loads */
  mkdir_in(d, sizeof d, "good");
  write_variant(d, NULL, NULL, NULL);
  CHECK_OK(hm_mula_load(d, NULL, &m));
  hm_mula_free(m);
  m = NULL;

  /* gen_config: malformed, then a missing explicit path */
  snprintf(p, sizeof p, "%s/gen_config.json", d);
  write_text(p, "{\"audio_eos_id\": }");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "gen_config.json");
  write_text(p, "{\"audio_eos_id\": 513, \"empty_id\": 9999}");
  CHECK_ERR(hm_mula_load(d, NULL, &m), "empty_id");
  remove(p);
  hm_mula_params mp = hm_mula_default_params();
  mp.gen_config_path = "/nonexistent/gen_config.json";
  CHECK_ERR(hm_mula_load(d, &mp, &m), "/nonexistent/gen_config.json");
  mp = hm_mula_default_params();
  mp.weights_file = "nope.safetensors";
  CHECK_ERR(hm_mula_load(d, &mp, &m), "nope.safetensors");
}

static void test_make_checkpoint(void) {
  char root[1024], d[1200];
  snprintf(root, sizeof root, "%s/ckpt", hm_test_tmpdir());
  CHECK_ERR(hm_mula_make_checkpoint(root, "13B", 1, 1), "13B");
  CHECK_OK(hm_mula_make_checkpoint(root, "tiny", 5, 3));
  snprintf(d, sizeof d, "%s/HeartMuLa-oss-tiny/model.safetensors.index.json", root);
  CHECK(hm_file_exists(d));
  snprintf(d, sizeof d, "%s/HeartMuLa-oss-tiny/model-00003-of-00003.safetensors", root);
  CHECK(hm_file_exists(d));
  snprintf(d, sizeof d, "%s/gen_config.json", root);
  CHECK(hm_file_exists(d));
  snprintf(d, sizeof d, "%s/HeartMuLa-oss-tiny", root);
  hm_mula_model *m = NULL;
  CHECK_OK(hm_mula_load(d, NULL, &m));
  if (!m) return;
  hm_mula_info info;
  hm_mula_get_info(m, &info);
  CHECK(info.audio_eos_id == 513 && info.text_bos_id == 1000 && info.backbone_dim == 64 && info.decoder_dim == 48);
  /* every state_dict name of the fixture is in the generated checkpoint with the same shape */
  char fx[1024];
  hm_test_path(fx, sizeof fx, "fixtures/heartmula/model.safetensors");
  hm_st *a = NULL, *b = NULL;
  CHECK_OK(hm_st_open(fx, &a));
  CHECK_OK(hm_st_open(d, &b));
  if (a && b) {
    CHECK(hm_st_count(a) == hm_st_count(b));
    int bad = 0;
    for (int i = 0; i < hm_st_count(a); i++) {
      const hm_tensor_view *t = hm_st_at(a, i), *u = hm_st_find(b, t->name);
      if (!u || u->n_dims != t->n_dims || memcmp(u->shape, t->shape, sizeof(int64_t) * (size_t)t->n_dims) || u->dtype != HM_DT_F32) bad++;
    }
    CHECK_MSG(bad == 0, "%d tensors differ in name/shape/dtype", bad);
  }
  hm_st_close(a);
  hm_st_close(b);
  /* it generates */
  hm_mula_context *ctx = NULL;
  CHECK_OK(hm_mula_context_create(m, NULL, &ctx));
  int32_t tok[5 * 9] = {0};
  for (int r = 0; r < 5; r++) tok[r * 9 + 8] = 1000 + (r == 4);
  hm_mula_gen_params g = hm_mula_default_gen_params();
  g.max_audio_ms = 400;
  int32_t *codes = NULL;
  int64_t nf = 0;
  CHECK_OK(hm_mula_generate(ctx, tok, NULL, 5, 2, &g, NULL, 0, &codes, &nf));
  CHECK(nf >= 1 && nf <= 6);
  free(codes);
  hm_mula_context_free(ctx);
  hm_mula_free(m);
}

void hm_test_main(void) {
  test_config_errors();
  test_tensor_errors();
  test_quant_layout();
  test_make_checkpoint();
}
