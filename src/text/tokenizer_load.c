/* tokenizer.json -> the tokenizer's tables: added tokens, pre-tokenizers,
 * post-processor and the BPE model (vocab, merges), with errors that name the
 * file and the field. model.vocab and model.merges come from the fast path
 * (tokenizer_json.c) when it can read them, else from jansson. */
#include "text/tokenizer_impl.h"
#include "io/fs.h"
#include "io/json.h"

#include <jansson.h>
#include <stdio.h>


/* Sets spelling and bytes of id from a tokenizer.json string: the byte-level
 * decoding when every character is a byte-level one (HF ByteLevel decoder),
 * else (and always for a character-level tokenizer) the UTF-8 bytes as they are. */
static hm_status set_token(hm_tokenizer *t, int32_t id, const char *s, size_t n, const char *name) {
  char *sp = hm_tok_arena_alloc(t, 2 * n + 2);
  if (!sp) return hm_error(HM_ERR_NOMEM, "%s: out of memory", name);
  memcpy(sp, s, n);
  sp[n] = 0;
  char *bp = sp + n + 1;
  size_t w = 0;
  bool bytelevel = !t->char_level;
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    size_t k = hm_utf8_next(u, n, i, &cp);
    if (!k) return hm_error(HM_ERR_FORMAT, "%s: token id %d is not valid UTF-8", name, (int)id);
    if (bytelevel && (cp >= 324 || hm_tok_cp_to_byte[cp] < 0)) bytelevel = false; /* keep validating */
    if (bytelevel) bp[w++] = (char)hm_tok_cp_to_byte[cp];
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
  if (!strcmp(type, "Whitespace")) { /* \w+|[^\w\s]+ with Unicode classes, white space dropped */
    s->kind = PT_WHITESPACE;
    t->n_steps++;
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
  return hm_error(HM_ERR_UNSUPPORTED, "%s: pre_tokenizer type '%s' is not supported (ByteLevel, Split, Whitespace or a Sequence of them)", name, type);
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
      if (cp >= 324 || hm_tok_cp_to_byte[cp] < 0) { bl = false; break; }
      i += k;
    }
    if ((bl || t->char_level) && t->blen[id] > 0) {
      int32_t *slot = idmap_slot(&t->bytes_map, t->bytes, t->blen, t->bytes[id], t->blen[id]);
      if (*slot < 0) *slot = (int32_t)id;
    }
  }
  for (unsigned b = 0; b < 256; b++) {
    char buf[8];
    size_t n = hm_utf8_put(buf, hm_byte_to_cp(b));
    int32_t id = str_lookup(t, buf, n);
    t->byte_id[b] = (id >= 0 && (t->flags[id] & TF_MODEL) && !t->char_level) ? id : -1;
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
  if (!t->str || !t->slen || !t->bytes || !t->blen || !t->flags || !hm_tok_idmap_init(&t->str_map, t->n_ids) ||
      !hm_tok_idmap_init(&t->bytes_map, t->n_ids))
    return hm_error(HM_ERR_NOMEM, "%s: out of memory for %lld tokens", name, (long long)t->n_ids);
  /* the pre-tokenizer first: without a ByteLevel step the model is character-level */
  const json_t *pt = json_object_get(root, "pre_tokenizer");
  if (pt && !json_is_null(pt)) HM_TRY(add_pretok(t, pt, name, 0));
  bool has_bl = false;
  for (int i = 0; i < t->n_steps; i++) has_bl |= t->steps[i].kind == PT_BYTELEVEL;
  t->char_level = !has_bl;
  if (t->char_level && dec && !json_is_null(dec))
    return hm_error(HM_ERR_UNSUPPORTED, "%s: decoder ByteLevel without a ByteLevel pre_tokenizer is not supported", name);
  HM_TRY(parse_model(t, model, L, name));
  HM_TRY(parse_added(t, added, name));
  for (int b = 0; b < 256 && !t->char_level; b++)
    if (t->byte_id[b] < 0 && !(t->byte_fallback && t->fallback_id[b] >= 0) && t->unk_id < 0)
      hm_log(HM_LOG_WARN, "%s: byte 0x%02x has no token; it will be dropped from encodings", name, b);
  return add_postproc(t, json_object_get(root, "post_processor"), name, 0);
}

hm_status hm_tokenizer_load_json(const char *text, size_t len, const char *name, hm_tokenizer **out) {
  *out = NULL;
  if (!text) return hm_error(HM_ERR_INVALID_ARG, "hm_tokenizer_load_json: text is NULL");
  if (!name) name = "tokenizer.json";
  hm_tok_init_byte_tables();
  model_lists L;
  memset(&L, 0, sizeof L);
  char *keybuf = NULL, *rest = NULL;
  size_t rest_len = 0;
  bool fast = hm_tok_fast_split(text, len, &L, &keybuf, &rest, &rest_len);
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

