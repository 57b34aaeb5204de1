/* HeartMuLa prompt rows, as heartlib's HeartMuLaGenPipeline.preprocess builds them. */
#include "text/prompt.h"
#include "io/fs.h"
#include "io/json.h"

#include <stdlib.h>

hm_prompt_params hm_prompt_default_params(void) {
  return (hm_prompt_params){.text_bos_id = 128000, .text_eos_id = 128001, .n_codebooks = 8};
}

hm_status hm_prompt_params_load(const char *path, hm_prompt_params *params) {
  if (!path || !params) return hm_error(HM_ERR_INVALID_ARG, "hm_prompt_params_load: NULL argument");
  json_t *root;
  HM_TRY(hm_json_load(path, &root));
  int64_t bos = 0, eos = 0;
  hm_status st = hm_json_int(root, "text_bos_id", path, &bos);
  if (st == HM_OK) st = hm_json_int(root, "text_eos_id", path, &eos);
  json_decref(root);
  if (st != HM_OK) return st;
  if (bos < 0 || bos > INT32_MAX || eos < 0 || eos > INT32_MAX)
    return hm_error(HM_ERR_FORMAT, "%s: text_bos_id / text_eos_id out of range", path);
  params->text_bos_id = (int32_t)bos;
  params->text_eos_id = (int32_t)eos;
  return HM_OK;
}

void hm_prompt_free(hm_prompt *p) {
  if (!p) return;
  free(p->tokens); free(p->mask); free(p->tags_ids); free(p->lyrics_ids);
  memset(p, 0, sizeof *p);
}

/* Python open(path, encoding="utf-8").read(): UTF-8 checked, universal
 * newlines ("\r\n" and "\r" become "\n"). */
hm_status hm_text_file_read(const char *path, const char *what, char **out, size_t *len) {
  if (!path || !what || !out || !len) return hm_error(HM_ERR_INVALID_ARG, "hm_text_file_read: NULL argument");
  *out = NULL;
  *len = 0;
  char *buf;
  size_t n;
  hm_status st = hm_read_file(path, &buf, &n);
  if (st != HM_OK) return hm_error_context(st, "%s file", what);
  size_t bad;
  if (!hm_utf8_valid(buf, n, &bad)) {
    free(buf);
    return hm_error(HM_ERR_INVALID_ARG, "%s file '%s': invalid UTF-8 at byte offset %zu", what, path, bad);
  }
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (buf[i] == '\r') {
      buf[w++] = '\n';
      if (i + 1 < n && buf[i + 1] == '\n') i++;
    } else buf[w++] = buf[i];
  }
  buf[w] = 0;
  *out = buf;
  *len = w;
  return HM_OK;
}

/* The text of a tags / lyrics argument: always the string itself. A string
 * that happens to name a file is text like any other (the library never opens
 * files on behalf of its caller's text; the CLI reads --lyrics/--tags files). */
static hm_status input_text(const char *s, const char *what, char **out, size_t *len) {
  size_t n = strlen(s);
  size_t bad;
  if (!hm_utf8_valid(s, n, &bad)) return hm_error(HM_ERR_INVALID_ARG, "%s: invalid UTF-8 at byte offset %zu", what, bad);
  *out = malloc(n + 1);
  if (!*out) return hm_error(HM_ERR_NOMEM, "%s: out of memory", what);
  memcpy(*out, s, n + 1);
  *len = n;
  return HM_OK;
}

static bool starts_with(const char *s, size_t n, const char *p) { size_t k = strlen(p); return n >= k && !memcmp(s, p, k); }
static bool ends_with(const char *s, size_t n, const char *p) { size_t k = strlen(p); return n >= k && !memcmp(s + n - k, p, k); }

/* lower -> (tags: <tag> wrap) -> encode with specials -> bos/eos where missing */
static hm_status text_ids(const hm_tokenizer *tok, const char *arg, bool is_tags, const hm_prompt_params *p,
                          int32_t **ids, int64_t *n) {
  const char *what = is_tags ? "tags" : "lyrics";
  char *raw = NULL, *low = NULL;
  size_t rn = 0, ln = 0;
  HM_TRY(input_text(arg, what, &raw, &rn));
  hm_status st = hm_utf8_lower(raw, rn, &low, &ln);
  free(raw);
  if (st != HM_OK) return hm_error_context(st, "%s", what);
  if (is_tags) {
    bool pre = !starts_with(low, ln, "<tag>"), post = !ends_with(low, ln, "</tag>");
    char *w = malloc(ln + 12);
    if (!w) { free(low); return hm_error(HM_ERR_NOMEM, "tags: out of memory"); }
    size_t k = 0;
    if (pre) { memcpy(w, "<tag>", 5); k = 5; }
    memcpy(w + k, low, ln); k += ln;
    if (post) { memcpy(w + k, "</tag>", 6); k += 6; }
    w[k] = 0;
    free(low);
    low = w;
    ln = k;
  }
  int32_t *enc = NULL;
  int64_t ne = 0;
  st = hm_tokenizer_encode(tok, low, ln, true, &enc, &ne);
  free(low);
  if (st != HM_OK) return hm_error_context(st, "%s", what);
  int32_t *o = malloc((size_t)(ne + 2) * sizeof *o);
  if (!o) { free(enc); return hm_error(HM_ERR_NOMEM, "%s: out of memory", what); }
  int64_t k = 0;
  /* upstream indexes ids[0] / ids[-1] (an empty encoding would raise there); we add both */
  if (ne == 0 || enc[0] != p->text_bos_id) o[k++] = p->text_bos_id;
  if (ne) memcpy(o + k, enc, (size_t)ne * sizeof *o);
  k += ne;
  if (ne == 0 || enc[ne - 1] != p->text_eos_id) o[k++] = p->text_eos_id;
  free(enc);
  *ids = o;
  *n = k;
  return HM_OK;
}

hm_status hm_prompt_build(const hm_tokenizer *tok, const char *tags, const char *lyrics,
                          const hm_prompt_params *params, hm_prompt *out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_prompt_build: out is NULL");
  memset(out, 0, sizeof *out);
  if (!tok) return hm_error(HM_ERR_INVALID_ARG, "hm_prompt_build: tokenizer is NULL");
  if (!tags) return hm_error(HM_ERR_INVALID_ARG, "hm_prompt_build: tags is NULL");
  if (!lyrics) return hm_error(HM_ERR_INVALID_ARG, "hm_prompt_build: lyrics is NULL");
  hm_prompt_params p = params ? *params : hm_prompt_default_params();
  if (p.n_codebooks < 1 || p.n_codebooks > 64)
    return hm_error(HM_ERR_INVALID_ARG, "hm_prompt_build: n_codebooks %d out of range [1, 64]", p.n_codebooks);
  int64_t vs = hm_tokenizer_vocab_size(tok);
  if (p.text_bos_id < 0 || p.text_bos_id >= vs || p.text_eos_id < 0 || p.text_eos_id >= vs)
    return hm_error(HM_ERR_INVALID_ARG, "hm_prompt_build: text_bos_id %d / text_eos_id %d outside the tokenizer vocab (%lld)",
                    (int)p.text_bos_id, (int)p.text_eos_id, (long long)vs);
  hm_status st = text_ids(tok, tags, true, &p, &out->tags_ids, &out->n_tags);
  if (st == HM_OK) st = text_ids(tok, lyrics, false, &p, &out->lyrics_ids, &out->n_lyrics);
  if (st != HM_OK) { hm_prompt_free(out); return st; }
  int nc = p.n_codebooks + 1;
  int64_t rows = out->n_tags + 1 + out->n_lyrics;
  out->n_rows = rows;
  out->n_cols = nc;
  out->muq_idx = out->n_tags;
  out->tokens = calloc((size_t)(rows * nc), sizeof *out->tokens);
  out->mask = calloc((size_t)(rows * nc), 1);
  if (!out->tokens || !out->mask) { hm_prompt_free(out); return hm_error(HM_ERR_NOMEM, "hm_prompt_build: out of memory"); }
  for (int64_t r = 0; r < rows; r++) {
    int32_t v = 0;
    if (r < out->n_tags) v = out->tags_ids[r];
    else if (r > out->n_tags) v = out->lyrics_ids[r - out->n_tags - 1];
    out->tokens[r * nc + nc - 1] = v;
    out->mask[r * nc + nc - 1] = 1;
  }
  return HM_OK;
}
