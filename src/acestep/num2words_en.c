/* num2words 0.5.14, English (Num2Word_EN on Num2Word_EU / Num2Word_Base), as far as
 * upstream's cleaners call it: cardinals of any size below 10**306, ordinals, floats
 * (float2tuple's precision from Python's repr) and to_currency for USD/GBP/EUR.
 *
 * Cardinals follow the library's own algorithm: splitnum takes the largest card <= the
 * value (10**303 ... 10**6 "-illion" words, 1000, 100, 90 ... 30, 20 ... 0), recurses on
 * the quotient and the remainder, and merge() joins two (words, value) pairs by value:
 * "twenty-five", "one hundred and five", "one thousand, nine hundred", "two million".
 * Values are decimal digit strings so that any size works. */
#include "acestep/lyrics_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

bool lyr_put(lyr_buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return false;
    b->p = p;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
  return true;
}

/* ---- decimal digit strings (no leading zeros; "0" for zero) ---- */
enum { NUM_MAX = 320 };
typedef struct { char d[NUM_MAX * 2 + 4]; } num;

static void num_set(num *x, const char *s, size_t n) {
  while (n > 1 && *s == '0') { s++; n--; }
  memcpy(x->d, s, n);
  x->d[n] = 0;
}
static void num_small(num *x, unsigned v) { snprintf(x->d, sizeof x->d, "%u", v); }
static int num_cmp(const num *a, const num *b) {
  size_t la = strlen(a->d), lb = strlen(b->d);
  if (la != lb) return la < lb ? -1 : 1;
  int c = strcmp(a->d, b->d);
  return c < 0 ? -1 : c > 0;
}
static bool num_is(const num *a, unsigned v) { num b; num_small(&b, v); return num_cmp(a, &b) == 0; }
static bool num_lt(const num *a, unsigned v) { num b; num_small(&b, v); return num_cmp(a, &b) < 0; }
static void num_add(num *r, const num *a, const num *b) {
  char t[sizeof r->d];
  size_t la = strlen(a->d), lb = strlen(b->d), k = 0;
  int carry = 0;
  for (size_t i = 0; i < la || i < lb || carry; i++) {
    int s = carry + (i < la ? a->d[la - 1 - i] - '0' : 0) + (i < lb ? b->d[lb - 1 - i] - '0' : 0);
    t[k++] = (char)('0' + s % 10);
    carry = s / 10;
  }
  for (size_t i = 0; i < k; i++) r->d[i] = t[k - 1 - i];
  r->d[k] = 0;
}
static void num_mul(num *r, const num *a, const num *b) {
  size_t la = strlen(a->d), lb = strlen(b->d);
  int acc[sizeof r->d] = {0};
  for (size_t i = 0; i < la; i++)
    for (size_t j = 0; j < lb; j++) acc[i + j + 1] += (a->d[i] - '0') * (b->d[j] - '0');
  for (size_t k = la + lb; k-- > 1;) { acc[k - 1] += acc[k] / 10; acc[k] %= 10; }
  char t[sizeof r->d];
  for (size_t k = 0; k < la + lb; k++) t[k] = (char)('0' + acc[k]);
  num_set(r, t, la + lb);
}

/* ---- the cards ---- */
static const char *const k_low[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                                    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                                    "eighteen", "nineteen", "twenty"};
static const char *const k_tens[] = {"thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};

/* the prefix of 10**(3k+3)'s "-illion" word, k >= 1 (k = 1: "m"illion, k = 100: "cent"illion):
 * Num2Word_EU's high_numwords read from the end */
static void high_prefix(int k, char *out, size_t n) {
  static const char *const lows[] = {"m", "b", "tr", "quadr", "quint", "sext", "sept", "oct", "non"};
  static const char *const units[] = {"", "un", "duo", "tre", "quattuor", "quin", "sex", "sept", "octo", "novem"};
  static const char *const tens[] = {"dec", "vigint", "trigint", "quadragint", "quinquagint", "sexagint", "septuagint",
                                     "octogint", "nonagint"};
  if (k <= 9) snprintf(out, n, "%s", lows[k - 1]);
  else if (k <= 99) snprintf(out, n, "%s%s", units[(k - 10) % 10], tens[(k - 10) / 10]);
  else snprintf(out, n, "cent");
}

typedef struct { lyr_buf w; num v; } pair;

/* Num2Word_EN.merge(l, r) into l; r is consumed */
static bool merge(pair *l, pair *r) {
  const char *sep;
  num v;
  if (num_is(&l->v, 1) && num_lt(&r->v, 100)) { /* (rtext, rnum) */
    free(l->w.p);
    *l = *r;
    r->w.p = NULL;
    return true;
  }
  int c = num_cmp(&l->v, &r->v);
  if (num_lt(&l->v, 100) && c > 0) { sep = "-"; num_add(&v, &l->v, &r->v); }
  else if (!num_lt(&l->v, 100) && num_lt(&r->v, 100)) { sep = " and "; num_add(&v, &l->v, &r->v); }
  else if (c < 0) { sep = " "; num_mul(&v, &l->v, &r->v); }
  else { sep = ", "; num_add(&v, &l->v, &r->v); }
  bool ok = lyr_puts(&l->w, sep) && lyr_put(&l->w, r->w.p, r->w.n);
  l->v = v;
  free(r->w.p);
  r->w.p = NULL;
  return ok;
}

/* clean(splitnum(value)) */
static bool convert(const num *value, pair *out) {
  memset(out, 0, sizeof *out);
  size_t len = strlen(value->d);
  num card, div, mod;
  char word[32];
  if (len >= 3) { /* the largest power-of-ten card <= value */
    int e = len >= 7 ? (int)((len - 1) / 3) * 3 : (len >= 4 ? 3 : 2);
    if (e > 303) e = 303;
    if (e == 2) snprintf(word, sizeof word, "hundred");
    else if (e == 3) snprintf(word, sizeof word, "thousand");
    else {
      high_prefix(e / 3 - 1, word, sizeof word - 8);
      strcat(word, "illion");
    }
    char ones[NUM_MAX + 2];
    memset(ones, '0', (size_t)e + 1);
    ones[0] = '1';
    num_set(&card, ones, (size_t)e + 1);
    num_set(&div, value->d, len - (size_t)e);
    num_set(&mod, value->d + len - e, (size_t)e);
  } else {
    unsigned v = (unsigned)atoi(value->d), c = v;
    if (v > 20) c = v / 10 * 10;
    snprintf(word, sizeof word, "%s", c <= 20 ? k_low[c] : k_tens[c / 10 - 3]);
    num_small(&card, c);
    if (v == 0) { num_small(&div, 1); num_small(&mod, 0); }
    else { num_small(&div, v / c); num_small(&mod, v % c); }
  }
  pair card_p = {{0}, card};
  if (!lyr_puts(&card_p.w, word)) return false;
  if (num_is(&div, 1)) {
    out->v = div;
    if (!lyr_puts(&out->w, "one")) { free(card_p.w.p); return false; }
  } else if (!convert(&div, out)) { free(card_p.w.p); return false; }
  if (!merge(out, &card_p)) return false;
  if (!num_is(&mod, 0)) {
    pair r;
    if (!convert(&mod, &r)) { free(r.w.p); return false; }
    if (!merge(out, &r)) return false;
  }
  return true;
}

hm_status lyr_n2w_en_cardinal(const char *digits, size_t n, lyr_buf *out) {
  while (n > 1 && *digits == '0') { digits++; n--; }
  if (n > 306) return hm_error(HM_ERR_UNSUPPORTED, "num2words: a number of %zu digits is too large (10**306 at most)", n);
  num v;
  num_set(&v, digits, n);
  pair p;
  bool ok = convert(&v, &p) && lyr_put(out, p.w.p, p.w.n);
  free(p.w.p);
  return ok ? HM_OK : hm_error(HM_ERR_NOMEM, "num2words: out of memory");
}

hm_status lyr_n2w_en_ordinal(const char *digits, size_t n, lyr_buf *out) {
  lyr_buf c = {0};
  hm_status st = lyr_n2w_en_cardinal(digits, n, &c);
  if (st != HM_OK) { free(c.p); return st; }
  /* the last word after the last space, then its last part after '-' */
  size_t start = 0;
  for (size_t i = 0; i < c.n; i++)
    if (c.p[i] == ' ' || c.p[i] == '-') start = i + 1;
  static const char *const ords[][2] = {{"one", "first"}, {"two", "second"}, {"three", "third"}, {"five", "fifth"},
                                        {"eight", "eighth"}, {"nine", "ninth"}, {"twelve", "twelfth"}};
  const char *last = c.p + start;
  bool ok = lyr_put(out, c.p, start);
  size_t k;
  for (k = 0; k < sizeof ords / sizeof ords[0]; k++)
    if (!strcmp(last, ords[k][0])) break;
  if (k < sizeof ords / sizeof ords[0]) ok = ok && lyr_puts(out, ords[k][1]);
  else {
    size_t ln = strlen(last);
    if (ln && last[ln - 1] == 'y') ok = ok && lyr_put(out, last, ln - 1) && lyr_puts(out, "ie");
    else ok = ok && lyr_put(out, last, ln);
    ok = ok && lyr_puts(out, "th");
  }
  free(c.p);
  return ok ? HM_OK : hm_error(HM_ERR_NOMEM, "num2words: out of memory");
}

/* Python repr(float): the shortest %.17g-style text that reads back exactly */
static void py_repr(double x, char *buf, size_t n) {
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, n, "%.*e", prec - 1, x);
    if (strtod(buf, NULL) == x) break;
  }
}

/* abs(Decimal(repr(x)).as_tuple().exponent) */
static int decimal_places(double x) {
  char e[64];
  py_repr(x, e, sizeof e); /* d.ddddde+XX */
  const char *dot = strchr(e, '.'), *ex = strchr(e, 'e');
  int frac = dot ? (int)(ex - dot - 1) : 0;
  int exp10 = atoi(ex + 1);
  /* repr prints plain digits for 1e-4 <= |x| < 1e16; the Decimal exponent is the same
   * either way: exp10 - frac, except that a plain integral repr ends in ".0" */
  int dexp = exp10 - frac;
  double ax = fabs(x);
  if (ax >= 1e-4 && ax < 1e16 && dexp >= 0) dexp = -1; /* "123.0" */
  return dexp < 0 ? -dexp : dexp;
}

static hm_status int_text_of(double v, lyr_buf *out) { /* num2words of int(v), v >= 0 */
  char buf[400];
  snprintf(buf, sizeof buf, "%.0f", trunc(v));
  return lyr_n2w_en_cardinal(buf, strlen(buf), out);
}

hm_status lyr_n2w_en_float(const char *text, size_t n, lyr_buf *out) {
  char buf[512];
  if (n >= sizeof buf) { /* float() of a very long literal: read it through strtod all the same */
    char *tmp = malloc(n + 1);
    if (!tmp) return hm_error(HM_ERR_NOMEM, "num2words: out of memory");
    memcpy(tmp, text, n); tmp[n] = 0;
    double v = strtod(tmp, NULL);
    free(tmp);
    snprintf(buf, sizeof buf, "%.17g", v);
  } else {
    memcpy(buf, text, n);
    buf[n] = 0;
  }
  double v = strtod(buf, NULL);
  if (isinf(v)) return hm_error(HM_ERR_UNSUPPORTED, "num2words: '%s' is too large", buf);
  if (v == trunc(v)) return int_text_of(v, out); /* an integral float reads as an integer */
  /* float2tuple */
  double pre = trunc(v);
  int prec = decimal_places(v);
  char p10[16];
  snprintf(p10, sizeof p10, "1e%d", prec);
  double post = fabs(v - pre) * strtod(p10, NULL);
  double r = nearbyint(post);
  double postv = fabs(r - post) < 0.01 ? r : floor(post);
  char ps[400];
  snprintf(ps, sizeof ps, "%.0f", postv);
  HM_TRY(int_text_of(pre, out));
  bool ok = true;
  if (prec) ok = lyr_puts(out, " point");
  size_t pl = strlen(ps);
  for (int i = 0; i < prec && ok; i++) {
    /* post = '0' * (precision - len(post)) + post; digit i of that */
    int pad = prec - (int)pl;
    char dch = i < pad ? '0' : ps[i - pad];
    ok = lyr_puts(out, " ") && lyr_puts(out, k_low[dch - '0']);
  }
  return ok ? HM_OK : hm_error(HM_ERR_NOMEM, "num2words: out of memory");
}

hm_status lyr_n2w_en_currency(double amount, const char *cur, lyr_buf *out) {
  /* parse_currency_parts: Decimal(amount).quantize(Decimal('.01'), ROUND_HALF_UP) */
  char exact[1200];
  snprintf(exact, sizeof exact, "%.1100f", amount); /* glibc prints the exact binary value */
  char *dot = strchr(exact, '.');
  size_t il = (size_t)(dot - exact);
  if (il + 2 > 28) /* the default context's 28 digits: quantize raises InvalidOperation */
    return hm_error(HM_ERR_UNSUPPORTED, "num2words: currency amount %.17g has too many digits", amount);
  char digits[40];
  memcpy(digits, exact, il);
  digits[il] = dot[1];
  digits[il + 1] = dot[2];
  size_t dl = il + 2;
  if (dot[3] >= '5') { /* half up: any digit >= 5 at the third place rounds up */
    size_t k = dl;
    while (k > 0) {
      if (digits[k - 1] == '9') { digits[k - 1] = '0'; k--; continue; }
      digits[k - 1]++;
      break;
    }
    if (k == 0) { memmove(digits + 1, digits, dl); digits[0] = '1'; dl++; }
  }
  size_t ipl = dl - 2;
  int cents = (digits[dl - 2] - '0') * 10 + (digits[dl - 1] - '0');
  const char *c1s, *c1p, *c2s, *c2p;
  if (!strcmp(cur, "GBP")) { c1s = "pound sterling"; c1p = "pounds sterling"; c2s = "penny"; c2p = "pence"; }
  else if (!strcmp(cur, "EUR")) { c1s = "euro"; c1p = "euro"; c2s = "cent"; c2p = "cents"; }
  else { c1s = "dollar"; c1p = "dollars"; c2s = "cent"; c2p = "cents"; }
  lyr_buf s = {0};
  hm_status st = lyr_n2w_en_cardinal(digits, ipl, &s);
  bool one = ipl >= 1 && strspn(digits, "0") == ipl - 1 && digits[ipl - 1] == '1';
  char cs[8];
  snprintf(cs, sizeof cs, "%d", cents);
  bool ok = st == HM_OK && lyr_puts(&s, " ") && lyr_puts(&s, one ? c1s : c1p) && lyr_puts(&s, ", ");
  if (ok) st = lyr_n2w_en_cardinal(cs, strlen(cs), &s);
  ok = ok && st == HM_OK && lyr_puts(&s, " ") && lyr_puts(&s, cents == 1 ? c2s : c2p);
  if (ok && amount == trunc(amount)) { /* upstream cuts at the last ", " */
    for (size_t i = s.n; i-- > 1;)
      if (s.p[i - 1] == ',' && s.p[i] == ' ') { s.n = i - 1; s.p[s.n] = 0; break; }
  }
  ok = ok && lyr_put(out, s.p, s.n);
  free(s.p);
  if (st != HM_OK) return st;
  return ok ? HM_OK : hm_error(HM_ERR_NOMEM, "num2words: out of memory");
}
