/* Upstream's lyric cleaners (acestep/models/lyrics_utils/lyric_tokenizer.py at d612523):
 * multilingual_cleaners and basic_cleaners, with Python's semantics where they matter:
 * str.lower() (full case mapping), str.strip() / re's \s (str.isspace()), re's Unicode \b and
 * \d, re.sub's left-to-right non-overlapping replacement, and the try/except blocks that
 * silently drop a whole step when one call inside it raises.
 *
 * Number expansion needs num2words for the line's language: English is ported
 * (num2words_en.c). cs never expands numbers upstream (it asks num2words for 'cz', which
 * 0.5.14 no longer has, and the exception drops the step), so it is exact too. A line in
 * another language that still holds an ASCII digit after the thousands-separator step is
 * an HM_ERR_UNSUPPORTED error naming the language: its num2words is not ported yet. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "acestep/lyrics_internal.h"
#include "text/text_internal.h"
#include "text/tokenizer.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

bool lyr_py_space(uint32_t c) {
  return (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- the per-language tables (upstream's lists, in their order) ---- */
typedef struct { const char *from, *to; } subst;
typedef struct {
  const char *lang;
  subst abbr[20];      /* `\b<from>\.` (ru: `\b<from>\b`), case-insensitive */
  subst sym[7];        /* & @ % # $ £ ° */
} lang_table;

static const lang_table k_tables[] = {
  {"en", {{"mrs", "misess"}, {"mr", "mister"}, {"dr", "doctor"}, {"st", "saint"}, {"co", "company"}, {"jr", "junior"},
          {"maj", "major"}, {"gen", "general"}, {"drs", "doctors"}, {"rev", "reverend"}, {"lt", "lieutenant"},
          {"hon", "honorable"}, {"sgt", "sergeant"}, {"capt", "captain"}, {"esq", "esquire"}, {"ltd", "limited"},
          {"col", "colonel"}, {"ft", "fort"}},
   {{"&", " and "}, {"@", " at "}, {"%", " percent "}, {"#", " hash "}, {"$", " dollar "}, {"£", " pound "}, {"°", " degree "}}},
  {"es", {{"sra", "señora"}, {"sr", "señor"}, {"dr", "doctor"}, {"dra", "doctora"}, {"st", "santo"}, {"co", "compañía"},
          {"jr", "junior"}, {"ltd", "limitada"}},
   {{"&", " y "}, {"@", " arroba "}, {"%", " por ciento "}, {"#", " numeral "}, {"$", " dolar "}, {"£", " libra "}, {"°", " grados "}}},
  {"fr", {{"mme", "madame"}, {"mr", "monsieur"}, {"dr", "docteur"}, {"st", "saint"}, {"co", "compagnie"}, {"jr", "junior"},
          {"ltd", "limitée"}},
   {{"&", " et "}, {"@", " arobase "}, {"%", " pour cent "}, {"#", " dièse "}, {"$", " dollar "}, {"£", " livre "}, {"°", " degrés "}}},
  {"de", {{"fr", "frau"}, {"dr", "doktor"}, {"st", "sankt"}, {"co", "firma"}, {"jr", "junior"}},
   {{"&", " und "}, {"@", " at "}, {"%", " prozent "}, {"#", " raute "}, {"$", " dollar "}, {"£", " pfund "}, {"°", " grad "}}},
  {"pt", {{"sra", "senhora"}, {"sr", "senhor"}, {"dr", "doutor"}, {"dra", "doutora"}, {"st", "santo"}, {"co", "companhia"},
          {"jr", "júnior"}, {"ltd", "limitada"}},
   {{"&", " e "}, {"@", " arroba "}, {"%", " por cento "}, {"#", " cardinal "}, {"$", " dólar "}, {"£", " libra "}, {"°", " graus "}}},
  {"it", {{"sig", "signore"}, {"dr", "dottore"}, {"st", "santo"}, {"co", "compagnia"}, {"jr", "junior"}, {"ltd", "limitata"}},
   {{"&", " e "}, {"@", " chiocciola "}, {"%", " per cento "}, {"#", " cancelletto "}, {"$", " dollaro "}, {"£", " sterlina "},
    {"°", " gradi "}}},
  {"pl", {{"p", "pani"}, {"m", "pan"}, {"dr", "doktor"}, {"sw", "święty"}, {"jr", "junior"}},
   {{"&", " i "}, {"@", " małpa "}, {"%", " procent "}, {"#", " krzyżyk "}, {"$", " dolar "}, {"£", " funt "}, {"°", " stopnie "}}},
  {"ar", {{0, 0}},
   {{"&", " و "}, {"@", " على "}, {"%", " في المئة "}, {"#", " رقم "}, {"$", " دولار "}, {"£", " جنيه "}, {"°", " درجة "}}},
  {"zh", {{0, 0}},
   {{"&", " 和 "}, {"@", " 在 "}, {"%", " 百分之 "}, {"#", " 号 "}, {"$", " 美元 "}, {"£", " 英镑 "}, {"°", " 度 "}}},
  {"cs", {{"dr", "doktor"}, {"ing", "inženýr"}, {"p", "pan"}},
   {{"&", " a "}, {"@", " na "}, {"%", " procento "}, {"#", " křížek "}, {"$", " dolar "}, {"£", " libra "}, {"°", " stupně "}}},
  {"ru", {{"г-жа", "госпожа"}, {"г-н", "господин"}, {"д-р", "доктор"}},
   {{"&", " и "}, {"@", " собака "}, {"%", " процентов "}, {"#", " номер "}, {"$", " доллар "}, {"£", " фунт "}, {"°", " градус "}}},
  {"nl", {{"dhr", "de heer"}, {"mevr", "mevrouw"}, {"dr", "dokter"}, {"jhr", "jonkheer"}},
   {{"&", " en "}, {"@", " bij "}, {"%", " procent "}, {"#", " hekje "}, {"$", " dollar "}, {"£", " pond "}, {"°", " graden "}}},
  {"tr", {{"b", "bay"}, {"byk", "büyük"}, {"dr", "doktor"}},
   {{"&", " ve "}, {"@", " at "}, {"%", " yüzde "}, {"#", " diyez "}, {"$", " dolar "}, {"£", " sterlin "}, {"°", " derece "}}},
  {"hu", {{"dr", "doktor"}, {"b", "bácsi"}, {"nőv", "nővér"}},
   {{"&", " és "}, {"@", " kukac "}, {"%", " százalék "}, {"#", " kettőskereszt "}, {"$", " dollár "}, {"£", " font "},
    {"°", " fok "}}},
  {"ko", {{0, 0}},
   {{"&", " 그리고 "}, {"@", " 에 "}, {"%", " 퍼센트 "}, {"#", " 번호 "}, {"$", " 달러 "}, {"£", " 파운드 "}, {"°", " 도 "}}},
};

static const lang_table *table_of(const char *lang) {
  for (size_t i = 0; i < sizeof k_tables / sizeof k_tables[0]; i++)
    if (!strcmp(k_tables[i].lang, lang)) return &k_tables[i];
  return NULL;
}

/* ---- re.sub ---- */
typedef hm_status (*sub_fn)(void *ud, const char *s, const PCRE2_SIZE *ov, lyr_buf *out);

/* re.sub(pat, fn or repl, s): every non-overlapping match, left to right */
static hm_status re_sub(const char *pat, uint32_t opts, const char *s, size_t n, sub_fn fn, void *ud, const char *repl,
                        lyr_buf *out) {
  int err;
  PCRE2_SIZE eoff;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | opts, &err, &eoff, NULL);
  if (!re) return hm_error(HM_ERR_INTERNAL, "lyrics cleaner: regex '%s' does not compile (%d at %zu)", pat, err, (size_t)eoff);
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  hm_status st = md ? HM_OK : hm_error(HM_ERR_NOMEM, "lyrics cleaner: out of memory");
  size_t off = 0, copied = 0;
  bool ok = true;
  while (st == HM_OK && ok && off <= n) {
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) { st = hm_error(HM_ERR_INTERNAL, "lyrics cleaner: regex '%s' failed (%d)", pat, rc); break; }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    ok = lyr_put(out, s + copied, ov[0] - copied);
    if (fn) st = fn(ud, s, ov, out);
    else ok = ok && lyr_puts(out, repl);
    copied = ov[1];
    if (ov[1] == ov[0]) { /* an empty match: step over one character */
      if (ov[1] >= n) break;
      uint32_t cp;
      size_t l = hm_utf8_next((const unsigned char *)s, n, ov[1], &cp);
      off = ov[1] + (l ? l : 1);
    } else off = ov[1];
  }
  if (st == HM_OK && ok) ok = lyr_put(out, s + copied, n - copied);
  if (md) pcre2_match_data_free(md);
  pcre2_code_free(re);
  if (st == HM_OK && !ok) st = hm_error(HM_ERR_NOMEM, "lyrics cleaner: out of memory");
  return st;
}

/* in place: buf = re.sub(...)(buf) */
static hm_status sub_inplace(lyr_buf *b, const char *pat, uint32_t opts, sub_fn fn, void *ud, const char *repl) {
  lyr_buf o = {0};
  hm_status st = re_sub(pat, opts, b->p ? b->p : "", b->n, fn, ud, repl, &o);
  if (st != HM_OK) { free(o.p); return st; }
  if (!o.p && !lyr_put(&o, "", 0)) return hm_error(HM_ERR_NOMEM, "lyrics cleaner: out of memory");
  free(b->p);
  *b = o;
  return HM_OK;
}

static hm_status drop_char(void *ud, const char *s, const PCRE2_SIZE *ov, lyr_buf *out) {
  char c = *(const char *)ud;
  for (size_t i = ov[0]; i < ov[1]; i++)
    if (s[i] != c && !lyr_put(out, s + i, 1)) return hm_error(HM_ERR_NOMEM, "lyrics cleaner: out of memory");
  return HM_OK;
}

static hm_status currency_fn(void *ud, const char *s, const PCRE2_SIZE *ov, lyr_buf *out) {
  /* float(re.sub(r"[^\d.]", "", m.replace(",", "."))) */
  char num[512];
  size_t k = 0;
  int dots = 0, digits = 0;
  for (size_t i = ov[0]; i < ov[1] && k + 1 < sizeof num; i++) {
    char c = s[i] == ',' ? '.' : s[i];
    if (c == '.') dots++;
    else if (c >= '0' && c <= '9') digits++;
    else continue;
    num[k++] = c;
  }
  num[k] = 0;
  if (dots > 1 || !digits || k + 1 >= sizeof num)
    return hm_error(HM_ERR_FORMAT, "could not convert string to float: '%s'", num);
  return lyr_n2w_en_currency(strtod(num, NULL), (const char *)ud, out);
}
static hm_status decimal_fn(void *ud, const char *s, const PCRE2_SIZE *ov, lyr_buf *out) {
  (void)ud;
  char *t = malloc(ov[1] - ov[0] + 1);
  if (!t) return hm_error(HM_ERR_NOMEM, "lyrics cleaner: out of memory");
  for (size_t i = ov[0]; i < ov[1]; i++) t[i - ov[0]] = s[i] == ',' ? '.' : s[i];
  hm_status st = lyr_n2w_en_float(t, ov[1] - ov[0], out);
  free(t);
  return st;
}
static hm_status ordinal_fn(void *ud, const char *s, const PCRE2_SIZE *ov, lyr_buf *out) {
  (void)ud;
  return lyr_n2w_en_ordinal(s + ov[2], ov[3] - ov[2], out);
}
static hm_status cardinal_fn(void *ud, const char *s, const PCRE2_SIZE *ov, lyr_buf *out) {
  (void)ud;
  return lyr_n2w_en_cardinal(s + ov[0], ov[1] - ov[0], out);
}

static bool has_ascii_digit(const lyr_buf *b) {
  for (size_t i = 0; i < b->n; i++)
    if (b->p[i] >= '0' && b->p[i] <= '9') return true;
  return false;
}

static hm_status copy_buf(lyr_buf *dst, const lyr_buf *src) {
  memset(dst, 0, sizeof *dst);
  return lyr_put(dst, src->p ? src->p : "", src->n) ? HM_OK : hm_error(HM_ERR_NOMEM, "lyrics cleaner: out of memory");
}

/* expand_numbers_multilingual inside multilingual_cleaners' try/except: on any exception the
 * text stays as it was. */
static hm_status expand_numbers(lyr_buf *text, const char *lang) {
  lyr_buf t;
  HM_TRY(copy_buf(&t, text));
  char comma = ',', dot = '.';
  hm_status st;
  if (!strcmp(lang, "en") || !strcmp(lang, "ru")) st = sub_inplace(&t, "\\b\\d{1,3}(,\\d{3})*(\\.\\d+)?\\b", 0, drop_char, &comma, NULL);
  else st = sub_inplace(&t, "\\b\\d{1,3}(.\\d{3})*(\\,\\d+)?\\b", 0, drop_char, &dot, NULL);
  if (st != HM_OK) { free(t.p); return st; }
  if (!has_ascii_digit(&t)) { /* no num2words call can happen */
    free(text->p);
    *text = t;
    return HM_OK;
  }
  if (!strcmp(lang, "cs")) { free(t.p); return HM_OK; } /* num2words(lang='cz') raises: step dropped */
  if (strcmp(lang, "en")) {
    free(t.p);
    return hm_error(HM_ERR_UNSUPPORTED,
                    "number expansion for language '%s' is not implemented yet (num2words is ported for en only): "
                    "write the numbers of this line in words", lang);
  }
  /* currency: one try/except around the three substitutions */
  static const char *const cur_pat[3][2] = {
    {"((£[0-9\\.\\,]*[0-9]+)|([0-9\\.\\,]*[0-9]+£))", "GBP"},
    {"((\\$[0-9\\.\\,]*[0-9]+)|([0-9\\.\\,]*[0-9]+\\$))", "USD"},
    {"(([0-9\\.\\,]*[0-9]+€)|((€[0-9\\.\\,]*[0-9]+)))", "EUR"},
  };
  for (int i = 0; i < 3; i++) {
    st = sub_inplace(&t, cur_pat[i][0], 0, currency_fn, (void *)cur_pat[i][1], NULL);
    if (st == HM_ERR_NOMEM) { free(t.p); return st; }
    if (st != HM_OK) break; /* the remaining currencies are skipped */
  }
  st = sub_inplace(&t, "([0-9]+[.,][0-9]+)", 0, decimal_fn, NULL, NULL);
  if (st == HM_OK) st = sub_inplace(&t, "([0-9]+)(st|nd|rd|th)", 0, ordinal_fn, NULL, NULL);
  if (st == HM_OK) st = sub_inplace(&t, "[0-9]+", 0, cardinal_fn, NULL, NULL);
  if (st == HM_ERR_NOMEM) { free(t.p); return st; }
  if (st != HM_OK) { free(t.p); return HM_OK; } /* the whole step is dropped */
  free(text->p);
  *text = t;
  return HM_OK;
}

static hm_status expand_abbreviations(lyr_buf *t, const lang_table *tb) {
  bool ru = !strcmp(tb->lang, "ru");
  for (int i = 0; i < 20 && tb->abbr[i].from; i++) {
    char pat[128];
    snprintf(pat, sizeof pat, ru ? "\\b%s\\b" : "\\b%s\\.", tb->abbr[i].from);
    HM_TRY(sub_inplace(t, pat, PCRE2_CASELESS, NULL, NULL, tb->abbr[i].to));
  }
  return HM_OK;
}

/* s.replace(a, b): non-overlapping, left to right */
static hm_status replace_all(lyr_buf *t, const char *a, const char *b) {
  size_t la = strlen(a);
  lyr_buf o = {0};
  bool ok = true;
  size_t i = 0;
  while (ok && i < t->n) {
    if (i + la <= t->n && !memcmp(t->p + i, a, la)) { ok = lyr_puts(&o, b); i += la; }
    else { ok = lyr_put(&o, t->p + i, 1); i++; }
  }
  if (ok && !o.p) ok = lyr_put(&o, "", 0);
  if (!ok) { free(o.p); return hm_error(HM_ERR_NOMEM, "lyrics cleaner: out of memory"); }
  free(t->p);
  *t = o;
  return HM_OK;
}

/* str.strip() */
static void py_strip(lyr_buf *t) {
  size_t a = 0, b = t->n;
  uint32_t cp;
  while (a < b) {
    size_t k = hm_utf8_next((const unsigned char *)t->p, b, a, &cp);
    if (!k || !lyr_py_space(cp)) break;
    a += k;
  }
  while (b > a) {
    size_t j = b - 1;
    while (j > a && ((unsigned char)t->p[j] & 0xC0) == 0x80) j--;
    size_t k = hm_utf8_next((const unsigned char *)t->p, b, j, &cp);
    if (!k || !lyr_py_space(cp)) break;
    b = j;
  }
  memmove(t->p, t->p + a, b - a);
  t->n = b - a;
  t->p[t->n] = 0;
}

static hm_status expand_symbols(lyr_buf *t, const lang_table *tb) {
  for (int i = 0; i < 7; i++) {
    HM_TRY(replace_all(t, tb->sym[i].from, tb->sym[i].to));
    HM_TRY(replace_all(t, "  ", " "));
  }
  py_strip(t);
  return HM_OK;
}

/* re.sub(r"\s+", " ", text) */
static void collapse_ws(lyr_buf *t) {
  size_t w = 0;
  bool in_ws = false;
  for (size_t i = 0; i < t->n;) {
    uint32_t cp;
    size_t k = hm_utf8_next((const unsigned char *)t->p, t->n, i, &cp);
    if (!k) k = 1;
    if (lyr_py_space(cp)) {
      if (!in_ws) t->p[w++] = ' ';
      in_ws = true;
    } else {
      memmove(t->p + w, t->p + i, k);
      w += k;
      in_ws = false;
    }
    i += k;
  }
  t->n = w;
  if (t->p) t->p[w] = 0;
}

static hm_status lower_buf(lyr_buf *t) {
  char *lo;
  size_t ln;
  HM_TRY(hm_utf8_lower(t->p ? t->p : "", t->n, &lo, &ln));
  free(t->p);
  t->p = lo;
  t->n = ln;
  t->cap = ln + 1;
  return HM_OK;
}

hm_status lyr_preprocess(const char *txt, size_t len, const char *lang, char **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  lyr_buf t = {0};
  if (!lyr_put(&t, txt, len)) return hm_error(HM_ERR_NOMEM, "lyrics cleaner: out of memory");
  hm_status st = HM_OK;
  const lang_table *tb = table_of(lang);
  if (!strcmp(lang, "hi")) { /* basic_cleaners */
    st = lower_buf(&t);
    if (st == HM_OK) collapse_ws(&t);
  } else if (!tb || !strcmp(lang, "zh") || !strcmp(lang, "ko")) {
    st = hm_error(HM_ERR_UNSUPPORTED, "lyrics: language '%s' is not supported by the cleaners", lang);
  } else { /* multilingual_cleaners */
    st = replace_all(&t, "\"", "");
    if (st == HM_OK && !strcmp(lang, "tr")) {
      st = replace_all(&t, "İ", "i");
      if (st == HM_OK) st = replace_all(&t, "Ö", "ö");
      if (st == HM_OK) st = replace_all(&t, "Ü", "ü");
    }
    if (st == HM_OK) st = lower_buf(&t);
    if (st == HM_OK) st = expand_numbers(&t, lang);
    if (st == HM_OK) st = expand_abbreviations(&t, tb);
    if (st == HM_OK) st = expand_symbols(&t, tb);
    if (st == HM_OK) collapse_ws(&t);
  }
  if (st != HM_OK) { free(t.p); return st; }
  if (!t.p && !lyr_put(&t, "", 0)) return hm_error(HM_ERR_NOMEM, "lyrics cleaner: out of memory");
  *out = t.p;
  *out_len = t.n;
  return HM_OK;
}
