/* The fixture model re-saved as F32 and as BF16 (configs linked, not copied):
 * F32 holds the same values as the F16 file, so the greedy tokens are exactly
 * the fixture's; BF16 rounds them, so only closeness is checked. */
#include "harness.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "transcriptor/whisper.h"
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

static bool resave(const char *src_dir, const char *dst_dir, hm_dtype to) {
  char path[4096], src[4096], dst[4096];
  if (snprintf(path, sizeof path, "%s/model.safetensors", src_dir) >= (int)sizeof path) return false;
  hm_st *st = NULL;
  if (hm_st_open(path, &st) != HM_OK) return false;
  int n = hm_st_count(st);
  hm_st_entry *e = calloc((size_t)n, sizeof *e);
  bool ok = e != NULL;
  for (int i = 0; ok && i < n; i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    float *f = malloc(sizeof(float) * (size_t)t->n_elems);
    ok = f && hm_tensor_to_f32(t, f) == HM_OK;
    e[i].name = t->name;
    e[i].dtype = to;
    e[i].n_dims = t->n_dims;
    for (int k = 0; k < t->n_dims; k++) e[i].shape[k] = t->shape[k];
    if (ok && to == HM_DT_BF16) {
      uint16_t *b = malloc(sizeof(uint16_t) * (size_t)t->n_elems);
      for (int64_t k = 0; b && k < t->n_elems; k++) b[k] = hm_f32_to_bf16(f[k]);
      free(f);
      e[i].data = b;
      ok = b != NULL;
    } else {
      e[i].data = f;
    }
  }
  if (mkdir(dst_dir, 0777) != 0) ok = false;
  if (snprintf(dst, sizeof dst, "%s/model.safetensors", dst_dir) >= (int)sizeof dst) ok = false;
  if (ok) ok = hm_st_write(dst, e, n, NULL) == HM_OK;
  for (int i = 0; e && i < n; i++) free((void *)e[i].data);
  free(e);
  hm_st_close(st);
  const char *files[] = {"config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json"};
  for (int i = 0; ok && i < 4; i++) {
    if (snprintf(src, sizeof src, "%s/%s", src_dir, files[i]) >= (int)sizeof src ||
        snprintf(dst, sizeof dst, "%s/%s", dst_dir, files[i]) >= (int)sizeof dst) return false;
    ok = symlink(src, dst) == 0;
  }
  return ok;
}

static void run(const char *dir, bool exact) {
  char path[1024];
  hm_whisper_model *m = NULL;
  CHECK_OK(hm_whisper_load(dir, &m));
  if (!m) return;
  hm_whisper_state *s = NULL;
  CHECK_OK(hm_whisper_state_create(m, 1, &s));
  hm_npy mel, ref;
  CHECK_OK(hm_npy_read_f32(hm_test_path(path, sizeof path, "fixtures-whisper/jfk_mel128.npy"), &mel));
  CHECK_OK(hm_npy_read_f32(hm_test_path(path, sizeof path, "fixtures-whisper/jfk_encoder_out.npy"), &ref));
  if (s && mel.data && ref.data) {
    CHECK_OK(hm_whisper_encode(s, mel.data, -1));
    double d = 0;
    for (int64_t i = 0; i < ref.n_elems; i++) {
      double e = fabs((double)s->enc_out[i] - ((float *)ref.data)[i]);
      if (!(e <= d)) d = e;
    }
    CHECK_MSG(d <= (exact ? 1e-3 : 0.1), "%s: encoder max abs diff %g", dir, d);
    printf("%s: encoder max abs diff %.3g\n", exact ? "F32" : "BF16", d);
    hm_whisper_window_result r;
    CHECK_OK(hm_whisper_decode_window(s, 50259, false, false, 30, NULL, NULL, &r));
    CHECK(r.n_tokens == 30);
    if (exact) {
      json_t *g = NULL;
      CHECK_OK(hm_json_load(hm_test_path(path, sizeof path, "fixtures-whisper/jfk_greedy.json"), &g));
      const json_t *toks = json_object_get(json_object_get(g, "notimestamps"), "tokens");
      bool same = (int)json_array_size(toks) == r.n_tokens;
      for (int i = 0; same && i < r.n_tokens; i++) same = json_integer_value(json_array_get(toks, (size_t)i)) == r.tokens[i];
      CHECK(same);
      json_decref(g);
    }
    hm_whisper_window_result_free(&r);
  }
  hm_npy_free(&mel);
  hm_npy_free(&ref);
  hm_whisper_state_free(s);
  hm_whisper_free(m);
}

void hm_test_main(void) {
  char path[1024], d32[1024], d16[1024];
  char *src = realpath(hm_test_path(path, sizeof path, "fixtures-whisper"), NULL);
  CHECK(src != NULL);
  if (!src) return;
  snprintf(d32, sizeof d32, "%s/whisper_f32", hm_test_tmpdir());
  snprintf(d16, sizeof d16, "%s/whisper_bf16", hm_test_tmpdir());
  CHECK(resave(src, d32, HM_DT_F32));
  run(d32, true);
  CHECK(resave(src, d16, HM_DT_BF16));
  run(d16, false);
  free(src);
}
