/* The tokenizer's fast path: a small JSON scanner that reads model.vocab and
 * model.merges (nearly all of a 9 MB tokenizer.json) straight from the text
 * and hands the rest to jansson. */
#include "text/tokenizer_impl.h"

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

/* Consumes `open` and white space; *empty (the close consumed too) when nothing is inside. */
static bool sk_open(scan *s, char open, char close, bool *empty) {
  if (s->p >= s->end || *s->p++ != open) return false;
  sk_ws(s);
  *empty = s->p < s->end && *s->p == close;
  if (*empty) s->p++;
  return true;
}

static bool fast_vocab(scan *s, char **kb, model_lists *L) {
  size_t cap = 0;
  bool empty;
  if (!sk_open(s, '{', '}', &empty)) return false;
  if (empty) return true;
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
  bool empty;
  if (!sk_open(s, '[', ']', &empty)) return false;
  if (empty) return true;
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
  bool empty;
  if (!sk_open(s, '{', '}', &empty)) return false;
  if (empty) return true;
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
bool hm_tok_fast_split(const char *text, size_t len, model_lists *L, char **keybuf, char **rest, size_t *rest_len) {
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

