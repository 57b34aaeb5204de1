/* Unigram tokenizer from a tokenizer.json (see unigram.h for what runs, in order). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/unigram.h"
#include "io/json.h"
#include "text/text_internal.h"
#include "text/tokenizer.h"

#include <float.h>
#include <pcre2.h>
#include <stdlib.h>
#include <utf8proc.h>

/* ---- a growable byte string ---- */
typedef struct { char *p; size_t n, cap; bool oom; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->n + n + 1) nc *= 2;
    char *q = realloc(b->p, nc);
    if (!q) { b->oom = true; return; }
    b->p = q;
    b->cap = nc;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

typedef struct { int32_t *v; size_t n, cap; bool oom; } ivec;
static void iv_push(ivec *a, int32_t x) {
  if (a->oom) return;
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 64;
    int32_t *q = realloc(a->v, nc * sizeof *q);
    if (!q) { a->oom = true; return; }
    a->v = q;
    a->cap = nc;
  }
  a->v[a->n++] = x;
}

/* ---- normalizer steps ---- */
typedef enum { NS_PRECOMPILED, NS_STRIP, NS_REPLACE } ns_kind;
typedef struct {
  ns_kind kind;
  const uint32_t *trie; /* Precompiled: darts-clone units */
  size_t n_trie;
  const char *pool;     /* Precompiled: NUL-separated replacement strings */
  size_t n_pool;
  uint8_t *blob;        /* owned decoded charsmap */
  bool left, right;     /* Strip */
  pcre2_code *re;       /* Replace (a String pattern is compiled as a literal) */
  char *content;        /* Replace */
} nstep;

/* ---- pre-tokenizer ---- */
typedef enum { PS_ALWAYS, PS_FIRST, PS_NEVER } prepend_scheme;

typedef struct { uint64_t *slots; uint64_t mask; } pmap; /* slot: id + 1 (0 = empty) */

struct hm_unigram {
  int64_t n_pieces, n_ids;
  char **str;       /* [n_ids] spelling (pieces, then added tokens not among them) */
  uint32_t *slen;
  double *score;    /* [n_pieces] */
  pmap map;         /* piece spelling -> id (last wins, as HF's HashMap insert) */
  uint32_t max_piece_len;
  int32_t unk_id;   /* -1: none */
  double unk_score;
  struct { int32_t id; char *s; uint32_t n; } *added;
  int n_added;
  nstep *norm;
  int n_norm;
  bool ws_split, metaspace, ms_split;
  prepend_scheme prepend;
  char repl[8];
  size_t repl_len;
  int32_t *prefix, *suffix;
  int n_prefix, n_suffix;
  int32_t pad_id;
};

static uint64_t fnv(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
  return h ^ (h >> 31);
}

static int32_t map_get(const hm_unigram *t, const char *s, size_t n) {
  uint64_t i = fnv(s, n) & t->map.mask;
  for (;;) {
    uint64_t v = t->map.slots[i];
    if (!v) return -1;
    int32_t id = (int32_t)(v - 1);
    if (t->slen[id] == n && memcmp(t->str[id], s, n) == 0) return id;
    i = (i + 1) & t->map.mask;
  }
}

static void map_put(hm_unigram *t, int32_t id) {
  uint64_t i = fnv(t->str[id], t->slen[id]) & t->map.mask;
  for (;;) {
    uint64_t v = t->map.slots[i];
    if (!v) { t->map.slots[i] = (uint64_t)id + 1; return; }
    int32_t o = (int32_t)(v - 1);
    if (t->slen[o] == t->slen[id] && memcmp(t->str[o], t->str[id], t->slen[id]) == 0) {
      t->map.slots[i] = (uint64_t)id + 1;
      return;
    }
    i = (i + 1) & t->map.mask;
  }
}

void hm_unigram_free(hm_unigram *t) {
  if (!t) return;
  for (int64_t i = 0; i < t->n_ids; i++) free(t->str ? t->str[i] : NULL);
  free(t->str);
  free(t->slen);
  free(t->score);
  free(t->map.slots);
  for (int i = 0; i < t->n_added; i++) free(t->added[i].s);
  free(t->added);
  for (int i = 0; i < t->n_norm; i++) {
    free(t->norm[i].blob);
    if (t->norm[i].re) pcre2_code_free(t->norm[i].re);
    free(t->norm[i].content);
  }
  free(t->norm);
  free(t->prefix);
  free(t->suffix);
  free(t);
}

/* ---- base64 (standard alphabet, '=' padding) ---- */
static int b64v(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

static uint8_t *b64_decode(const char *s, size_t *out_n) {
  size_t n = strlen(s);
  uint8_t *o = malloc(n / 4 * 3 + 4);
  if (!o) return NULL;
  size_t k = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '=') break;
    int v = b64v((unsigned char)s[i]);
    if (v < 0) { free(o); return NULL; }
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) { bits -= 8; o[k++] = (uint8_t)(acc >> bits); }
  }
  *out_n = k;
  return o;
}

static hm_status load_precompiled(nstep *st, const json_t *j, const char *file) {
  const char *b64 = json_string_value(json_object_get(j, "precompiled_charsmap"));
  st->kind = NS_PRECOMPILED;
  if (!b64) return hm_error(HM_ERR_FORMAT, "%s: normalizer Precompiled needs a string 'precompiled_charsmap'", file);
  size_t n = 0;
  st->blob = b64_decode(b64, &n);
  if (!st->blob) return hm_error(HM_ERR_FORMAT, "%s: normalizer 'precompiled_charsmap' is not base64", file);
  if (n < 4) return hm_error(HM_ERR_FORMAT, "%s: 'precompiled_charsmap' is too short", file);
  uint32_t trie_bytes = (uint32_t)st->blob[0] | (uint32_t)st->blob[1] << 8 | (uint32_t)st->blob[2] << 16 |
                        (uint32_t)st->blob[3] << 24;
  if (trie_bytes % 4 || trie_bytes == 0 || (size_t)trie_bytes > n - 4)
    return hm_error(HM_ERR_FORMAT, "%s: 'precompiled_charsmap' trie size %u does not fit its %zu bytes", file,
                    trie_bytes, n);
  /* units are little-endian u32: re-read them into an aligned copy */
  size_t nu = trie_bytes / 4;
  uint32_t *units = malloc(nu * sizeof *units + (n - 4 - trie_bytes) + 1);
  if (!units) return hm_error(HM_ERR_NOMEM, "%s: out of memory", file);
  for (size_t i = 0; i < nu; i++) {
    const uint8_t *b = st->blob + 4 + 4 * i;
    units[i] = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  }
  char *pool = (char *)(units + nu);
  st->n_pool = n - 4 - trie_bytes;
  memcpy(pool, st->blob + 4 + trie_bytes, st->n_pool);
  pool[st->n_pool] = 0;
  free(st->blob);
  st->blob = (uint8_t *)units;
  st->trie = units;
  st->n_trie = nu;
  st->pool = pool;
  return HM_OK;
}

/* darts-clone common prefix search, first hit only (what HF's transform uses); stops at a
 * NUL byte like the crate. Returns the pool offset or -1. */
static int64_t dat_first(const nstep *st, const unsigned char *key, size_t n) {
  const uint32_t *a = st->trie;
  size_t pos = 0;
  uint32_t unit = a[0];
  pos ^= (size_t)((unit >> 10) << ((unit & (1u << 9)) >> 6));
  for (size_t i = 0; i < n; i++) {
    if (key[i] == 0) break;
    pos ^= key[i];
    if (pos >= st->n_trie) return -1;
    unit = a[pos];
    if ((unit & ((1u << 31) | 0xFFu)) != key[i]) return -1;
    pos ^= (size_t)((unit >> 10) << ((unit & (1u << 9)) >> 6));
    if (pos >= st->n_trie) return -1;
    if ((unit >> 8) & 1) return (int64_t)(a[pos] & ((1u << 31) - 1));
  }
  return -1;
}

static bool precompiled_put(const nstep *st, const char *s, size_t n, sbuf *out) {
  int64_t off = dat_first(st, (const unsigned char *)s, n);
  if (off < 0 || (size_t)off >= st->n_pool) return false;
  const char *r = st->pool + off;
  sb_put(out, r, strlen(r));
  return true;
}

/* HF's Precompiled::normalize over s[0..n) (valid UTF-8). */
static void run_precompiled(const nstep *st, const char *s, size_t n, sbuf *out) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    /* one extended grapheme cluster [i, e) */
    uint32_t cp;
    size_t e = i + hm_utf8_next(u, n, i, &cp);
    utf8proc_int32_t state = 0;
    uint32_t prev = cp;
    while (e < n) {
      uint32_t c2;
      size_t l2 = hm_utf8_next(u, n, e, &c2);
      if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)c2, &state)) break;
      prev = c2;
      e += l2;
    }
    if (e - i < 6 && precompiled_put(st, s + i, e - i, out)) { i = e; continue; }
    while (i < e) {
      size_t l = hm_utf8_next(u, n, i, &cp);
      if (!precompiled_put(st, s + i, l, out)) sb_put(out, s + i, l);
      i += l;
    }
  }
}

static bool is_ws(uint32_t c) { /* Rust char::is_whitespace = White_Space */
  return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static void run_strip(const nstep *st, const char *s, size_t n, sbuf *out) {
  const unsigned char *u = (const unsigned char *)s;
  size_t b = 0, e = n;
  if (st->left)
    while (b < e) {
      uint32_t c;
      size_t l = hm_utf8_next(u, n, b, &c);
      if (!is_ws(c)) break;
      b += l;
    }
  if (st->right)
    while (e > b) {
      size_t k = e - 1;
      while (k > b && (u[k] & 0xC0) == 0x80) k--;
      uint32_t c;
      hm_utf8_next(u, n, k, &c);
      if (!is_ws(c)) break;
      e = k;
    }
  sb_put(out, s + b, e - b);
}

static void run_replace(const nstep *st, const char *s, size_t n, sbuf *out) {
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(st->re, NULL);
  if (!md) { out->oom = true; return; }
  size_t pos = 0;
  while (pos <= n) {
    int rc = pcre2_match(st->re, (PCRE2_SPTR)s, n, pos, 0, md, NULL);
    if (rc < 0) break;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    sb_put(out, s + pos, ov[0] - pos);
    sb_put(out, st->content, strlen(st->content));
    if (ov[1] == ov[0]) { /* empty match: copy one char and go on */
      if (ov[0] >= n) { pos = n + 1; break; }
      uint32_t c;
      size_t l = hm_utf8_next((const unsigned char *)s, n, ov[0], &c);
      sb_put(out, s + ov[0], l);
      pos = ov[0] + l;
    } else {
      pos = ov[1];
    }
  }
  if (pos < n) sb_put(out, s + pos, n - pos);
  pcre2_match_data_free(md);
}

static hm_status load_norm_step(hm_unigram *t, const json_t *j, const char *file) {
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) return hm_error(HM_ERR_FORMAT, "%s: normalizer without a 'type'", file);
  if (!strcmp(type, "Sequence")) {
    const json_t *arr = json_object_get(j, "normalizers");
    if (!json_is_array(arr)) return hm_error(HM_ERR_FORMAT, "%s: normalizer Sequence needs 'normalizers'", file);
    for (size_t i = 0; i < json_array_size(arr); i++) HM_TRY(load_norm_step(t, json_array_get(arr, i), file));
    return HM_OK;
  }
  nstep *ns = realloc(t->norm, (size_t)(t->n_norm + 1) * sizeof *ns);
  if (!ns) return hm_error(HM_ERR_NOMEM, "%s: out of memory", file);
  t->norm = ns;
  nstep *st = &t->norm[t->n_norm++];
  memset(st, 0, sizeof *st);
  if (!strcmp(type, "Precompiled")) return load_precompiled(st, j, file);
  if (!strcmp(type, "Strip")) {
    st->kind = NS_STRIP;
    st->left = json_is_true(json_object_get(j, "strip_left"));
    st->right = json_is_true(json_object_get(j, "strip_right"));
    return HM_OK;
  }
  if (!strcmp(type, "Replace")) {
    st->kind = NS_REPLACE;
    const json_t *pat = json_object_get(j, "pattern");
    const char *content = json_string_value(json_object_get(j, "content"));
    const char *lit = json_string_value(json_object_get(pat, "String"));
    const char *rx = json_string_value(json_object_get(pat, "Regex"));
    if (!content || (!lit && !rx))
      return hm_error(HM_ERR_FORMAT, "%s: normalizer Replace needs 'pattern' (String or Regex) and 'content'", file);
    st->content = strdup(content);
    if (!st->content) return hm_error(HM_ERR_NOMEM, "%s: out of memory", file);
    int err;
    PCRE2_SIZE off;
    st->re = pcre2_compile((PCRE2_SPTR)(lit ? lit : rx), PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_UCP | (lit ? PCRE2_LITERAL : 0), &err, &off, NULL);
    if (!st->re) return hm_error(HM_ERR_FORMAT, "%s: normalizer Replace pattern does not compile at %zu", file, (size_t)off);
    return HM_OK;
  }
  return hm_error(HM_ERR_UNSUPPORTED, "%s: normalizer type '%s' is not supported (Precompiled, Strip, Replace, Sequence)",
                  file, type);
}

static hm_status load_pretok(hm_unigram *t, const json_t *j, const char *file) {
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) return hm_error(HM_ERR_FORMAT, "%s: pre_tokenizer without a 'type'", file);
  if (!strcmp(type, "Sequence")) {
    const json_t *arr = json_object_get(j, "pretokenizers");
    if (!json_is_array(arr)) return hm_error(HM_ERR_FORMAT, "%s: pre_tokenizer Sequence needs 'pretokenizers'", file);
    for (size_t i = 0; i < json_array_size(arr); i++) HM_TRY(load_pretok(t, json_array_get(arr, i), file));
    return HM_OK;
  }
  if (!strcmp(type, "WhitespaceSplit")) {
    if (t->metaspace) return hm_error(HM_ERR_UNSUPPORTED, "%s: WhitespaceSplit after Metaspace is not supported", file);
    t->ws_split = true;
    return HM_OK;
  }
  if (!strcmp(type, "Metaspace")) {
    const char *r = json_string_value(json_object_get(j, "replacement"));
    if (!r) r = "\xe2\x96\x81";
    size_t rl = strlen(r);
    uint32_t c;
    if (rl == 0 || rl >= sizeof t->repl || hm_utf8_next((const unsigned char *)r, rl, 0, &c) != rl)
      return hm_error(HM_ERR_FORMAT, "%s: Metaspace 'replacement' must be one character", file);
    memcpy(t->repl, r, rl + 1);
    t->repl_len = rl;
    t->metaspace = true;
    t->ms_split = true;
    const json_t *sp = json_object_get(j, "split");
    if (json_is_boolean(sp)) t->ms_split = json_is_true(sp);
    const char *scheme = json_string_value(json_object_get(j, "prepend_scheme"));
    const json_t *aps = json_object_get(j, "add_prefix_space");
    if (scheme) {
      if (!strcmp(scheme, "always")) t->prepend = PS_ALWAYS;
      else if (!strcmp(scheme, "first")) t->prepend = PS_FIRST;
      else if (!strcmp(scheme, "never")) t->prepend = PS_NEVER;
      else return hm_error(HM_ERR_FORMAT, "%s: Metaspace 'prepend_scheme' '%s' is not always/first/never", file, scheme);
    } else {
      t->prepend = (!json_is_boolean(aps) || json_is_true(aps)) ? PS_ALWAYS : PS_NEVER;
    }
    return HM_OK;
  }
  return hm_error(HM_ERR_UNSUPPORTED, "%s: pre_tokenizer type '%s' is not supported (WhitespaceSplit, Metaspace, Sequence)",
                  file, type);
}

static hm_status template_side(hm_unigram *t, const json_t *pp, const char *file) {
  const json_t *single = json_object_get(pp, "single");
  const json_t *specials = json_object_get(pp, "special_tokens");
  if (!json_is_array(single)) return hm_error(HM_ERR_FORMAT, "%s: TemplateProcessing needs a 'single' list", file);
  bool after = false;
  for (size_t i = 0; i < json_array_size(single); i++) {
    const json_t *it = json_array_get(single, i);
    if (json_object_get(it, "Sequence")) { after = true; continue; }
    const char *name = json_string_value(json_object_get(json_object_get(it, "SpecialToken"), "id"));
    const json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
    if (!name || !json_is_array(ids))
      return hm_error(HM_ERR_FORMAT, "%s: post_processor single[%zu] names no special token with 'ids'", file, i);
    for (size_t k = 0; k < json_array_size(ids); k++) {
      int32_t id = (int32_t)json_integer_value(json_array_get(ids, k));
      int32_t **v = after ? &t->suffix : &t->prefix;
      int *n = after ? &t->n_suffix : &t->n_prefix;
      int32_t *q = realloc(*v, (size_t)(*n + 1) * sizeof *q);
      if (!q) return hm_error(HM_ERR_NOMEM, "%s: out of memory", file);
      q[(*n)++] = id;
      *v = q;
    }
  }
  return HM_OK;
}

static hm_status load_post(hm_unigram *t, const json_t *pp, const char *file) {
  if (!pp || json_is_null(pp)) return HM_OK;
  const char *type = json_string_value(json_object_get(pp, "type"));
  if (type && !strcmp(type, "TemplateProcessing")) return template_side(t, pp, file);
  if (type && !strcmp(type, "Sequence")) {
    const json_t *arr = json_object_get(pp, "processors");
    for (size_t i = 0; i < json_array_size(arr); i++) HM_TRY(load_post(t, json_array_get(arr, i), file));
    return HM_OK;
  }
  return hm_error(HM_ERR_UNSUPPORTED, "%s: post_processor type '%s' is not supported (TemplateProcessing)", file,
                  type ? type : "?");
}

static hm_status load_model(hm_unigram *t, const json_t *root, const char *file) {
  const json_t *model = json_object_get(root, "model");
  const char *type = json_string_value(json_object_get(model, "type"));
  if (!type || strcmp(type, "Unigram"))
    return hm_error(HM_ERR_FORMAT, "%s: model.type is '%s', not 'Unigram'", file, type ? type : "(missing)");
  if (json_is_true(json_object_get(model, "byte_fallback")))
    return hm_error(HM_ERR_UNSUPPORTED, "%s: model.byte_fallback true is not supported", file);
  const json_t *vocab = json_object_get(model, "vocab");
  const json_t *added = json_object_get(root, "added_tokens");
  size_t nv = json_array_size(vocab), na = json_array_size(added);
  if (!json_is_array(vocab) || nv == 0) return hm_error(HM_ERR_FORMAT, "%s: model.vocab is not a non-empty list", file);
  if (nv > INT32_MAX / 2) return hm_error(HM_ERR_FORMAT, "%s: model.vocab is too large", file);
  t->n_pieces = (int64_t)nv;
  /* ids: pieces 0..nv-1, then added tokens whose id lies beyond */
  int64_t n_ids = (int64_t)nv;
  for (size_t i = 0; i < na; i++) {
    json_int_t id = json_integer_value(json_object_get(json_array_get(added, i), "id"));
    if (id < 0 || id > INT32_MAX / 2) return hm_error(HM_ERR_FORMAT, "%s: added_tokens[%zu] has a bad 'id'", file, i);
    if (id + 1 > n_ids) n_ids = id + 1;
  }
  t->n_ids = n_ids;
  t->str = calloc((size_t)n_ids, sizeof *t->str);
  t->slen = calloc((size_t)n_ids, sizeof *t->slen);
  t->score = malloc(nv * sizeof *t->score);
  uint64_t cap = 16;
  while (cap < (uint64_t)n_ids * 2) cap *= 2;
  t->map.slots = calloc(cap, sizeof *t->map.slots);
  t->map.mask = cap - 1;
  if (!t->str || !t->slen || !t->score || !t->map.slots) return hm_error(HM_ERR_NOMEM, "%s: out of memory", file);
  double min_score = DBL_MAX;
  for (size_t i = 0; i < nv; i++) {
    const json_t *e = json_array_get(vocab, i);
    const char *s = json_string_value(json_array_get(e, 0));
    const json_t *sc = json_array_get(e, 1);
    if (!s || !json_is_number(sc)) return hm_error(HM_ERR_FORMAT, "%s: model.vocab[%zu] is not [piece, score]", file, i);
    size_t l = strlen(s);
    if (!hm_utf8_valid(s, l, NULL)) return hm_error(HM_ERR_FORMAT, "%s: model.vocab[%zu] is not valid UTF-8", file, i);
    t->str[i] = strdup(s);
    if (!t->str[i]) return hm_error(HM_ERR_NOMEM, "%s: out of memory", file);
    t->slen[i] = (uint32_t)l;
    t->score[i] = json_number_value(sc);
    if (t->score[i] < min_score) min_score = t->score[i];
    if (l > t->max_piece_len) t->max_piece_len = (uint32_t)l;
    map_put(t, (int32_t)i);
  }
  t->unk_score = min_score - 10.0;
  t->unk_id = -1;
  const json_t *unk = json_object_get(model, "unk_id");
  if (json_is_integer(unk)) {
    json_int_t u = json_integer_value(unk);
    if (u < 0 || u >= (json_int_t)nv) return hm_error(HM_ERR_FORMAT, "%s: model.unk_id %lld is out of range", file, (long long)u);
    t->unk_id = (int32_t)u;
  }
  t->added = calloc(na ? na : 1, sizeof *t->added);
  if (!t->added) return hm_error(HM_ERR_NOMEM, "%s: out of memory", file);
  t->pad_id = 0;
  for (size_t i = 0; i < na; i++) {
    const json_t *a = json_array_get(added, i);
    const char *c = json_string_value(json_object_get(a, "content"));
    int32_t id = (int32_t)json_integer_value(json_object_get(a, "id"));
    if (!c || !*c) return hm_error(HM_ERR_FORMAT, "%s: added_tokens[%zu] needs a non-empty 'content'", file, i);
    t->added[t->n_added].id = id;
    t->added[t->n_added].s = strdup(c);
    t->added[t->n_added].n = (uint32_t)strlen(c);
    if (!t->added[t->n_added].s) return hm_error(HM_ERR_NOMEM, "%s: out of memory", file);
    t->n_added++;
    if (!strcmp(c, "<pad>")) t->pad_id = id;
    if (!t->str[id]) {
      t->str[id] = strdup(c);
      if (!t->str[id]) return hm_error(HM_ERR_NOMEM, "%s: out of memory", file);
      t->slen[id] = (uint32_t)strlen(c);
      if (map_get(t, c, strlen(c)) < 0) map_put(t, id);
    }
  }
  return HM_OK;
}

hm_status hm_unigram_load(const char *path, hm_unigram **out) {
  *out = NULL;
  json_t *root = NULL;
  HM_TRY(hm_json_load(path, &root));
  hm_unigram *t = calloc(1, sizeof *t);
  hm_status st = t ? HM_OK : hm_error(HM_ERR_NOMEM, "%s: out of memory", path);
  if (st == HM_OK) st = load_model(t, root, path);
  const json_t *norm = json_object_get(root, "normalizer");
  if (st == HM_OK && norm && !json_is_null(norm)) st = load_norm_step(t, norm, path);
  const json_t *pre = json_object_get(root, "pre_tokenizer");
  if (st == HM_OK && pre && !json_is_null(pre)) st = load_pretok(t, pre, path);
  if (st == HM_OK) st = load_post(t, json_object_get(root, "post_processor"), path);
  json_decref(root);
  if (st != HM_OK) { hm_unigram_free(t); return st; }
  *out = t;
  return HM_OK;
}

int64_t hm_unigram_vocab_size(const hm_unigram *t) { return t->n_ids; }
int32_t hm_unigram_pad_id(const hm_unigram *t) { return t->pad_id; }
int32_t hm_unigram_token_id(const hm_unigram *t, const char *token) {
  for (int i = 0; i < t->n_added; i++)
    if (!strcmp(t->added[i].s, token)) return t->added[i].id;
  return map_get(t, token, strlen(token));
}
const char *hm_unigram_token_str(const hm_unigram *t, int32_t id) {
  return id >= 0 && id < t->n_ids ? t->str[id] : NULL;
}

/* ---- encoding ---- */

/* Viterbi over one pre-token (HF Unigram::encode_optimized), ids appended to out. */
static hm_status viterbi(const hm_unigram *t, const char *s, size_t n, ivec *out) {
  if (n == 0) return HM_OK;
  typedef struct { double score; int64_t start; int32_t id; } node;
  node *best = malloc((n + 1) * sizeof *best);
  if (!best) return hm_error(HM_ERR_NOMEM, "unigram: out of memory");
  for (size_t i = 0; i <= n; i++) { best[i].score = 0; best[i].start = -1; best[i].id = -1; }
  const unsigned char *u = (const unsigned char *)s;
  size_t at = 0;
  while (at < n) {
    double base = best[at].score;
    uint32_t cp;
    size_t mbl = hm_utf8_next(u, n, at, &cp);
    bool single = false;
    size_t e = at;
    while (e < n && e - at < t->max_piece_len) {
      size_t l = hm_utf8_next(u, n, e, &cp);
      e += l;
      if (e - at > t->max_piece_len) break;
      int32_t id = map_get(t, s + at, e - at);
      if (id < 0 || id >= t->n_pieces) continue;
      double cand = t->score[id] + base;
      node *tg = &best[e];
      if (tg->start < 0 || cand > tg->score) { tg->score = cand; tg->start = (int64_t)at; tg->id = id; }
      if (e - at == mbl) single = true;
    }
    if (!single) {
      if (t->unk_id < 0) { free(best); return hm_error(HM_ERR_INVALID_ARG, "unigram: a character has no piece and the model has no unk_id"); }
      node *tg = &best[at + mbl];
      double cand = t->unk_score + base;
      if (tg->start < 0 || cand > tg->score) { tg->score = cand; tg->start = (int64_t)at; tg->id = t->unk_id; }
    }
    at += mbl;
  }
  /* backtrack, collecting ids in reverse; fuse consecutive unk */
  ivec rev = {0};
  size_t end = n;
  bool prev_unk = false;
  while (end > 0) {
    node *nd = &best[end];
    bool is_unk = nd->id == t->unk_id;
    if (!(is_unk && prev_unk)) iv_push(&rev, nd->id);
    prev_unk = is_unk;
    end = (size_t)nd->start;
  }
  free(best);
  for (size_t i = rev.n; i-- > 0;) iv_push(out, rev.v[i]);
  bool oom = rev.oom;
  free(rev.v);
  return oom ? hm_error(HM_ERR_NOMEM, "unigram: out of memory") : HM_OK;
}

/* Metaspace on one word (no whitespace-split spaces left, but a lone Metaspace sees them). */
static hm_status metaspace_word(const hm_unigram *t, const char *w, size_t n, bool first, ivec *out) {
  sbuf b = {0};
  bool starts = n >= t->repl_len && memcmp(w, t->repl, t->repl_len) == 0;
  if (!starts && (t->prepend == PS_ALWAYS || (t->prepend == PS_FIRST && first))) sb_put(&b, t->repl, t->repl_len);
  for (size_t i = 0; i < n; i++) {
    if (w[i] == ' ') sb_put(&b, t->repl, t->repl_len);
    else sb_put(&b, w + i, 1);
  }
  if (b.oom) { free(b.p); return hm_error(HM_ERR_NOMEM, "unigram: out of memory"); }
  hm_status st = HM_OK;
  if (!t->ms_split) {
    st = viterbi(t, b.p, b.n, out);
  } else { /* split on the replacement, merged with the next piece */
    size_t s0 = 0;
    for (size_t i = 0; i <= b.n && st == HM_OK; i++) {
      bool at_rep = i < b.n && i + t->repl_len <= b.n && memcmp(b.p + i, t->repl, t->repl_len) == 0;
      if ((at_rep && i > s0) || i == b.n) {
        st = viterbi(t, b.p + s0, i - s0, out);
        s0 = i;
      }
      if (at_rep) i += t->repl_len - 1;
    }
  }
  free(b.p);
  return st;
}

/* One segment between added tokens: normalise, pre-tokenise, Viterbi. */
static hm_status encode_segment(const hm_unigram *t, const char *s, size_t n, bool at_start, ivec *out) {
  sbuf cur = {0};
  sb_put(&cur, s, n);
  for (int k = 0; k < t->n_norm && !cur.oom; k++) {
    sbuf nx = {0};
    const nstep *st = &t->norm[k];
    if (st->kind == NS_PRECOMPILED) run_precompiled(st, cur.p ? cur.p : "", cur.n, &nx);
    else if (st->kind == NS_STRIP) run_strip(st, cur.p ? cur.p : "", cur.n, &nx);
    else run_replace(st, cur.p ? cur.p : "", cur.n, &nx);
    if (!nx.p) sb_put(&nx, "", 0);
    free(cur.p);
    cur = nx;
  }
  if (cur.oom) { free(cur.p); return hm_error(HM_ERR_NOMEM, "unigram: out of memory"); }
  const char *w = cur.p ? cur.p : "";
  size_t wn = cur.n;
  hm_status st = HM_OK;
  if (!t->ws_split) {
    st = t->metaspace ? metaspace_word(t, w, wn, at_start, out) : viterbi(t, w, wn, out);
  } else {
    const unsigned char *u = (const unsigned char *)w;
    size_t i = 0;
    bool first = at_start;
    while (i < wn && st == HM_OK) {
      uint32_t c;
      size_t l = hm_utf8_next(u, wn, i, &c);
      if (is_ws(c)) { i += l; first = false; continue; }
      size_t b = i;
      while (i < wn) {
        l = hm_utf8_next(u, wn, i, &c);
        if (is_ws(c)) break;
        i += l;
      }
      st = t->metaspace ? metaspace_word(t, w + b, i - b, first, out) : viterbi(t, w + b, i - b, out);
      first = false;
    }
  }
  free(cur.p);
  return st;
}

hm_status hm_unigram_encode(const hm_unigram *t, const char *text, size_t len, bool add_special, int max_length,
                            int32_t **ids, int64_t *n_ids) {
  *ids = NULL;
  *n_ids = 0;
  size_t bad = 0;
  if (!text && len) return hm_error(HM_ERR_INVALID_ARG, "unigram: text is NULL");
  if (len && !hm_utf8_valid(text, len, &bad))
    return hm_error(HM_ERR_INVALID_ARG, "unigram: text is not valid UTF-8 at byte %zu", bad);
  ivec body = {0};
  hm_status st = HM_OK;
  size_t seg = 0, i = 0;
  while (i <= len && st == HM_OK) {
    int best = -1;
    if (i < len)
      for (int a = 0; a < t->n_added; a++)
        if (t->added[a].n <= len - i && memcmp(text + i, t->added[a].s, t->added[a].n) == 0 &&
            (best < 0 || t->added[a].n > t->added[best].n))
          best = a;
    if (best < 0 && i < len) { i++; continue; }
    if (i > seg) st = encode_segment(t, text + seg, i - seg, seg == 0, &body);
    if (best >= 0 && st == HM_OK) {
      iv_push(&body, t->added[best].id);
      i += t->added[best].n;
      seg = i;
    } else {
      break;
    }
  }
  if (st == HM_OK && body.oom) st = hm_error(HM_ERR_NOMEM, "unigram: out of memory");
  if (st != HM_OK) { free(body.v); return st; }
  int n_pre = add_special ? t->n_prefix : 0, n_suf = add_special ? t->n_suffix : 0;
  size_t keep = body.n;
  if (max_length > 0) {
    int room = max_length - n_pre - n_suf;
    if (room < 0) room = 0;
    if (keep > (size_t)room) keep = (size_t)room;
  }
  size_t total = keep + (size_t)n_pre + (size_t)n_suf;
  int32_t *o = malloc((total ? total : 1) * sizeof *o);
  if (!o) { free(body.v); return hm_error(HM_ERR_NOMEM, "unigram: out of memory"); }
  size_t k = 0;
  for (int a = 0; a < n_pre; a++) o[k++] = t->prefix[a];
  if (keep) memcpy(o + k, body.v, keep * sizeof *o);
  k += keep;
  for (int a = 0; a < n_suf; a++) o[k++] = t->suffix[a];
  free(body.v);
  *ids = o;
  *n_ids = (int64_t)total;
  return HM_OK;
}
