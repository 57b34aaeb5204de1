/* src/text internals of the BPE tokenizer, shared by its files:
 *   tokenizer.c       the tables (byte mapping, id maps, merges), decode, lookups
 *   tokenizer_load.c  tokenizer.json -> the tables (jansson, and the fast path below)
 *   tokenizer_json.c  the fast path: model.vocab / model.merges scanned straight from the text
 *   tokenizer_bpe.c   encoding: added tokens, pre-tokenizers, BPE merges, post-processor
 * Not part of any API. */
#ifndef HM_TEXT_TOKENIZER_IMPL_H
#define HM_TEXT_TOKENIZER_IMPL_H
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/tokenizer.h"
#include "text/text_internal.h"

#include <pcre2.h>
#include <stdlib.h>

/* ---- hashing ---- */
static inline uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
  return h ^ (h >> 29);
}
static inline uint64_t hash_u64(uint64_t x) {
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
typedef enum { PT_SPLIT, PT_BYTELEVEL, PT_WHITESPACE } pt_kind; /* PT_WHITESPACE: HF Whitespace, \w+|[^\w\s]+ */
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
  /* char_level: no ByteLevel pre-tokenizer; words are split into Unicode characters (their
   * UTF-8 spelling is the token), and token bytes are the spelling as is (XTTS / ACE-Step lyrics) */
  bool char_level;
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

/* Rust regex \w (Unicode: Alphabetic, marks, Nd, Pc, joiners) and char::is_whitespace. */
bool hm_tok_is_word_char(uint32_t c);
bool hm_tok_is_ws(uint32_t c);

/* GPT-2 byte-level code point (< 324) -> byte, -1 if not a byte-level character; filled by
 * hm_tok_init_byte_tables (once per process). */
extern int16_t hm_tok_cp_to_byte[324];
void hm_tok_init_byte_tables(void);

char *hm_tok_arena_alloc(hm_tokenizer *t, size_t n);
bool hm_tok_idmap_init(idmap *m, int64_t n);

/* Slot holding key (its id >= 0) or the empty slot where it would go. */
static inline int32_t *idmap_slot(const idmap *m, const char *const *keys, const uint32_t *lens, const char *k, size_t n) {
  uint64_t i = hash_bytes(k, n) & m->mask;
  for (;;) {
    int32_t id = m->slots[i];
    if (id < 0 || (lens[id] == n && memcmp(keys[id], k, n) == 0)) return &m->slots[i];
    i = (i + 1) & m->mask;
  }
}

static inline int32_t str_lookup(const hm_tokenizer *t, const char *k, size_t n) {
  return *idmap_slot(&t->str_map, t->str, t->slen, k, n);
}
static inline int32_t bytes_lookup(const hm_tokenizer *t, const char *k, size_t n) {
  return *idmap_slot(&t->bytes_map, t->bytes, t->blen, k, n);
}

static inline const merge_ent *merge_find(const hm_tokenizer *t, int32_t a, int32_t b) {
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


/* Grows *p (elem-byte entries, capacity *cap) to hold need entries; false when out of memory. */
static inline bool grow_cap(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return true;
  size_t nc = *cap ? *cap : 64;
  while (nc < need) nc *= 2;
  void *q = realloc(*p, nc * elem);
  if (!q) return false;
  *p = q;
  *cap = nc;
  return true;
}

/* model.vocab and model.merges as lists (the fast path's output, or NULL: read from jansson). */
typedef struct { const char *s; uint32_t n; int64_t id; } vent;   /* a vocab entry */
typedef struct { const char *a, *b; uint32_t na, nb; } ment;      /* a merges entry */
typedef struct { vent *v; size_t nv; ment *m; size_t nm; } model_lists;

/* The fast path: on success L is filled (keys point into text or *keybuf) and *rest is the text
 * with vocab -> {} and merges -> [] for jansson; false: read the whole text with jansson. */
bool hm_tok_fast_split(const char *text, size_t len, model_lists *L, char **keybuf, char **rest, size_t *rest_len);

#endif
