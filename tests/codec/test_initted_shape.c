/* HeartCodec-oss-20260123 stores every `_codebook.initted` as shape [1] where
 * the code (and our fixture) has a scalar [] (heartlib #100; other loaders fail
 * on it). A copy of the fixture rewritten that way, in a temporary folder, must
 * load and decode exactly as the original: the loader ignores the training-only
 * initted / cluster_size / embed_avg buffers whatever their shape. */
#include "harness.h"
#include "heartmula.h"
#include "io/fs.h"
#include "io/safetensors.h"

#include <stdlib.h>

static float *decode(const char *dir, int64_t *n) {
  hm_codec_model *m = NULL;
  CHECK_OK(hm_codec_load(dir, NULL, &m));
  if (!m) return NULL;
  int32_t codes[8 * 6];
  for (int i = 0; i < 8 * 6; i++) codes[i] = (i * 53) % 512;
  hm_codec_params p = hm_codec_default_params();
  p.seed = 7;
  p.steps = 1;
  float *out = NULL;
  CHECK_OK(hm_codec_decode(m, codes, 6, &p, NULL, NULL, NULL, &out, n));
  hm_codec_free(m);
  return out;
}

void hm_test_main(void) {
  char src[1024], dst[1024], path[1100];
  hm_test_path(src, sizeof src, "fixtures/heartcodec");
  snprintf(dst, sizeof dst, "%s/heartcodec-initted1", hm_test_tmpdir());
  CHECK(hm_mkdir_p(dst) == HM_OK);

  hm_st *st = NULL;
  CHECK_OK(hm_st_open(src, &st));
  if (!st) return;
  const int n = hm_st_count(st);
  hm_st_entry *e = calloc((size_t)n, sizeof *e);
  int n_initted = 0, n_scalar = 0;
  for (int i = 0; e && i < n; i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    e[i] = hm_st_entry_of(t);
    const char *suffix = "._codebook.initted";
    size_t ln = strlen(t->name), ls = strlen(suffix);
    if (ln > ls && !strcmp(t->name + ln - ls, suffix)) {
      n_initted++;
      n_scalar += t->n_dims == 0;
      e[i].n_dims = 1; /* [] -> [1], as the published checkpoint */
      e[i].shape[0] = 1;
    }
  }
  /* the fixture really holds scalar initted buffers, so the copy differs from it */
  CHECK_MSG(n_initted > 0 && n_scalar == n_initted, "fixture: %d initted buffers, %d scalar", n_initted, n_scalar);
  snprintf(path, sizeof path, "%s/model.safetensors", dst);
  if (e) CHECK_OK(hm_st_write(path, e, n, NULL));
  free(e);
  hm_st_close(st);
  char cfg_src[1100], cfg_dst[1100], *text = NULL;
  size_t len = 0;
  snprintf(cfg_src, sizeof cfg_src, "%s/config.json", src);
  snprintf(cfg_dst, sizeof cfg_dst, "%s/config.json", dst);
  CHECK_OK(hm_read_file(cfg_src, &text, &len));
  FILE *f = fopen(cfg_dst, "wb");
  CHECK(f && text && fwrite(text, 1, len, f) == len);
  if (f) fclose(f);
  free(text);

  /* the rewritten copy holds [1]-shaped initted buffers */
  hm_st *st2 = NULL;
  CHECK_OK(hm_st_open(dst, &st2));
  int n_one = 0;
  for (int i = 0; st2 && i < hm_st_count(st2); i++) {
    const hm_tensor_view *t = hm_st_at(st2, i);
    if (strstr(t->name, "._codebook.initted")) n_one += t->n_dims == 1 && t->shape[0] == 1;
  }
  CHECK(n_one == n_initted);
  hm_st_close(st2);

  int64_t na = 0, nb = 0;
  float *a = decode(src, &na), *b = decode(dst, &nb);
  CHECK(a && b && na > 0 && na == nb);
  if (a && b && na == nb) CHECK_MSG(!memcmp(a, b, (size_t)na * 2 * sizeof(float)), "[1]-shaped initted changed the decode");
  free(a);
  free(b);
}
