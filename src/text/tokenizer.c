/* Byte-level BPE from a Hugging Face tokenizer.json: loading, encode, decode.
 *
 * Tokens are kept as the raw bytes they stand for (the GPT-2 byte-to-unicode
 * mapping undone at load), so encoding never builds the mapped strings: the
 * pre-tokenizer regexes run on the UTF-8 text, and BPE runs on byte ids.
 * Behaviour follows HF tokenizers (tokenizers/src: added_vocabulary.rs,
 * pre_tokenizers/{split,byte_level,sequence}.rs, models/bpe/{model,word}.rs). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/tokenizer.h"
#include "text/text_internal.h"
#include "io/json.h"

#include <jansson.h>
#include <pcre2.h>
#include <pthread.h>
#include <utf8proc.h>
#include <stdio.h>
#include <stdlib.h>

const char hm_llama3_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char hm_gpt2_regex[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* ---- GPT-2 bytes_to_unicode ---- */
static bool byte_is_printable(unsigned b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174; }

uint32_t hm_byte_to_cp(unsigned b) {
  if (byte_is_printable(b)) return b;
  uint32_t n = 0;
  for (unsigned k = 0; k < b; k++)
    if (!byte_is_printable(k)) n++;
  return 256 + n;
}

/* code point (< 324) -> byte, -1 if not a byte-level character */
static int16_t cp_to_byte[324];
static pthread_once_t byte_tables_once = PTHREAD_ONCE_INIT;
static void init_byte_tables_once(void) {
  for (int i = 0; i < 324; i++) cp_to_byte[i] = -1;
  uint32_t n = 0;
  for (unsigned b = 0; b < 256; b++) cp_to_byte[byte_is_printable(b) ? b : 256 + n++] = (int16_t)b;
}
static void init_byte_tables(void) { pthread_once(&byte_tables_once, init_byte_tables_once); }

/* ---- hashing ---- */
static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
  return h ^ (h >> 29);
}
static uint64_t hash_u64(uint64_t x) {
  x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
  return x;
}

/* Open-addressing map from a byte string to an id; keys live in the tokenizer's tables. */
typedef struct { int32_t *slots; uint64_t mask; } idmap;

typedef struct { uint64_t key; int32_t rank, new_id; } merge_ent; /* key = a << 32 | b; empty: UINT64_MAX */

typedef struct {
  int32_t id;
  uint32_t len;
  const char *content;
  bool special, normalized, lstrip, rstrip, single_word;
} added_tok;

typedef enum { SB_REMOVED, SB_ISOLATED, SB_MERGED_PREV, SB_MERGED_NEXT, SB_CONTIGUOUS } split_beh;
typedef enum { PT_SPLIT, PT_BYTELEVEL } pt_kind;
typedef struct {
  pt_kind kind;
  pcre2_code *re; /* NULL: no splitting (ByteLevel use_regex false) */
  bool jit;
  split_beh beh;
  bool invert, add_prefix_space;
} pt_step;

enum { TF_USED = 1, TF_ADDED = 2, TF_SPECIAL = 4, TF_MODEL = 8 };

typedef struct arena_block { struct arena_block *next; size_t used, cap; char data[]; } arena_block;

struct hm_tokenizer {
  int64_t n_ids;
  const char **str;  /* [n_ids] spelling in tokenizer.json */
  uint32_t *slen;
  const char **bytes; /* [n_ids] raw bytes */
  uint32_t *blen;
  uint8_t *flags;
  idmap str_map;   /* spelling -> id (vocab and added tokens) */
  idmap bytes_map; /* raw bytes -> id (model vocab tokens that are byte-level strings) */
  int32_t byte_id[256], fallback_id[256];
  merge_ent *merges;
  uint64_t merges_mask;
  int64_t n_merges;
  bool ignore_merges, byte_fallback, fuse_unk;
  int32_t unk_id;
  added_tok *added;
  int n_added;
  int *added_order;          /* indices into added, by pass, first byte, length desc */
  int added_start[2][257];   /* pass 0: not normalized, pass 1: normalized */
  pt_step *steps;
  int n_steps;
  int32_t *prefix, *suffix;  /* post-processor ids around the sequence */
  int n_prefix, n_suffix;
  arena_block *arena;
};

static char *arena_alloc(hm_tokenizer *t, size_t n) {
  arena_block *b = t->arena;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > (1u << 20) ? n : (1u << 20);
    arena_block *nb = malloc(sizeof *nb + cap);
    if (!nb) return NULL;
    nb->next = b; nb->used = 0; nb->cap = cap;
    t->arena = b = nb;
  }
  char *p = b->data + b->used;
  b->used += n;
  return p;
}

static bool idmap_init(idmap *m, int64_t n) {
  uint64_t cap = 16;
  while (cap < (uint64_t)n * 2 + 2) cap <<= 1;
  m->slots = malloc(cap * sizeof *m->slots);
  if (!m->slots) return false;
  for (uint64_t i = 0; i < cap; i++) m->slots[i] = -1;
  m->mask = cap - 1;
  return true;
}

/* Slot holding key (its id >= 0) or the empty slot where it would go. */
static int32_t *idmap_slot(const idmap *m, const char *const *keys, const uint32_t *lens, const char *k, size_t n) {
  uint64_t i = hash_bytes(k, n) & m->mask;
  for (;;) {
    int32_t id = m->slots[i];
    if (id < 0 || (lens[id] == n && memcmp(keys[id], k, n) == 0)) return &m->slots[i];
    i = (i + 1) & m->mask;
  }
}

static int32_t str_lookup(const hm_tokenizer *t, const char *k, size_t n) {
  return *idmap_slot(&t->str_map, t->str, t->slen, k, n);
}
static int32_t bytes_lookup(const hm_tokenizer *t, const char *k, size_t n) {
  return *idmap_slot(&t->bytes_map, t->bytes, t->blen, k, n);
}

static const merge_ent *merge_find(const hm_tokenizer *t, int32_t a, int32_t b) {
  if (!t->merges) return NULL;
  uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
  uint64_t i = hash_u64(key) & t->merges_mask;
  for (;;) {
    const merge_ent *e = &t->merges[i];
    if (e->key == key) return e;
    if (e->key == UINT64_MAX) return NULL;
    i = (i + 1) & t->merges_mask;
  }
}

void hm_tokenizer_free(hm_tokenizer *t) {
  if (!t) return;
  free(t->str); free(t->slen); free(t->bytes); free(t->blen); free(t->flags);
  free(t->str_map.slots); free(t->bytes_map.slots); free(t->merges);
  free(t->added); free(t->added_order);
  for (int i = 0; i < t->n_steps; i++) pcre2_code_free(t->steps[i].re);
  free(t->steps); free(t->prefix); free(t->suffix);
  while (t->arena) { arena_block *n = t->arena->next; free(t->arena); t->arena = n; }
  free(t);
}

/* ---- loading ---- */

/* Sets spelling and bytes of id from a tokenizer.json string: the byte-level
 * decoding when every character is a byte-level one (HF ByteLevel decoder),
 * else the UTF-8 bytes as they are. */
static hm_status set_token(hm_tokenizer *t, int32_t id, const char *s, size_t n, const char *name) {
  char *sp = arena_alloc(t, 2 * n + 2);
  if (!sp) return hm_error(HM_ERR_NOMEM, "%s: out of memory", name);
  memcpy(sp, s, n);
  sp[n] = 0;
  char *bp = sp + n + 1;
  size_t w = 0;
  bool bytelevel = true;
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t k = hm_utf8_next(u, n, i, &cp);
    if (!k) return hm_error(HM_ERR_FORMAT, "%s: token id %d is not valid UTF-8", name, (int)id);
    if (cp >= 324 || cp_to_byte[cp] < 0) { bytelevel = false; break; }
    bp[w++] = (char)cp_to_byte[cp];
    i += k;
  }
  if (!bytelevel) { memcpy(bp, s, n); w = n; }
  bp[w] = 0;
  t->str[id] = sp; t->slen[id] = (uint32_t)n;
  t->bytes[id] = bp; t->blen[id] = (uint32_t)w;
  t->flags[id] |= TF_USED;
  return HM_OK;
}

static bool json_flag(const json_t *o, const char *k) { return json_is_true(json_object_get(o, k)); }

static hm_status parse_added(hm_tokenizer *t, const json_t *arr, const char *name) {
  size_t n = json_array_size(arr);
  t->added = calloc(n ? n : 1, sizeof *t->added);
  t->added_order = malloc((n ? n : 1) * sizeof *t->added_order);
  if (!t->added || !t->added_order) return hm_error(HM_ERR_NOMEM, "%s: out of memory", name);
  for (size_t i = 0; i < n; i++) {
    const json_t *o = json_array_get(arr, i);
    const json_t *jid = json_object_get(o, "id"), *jc = json_object_get(o, "content");
    if (!json_is_integer(jid) || !json_is_string(jc))
      return hm_error(HM_ERR_FORMAT, "%s: added_tokens[%zu] needs an integer 'id' and a string 'content'", name, i);
    if (json_string_length(jc) == 0) continue; /* HF ignores empty added tokens */
    int32_t id = (int32_t)json_integer_value(jid);
    const char *c = json_string_value(jc);
    size_t cl = json_string_length(jc);
    int32_t existing = str_lookup(t, c, cl);
    if (existing >= 0) {
      id = existing; /* HF: an added token already in the vocab keeps the vocab's id */
    } else {
      HM_TRY(set_token(t, id, c, cl, name));
      *idmap_slot(&t->str_map, t->str, t->slen, c, cl) = id;
    }
    added_tok *a = &t->added[t->n_added++];
    a->id = id;
    a->content = t->str[id];
    a->len = (uint32_t)cl;
    a->special = json_flag(o, "special");
    a->normalized = json_flag(o, "normalized");
    a->lstrip = json_flag(o, "lstrip");
    a->rstrip = json_flag(o, "rstrip");
    a->single_word = json_flag(o, "single_word");
    t->flags[id] |= TF_ADDED | (a->special ? TF_SPECIAL : 0);
  }
  /* counting sort by (pass, first byte), then longest first within a bucket */
  int count[2][257] = {{0}};
  for (int i = 0; i < t->n_added; i++) count[t->added[i].normalized][(unsigned char)t->added[i].content[0]]++;
  int pos = 0;
  for (int p = 0; p < 2; p++)
    for (int b = 0; b < 256; b++) { t->added_start[p][b] = pos; pos += count[p][b]; }
  t->added_start[0][256] = t->added_start[1][0];
  t->added_start[1][256] = pos;
  int fill[2][256];
  for (int p = 0; p < 2; p++)
    for (int b = 0; b < 256; b++) fill[p][b] = t->added_start[p][b];
  for (int i = 0; i < t->n_added; i++) {
    const added_tok *a = &t->added[i];
    t->added_order[fill[a->normalized][(unsigned char)a->content[0]]++] = i;
  }
  for (int p = 0; p < 2; p++)
    for (int b = 0; b < 256; b++) { /* insertion sort: buckets are small */
      int lo = t->added_start[p][b], hi = lo + count[p][b];
      for (int i = lo + 1; i < hi; i++) {
        int v = t->added_order[i], j = i;
        while (j > lo && t->added[t->added_order[j - 1]].len < t->added[v].len) { t->added_order[j] = t->added_order[j - 1]; j--; }
        t->added_order[j] = v;
      }
    }
  return HM_OK;
}

static hm_status compile_regex(pt_step *s, const char *pat, size_t n, bool literal, const char *name) {
  int err;
  PCRE2_SIZE eoff;
  uint32_t opts = literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP);
  s->re = pcre2_compile((PCRE2_SPTR)pat, n, opts, &err, &eoff, NULL);
  if (!s->re) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    return hm_error(HM_ERR_FORMAT, "%s: pre_tokenizer regex does not compile at offset %zu: %s",
                    name, (size_t)eoff, (const char *)msg);
  }
  s->jit = pcre2_jit_compile(s->re, PCRE2_JIT_COMPLETE) == 0;
  return HM_OK;
}

static hm_status add_pretok(hm_tokenizer *t, const json_t *pt, const char *name, int depth) {
  const char *type = json_string_value(json_object_get(pt, "type"));
  if (!type) return hm_error(HM_ERR_FORMAT, "%s: pre_tokenizer without a 'type'", name);
  if (!strcmp(type, "Sequence")) {
    const json_t *arr = json_object_get(pt, "pretokenizers");
    if (!json_is_array(arr) || depth > 4) return hm_error(HM_ERR_FORMAT, "%s: pre_tokenizer Sequence needs 'pretokenizers'", name);
    for (size_t i = 0; i < json_array_size(arr); i++) HM_TRY(add_pretok(t, json_array_get(arr, i), name, depth + 1));
    return HM_OK;
  }
  pt_step *steps = realloc(t->steps, (size_t)(t->n_steps + 1) * sizeof *steps);
  if (!steps) return hm_error(HM_ERR_NOMEM, "%s: out of memory", name);
  t->steps = steps;
  pt_step *s = &steps[t->n_steps];
  memset(s, 0, sizeof *s);
  if (!strcmp(type, "ByteLevel")) {
    s->kind = PT_BYTELEVEL;
    s->beh = SB_ISOLATED;
    s->add_prefix_space = json_flag(pt, "add_prefix_space");
    const json_t *ur = json_object_get(pt, "use_regex");
    t->n_steps++;
    if (!ur || json_is_true(ur)) HM_TRY(compile_regex(s, hm_gpt2_regex, PCRE2_ZERO_TERMINATED, false, name));
    return HM_OK;
  }
  if (!strcmp(type, "Split")) {
    s->kind = PT_SPLIT;
    const json_t *p = json_object_get(pt, "pattern");
    const json_t *rx = json_object_get(p, "Regex"), *lit = json_object_get(p, "String");
    const char *beh = json_string_value(json_object_get(pt, "behavior"));
    if (!beh) return hm_error(HM_ERR_FORMAT, "%s: Split pre_tokenizer needs 'behavior'", name);
    if (!strcmp(beh, "Removed")) s->beh = SB_REMOVED;
    else if (!strcmp(beh, "Isolated")) s->beh = SB_ISOLATED;
    else if (!strcmp(beh, "MergedWithPrevious")) s->beh = SB_MERGED_PREV;
    else if (!strcmp(beh, "MergedWithNext")) s->beh = SB_MERGED_NEXT;
    else if (!strcmp(beh, "Contiguous")) s->beh = SB_CONTIGUOUS;
    else return hm_error(HM_ERR_FORMAT, "%s: unknown Split behavior '%s'", name, beh);
    s->invert = json_flag(pt, "invert");
    t->n_steps++;
    if (json_is_string(rx)) return compile_regex(s, json_string_value(rx), json_string_length(rx), false, name);
    if (json_is_string(lit)) {
      if (json_string_length(lit) == 0) return HM_OK; /* an empty pattern never splits */
      return compile_regex(s, json_string_value(lit), json_string_length(lit), true, name);
    }
    return hm_error(HM_ERR_FORMAT, "%s: Split pre_tokenizer needs pattern.Regex or pattern.String", name);
  }
  return hm_error(HM_ERR_UNSUPPORTED, "%s: pre_tokenizer type '%s' is not supported (byte-level BPE only)", name, type);
}

static hm_status push_ids(int32_t **arr, int *n, const int32_t *ids, int k, bool front, const char *name) {
  if (k == 0) return HM_OK;
  int32_t *a = realloc(*arr, (size_t)(*n + k + 1) * sizeof *a);
  if (!a) return hm_error(HM_ERR_NOMEM, "%s: out of memory", name);
  if (front) { memmove(a + k, a, (size_t)*n * sizeof *a); memcpy(a, ids, (size_t)k * sizeof *a); }
  else memcpy(a + *n, ids, (size_t)k * sizeof *a);
  *arr = a;
  *n += k;
  return HM_OK;
}

static hm_status add_postproc(hm_tokenizer *t, const json_t *pp, const char *name, int depth) {
  if (!pp || json_is_null(pp)) return HM_OK;
  const char *type = json_string_value(json_object_get(pp, "type"));
  if (!type) return hm_error(HM_ERR_FORMAT, "%s: post_processor without a 'type'", name);
  if (!strcmp(type, "ByteLevel")) return HM_OK; /* offsets only */
  if (!strcmp(type, "Sequence")) {
    const json_t *arr = json_object_get(pp, "processors");
    if (!json_is_array(arr) || depth > 4) return hm_error(HM_ERR_FORMAT, "%s: post_processor Sequence needs 'processors'", name);
    for (size_t i = 0; i < json_array_size(arr); i++) HM_TRY(add_postproc(t, json_array_get(arr, i), name, depth + 1));
    return HM_OK;
  }
  if (!strcmp(type, "TemplateProcessing")) {
    const json_t *single = json_object_get(pp, "single"), *sp = json_object_get(pp, "special_tokens");
    if (!json_is_array(single)) return hm_error(HM_ERR_FORMAT, "%s: TemplateProcessing needs 'single'", name);
    int32_t *pre = NULL, *suf = NULL;
    int npre = 0, nsuf = 0;
    bool seen_seq = false;
    hm_status st = HM_OK;
    for (size_t i = 0; i < json_array_size(single) && st == HM_OK; i++) {
      const json_t *it = json_array_get(single, i);
      const json_t *stok = json_object_get(it, "SpecialToken");
      if (json_object_get(it, "Sequence")) { seen_seq = true; continue; }
      const char *tname = json_string_value(json_object_get(stok, "id"));
      if (!tname) { st = hm_error(HM_ERR_FORMAT, "%s: TemplateProcessing single[%zu] is neither Sequence nor SpecialToken", name, i); break; }
      const json_t *ids = json_object_get(json_object_get(sp, tname), "ids");
      if (!json_is_array(ids)) { st = hm_error(HM_ERR_FORMAT, "%s: TemplateProcessing special token '%s' has no 'ids'", name, tname); break; }
      for (size_t k = 0; k < json_array_size(ids) && st == HM_OK; k++) {
        int32_t id = (int32_t)json_integer_value(json_array_get(ids, k));
        if (id < 0 || id >= t->n_ids) { st = hm_error(HM_ERR_FORMAT, "%s: TemplateProcessing token '%s' id %d out of range", name, tname, (int)id); break; }
        st = seen_seq ? push_ids(&suf, &nsuf, &id, 1, false, name) : push_ids(&pre, &npre, &id, 1, false, name);
      }
    }
    if (st == HM_OK) st = push_ids(&t->prefix, &t->n_prefix, pre, npre, true, name);
    if (st == HM_OK) st = push_ids(&t->suffix, &t->n_suffix, suf, nsuf, false, name);
    free(pre); free(suf);
    return st;
  }
  if (!strcmp(type, "RobertaProcessing") || !strcmp(type, "BertProcessing")) {
    const json_t *cls = json_object_get(pp, "cls"), *sep = json_object_get(pp, "sep");
    if (!json_is_array(cls) || !json_is_array(sep)) return hm_error(HM_ERR_FORMAT, "%s: %s needs 'cls' and 'sep'", name, type);
    int32_t c = (int32_t)json_integer_value(json_array_get(cls, 1)), s = (int32_t)json_integer_value(json_array_get(sep, 1));
    HM_TRY(push_ids(&t->prefix, &t->n_prefix, &c, 1, true, name));
    return push_ids(&t->suffix, &t->n_suffix, &s, 1, false, name);
  }
  return hm_error(HM_ERR_UNSUPPORTED, "%s: post_processor type '%s' is not supported", name, type);
}

typedef struct { const char *s; uint32_t n; int64_t id; } vent;   /* a vocab entry */
typedef struct { const char *a, *b; uint32_t na, nb; } ment;      /* a merges entry */
typedef struct { vent *v; size_t nv; ment *m; size_t nm; } model_lists;

/* Splits a merges entry into its two token spellings. */
static hm_status merge_parts(const json_t *m, size_t i, const char *name, const char **a, size_t *na, const char **b, size_t *nb) {
  if (json_is_string(m)) {
    const char *s = json_string_value(m);
    size_t n = json_string_length(m);
    const char *sp = memchr(s, ' ', n);
    if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s)))
      return hm_error(HM_ERR_FORMAT, "%s: model.merges[%zu] '%s' is not two tokens separated by one space", name, i, s);
    *a = s; *na = (size_t)(sp - s); *b = sp + 1; *nb = n - *na - 1;
    return HM_OK;
  }
  if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1))) {
    *a = json_string_value(json_array_get(m, 0)); *na = json_string_length(json_array_get(m, 0));
    *b = json_string_value(json_array_get(m, 1)); *nb = json_string_length(json_array_get(m, 1));
    return HM_OK;
  }
  return hm_error(HM_ERR_FORMAT, "%s: model.merges[%zu] must be \"a b\" or [\"a\", \"b\"]", name, i);
}

static hm_status parse_model(hm_tokenizer *t, const json_t *model, const model_lists *L, const char *name) {
  const char *type = json_string_value(json_object_get(model, "type"));
  if (type && strcmp(type, "BPE")) return hm_error(HM_ERR_UNSUPPORTED, "%s: model type '%s' is not supported (BPE only)", name, type);
  const char *pfx = json_string_value(json_object_get(model, "continuing_subword_prefix"));
  const char *sfx = json_string_value(json_object_get(model, "end_of_word_suffix"));
  if ((pfx && *pfx) || (sfx && *sfx))
    return hm_error(HM_ERR_UNSUPPORTED, "%s: BPE continuing_subword_prefix / end_of_word_suffix are not supported", name);
  const json_t *drop = json_object_get(model, "dropout");
  if (json_is_number(drop) && json_number_value(drop) > 0)
    return hm_error(HM_ERR_UNSUPPORTED, "%s: BPE dropout is not supported", name);
  t->ignore_merges = json_flag(model, "ignore_merges");
  t->byte_fallback = json_flag(model, "byte_fallback");
  t->fuse_unk = json_flag(model, "fuse_unk");

  for (size_t vi = 0; vi < L->nv; vi++) {
    const char *key = L->v[vi].s;
    size_t kl = L->v[vi].n;
    int32_t id = (int32_t)L->v[vi].id;
    if (t->flags[id] & TF_USED)
      return hm_error(HM_ERR_FORMAT, "%s: model.vocab: id %d is given to both '%s' and '%.*s'", name, (int)id, t->str[id], (int)kl, key);
    HM_TRY(set_token(t, id, key, kl, name));
    t->flags[id] |= TF_MODEL;
    int32_t *slot = idmap_slot(&t->str_map, t->str, t->slen, key, kl);
    *slot = id;
  }
  /* bytes_map: every model token that is a byte-level string */
  for (int64_t id = 0; id < t->n_ids; id++) {
    if (!(t->flags[id] & TF_MODEL)) continue;
    bool bl = true;
    const unsigned char *u = (const unsigned char *)t->str[id];
    for (size_t i = 0; i < t->slen[id];) {
      uint32_t cp;
      size_t k = hm_utf8_next(u, t->slen[id], i, &cp);
      if (cp >= 324 || cp_to_byte[cp] < 0) { bl = false; break; }
      i += k;
    }
    if (bl && t->blen[id] > 0) {
      int32_t *slot = idmap_slot(&t->bytes_map, t->bytes, t->blen, t->bytes[id], t->blen[id]);
      if (*slot < 0) *slot = (int32_t)id;
    }
  }
  for (unsigned b = 0; b < 256; b++) {
    char buf[8];
    size_t n = hm_utf8_put(buf, hm_byte_to_cp(b));
    int32_t id = str_lookup(t, buf, n);
    t->byte_id[b] = (id >= 0 && (t->flags[id] & TF_MODEL)) ? id : -1;
    snprintf(buf, sizeof buf, "<0x%02X>", b);
    t->fallback_id[b] = str_lookup(t, buf, strlen(buf));
  }
  t->unk_id = -1;
  const char *unk = json_string_value(json_object_get(model, "unk_token"));
  if (unk) {
    t->unk_id = str_lookup(t, unk, strlen(unk));
    if (t->unk_id < 0) return hm_error(HM_ERR_FORMAT, "%s: model.unk_token '%s' is not in the vocab", name, unk);
  }

  size_t nm = L->nm;
  uint64_t cap = 16;
  while (cap < nm + nm / 2 + 2) cap <<= 1;
  t->merges = malloc(cap * sizeof *t->merges);
  if (!t->merges) return hm_error(HM_ERR_NOMEM, "%s: out of memory for %zu merges", name, nm);
  for (uint64_t i = 0; i < cap; i++) t->merges[i].key = UINT64_MAX;
  t->merges_mask = cap - 1;
  char *cat = NULL;
  size_t cat_cap = 0;
  hm_status st = HM_OK;
  for (size_t i = 0; i < nm && st == HM_OK; i++) {
    const char *a = L->m[i].a, *b = L->m[i].b;
    size_t na = L->m[i].na, nb = L->m[i].nb;
    if (na + nb + 1 > cat_cap) {
      cat_cap = (na + nb + 1) * 2;
      char *c2 = realloc(cat, cat_cap);
      if (!c2) { st = hm_error(HM_ERR_NOMEM, "%s: out of memory", name); break; }
      cat = c2;
    }
    memcpy(cat, a, na); memcpy(cat + na, b, nb);
    int32_t ia = str_lookup(t, a, na), ib = str_lookup(t, b, nb), ic = str_lookup(t, cat, na + nb);
    if (ia < 0 || ib < 0 || ic < 0) {
      const char *miss = ia < 0 ? a : ib < 0 ? b : cat;
      int nmiss = (int)(ia < 0 ? na : ib < 0 ? nb : na + nb);
      st = hm_error(HM_ERR_FORMAT, "%s: model.merges[%zu] ('%.*s' + '%.*s'): token '%.*s' is not in the vocab",
                    name, i, (int)na, a, (int)nb, b, nmiss, miss);
      break;
    }
    uint64_t key = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
    uint64_t h = hash_u64(key) & t->merges_mask;
    while (t->merges[h].key != UINT64_MAX && t->merges[h].key != key) h = (h + 1) & t->merges_mask;
    if (t->merges[h].key == UINT64_MAX) t->n_merges++;
    t->merges[h].key = key; /* a repeated pair takes the later rank, as HF's HashMap collect does */
    t->merges[h].rank = (int32_t)i;
    t->merges[h].new_id = ic;
  }
  free(cat);
  return st;
}

static int64_t max_id(const model_lists *L, const json_t *added, const char *name, hm_status *st) {
  int64_t mx = -1;
  for (size_t i = 0; i < L->nv; i++) {
    int64_t id = L->v[i].id;
    if (id < 0 || id >= INT32_MAX) {
      *st = hm_error(HM_ERR_FORMAT, "%s: model.vocab['%.*s'] must be an integer id in [0, 2^31)", name, (int)L->v[i].n, L->v[i].s);
      return -1;
    }
    if (id > mx) mx = id;
  }
  for (size_t i = 0; i < json_array_size(added); i++) {
    const json_t *jid = json_object_get(json_array_get(added, i), "id");
    int64_t id = json_integer_value(jid);
    if (!json_is_integer(jid) || id < 0 || id >= INT32_MAX) {
      *st = hm_error(HM_ERR_FORMAT, "%s: added_tokens[%zu].id must be an integer id in [0, 2^31)", name, i);
      return -1;
    }
    if (id > mx) mx = id;
  }
  return mx;
}

/* vocab and merges through jansson (the slow path, and the one that explains errors) */
static hm_status lists_from_json(const json_t *model, const char *name, model_lists *L) {
  const json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
  if (!json_is_object(vocab)) return hm_error(HM_ERR_FORMAT, "%s: missing field 'model.vocab'", name);
  if (!json_is_array(merges)) return hm_error(HM_ERR_FORMAT, "%s: missing field 'model.merges'", name);
  size_t nv = json_object_size(vocab), nm = json_array_size(merges);
  L->v = malloc((nv + 1) * sizeof *L->v);
  L->m = malloc((nm + 1) * sizeof *L->m);
  if (!L->v || !L->m) return hm_error(HM_ERR_NOMEM, "%s: out of memory", name);
  const char *key;
  const json_t *val;
  json_object_foreach((json_t *)vocab, key, val) {
    /* jansson keys are NUL-terminated: a token with an embedded NUL is not supported */
    if (!json_is_integer(val)) return hm_error(HM_ERR_FORMAT, "%s: model.vocab['%s'] is not an integer", name, key);
    L->v[L->nv++] = (vent){key, (uint32_t)strlen(key), (int64_t)json_integer_value(val)};
  }
  for (size_t i = 0; i < nm; i++) {
    const char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    HM_TRY(merge_parts(json_array_get(merges, i), i, name, &a, &na, &b, &nb));
    L->m[L->nm++] = (ment){a, b, (uint32_t)na, (uint32_t)nb};
  }
  return HM_OK;
}

static hm_status load_lists(hm_tokenizer *t, const json_t *root, const json_t *model, const model_lists *L, const char *name);

/* L: vocab and merges already read (fast path), or NULL to read them from root */
static hm_status load_root(hm_tokenizer *t, const json_t *root, const model_lists *L, const char *name) {
  if (!json_is_object(root)) return hm_error(HM_ERR_FORMAT, "%s: not a JSON object", name);
  const json_t *model = json_object_get(root, "model");
  if (!json_is_object(model)) return hm_error(HM_ERR_FORMAT, "%s: missing field 'model'", name);
  const char *mtype = json_string_value(json_object_get(model, "type"));
  if (mtype && strcmp(mtype, "BPE")) return hm_error(HM_ERR_UNSUPPORTED, "%s: model type '%s' is not supported (BPE only)", name, mtype);
  model_lists own;
  memset(&own, 0, sizeof own);
  if (!L) {
    hm_status st = lists_from_json(model, name, &own);
    if (st != HM_OK) { free(own.v); free(own.m); return st; }
    L = &own;
  }
  hm_status st = load_lists(t, root, model, L, name);
  free(own.v);
  free(own.m);
  return st;
}

static hm_status load_lists(hm_tokenizer *t, const json_t *root, const json_t *model, const model_lists *L, const char *name) {
  const json_t *added = json_object_get(root, "added_tokens");
  if (added && !json_is_null(added) && !json_is_array(added)) return hm_error(HM_ERR_FORMAT, "%s: 'added_tokens' must be an array", name);
  const json_t *norm = json_object_get(root, "normalizer");
  if (norm && !json_is_null(norm))
    return hm_error(HM_ERR_UNSUPPORTED, "%s: normalizer '%s' is not supported (only null)", name,
                    json_string_value(json_object_get(norm, "type")) ? json_string_value(json_object_get(norm, "type")) : "?");
  const json_t *dec = json_object_get(root, "decoder");
  if (dec && !json_is_null(dec)) {
    const char *dt = json_string_value(json_object_get(dec, "type"));
    if (!dt || strcmp(dt, "ByteLevel")) return hm_error(HM_ERR_UNSUPPORTED, "%s: decoder '%s' is not supported (only ByteLevel)", name, dt ? dt : "?");
  }
  hm_status st = HM_OK;
  int64_t mx = max_id(L, added, name, &st);
  if (st != HM_OK) return st;
  t->n_ids = mx + 1;
  size_t n = (size_t)(t->n_ids > 0 ? t->n_ids : 1);
  t->str = calloc(n, sizeof *t->str); t->slen = calloc(n, sizeof *t->slen);
  t->bytes = calloc(n, sizeof *t->bytes); t->blen = calloc(n, sizeof *t->blen);
  t->flags = calloc(n, 1);
  if (!t->str || !t->slen || !t->bytes || !t->blen || !t->flags || !idmap_init(&t->str_map, t->n_ids) ||
      !idmap_init(&t->bytes_map, t->n_ids))
    return hm_error(HM_ERR_NOMEM, "%s: out of memory for %lld tokens", name, (long long)t->n_ids);
  HM_TRY(parse_model(t, model, L, name));
  HM_TRY(parse_added(t, added, name));
  const json_t *pt = json_object_get(root, "pre_tokenizer");
  if (pt && !json_is_null(pt)) HM_TRY(add_pretok(t, pt, name, 0));
  bool has_bl = false;
  for (int i = 0; i < t->n_steps; i++) has_bl |= t->steps[i].kind == PT_BYTELEVEL;
  if (!has_bl) return hm_error(HM_ERR_UNSUPPORTED, "%s: no ByteLevel pre_tokenizer (only byte-level BPE is supported)", name);
  for (int b = 0; b < 256; b++)
    if (t->byte_id[b] < 0 && !(t->byte_fallback && t->fallback_id[b] >= 0) && t->unk_id < 0)
      hm_log(HM_LOG_WARN, "%s: byte 0x%02x has no token; it will be dropped from encodings", name, b);
  return add_postproc(t, json_object_get(root, "post_processor"), name, 0);
}

/* ---- fast path: model.vocab and model.merges (nearly all of a 9 MB file)
 * are read here straight from the text; jansson parses the rest. Anything
 * unexpected sends the whole file through jansson, which explains errors. ---- */
typedef struct { const char *p, *end; } scan;

static void sk_ws(scan *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) s->p++;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool sk_hex4(const char *q, const char *end, uint32_t *v) {
  if (end - q < 4) return false;
  uint32_t x = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(q[i]);
    if (h < 0) return false;
    x = x << 4 | (uint32_t)h;
  }
  *v = x;
  return true;
}

/* A JSON string at s->p. With dst, *out / *outn give its unescaped bytes:
 * in the text itself when it has no escapes, else written at *dst (advanced).
 * Without dst it is only skipped. */
static bool sk_string(scan *s, char **dst, const char **out, uint32_t *outn) {
  if (s->p >= s->end || *s->p != '"') return false;
  const char *q0 = s->p + 1, *q = q0, *end = s->end;
  while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
  if (q < end && *q == '"') { /* no escapes: the common case */
    if (dst) { *out = q0; *outn = (uint32_t)(q - q0); }
    s->p = q + 1;
    return true;
  }
  char *d = dst ? *dst : NULL, *d0 = d;
  if (d) { memcpy(d, q0, (size_t)(q - q0)); d += q - q0; }
  while (q < end && *q != '"') {
    unsigned char c = (unsigned char)*q;
    if (c < 0x20) return false;
    if (c != '\\') { if (d) *d++ = (char)c; q++; continue; }
    if (++q >= end) return false;
    char e = *q++;
    uint32_t cp;
    switch (e) {
    case '"': case '\\': case '/': if (d) *d++ = e; break;
    case 'b': if (d) *d++ = '\b'; break;
    case 'f': if (d) *d++ = '\f'; break;
    case 'n': if (d) *d++ = '\n'; break;
    case 'r': if (d) *d++ = '\r'; break;
    case 't': if (d) *d++ = '\t'; break;
    case 'u':
      if (!sk_hex4(q, end, &cp)) return false;
      q += 4;
      if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        uint32_t lo;
        if (end - q < 6 || q[0] != '\\' || q[1] != 'u' || !sk_hex4(q + 2, end, &lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
        q += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      if (cp == 0) return false; /* keep tokens NUL-free, as the jansson path does */
      if (d) d += hm_utf8_put(d, cp);
      break;
    default: return false;
    }
  }
  if (q >= end) return false;
  if (d) { *out = d0; *outn = (uint32_t)(d - d0); *dst = d; }
  s->p = q + 1;
  return true;
}

static bool sk_value(scan *s, int depth) {
  sk_ws(s);
  if (s->p >= s->end || depth > 64) return false;
  char c = *s->p;
  if (c == '"') return sk_string(s, NULL, NULL, NULL);
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    s->p++;
    sk_ws(s);
    if (s->p < s->end && *s->p == close) { s->p++; return true; }
    for (;;) {
      if (c == '{') {
        sk_ws(s);
        if (!sk_string(s, NULL, NULL, NULL)) return false;
        sk_ws(s);
        if (s->p >= s->end || *s->p != ':') return false;
        s->p++;
      }
      if (!sk_value(s, depth + 1)) return false;
      sk_ws(s);
      if (s->p >= s->end) return false;
      if (*s->p == ',') { s->p++; continue; }
      if (*s->p == close) { s->p++; return true; }
      return false;
    }
  }
  const char *q = s->p;
  while (q < s->end && ((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') || *q == '-' || *q == '+' || *q == '.' || *q == 'E')) q++;
  if (q == s->p) return false;
  s->p = q;
  return true;
}

static bool sk_key_is(const char *k0, const char *k1, const char *key) {
  size_t kl = strlen(key);
  return (size_t)(k1 - k0) == kl && !memcmp(k0, key, kl);
}

static bool grow_cap(void **p, size_t *cap, size_t need, size_t elem);

static bool fast_vocab(scan *s, char **kb, model_lists *L) {
  size_t cap = 0;
  if (s->p >= s->end || *s->p++ != '{') return false;
  sk_ws(s);
  if (s->p < s->end && *s->p == '}') { s->p++; return true; }
  for (;;) {
    sk_ws(s);
    const char *k;
    uint32_t kn;
    if (!sk_string(s, kb, &k, &kn)) return false;
    sk_ws(s);
    if (s->p >= s->end || *s->p++ != ':') return false;
    sk_ws(s);
    int64_t v = 0;
    const char *d0 = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9' && s->p - d0 < 12) v = v * 10 + (*s->p++ - '0');
    if (s->p == d0) return false; /* negative, or not a number: let jansson explain */
    sk_ws(s);
    if (s->p >= s->end || (*s->p != ',' && *s->p != '}')) return false;
    if (!grow_cap((void **)&L->v, &cap, L->nv + 1, sizeof *L->v)) return false;
    L->v[L->nv++] = (vent){k, kn, v};
    if (*s->p++ == '}') return true;
  }
}

static bool fast_merges(scan *s, char **kb, model_lists *L) {
  size_t cap = 0;
  if (s->p >= s->end || *s->p++ != '[') return false;
  sk_ws(s);
  if (s->p < s->end && *s->p == ']') { s->p++; return true; }
  for (;;) {
    sk_ws(s);
    ment m;
    if (s->p < s->end && *s->p == '"') {
      const char *t;
      uint32_t tn;
      if (!sk_string(s, kb, &t, &tn)) return false;
      const char *sp = memchr(t, ' ', tn);
      if (!sp || memchr(sp + 1, ' ', tn - (uint32_t)(sp + 1 - t))) return false;
      m = (ment){t, sp + 1, (uint32_t)(sp - t), (uint32_t)(tn - (uint32_t)(sp - t) - 1)};
    } else if (s->p < s->end && *s->p == '[') {
      s->p++;
      sk_ws(s);
      if (!sk_string(s, kb, &m.a, &m.na)) return false;
      sk_ws(s);
      if (s->p >= s->end || *s->p++ != ',') return false;
      sk_ws(s);
      if (!sk_string(s, kb, &m.b, &m.nb)) return false;
      sk_ws(s);
      if (s->p >= s->end || *s->p++ != ']') return false;
    } else return false;
    if (!grow_cap((void **)&L->m, &cap, L->nm + 1, sizeof *L->m)) return false;
    L->m[L->nm++] = m;
    sk_ws(s);
    if (s->p >= s->end) return false;
    if (*s->p == ',') { s->p++; continue; }
    if (*s->p != ']') return false;
    s->p++;
    return true;
  }
}

/* Walks the members of the object at s->p; in "model", vocab and merges are
 * read into L (their spans recorded), every other value is skipped. */
static bool fast_object(scan *s, bool is_model, char **kb, model_lists *L, const char *span[4]) {
  sk_ws(s);
  if (s->p >= s->end || *s->p++ != '{') return false;
  sk_ws(s);
  if (s->p < s->end && *s->p == '}') { s->p++; return true; }
  for (;;) {
    sk_ws(s);
    const char *k0 = s->p + 1;
    if (!sk_string(s, NULL, NULL, NULL)) return false;
    const char *k1 = s->p - 1;
    sk_ws(s);
    if (s->p >= s->end || *s->p++ != ':') return false;
    sk_ws(s);
    if (!is_model && sk_key_is(k0, k1, "model")) {
      if (span[0]) return false; /* a repeated "model": let jansson decide */
      if (!fast_object(s, true, kb, L, span) || !span[0] || !span[2]) return false;
    } else if (is_model && sk_key_is(k0, k1, "vocab")) {
      if (span[0]) return false;
      span[0] = s->p;
      if (!fast_vocab(s, kb, L)) return false;
      span[1] = s->p;
    } else if (is_model && sk_key_is(k0, k1, "merges")) {
      if (span[2]) return false;
      span[2] = s->p;
      if (!fast_merges(s, kb, L)) return false;
      span[3] = s->p;
    } else if (!sk_value(s, 1)) return false;
    sk_ws(s);
    if (s->p >= s->end) return false;
    if (*s->p == ',') { s->p++; continue; }
    if (*s->p != '}') return false;
    s->p++;
    return true;
  }
}

/* On success: L filled (keys point into text or *keybuf), *rest = the text
 * with vocab -> {} and merges -> []. */
static bool fast_split(const char *text, size_t len, model_lists *L, char **keybuf, char **rest, size_t *rest_len) {
  *keybuf = malloc(len + 16); /* unescaped strings are never longer than their JSON */
  if (!*keybuf) return false;
  char *kb = *keybuf;
  const char *span[4] = {NULL, NULL, NULL, NULL};
  scan s = {text, text + len};
  if (!fast_object(&s, false, &kb, L, span) || !span[0] || !span[2]) return false;
  sk_ws(&s);
  if (s.p != s.end) return false;
  const char *a0 = span[0], *a1 = span[1], *b0 = span[2], *b1 = span[3];
  const char *ra = "{}", *rb = "[]";
  if (b0 < a0) { a0 = span[2]; a1 = span[3]; b0 = span[0]; b1 = span[1]; ra = "[]"; rb = "{}"; }
  *rest = malloc(len - (size_t)(a1 - a0) - (size_t)(b1 - b0) + 8);
  if (!*rest) return false;
  char *w = *rest;
  memcpy(w, text, (size_t)(a0 - text)); w += a0 - text;
  memcpy(w, ra, 2); w += 2;
  memcpy(w, a1, (size_t)(b0 - a1)); w += b0 - a1;
  memcpy(w, rb, 2); w += 2;
  memcpy(w, b1, (size_t)(text + len - b1)); w += text + len - b1;
  *rest_len = (size_t)(w - *rest);
  return true;
}

hm_status hm_tokenizer_load_json(const char *text, size_t len, const char *name, hm_tokenizer **out) {
  *out = NULL;
  if (!text) return hm_error(HM_ERR_INVALID_ARG, "hm_tokenizer_load_json: text is NULL");
  if (!name) name = "tokenizer.json";
  init_byte_tables();
  model_lists L;
  memset(&L, 0, sizeof L);
  char *keybuf = NULL, *rest = NULL;
  size_t rest_len = 0;
  bool fast = fast_split(text, len, &L, &keybuf, &rest, &rest_len);
  json_error_t err;
  json_t *root = fast ? json_loadb(rest, rest_len, 0, &err) : NULL;
  free(rest);
  if (!root) { /* the slow path: jansson on everything */
    fast = false;
    free(L.v); free(L.m); free(keybuf);
    memset(&L, 0, sizeof L);
    keybuf = NULL;
    root = json_loadb(text, len, 0, &err);
    if (!root) return hm_error(HM_ERR_FORMAT, "%s:%d:%d: malformed JSON: %s", name, err.line, err.column, err.text);
  }
  hm_tokenizer *t = calloc(1, sizeof *t);
  hm_status st = t ? load_root(t, root, fast ? &L : NULL, name) : hm_error(HM_ERR_NOMEM, "%s: out of memory", name);
  json_decref(root);
  free(L.v); free(L.m); free(keybuf);
  if (st != HM_OK) { hm_tokenizer_free(t); return st; }
  *out = t;
  return HM_OK;
}

hm_status hm_tokenizer_load(const char *path, hm_tokenizer **out) {
  *out = NULL;
  if (!path) return hm_error(HM_ERR_INVALID_ARG, "tokenizer path is NULL");
  if (!hm_file_exists(path)) return hm_error(HM_ERR_IO, "cannot open tokenizer '%s': no such file", path);
  char *buf;
  size_t len;
  HM_TRY(hm_read_file(path, &buf, &len));
  hm_status st = hm_tokenizer_load_json(buf, len, path, out);
  free(buf);
  return st;
}

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

static bool grow_cap(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return true;
  size_t nc = *cap ? *cap : 64;
  while (nc < need) nc *= 2;
  void *q = realloc(*p, nc * elem);
  if (!q) return false;
  *p = q;
  *cap = nc;
  return true;
}

static hm_status emit(enc_ctx *c, int32_t id) {
  if (c->n == c->cap) {
    size_t cap = (size_t)c->cap;
    if (!grow_cap((void **)&c->ids, &cap, (size_t)c->n + 1, sizeof *c->ids)) return hm_error(HM_ERR_NOMEM, "tokenizer: out of memory");
    c->cap = (int64_t)cap;
  }
  c->ids[c->n++] = id;
  return HM_OK;
}

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
  for (size_t i = 0; i < n; i++) {
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
  if (n == 1 && t->byte_id[(unsigned char)w[0]] >= 0) return emit(c, t->byte_id[(unsigned char)w[0]]);
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
  if (!ps->re) return pretok(c, step + 1, s, n);
  size_t ns;
  HM_TRY(find_segments(c, step, s, n, &ns));
  for (size_t i = 0; i < ns; i++) {
    seg g = c->segs[step][i]; /* deeper steps never touch this step's array */
    HM_TRY(pretok(c, step + 1, s + g.start, g.end - g.start));
  }
  return HM_OK;
}

static bool is_ws(uint32_t c) { /* Rust char::is_whitespace (White_Space) */
  return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
/* Rust regex \w (single_word added tokens): Alphabetic, marks, Nd, Pc, joiners */
static bool is_word_char(uint32_t c) {
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

/* ---- decoding and lookups ---- */

hm_status hm_tokenizer_decode(const hm_tokenizer *t, const int32_t *ids, int64_t n, bool skip_special,
                              char **text, size_t *len) {
  if (text) *text = NULL;
  if (len) *len = 0;
  if (!t || !text || (n > 0 && !ids) || n < 0) return hm_error(HM_ERR_INVALID_ARG, "hm_tokenizer_decode: bad argument");
  size_t total = 0;
  for (int64_t i = 0; i < n; i++) {
    int32_t id = ids[i];
    if (id < 0 || id >= t->n_ids || !(t->flags[id] & TF_USED))
      return hm_error(HM_ERR_INVALID_ARG, "tokenizer: cannot decode id %d at position %lld (vocab size %lld)",
                      (int)id, (long long)i, (long long)t->n_ids);
    if (!(skip_special && (t->flags[id] & TF_SPECIAL))) total += t->blen[id];
  }
  char *o = malloc(total + 1);
  if (!o) return hm_error(HM_ERR_NOMEM, "tokenizer: out of memory decoding %lld ids", (long long)n);
  size_t w = 0;
  for (int64_t i = 0; i < n; i++) {
    int32_t id = ids[i];
    if (skip_special && (t->flags[id] & TF_SPECIAL)) continue;
    memcpy(o + w, t->bytes[id], t->blen[id]);
    w += t->blen[id];
  }
  o[w] = 0;
  *text = o;
  if (len) *len = w;
  return HM_OK;
}

int32_t hm_tokenizer_token_id(const hm_tokenizer *t, const char *token) {
  if (!t || !token) return -1;
  return str_lookup(t, token, strlen(token));
}

const char *hm_tokenizer_token_str(const hm_tokenizer *t, int32_t id) {
  if (!t || id < 0 || id >= t->n_ids || !(t->flags[id] & TF_USED)) return NULL;
  return t->str[id];
}

const char *hm_tokenizer_token_bytes(const hm_tokenizer *t, int32_t id, size_t *len) {
  if (len) *len = 0;
  if (!t || id < 0 || id >= t->n_ids || !(t->flags[id] & TF_USED)) return NULL;
  if (len) *len = t->blen[id];
  return t->bytes[id];
}

int64_t hm_tokenizer_vocab_size(const hm_tokenizer *t) { return t ? t->n_ids : 0; }

bool hm_tokenizer_is_special(const hm_tokenizer *t, int32_t id) {
  return t && id >= 0 && id < t->n_ids && (t->flags[id] & TF_SPECIAL);
}
