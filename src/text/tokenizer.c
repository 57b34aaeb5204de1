/* Byte-level BPE from a Hugging Face tokenizer.json: the tables, decode, lookups.
 *
 * Tokens are kept as the raw bytes they stand for (the GPT-2 byte-to-unicode
 * mapping undone at load), so encoding never builds the mapped strings: the
 * pre-tokenizer regexes run on the UTF-8 text, and BPE runs on byte ids.
 * Behaviour follows HF tokenizers (tokenizers/src: added_vocabulary.rs,
 * pre_tokenizers/{split,byte_level,sequence}.rs, models/bpe/{model,word}.rs).
 * Loading: tokenizer_load.c (+ tokenizer_json.c); encoding: tokenizer_bpe.c. */
#include "text/tokenizer_impl.h"

#include <pthread.h>
#include <stdio.h>

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
int16_t hm_tok_cp_to_byte[324];
static pthread_once_t byte_tables_once = PTHREAD_ONCE_INIT;
static void init_byte_tables_once(void) {
  for (int i = 0; i < 324; i++) hm_tok_cp_to_byte[i] = -1;
  uint32_t n = 0;
  for (unsigned b = 0; b < 256; b++) hm_tok_cp_to_byte[byte_is_printable(b) ? b : 256 + n++] = (int16_t)b;
}
void hm_tok_init_byte_tables(void) { pthread_once(&byte_tables_once, init_byte_tables_once); }

char *hm_tok_arena_alloc(hm_tokenizer *t, size_t n) {
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

bool hm_tok_idmap_init(idmap *m, int64_t n) {
  uint64_t cap = 16;
  while (cap < (uint64_t)n * 2 + 2) cap <<= 1;
  m->slots = malloc(cap * sizeof *m->slots);
  if (!m->slots) return false;
  for (uint64_t i = 0; i < cap; i++) m->slots[i] = -1;
  m->mask = cap - 1;
  return true;
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

