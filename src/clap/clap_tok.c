/* XLM-R ids from sentencepiece pieces, as transformers' XLMRobertaTokenizer
 * maps them: <s>=0, <pad>=1, </s>=2, <unk>=3, sentencepiece id i -> i + 1
 * (its id 0, <unk>, -> 3); a text is "<s> pieces </s>". Without libsentencepiece
 * at build time every call says so. */
#include "clap/clap.h"
#include <stdlib.h>
#include <string.h>

struct hm_clap_spm {
  void *h;
};

#ifdef HM_HAVE_SENTENCEPIECE
void *hm_spm_shim_load(const char *path, char *err, size_t n_err);
void hm_spm_shim_free(void *h);
int hm_spm_shim_encode(void *h, const char *text, int **ids, char **pieces, size_t *pieces_bytes, int *n, char *err,
                       size_t n_err);

hm_status hm_clap_spm_load(const char *path, hm_clap_spm **out) {
  *out = NULL;
  char err[512] = "";
  void *h = hm_spm_shim_load(path, err, sizeof err);
  if (!h) return hm_error(HM_ERR_FORMAT, "%s: not a sentencepiece model (%s)", path, err);
  hm_clap_spm *s = malloc(sizeof *s);
  if (!s) { hm_spm_shim_free(h); return hm_error(HM_ERR_NOMEM, "out of memory"); }
  s->h = h;
  *out = s;
  return HM_OK;
}

void hm_clap_spm_free(hm_clap_spm *s) {
  if (!s) return;
  hm_spm_shim_free(s->h);
  free(s);
}

static hm_status encode(const hm_clap_spm *s, const char *text, int **ids, char **pieces, int *n) {
  char err[512] = "";
  size_t pb = 0;
  if (hm_spm_shim_encode(s->h, text, ids, pieces, &pb, n, err, sizeof err) != 0)
    return hm_error(HM_ERR_INVALID_ARG, "sentencepiece could not encode the text: %s", err);
  return HM_OK;
}

hm_status hm_clap_spm_encode(const hm_clap_spm *s, const char *text, int32_t **ids, int64_t *n) {
  *ids = NULL;
  *n = 0;
  int *sp = NULL, np = 0;
  char *pieces = NULL;
  HM_TRY(encode(s, text, &sp, &pieces, &np));
  free(pieces);
  int32_t *v = malloc(sizeof(int32_t) * (size_t)(np + 2));
  if (!v) { free(sp); return hm_error(HM_ERR_NOMEM, "out of memory"); }
  v[0] = 0;
  for (int i = 0; i < np; i++) v[i + 1] = sp[i] > 0 ? sp[i] + 1 : 3;
  v[np + 1] = 2;
  free(sp);
  *ids = v;
  *n = np + 2;
  return HM_OK;
}

hm_status hm_clap_spm_pieces(const hm_clap_spm *s, const char *text, char **pieces, int *n) {
  int *sp = NULL;
  hm_status st = encode(s, text, &sp, pieces, n);
  free(sp);
  return st;
}
#else
hm_status hm_clap_spm_load(const char *path, hm_clap_spm **out) {
  *out = NULL;
  return hm_error(HM_ERR_UNSUPPORTED, "%s: this build has no sentencepiece (install libsentencepiece-dev and rebuild)",
                  path);
}
void hm_clap_spm_free(hm_clap_spm *s) { free(s); }
hm_status hm_clap_spm_encode(const hm_clap_spm *s, const char *text, int32_t **ids, int64_t *n) {
  *ids = NULL;
  *n = 0;
  return hm_error(HM_ERR_UNSUPPORTED, "this build has no sentencepiece");
}
hm_status hm_clap_spm_pieces(const hm_clap_spm *s, const char *text, char **pieces, int *n) {
  *pieces = NULL;
  *n = 0;
  return hm_error(HM_ERR_UNSUPPORTED, "this build has no sentencepiece");
}
#endif
