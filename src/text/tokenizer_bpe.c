/* Encoding: added tokens matched in the raw text, the pre-tokenizers (Split
 * regexes, ByteLevel), byte-level BPE merges with a per-call word cache, and
 * the post-processor's template. */
#include "text/tokenizer_impl.h"

#include <utf8proc.h>

/* ---- encoding ---- */

typedef struct { int32_t id, prev, next, len; } bpe_sym;
typedef struct { int32_t rank, pos, new_id; } bpe_merge;
typedef struct { uint64_t h; uint32_t koff, klen, voff, vcnt; } cache_ent;
typedef struct { uint32_t start, end; bool match; } seg;

typedef struct {
  const hm_tokenizer *t;
  int32_t *ids;
  int64_t n, cap;
  pcre2_match_data *md;
  seg **segs;      /* per step, grown as needed */
  size_t *seg_cap;
  char **scratch;  /* per step: room for a prefix space */
  bpe_sym *syms;
  bpe_merge *heap;
  size_t syms_cap, heap_cap;
  cache_ent *cache;
  uint64_t cache_mask, cache_n;
  char *ckeys; size_t ckeys_n, ckeys_cap;
  int32_t *cvals; size_t cvals_n, cvals_cap;
} enc_ctx;


static hm_status emit(enc_ctx *c, int32_t id) {
  if (c->n == c->cap) {
    size_t cap = (size_t)c->cap;
    if (!grow_cap((void **)&c->ids, &cap, (size_t)c->n + 1, sizeof *c->ids)) return hm_error(HM_ERR_NOMEM, "tokenizer: out of memory");
    c->cap = (int64_t)cap;
  }
  c->ids[c->n++] = id;
  return HM_OK;
}

bool hm_tok_is_ws(uint32_t c) { /* Rust char::is_whitespace (White_Space) */
  return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
/* Rust regex \w (single_word added tokens, the Whitespace pre-tokenizer): Alphabetic, marks,
 * Nd, Pc, joiners */
bool hm_tok_is_word_char(uint32_t c) {
  if (c < 128) return (c | 32) - 'a' < 26 || c - '0' < 10 || c == '_';
  if (c == 0x200C || c == 0x200D) return true;
  switch (utf8proc_category((utf8proc_int32_t)c)) {
  case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
  case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC:
    return true;
  default:
    return false;
  }
}
#define is_ws hm_tok_is_ws
#define is_word_char hm_tok_is_word_char

static bool heap_less(const bpe_merge *a, const bpe_merge *b) {
  return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}
static void heap_push(bpe_merge *h, size_t *n, bpe_merge m) {
  size_t i = (*n)++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(&m, &h[p])) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = m;
}
static bpe_merge heap_pop(bpe_merge *h, size_t *n) {
  bpe_merge top = h[0], last = h[--(*n)];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const bpe_merge *best = &last;
    if (l < *n && heap_less(&h[l], best)) { m = l; best = &h[l]; }
    if (r < *n && heap_less(&h[r], best)) { m = r; }
    if (m == i) break;
    h[i] = h[m];
    i = m;
  }
  if (*n) h[i] = last;
  return top;
}

/* HF models/bpe/word.rs merge_all: a min-heap of (rank, position); stale
 * entries are skipped when their pair no longer gives the same new id. */
static hm_status bpe_word(enc_ctx *c, const char *w, size_t n) {
  const hm_tokenizer *t = c->t;
  if (!grow_cap((void **)&c->syms, &c->syms_cap, n * 2 + 2, sizeof *c->syms) ||
      !grow_cap((void **)&c->heap, &c->heap_cap, n * 4 + 4, sizeof *c->heap))
    return hm_error(HM_ERR_NOMEM, "tokenizer: out of memory");
  bpe_sym *s = c->syms;
  int32_t ns = 0;
  bool last_unk = false;
  for (size_t i = 0; t->char_level && i < n;) { /* one symbol per Unicode character */
    uint32_t cp;
    size_t k = hm_utf8_next((const unsigned char *)w, n, i, &cp);
    if (!k) k = 1; /* the input was validated: cannot happen */
    int32_t id = bytes_lookup(t, w + i, k);
    i += k;
    if (id < 0) {
      if (t->unk_id < 0) continue;
      if (t->fuse_unk && last_unk) { s[ns - 1].len++; continue; }
      id = t->unk_id;
      last_unk = true;
    } else last_unk = false;
    s[ns].id = id; s[ns].len = 1; s[ns].prev = ns - 1; s[ns].next = -1;
    if (ns > 0) s[ns - 1].next = ns;
    ns++;
  }
  for (size_t i = 0; !t->char_level && i < n; i++) {
    unsigned char b = (unsigned char)w[i];
    int32_t id = t->byte_id[b];
    if (id < 0 && t->byte_fallback && t->fallback_id[b] >= 0) id = t->fallback_id[b];
    if (id < 0) {
      if (t->unk_id < 0) continue; /* HF drops a character it has no token for */
      if (t->fuse_unk && last_unk) { s[ns - 1].len++; continue; }
      id = t->unk_id;
      last_unk = true;
    } else last_unk = false;
    s[ns].id = id; s[ns].len = 1; s[ns].prev = ns - 1; s[ns].next = -1;
    if (ns > 0) s[ns - 1].next = ns;
    ns++;
  }
  size_t nh = 0;
  for (int32_t i = 0; i + 1 < ns; i++) {
    const merge_ent *m = merge_find(t, s[i].id, s[i + 1].id);
    if (m) heap_push(c->heap, &nh, (bpe_merge){m->rank, i, m->new_id});
  }
  while (nh) {
    bpe_merge top = heap_pop(c->heap, &nh);
    bpe_sym *cur = &s[top.pos];
    if (cur->len == 0 || cur->next < 0) continue;
    int32_t nx = cur->next;
    const merge_ent *m = merge_find(t, cur->id, s[nx].id);
    if (!m || m->new_id != top.new_id) continue;
    cur->id = top.new_id;
    cur->len += s[nx].len;
    cur->next = s[nx].next;
    s[nx].len = 0;
    if (cur->next >= 0) s[cur->next].prev = top.pos;
    if (cur->prev >= 0) {
      const merge_ent *pm = merge_find(t, s[cur->prev].id, cur->id);
      if (pm) heap_push(c->heap, &nh, (bpe_merge){pm->rank, cur->prev, pm->new_id});
    }
    if (cur->next >= 0) {
      const merge_ent *nm = merge_find(t, cur->id, s[cur->next].id);
      if (nm) heap_push(c->heap, &nh, (bpe_merge){nm->rank, top.pos, nm->new_id});
    }
  }
  for (int32_t i = 0; i < ns; i++)
    if (s[i].len) HM_TRY(emit(c, s[i].id));
  return HM_OK;
}

#define CACHE_MAX_WORD 256

static hm_status encode_word(enc_ctx *c, const char *w, size_t n) {
  const hm_tokenizer *t = c->t;
  if (t->ignore_merges) {
    int32_t id = bytes_lookup(t, w, n);
    if (id >= 0) return emit(c, id);
  }
  if (n == 1 && !t->char_level && t->byte_id[(unsigned char)w[0]] >= 0) return emit(c, t->byte_id[(unsigned char)w[0]]);
  if (n > CACHE_MAX_WORD) return bpe_word(c, w, n);
  uint64_t h = hash_bytes(w, n);
  if (c->cache) {
    for (uint64_t i = h & c->cache_mask;; i = (i + 1) & c->cache_mask) {
      const cache_ent *e = &c->cache[i];
      if (e->klen == 0) break;
      if (e->h == h && e->klen == n && !memcmp(c->ckeys + e->koff, w, n)) {
        for (uint32_t k = 0; k < e->vcnt; k++) HM_TRY(emit(c, c->cvals[e->voff + k]));
        return HM_OK;
      }
    }
  }
  int64_t before = c->n;
  HM_TRY(bpe_word(c, w, n));
  /* remember it */
  size_t cnt = (size_t)(c->n - before);
  if ((c->cache_n + 1) * 2 > (c->cache ? c->cache_mask + 1 : 0)) {
    uint64_t ncap = c->cache ? (c->cache_mask + 1) * 2 : 256;
    cache_ent *nc = calloc(ncap, sizeof *nc);
    if (!nc) return HM_OK; /* the cache is an optimisation only */
    for (uint64_t i = 0; c->cache && i <= c->cache_mask; i++) {
      if (!c->cache[i].klen) continue;
      uint64_t j = c->cache[i].h & (ncap - 1);
      while (nc[j].klen) j = (j + 1) & (ncap - 1);
      nc[j] = c->cache[i];
    }
    free(c->cache);
    c->cache = nc;
    c->cache_mask = ncap - 1;
  }
  if (!grow_cap((void **)&c->ckeys, &c->ckeys_cap, c->ckeys_n + n, 1) ||
      !grow_cap((void **)&c->cvals, &c->cvals_cap, c->cvals_n + cnt + 1, sizeof *c->cvals))
    return HM_OK;
  memcpy(c->ckeys + c->ckeys_n, w, n);
  if (cnt) memcpy(c->cvals + c->cvals_n, c->ids + before, cnt * sizeof *c->cvals); /* a word may give no ids (no unk token) */
  uint64_t j = h & c->cache_mask;
  while (c->cache[j].klen) j = (j + 1) & c->cache_mask;
  c->cache[j] = (cache_ent){h, (uint32_t)c->ckeys_n, (uint32_t)n, (uint32_t)c->cvals_n, (uint32_t)cnt};
  c->ckeys_n += n;
  c->cvals_n += cnt;
  c->cache_n++;
  return HM_OK;
}

static hm_status pretok(enc_ctx *c, int step, const char *s, size_t n);

/* HF Pattern::find_matches for a regex: matches and the gaps between them. */
static hm_status find_segments(enc_ctx *c, int step, const char *s, size_t n, size_t *nseg) {
  const pt_step *ps = &c->t->steps[step];
  seg *out = c->segs[step];
  size_t k = 0, prev = 0, off = 0;
  while (ps->re && off <= n) {
    if (k + 3 > c->seg_cap[step]) {
      if (!grow_cap((void **)&c->segs[step], &c->seg_cap[step], k + 3, sizeof *out))
        return hm_error(HM_ERR_NOMEM, "tokenizer: out of memory");
      out = c->segs[step];
    }
    int rc = ps->jit ? pcre2_jit_match(ps->re, (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK, c->md, NULL)
                     : PCRE2_ERROR_JIT_BADOPTION;
    if (rc == PCRE2_ERROR_JIT_BADOPTION || rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(ps->re, (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK, c->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      return hm_error(HM_ERR_INTERNAL, "tokenizer: pre_tokenizer regex failed: %s", (const char *)msg);
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
    size_t st = ov[0], en = ov[1];
    if (prev != st) out[k++] = (seg){(uint32_t)prev, (uint32_t)st, false};
    out[k++] = (seg){(uint32_t)st, (uint32_t)en, true};
    prev = en;
    if (en == st) { /* empty match: step over one character */
      if (en >= n) break;
      uint32_t cp;
      size_t l = hm_utf8_next((const unsigned char *)s, n, en, &cp);
      off = en + (l ? l : 1);
    } else off = en;
  }
  if (k + 1 > c->seg_cap[step]) {
    if (!grow_cap((void **)&c->segs[step], &c->seg_cap[step], k + 1, sizeof *out)) return hm_error(HM_ERR_NOMEM, "tokenizer: out of memory");
    out = c->segs[step];
  }
  if (prev != n) out[k++] = (seg){(uint32_t)prev, (uint32_t)n, false};
  if (ps->invert)
    for (size_t i = 0; i < k; i++) out[i].match = !out[i].match;
  /* HF SplitDelimiterBehavior */
  size_t w = 0;
  bool prev_match = false;
  switch (ps->beh) {
  case SB_ISOLATED: w = k; break;
  case SB_REMOVED:
    for (size_t i = 0; i < k; i++) if (!out[i].match) out[w++] = out[i];
    break;
  case SB_MERGED_PREV:
    for (size_t i = 0; i < k; i++) {
      seg g = out[i];
      if (g.match && !prev_match && w > 0) out[w - 1].end = g.end;
      else out[w++] = g;
      prev_match = g.match;
    }
    break;
  case SB_MERGED_NEXT: { /* fold from the right, then the result is in reverse order */
    size_t r = k;
    for (size_t ii = k; ii-- > 0;) {
      seg g = out[ii];
      if (g.match && !prev_match && r < k) out[r].start = g.start;
      else out[--r] = g;
      prev_match = g.match;
    }
    for (size_t i = r; i < k; i++) out[w++] = out[i];
    break;
  }
  case SB_CONTIGUOUS:
    for (size_t i = 0; i < k; i++) {
      seg g = out[i];
      if (g.match == prev_match && w > 0) out[w - 1].end = g.end;
      else out[w++] = g;
      prev_match = g.match;
    }
    break;
  }
  *nseg = w;
  return HM_OK;
}

static hm_status pretok(enc_ctx *c, int step, const char *s, size_t n) {
  if (n == 0) return HM_OK;
  if (step == c->t->n_steps) return encode_word(c, s, n);
  const pt_step *ps = &c->t->steps[step];
  if (ps->kind == PT_BYTELEVEL && ps->add_prefix_space && s[0] != ' ') {
    char *b = c->scratch[step];
    b[0] = ' ';
    memcpy(b + 1, s, n);
    s = b;
    n++;
  }
  if (ps->kind == PT_WHITESPACE) { /* \w+|[^\w\s]+ ; white space is dropped */
    size_t i = 0;
    while (i < n) {
      uint32_t cp;
      size_t k = hm_utf8_next((const unsigned char *)s, n, i, &cp);
      if (!k) k = 1;
      if (is_ws(cp)) { i += k; continue; }
      bool word = is_word_char(cp);
      size_t j = i + k;
      while (j < n) {
        size_t kk = hm_utf8_next((const unsigned char *)s, n, j, &cp);
        if (!kk) kk = 1;
        if (is_ws(cp) || is_word_char(cp) != word) break;
        j += kk;
      }
      HM_TRY(pretok(c, step + 1, s + i, j - i));
      i = j;
    }
    return HM_OK;
  }
  if (!ps->re) return pretok(c, step + 1, s, n);
  size_t ns;
  HM_TRY(find_segments(c, step, s, n, &ns));
  for (size_t i = 0; i < ns; i++) {
    seg g = c->segs[step][i]; /* deeper steps never touch this step's array */
    HM_TRY(pretok(c, step + 1, s + g.start, g.end - g.start));
  }
  return HM_OK;
}

static uint32_t cp_before(const char *s, size_t i) { /* the code point ending at byte i > 0 */
  size_t j = i - 1;
  while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
  uint32_t cp = 0;
  hm_utf8_next((const unsigned char *)s, i, j, &cp);
  return cp;
}

/* HF AddedVocabulary: added tokens are cut out of the text first (not
 * normalized ones in pass 0, normalized ones in the remaining pieces in pass
 * 1), leftmost-longest; the rest goes through the pre-tokenizer and BPE. */
static hm_status encode_span(enc_ctx *c, int pass, const char *s, size_t n) {
  const hm_tokenizer *t = c->t;
  if (n == 0) return HM_OK;
  if (pass == 2) return pretok(c, 0, s, n);
  const int *ord = t->added_order;
  size_t start_off = 0;
  for (size_t i = 0; i < n;) {
    unsigned char b = (unsigned char)s[i];
    int lo = t->added_start[pass][b], hi = (b == 255) ? t->added_start[pass][256] : t->added_start[pass][b + 1];
    const added_tok *hit = NULL;
    for (int k = lo; k < hi; k++) {
      const added_tok *a = &t->added[ord[k]];
      if (a->len <= n - i && !memcmp(s + i, a->content, a->len)) { hit = a; break; }
    }
    if (!hit) { i++; continue; }
    size_t st = i, en = i + hit->len;
    if (hit->single_word) {
      bool sp0 = st == 0 || !is_word_char(cp_before(s, st));
      uint32_t nc = 0;
      bool sp1 = en == n || (hm_utf8_next((const unsigned char *)s, n, en, &nc), !is_word_char(nc));
      if (!sp0 || !sp1) { i = en; continue; }
    }
    if (hit->lstrip) {
      size_t j = st;
      while (j > 0) {
        size_t k = j - 1;
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        uint32_t cp = 0;
        hm_utf8_next((const unsigned char *)s, n, k, &cp);
        if (!is_ws(cp)) break;
        j = k;
      }
      st = j > start_off ? j : start_off;
    }
    if (hit->rstrip) {
      while (en < n) {
        uint32_t cp;
        size_t l = hm_utf8_next((const unsigned char *)s, n, en, &cp);
        if (!l || !is_ws(cp)) break;
        en += l;
      }
    }
    HM_TRY(encode_span(c, pass + 1, s + start_off, st - start_off));
    HM_TRY(emit(c, hit->id));
    start_off = en;
    i = en;
  }
  return encode_span(c, pass + 1, s + start_off, n - start_off);
}

static void ctx_free(enc_ctx *c) {
  if (c->md) pcre2_match_data_free(c->md);
  for (int i = 0; c->segs && i < c->t->n_steps; i++) free(c->segs[i]);
  for (int i = 0; c->scratch && i < c->t->n_steps; i++) free(c->scratch[i]);
  free(c->segs); free(c->seg_cap); free(c->scratch); free(c->syms); free(c->heap);
  free(c->cache); free(c->ckeys); free(c->cvals);
}

hm_status hm_tokenizer_encode(const hm_tokenizer *t, const char *text, size_t len, bool add_special,
                              int32_t **ids, int64_t *n_ids) {
  if (ids) *ids = NULL;
  if (n_ids) *n_ids = 0;
  if (!t || !ids || !n_ids || (!text && len)) return hm_error(HM_ERR_INVALID_ARG, "hm_tokenizer_encode: NULL argument");
  if (len > (size_t)UINT32_MAX - 64) return hm_error(HM_ERR_INVALID_ARG, "tokenizer: text of %zu bytes is too long (4 GiB at most)", len);
  size_t bad;
  if (!hm_utf8_valid(text, len, &bad))
    return hm_error(HM_ERR_INVALID_ARG, "tokenizer: invalid UTF-8 in the input text at byte offset %zu (byte 0x%02x)",
                    bad, (unsigned char)text[bad]);
  enc_ctx c;
  memset(&c, 0, sizeof c);
  c.t = t;
  hm_status st = HM_OK;
  c.md = pcre2_match_data_create(1, NULL);
  c.segs = calloc((size_t)t->n_steps + 1, sizeof *c.segs);
  c.seg_cap = calloc((size_t)t->n_steps + 1, sizeof *c.seg_cap);
  c.scratch = calloc((size_t)t->n_steps + 1, sizeof *c.scratch);
  if (!c.md || !c.segs || !c.seg_cap || !c.scratch) st = hm_error(HM_ERR_NOMEM, "tokenizer: out of memory");
  for (int i = 0; st == HM_OK && i < t->n_steps; i++) {
    if (t->steps[i].kind != PT_BYTELEVEL || !t->steps[i].add_prefix_space) continue;
    /* a piece at step i is at most len + i bytes (one prefix space per ByteLevel step) */
    c.scratch[i] = malloc(len + (size_t)i + 2);
    if (!c.scratch[i]) st = hm_error(HM_ERR_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);
  }
  if (st == HM_OK && add_special)
    for (int i = 0; i < t->n_prefix && st == HM_OK; i++) st = emit(&c, t->prefix[i]);
  if (st == HM_OK) st = encode_span(&c, 0, text, len);
  if (st == HM_OK && add_special)
    for (int i = 0; i < t->n_suffix && st == HM_OK; i++) st = emit(&c, t->suffix[i]);
  ctx_free(&c);
  if (st != HM_OK) { free(c.ids); return st; }
  *ids = c.ids;
  *n_ids = c.n;
  return HM_OK;
}

