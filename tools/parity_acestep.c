/* ACE-Step v1 fixture cases for `heartmula parity` (fixtures-acestep layout: a root with
 * ACE-Step-v1-3.5B/ and one folder per stage, each with its own manifest.json; the root has
 * none). parity_acestep_manifest() merges the manifests of the stages this build checks
 * (so the driver's unused-file check covers them); the other stage folders are listed as
 * not implemented yet, without failing.
 *   text/   UMT5 tokenizer ids and masks, every encoder stage, the ERG-tag null pass
 *   lyrics/ the lyric BPE alone (bpe_only.json, every line's bpe_input), the cleaners (every
 *           line's cleaned text), tokenize_lyrics per case (ids.npy); cases this build
 *           cannot tokenize must give the documented error, and say so */
#include "parity.h"
#include "acestep/lyrics.h"
#include "acestep/umt5.h"
#include "io/fs.h"
#include "io/npy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_implemented[] = {"text", "lyrics"};
static const char *const k_stages[][2] = {
  {"text", "UMT5 tokenizer + encoder, ERG-tag null embedding"},
  {"lyrics", "lyric BPE + cleaners (tokenize_lyrics)"},
  {"dit", "conditioning encoder (lyric Conformer), DiT forward, schedulers, guidance, loops"},
  {"dcae", "DCAE decoder/encoder, vocoder, resampling, overlapped decode"},
  {"e2e", "the whole pipeline, text to 48 kHz WAV"},
};

static bool is_implemented(const char *stage) {
  for (size_t i = 0; i < sizeof k_implemented / sizeof k_implemented[0]; i++)
    if (!strcmp(k_implemented[i], stage)) return true;
  return false;
}

static bool acestep_layout(const char *dir) {
  char a[4096], b[4096];
  return hm_path_join(a, sizeof a, dir, "ACE-Step-v1-3.5B") == HM_OK && hm_dir_exists(a) &&
         hm_path_join(b, sizeof b, dir, "text/manifest.json") == HM_OK && hm_file_exists(b);
}

json_t *parity_acestep_manifest(const char *dir) {
  if (!acestep_layout(dir)) return NULL;
  json_t *root = json_object(), *files = json_object();
  if (!root || !files) { json_decref(root); json_decref(files); return NULL; }
  json_object_set_new(root, "files", files);
  json_object_set_new(root, "acestep", json_true());
  for (size_t s = 0; s < sizeof k_implemented / sizeof k_implemented[0]; s++) {
    char rel[256], path[4096];
    snprintf(rel, sizeof rel, "%s/manifest.json", k_implemented[s]);
    json_t *m = NULL;
    if (hm_path_join(path, sizeof path, dir, rel) != HM_OK || !hm_file_exists(path) || hm_json_load(path, &m) != HM_OK) continue;
    const char *key;
    json_t *val;
    size_t plen = strlen(k_implemented[s]);
    json_object_foreach(json_object_get(m, "files"), key, val) {
      char full[1024];
      if ((!strncmp(key, k_implemented[s], plen) && key[plen] == '/') || !strncmp(key, "ACE-Step-v1-3.5B/", 17))
        snprintf(full, sizeof full, "%s", key); /* already relative to the root */
      else snprintf(full, sizeof full, "%s/%s", k_implemented[s], key);
      json_object_set(files, full, val);
    }
    json_decref(m);
  }
  return root;
}

/* ---- comparisons ---- */
static void cmp_f32(parity_ctx *p, const char *name, const char *file, const float *got, int64_t n, double tol) {
  char path[4096];
  hm_npy ref;
  if (hm_npy_read_f32(parity_file(p, file, path, sizeof path), &ref) != HM_OK) {
    parity_fail(p, name, "%s", hm_last_error());
    return;
  }
  if (ref.n_elems != n) parity_fail(p, name, "%s has %lld values, expected %lld", file, (long long)ref.n_elems, (long long)n);
  else {
    double rel = parity_rel_err(got, ref.data, n);
    if (rel <= tol) parity_pass(p, name, rel, "(tol %g)", tol);
    else parity_fail(p, name, "max_rel_err %.3g > tol %g", rel, tol);
  }
  hm_npy_free(&ref);
}

static void cmp_i32(parity_ctx *p, const char *name, const char *file, const int32_t *got, int64_t n) {
  char path[4096];
  hm_npy ref;
  if (hm_npy_read_i32(parity_file(p, file, path, sizeof path), &ref) != HM_OK) {
    parity_fail(p, name, "%s", hm_last_error());
    return;
  }
  const int32_t *r = ref.data;
  int64_t bad = -1;
  for (int64_t i = 0; i < n && i < ref.n_elems && bad < 0; i++)
    if (r[i] != got[i]) bad = i;
  if (bad < 0 && ref.n_elems != n) bad = n < ref.n_elems ? n : ref.n_elems;
  if (bad < 0) parity_pass(p, name, -1, "%lld values equal", (long long)n);
  else parity_fail(p, name, "differs at %lld (got %lld values, expected %lld): %d vs %d", (long long)bad, (long long)n,
                   (long long)ref.n_elems, bad < n ? got[bad] : -1, bad < ref.n_elems ? r[bad] : -1);
  hm_npy_free(&ref);
}

/* ---- the text stage ---- */
static const char *const k_layer_stages[] = {"ln_attn", "q", "k", "v", "attn_out", "h_attn",
                                             "ln_ff", "wi_0", "wi_1", "gelu", "ff_out"};
enum { N_LSTAGE = sizeof k_layer_stages / sizeof k_layer_stages[0] };

typedef struct {
  const hm_umt5_config *c;
  int64_t B, L, b;
  float *emb;        /* [B, L, d] */
  float *pos;        /* [NL, H, L, L] */
  float *attn;       /* [NL, B, H, L, L] */
  float *block;      /* [NL, B, L, d] */
  float *ls[N_LSTAGE]; /* [NL, B, L, width] */
} collect;

static int64_t stage_width(const hm_umt5_config *c, int s) {
  const char *n = k_layer_stages[s];
  if (!strcmp(n, "q") || !strcmp(n, "k") || !strcmp(n, "v")) return (int64_t)c->n_heads * c->d_kv;
  if (!strcmp(n, "wi_0") || !strcmp(n, "wi_1") || !strcmp(n, "gelu")) return c->d_ff;
  return c->d_model;
}

static void on_tap(void *ud, const char *stage, int layer, const float *x, int64_t n) {
  collect *k = ud;
  const hm_umt5_config *c = k->c;
  int64_t L = k->L, B = k->B, b = k->b, d = c->d_model, H = c->n_heads;
  if (!strcmp(stage, "embeddings")) { memcpy(k->emb + b * L * d, x, (size_t)n * sizeof *x); return; }
  if (layer < 0 || layer >= c->n_layers) return;
  if (!strcmp(stage, "pos_bias")) memcpy(k->pos + layer * H * L * L, x, (size_t)n * sizeof *x);
  else if (!strcmp(stage, "attn_weights")) memcpy(k->attn + (layer * B + b) * H * L * L, x, (size_t)n * sizeof *x);
  else if (!strcmp(stage, "block_out")) memcpy(k->block + (layer * B + b) * L * d, x, (size_t)n * sizeof *x);
  else
    for (int s = 0; s < N_LSTAGE; s++)
      if (!strcmp(stage, k_layer_stages[s])) {
        int64_t w = stage_width(c, s);
        memcpy(k->ls[s] + (layer * B + b) * L * w, x, (size_t)n * sizeof *x);
      }
}

static void collect_free(collect *k) {
  free(k->emb); free(k->pos); free(k->attn); free(k->block);
  for (int s = 0; s < N_LSTAGE; s++) free(k->ls[s]);
}

static bool collect_alloc(collect *k, const hm_umt5_config *c, int64_t B, int64_t L) {
  memset(k, 0, sizeof *k);
  k->c = c; k->B = B; k->L = L;
  int64_t NL = c->n_layers, H = c->n_heads, d = c->d_model;
  k->emb = malloc((size_t)(B * L * d) * sizeof(float));
  k->pos = malloc((size_t)(NL * H * L * L) * sizeof(float));
  k->attn = malloc((size_t)(NL * B * H * L * L) * sizeof(float));
  k->block = malloc((size_t)(NL * B * L * d) * sizeof(float));
  bool ok = k->emb && k->pos && k->attn && k->block;
  for (int s = 0; s < N_LSTAGE; s++) {
    k->ls[s] = malloc((size_t)(NL * B * L * stage_width(c, s)) * sizeof(float));
    ok = ok && k->ls[s];
  }
  if (!ok) collect_free(k);
  return ok;
}

static bool has_file(parity_ctx *p, const char *rel) {
  return json_object_get(json_object_get(parity_manifest(p), "files"), rel) != NULL;
}

/* The tokenizer against tokens.json and <name>_input_ids / _attention_mask. */
static int32_t *tokenize_case(parity_ctx *p, const hm_umt5 *m, const json_t *texts, const char *name, int64_t *B_out,
                              int64_t *L_out, int32_t **mask_out) {
  /* a case is either one text or the batch of several (names) */
  const char *names[16];
  int nn = 0;
  const json_t *arr = json_object_get(json_object_get(texts, "batch"), "names");
  if (!strcmp(name, "batch") && json_is_array(arr)) {
    for (size_t i = 0; i < json_array_size(arr) && nn < 16; i++) names[nn++] = json_string_value(json_array_get(arr, i));
  } else {
    names[nn++] = name;
  }
  int32_t *row_ids[16] = {0};
  int64_t row_n[16] = {0}, L = 0;
  bool ok = true;
  for (int r = 0; r < nn && ok; r++) {
    const json_t *list = json_object_get(texts, "texts");
    const char *text = NULL;
    for (size_t i = 0; i < json_array_size(list); i++) {
      const json_t *t = json_array_get(list, i);
      const char *tn = json_string_value(json_object_get(t, "name"));
      if (tn && names[r] && !strcmp(tn, names[r])) text = json_string_value(json_object_get(t, "text"));
    }
    if (!text) { parity_fail(p, name, "text '%s' is not in text/tokens.json", names[r] ? names[r] : "?"); ok = false; break; }
    if (hm_unigram_encode(m->tok, text, strlen(text), true, HM_UMT5_MAX_LENGTH, &row_ids[r], &row_n[r]) != HM_OK) {
      parity_fail(p, name, "%s", hm_last_error());
      ok = false;
    }
    if (row_n[r] > L) L = row_n[r];
  }
  int32_t *ids = NULL, *mask = NULL;
  if (ok) {
    ids = malloc((size_t)(nn * L) * sizeof *ids);
    mask = malloc((size_t)(nn * L) * sizeof *mask);
    ok = ids && mask;
  }
  for (int r = 0; r < nn && ok; r++)
    for (int64_t i = 0; i < L; i++) {
      bool in = i < row_n[r];
      ids[r * L + i] = in ? row_ids[r][i] : hm_unigram_pad_id(m->tok);
      mask[r * L + i] = in;
    }
  for (int r = 0; r < nn; r++) free(row_ids[r]);
  if (!ok) { free(ids); free(mask); return NULL; }
  char cname[320], file[320];
  snprintf(cname, sizeof cname, "text_%s_input_ids", name);
  snprintf(file, sizeof file, "text/%s_input_ids.npy", name);
  cmp_i32(p, cname, file, ids, nn * L);
  snprintf(cname, sizeof cname, "text_%s_attention_mask", name);
  snprintf(file, sizeof file, "text/%s_attention_mask.npy", name);
  if (has_file(p, file)) cmp_i32(p, cname, file, mask, nn * L);
  *B_out = nn;
  *L_out = L;
  *mask_out = mask;
  return ids;
}

static void text_case(parity_ctx *p, const hm_umt5 *m, const json_t *tokens, const char *name, hm_pool *pool) {
  const double tol = 1e-4;
  int64_t B = 0, L = 0;
  int32_t *mask = NULL;
  int32_t *ids = tokenize_case(p, m, tokens, name, &B, &L, &mask);
  if (!ids) return;
  const hm_umt5_config *c = &m->cfg;
  int64_t d = c->d_model, H = c->n_heads, NL = c->n_layers;
  collect k[2];
  float *last[2] = {malloc((size_t)(B * L * d) * sizeof(float)), malloc((size_t)(B * L * d) * sizeof(float))};
  bool ok = last[0] && last[1] && collect_alloc(&k[0], c, B, L);
  if (ok && !collect_alloc(&k[1], c, B, L)) { collect_free(&k[0]); ok = false; }
  char cname[320], file[320];
  if (!ok) { parity_fail(p, name, "out of memory"); free(last[0]); free(last[1]); free(ids); free(mask); return; }
  for (int pass = 0; pass < 2 && ok; pass++)
    for (int64_t b = 0; b < B && ok; b++) {
      k[pass].b = b;
      hm_umt5_run run = {.null_variant = pass == 1, .pool = pool, .tap = on_tap, .tap_user_data = &k[pass]};
      if (hm_umt5_encode_ids(m, ids + b * L, mask + b * L, L, &run, last[pass] + b * L * d) != HM_OK) {
        snprintf(cname, sizeof cname, "text_%s_encoder", name);
        parity_fail(p, cname, "%s", hm_last_error());
        ok = false;
      }
    }
  if (ok) {
#define CMP(suffix, buf, n)                                              \
    do {                                                                 \
      snprintf(file, sizeof file, "text/%s_%s.npy", name, suffix);       \
      if (has_file(p, file)) {                                           \
        snprintf(cname, sizeof cname, "text_%s_%s", name, suffix);       \
        cmp_f32(p, cname, file, buf, n, tol);                            \
      }                                                                  \
    } while (0)
    CMP("embeddings", k[0].emb, B * L * d);
    CMP("pos_bias", k[0].pos, NL * H * L * L);
    CMP("attn_weights", k[0].attn, NL * B * H * L * L);
    CMP("block_out", k[0].block, NL * B * L * d);
    CMP("last_hidden_state", last[0], B * L * d);
    CMP("null_block_out", k[1].block, NL * B * L * d);
    CMP("null_last_hidden_state", last[1], B * L * d);
    snprintf(file, sizeof file, "text/%s_pos_bias_rel.npy", name);
    if (has_file(p, file)) { /* rel[l, h, r + L - 1] for r = j - i */
      float *rel = malloc((size_t)(NL * H * (2 * L - 1)) * sizeof(float));
      if (rel) {
        for (int64_t l = 0; l < NL; l++)
          for (int64_t h = 0; h < H; h++)
            for (int64_t r = -(L - 1); r <= L - 1; r++) {
              int64_t i = r < 0 ? -r : 0, j = r < 0 ? 0 : r;
              rel[(l * H + h) * (2 * L - 1) + r + L - 1] = k[0].pos[((l * H + h) * L + i) * L + j];
            }
        CMP("pos_bias_rel", rel, NL * H * (2 * L - 1));
        free(rel);
      }
    }
    /* single-layer stages: <name>_l<k>_<stage> (B = 1 cases) */
    for (int64_t l = 0; l < NL; l++)
      for (int s = 0; s < N_LSTAGE; s++) {
        char suffix[64];
        snprintf(suffix, sizeof suffix, "l%lld_%s", (long long)l, k_layer_stages[s]);
        int64_t w = stage_width(c, s);
        CMP(suffix, k[0].ls[s] + l * B * L * w, B * L * w);
      }
#undef CMP
  }
  collect_free(&k[0]);
  collect_free(&k[1]);
  free(last[0]);
  free(last[1]);
  free(ids);
  free(mask);
}

static void text_stage(parity_ctx *p, hm_pool *pool) {
  char dir[4096], path[4096];
  if (hm_path_join(dir, sizeof dir, parity_dir(p), "ACE-Step-v1-3.5B/umt5-base") != HM_OK) return;
  hm_umt5 *m = NULL;
  if (hm_umt5_load(dir, &m) != HM_OK) { parity_fail(p, "text_umt5_load", "%s", hm_last_error()); return; }
  static const char *const ckpt[] = {"config.json", "model.safetensors", "tokenizer.json", "special_tokens_map.json",
                                     "tokenizer_config.json"};
  for (size_t i = 0; i < sizeof ckpt / sizeof ckpt[0]; i++) {
    snprintf(path, sizeof path, "ACE-Step-v1-3.5B/umt5-base/%s", ckpt[i]);
    parity_use(p, path);
  }
  json_t *tokens = NULL;
  if (hm_json_load(parity_file(p, "text/tokens.json", path, sizeof path), &tokens) != HM_OK) {
    parity_fail(p, "text_tokens", "%s", hm_last_error());
    hm_umt5_free(m);
    return;
  }
  /* the tokenizer alone, against the ids tokens.json lists */
  const json_t *texts = json_object_get(tokens, "texts");
  int bad = 0;
  for (size_t i = 0; i < json_array_size(texts); i++) {
    const json_t *t = json_array_get(texts, i);
    const char *tx = json_string_value(json_object_get(t, "text"));
    const json_t *ref = json_object_get(t, "input_ids");
    int32_t *ids = NULL;
    int64_t n = 0;
    bool same = tx && hm_unigram_encode(m->tok, tx, strlen(tx), true, HM_UMT5_MAX_LENGTH, &ids, &n) == HM_OK &&
                (int64_t)json_array_size(ref) == n;
    for (int64_t k = 0; same && k < n; k++) same = json_integer_value(json_array_get(ref, (size_t)k)) == ids[k];
    if (!same) {
      bad++;
      printf("      text '%s': ids differ\n", json_string_value(json_object_get(t, "name")));
    }
    free(ids);
  }
  if (parity_selected(p, "text_tokenizer")) {
    if (!bad) parity_pass(p, "text_tokenizer", -1, "%zu texts: ids equal (tokens.json)", json_array_size(texts));
    else parity_fail(p, "text_tokenizer", "%d of %zu texts with different ids", bad, json_array_size(texts));
  }
  /* the bucket table */
  if (parity_selected(p, "text_rel_bucket") && has_file(p, "text/rel_bucket.npy")) {
    hm_npy rb;
    if (hm_npy_read_i32(parity_file(p, "text/rel_bucket.npy", path, sizeof path), &rb) == HM_OK) {
      int64_t half = rb.n_elems / 2;
      int32_t *got = malloc((size_t)rb.n_elems * sizeof *got);
      if (got) {
        for (int64_t i = 0; i < rb.n_elems; i++) got[i] = hm_umt5_bucket(i - half, m->cfg.n_buckets, m->cfg.max_distance);
        cmp_i32(p, "text_rel_bucket", "text/rel_bucket.npy", got, rb.n_elems);
        free(got);
      }
      hm_npy_free(&rb);
    } else {
      parity_fail(p, "text_rel_bucket", "%s", hm_last_error());
    }
  }
  /* every case with an _input_ids file */
  const char *key;
  json_t *val;
  json_object_foreach(json_object_get(parity_manifest(p), "files"), key, val) {
    const char *suf = "_input_ids.npy";
    size_t kl = strlen(key), sl = strlen(suf);
    if (strncmp(key, "text/", 5) || kl <= 5 + sl || strcmp(key + kl - sl, suf)) continue;
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(kl - 5 - sl), key + 5);
    text_case(p, m, tokens, name, pool);
  }
  parity_use(p, "text/spiece.model"); /* the sentencepiece source of tokenizer.json, for reference only */
  json_decref(tokens);
  hm_umt5_free(m);
}


/* ---- the lyrics stage ---- */
static bool ids_match(const int32_t *got, int64_t n, const json_t *ref) {
  if (!json_is_array(ref) || (int64_t)json_array_size(ref) != n) return false;
  for (int64_t i = 0; i < n; i++)
    if (json_integer_value(json_array_get(ref, (size_t)i)) != got[i]) return false;
  return true;
}

static char *read_text(parity_ctx *p, const char *rel, size_t *len) {
  char path[4096];
  char *buf = NULL;
  if (hm_read_file(parity_file(p, rel, path, sizeof path), &buf, len) != HM_OK) return NULL;
  return buf;
}

/* per language: lines whose cleaned text and ids match, lines that gave the documented error */
typedef struct { char lang[16]; int lines, exact, documented; } lang_count;

static lang_count *count_of(lang_count *lc, int *n, const char *lang) {
  for (int i = 0; i < *n; i++)
    if (!strcmp(lc[i].lang, lang)) return &lc[i];
  if (*n == 32) return &lc[31];
  snprintf(lc[*n].lang, sizeof lc[*n].lang, "%s", lang);
  return &lc[(*n)++];
}

/* Why this build cannot tokenize a line (NULL: it can): zh/ja/ko need romanisers; other
 * languages than en/cs need their num2words once an ASCII digit is left. */
static const char *unsupported_reason(const json_t *line) {
  const char *lang = json_string_value(json_object_get(line, "encode_lang"));
  const char *stripped = json_string_value(json_object_get(line, "stripped"));
  if (!lang || !stripped) return "no encode_lang";
  if (!strncmp(lang, "zh", 2) || !strcmp(lang, "ja") || !strcmp(lang, "ko")) return "needs the romaniser (later issue)";
  if (strcmp(lang, "en") && strcmp(lang, "cs") && strcmp(lang, "hi") && strpbrk(stripped, "0123456789"))
    return "needs num2words for its language (en only so far)";
  return NULL;
}

static void lyrics_stage(parity_ctx *p) {
  char path[4096];
  hm_lyrics *lx = NULL;
  if (hm_lyrics_load(parity_file(p, "lyrics/vocab.json", path, sizeof path), &lx) != HM_OK) {
    parity_fail(p, "lyrics_vocab", "%s", hm_last_error());
    return;
  }
  const hm_tokenizer *tok = hm_lyrics_tokenizer(lx);
  /* 1. the BPE alone */
  json_t *bpe = NULL;
  if (parity_selected(p, "lyrics_bpe_only")) {
    if (hm_json_load(parity_file(p, "lyrics/bpe_only.json", path, sizeof path), &bpe) != HM_OK) {
      parity_fail(p, "lyrics_bpe_only", "%s", hm_last_error());
    } else {
      const json_t *arr = json_object_get(bpe, "strings");
      int bad = 0;
      for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        const char *t = json_string_value(json_object_get(e, "text"));
        int32_t *ids = NULL;
        int64_t n = 0;
        bool ok = t && hm_tokenizer_encode(tok, t, strlen(t), false, &ids, &n) == HM_OK &&
                  ids_match(ids, n, json_object_get(e, "ids"));
        if (!ok) { bad++; printf("      bpe_only[%zu]: ids differ\n", i); }
        free(ids);
      }
      if (!bad) parity_pass(p, "lyrics_bpe_only", -1, "%zu strings: ids equal", json_array_size(arr));
      else parity_fail(p, "lyrics_bpe_only", "%d of %zu strings with different ids", bad, json_array_size(arr));
    }
  }
  json_decref(bpe);
  json_t *cj = NULL;
  if (hm_json_load(parity_file(p, "lyrics/cases.json", path, sizeof path), &cj) != HM_OK) {
    parity_fail(p, "lyrics_cases", "%s", hm_last_error());
    hm_lyrics_free(lx);
    return;
  }
  const json_t *cases = json_object_get(cj, "cases");
  /* 2. every line: bpe_input -> line_ids, and the cleaners: stripped + encode_lang -> cleaned */
  int n_bpe = 0, bad_bpe = 0;
  lang_count lc[32];
  int n_lc = 0;
  memset(lc, 0, sizeof lc);
  for (size_t c = 0; c < json_array_size(cases); c++) {
    const json_t *lines = json_object_get(json_array_get(cases, c), "lines");
    for (size_t l = 0; l < json_array_size(lines); l++) {
      const json_t *line = json_array_get(lines, l);
      const char *bin = json_string_value(json_object_get(line, "bpe_input"));
      if (!bin) continue;
      int32_t *ids = NULL;
      int64_t n = 0;
      n_bpe++;
      if (hm_tokenizer_encode(tok, bin, strlen(bin), false, &ids, &n) != HM_OK ||
          !ids_match(ids, n, json_object_get(line, "line_ids"))) {
        bad_bpe++;
        printf("      %s line %zu: BPE ids differ\n", json_string_value(json_object_get(json_array_get(cases, c), "name")), l);
      }
      free(ids);
      const char *lang = json_string_value(json_object_get(line, "encode_lang"));
      const char *stripped = json_string_value(json_object_get(line, "stripped"));
      const char *cleaned = json_string_value(json_object_get(line, "cleaned"));
      lang_count *k = count_of(lc, &n_lc, lang ? lang : "?");
      k->lines++;
      const char *why = unsupported_reason(line);
      char *got = NULL;
      size_t gl = 0;
      int32_t *lids = NULL;
      int64_t ln = 0;
      hm_status st = hm_lyrics_clean(stripped, strlen(stripped), lang, &got, &gl);
      if (st == HM_OK) st = hm_lyrics_encode_line(lx, stripped, strlen(stripped), lang, &lids, &ln);
      if (why && st == HM_ERR_UNSUPPORTED) k->documented++;
      else if (!why && st == HM_OK && gl == strlen(cleaned) && !memcmp(got, cleaned, gl) &&
               ids_match(lids, ln, json_object_get(line, "line_ids")))
        k->exact++;
      else
        printf("      %s line %zu [%s]: '%s' -> '%s' (expected '%s')%s%s\n",
               json_string_value(json_object_get(json_array_get(cases, c), "name")), l, lang, stripped,
               st == HM_OK ? got : hm_last_error(), cleaned, why ? "; expected the error: " : "", why ? why : "");
      free(got);
      free(lids);
    }
  }
  if (parity_selected(p, "lyrics_bpe_lines")) {
    if (!bad_bpe) parity_pass(p, "lyrics_bpe_lines", -1, "%d lines: bpe_input -> line_ids equal", n_bpe);
    else parity_fail(p, "lyrics_bpe_lines", "%d of %d lines with different ids", bad_bpe, n_bpe);
  }
  if (parity_selected(p, "lyrics_lines")) {
    int lines = 0, exact = 0, doc = 0;
    for (int i = 0; i < n_lc; i++) {
      printf("      lines [%s]: %d, exact %d, documented error %d\n", lc[i].lang, lc[i].lines, lc[i].exact, lc[i].documented);
      lines += lc[i].lines; exact += lc[i].exact; doc += lc[i].documented;
    }
    if (exact + doc == lines)
      parity_pass(p, "lyrics_lines", -1, "%d lines: %d cleaned + ids exact, %d the documented error (romaniser / num2words "
                  "not ported)", lines, exact, doc);
    else parity_fail(p, "lyrics_lines", "%d of %d lines neither exact nor the documented error", lines - exact - doc, lines);
  }
  /* 3. tokenize_lyrics per case */
  for (size_t c = 0; c < json_array_size(cases); c++) {
    const json_t *cs = json_array_get(cases, c);
    const char *name = json_string_value(json_object_get(cs, "name"));
    const json_t *files = json_object_get(cs, "files");
    char cname[256];
    snprintf(cname, sizeof cname, "lyrics_%s", name ? name : "?");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)files, key, val) { /* every file of the case is read or named here */
      snprintf(path, sizeof path, "lyrics/%s", json_string_value(val));
      parity_use(p, path);
    }
    if (!parity_selected(p, cname)) continue;
    size_t len = 0, llen = 0;
    char rel[512];
    snprintf(rel, sizeof rel, "lyrics/%s", json_string_value(json_object_get(files, "lyrics")));
    char *text = read_text(p, rel, &len);
    snprintf(rel, sizeof rel, "lyrics/%s", json_string_value(json_object_get(files, "langs")));
    char *langs_txt = read_text(p, rel, &llen);
    if (!text || !langs_txt) { parity_fail(p, cname, "%s", hm_last_error()); free(text); free(langs_txt); continue; }
    const char *langs[4096];
    int64_t nl = 0;
    for (char *q = langs_txt, *e; q < langs_txt + llen && nl < 4096; q = e + 1) {
      e = memchr(q, '\n', (size_t)(langs_txt + llen - q));
      if (!e) e = langs_txt + llen;
      *e = 0;
      if (*q) langs[nl++] = q;
    }
    /* the lines this build cannot tokenize */
    const char *why = NULL;
    const json_t *lines = json_object_get(cs, "lines");
    for (size_t l = 0; l < json_array_size(lines) && !why; l++)
      if (!json_is_true(json_object_get(json_array_get(lines, l), "empty"))) why = unsupported_reason(json_array_get(lines, l));
    hm_lyrics_opts o = {.line_langs = langs, .n_line_langs = nl};
    int32_t *ids = NULL;
    int64_t n = 0;
    hm_status st = hm_lyrics_tokenize(lx, text, len, &o, &ids, &n);
    snprintf(rel, sizeof rel, "lyrics/%s", json_string_value(json_object_get(files, "ids")));
    if (len == 0) { /* the pipeline does not call tokenize_lyrics: ids [0], mask [0] */
      const json_t *pi = json_object_get(cs, "pipeline_ids"), *pm = json_object_get(cs, "pipeline_mask");
      bool ok = st == HM_ERR_INVALID_ARG && json_array_size(pi) == 1 && json_integer_value(json_array_get(pi, 0)) == HM_LYRICS_NO_LYRICS_ID &&
                json_array_size(pm) == 1 && json_integer_value(json_array_get(pm, 0)) == 0;
      if (ok) parity_pass(p, cname, -1, "empty lyrics: refused (the pipeline's ids [0] / mask [0] are the caller's)");
      else parity_fail(p, cname, "empty lyrics: expected the empty-lyrics error and pipeline ids [0] / mask [0]");
    } else if (why) {
      if (st == HM_ERR_UNSUPPORTED) parity_pass(p, cname, -1, "NOT COMPARED: a line %s; gives the documented error", why);
      else parity_fail(p, cname, "a line %s, but no documented error (%s)", why, st == HM_OK ? "tokenized" : hm_last_error());
    } else if (st != HM_OK) {
      parity_fail(p, cname, "%s", hm_last_error());
    } else {
      cmp_i32(p, cname, rel, ids, n);
    }
    free(ids);
    free(text);
    free(langs_txt);
  }
  json_decref(cj);
  hm_lyrics_free(lx);
}

int parity_acestep(parity_ctx *p) {
  if (!json_is_true(json_object_get(parity_manifest(p), "acestep"))) return -1;
  hm_pool *pool = parity_threads(p) > 1 ? hm_compute_pool_create(parity_threads(p)) : NULL;
  if (parity_selected(p, "text")) text_stage(p, pool);
  if (parity_selected(p, "lyrics")) lyrics_stage(p);
  for (size_t s = 0; s < sizeof k_stages / sizeof k_stages[0]; s++) {
    if (is_implemented(k_stages[s][0])) continue;
    char path[4096];
    if (hm_path_join(path, sizeof path, parity_dir(p), k_stages[s][0]) != HM_OK || !hm_dir_exists(path)) continue;
    printf("TODO  %-28s not implemented yet (%s): not checked\n", k_stages[s][0], k_stages[s][1]);
  }
  hm_pool_free(pool);
  return 0;
}
