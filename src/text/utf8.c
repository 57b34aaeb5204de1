/* UTF-8 validation and Python-compatible lowercasing (str.lower()). */
#include "text/tokenizer.h"
#include "text/text_internal.h"

#include <stdlib.h>
#include <utf8proc.h>

/* Decodes one code point at s[i..len); returns its byte length, 0 if invalid. */
size_t hm_utf8_next(const unsigned char *s, size_t len, size_t i, uint32_t *cp) {
  unsigned char c = s[i];
  if (c < 0x80) { *cp = c; return 1; }
  size_t n;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; v = c & 0x1F; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; v = c & 0x0F; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; v = c & 0x07; min = 0x10000; }
  else return 0;
  if (i + n > len) return 0;
  for (size_t k = 1; k < n; k++) {
    unsigned char d = s[i + k];
    if ((d & 0xC0) != 0x80) return 0;
    v = (v << 6) | (d & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

size_t hm_utf8_put(char *out, uint32_t cp) {
  unsigned char *o = (unsigned char *)out;
  if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
  if (cp < 0x800) { o[0] = (unsigned char)(0xC0 | (cp >> 6)); o[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | (cp >> 12)); o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp & 0x3F)); return 3;
  }
  o[0] = (unsigned char)(0xF0 | (cp >> 18)); o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

bool hm_utf8_valid(const char *s, size_t len, size_t *bad_offset) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    if (u[i] < 0x80) { i++; continue; }
    uint32_t cp;
    size_t n = hm_utf8_next(u, len, i, &cp);
    if (!n) { if (bad_offset) *bad_offset = i; return false; }
    i += n;
  }
  return true;
}

/* Unicode "Cased" (Lowercase or Uppercase or Lt): the general categories plus
 * the Other_Lowercase / Other_Uppercase ranges. */
static bool is_cased(uint32_t c) {
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  if (k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT) return true;
  static const uint32_t other[][2] = {
    {0x00AA, 0x00AA}, {0x00BA, 0x00BA}, {0x02B0, 0x02B8}, {0x02C0, 0x02C1}, {0x02E0, 0x02E4},
    {0x0345, 0x0345}, {0x037A, 0x037A}, {0x1D2C, 0x1D6A}, {0x1D78, 0x1D78}, {0x1D9B, 0x1DBF},
    {0x2071, 0x2071}, {0x207F, 0x207F}, {0x2090, 0x209C}, {0x2160, 0x217F}, {0x24B6, 0x24E9},
    {0x2C7C, 0x2C7D}, {0xA69C, 0xA69D}, {0xA770, 0xA770}, {0xA7F8, 0xA7F9}, {0xAB5C, 0xAB5F},
    {0x1F130, 0x1F149}, {0x1F150, 0x1F169}, {0x1F170, 0x1F189},
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
    if (c >= other[i][0] && c <= other[i][1]) return true;
  return false;
}

/* Unicode "Case_Ignorable": Mn, Me, Cf, Lm, Sk, and Word_Break MidLetter /
 * MidNumLet / Single_Quote. */
static bool is_case_ignorable(uint32_t c) {
  utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
  if (k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
      k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK)
    return true;
  static const uint32_t wb[] = {0x0027, 0x002E, 0x003A, 0x00B7, 0x0387, 0x055F, 0x05F4, 0x2018, 0x2019,
                                0x2024, 0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
  for (size_t i = 0; i < sizeof wb / sizeof wb[0]; i++)
    if (c == wb[i]) return true;
  return false;
}

/* CPython's handle_capital_sigma: U+03A3 becomes final sigma when preceded by a
 * cased letter (skipping case-ignorables) and not followed by one. */
static bool final_sigma(const uint32_t *cps, size_t n, size_t i) {
  size_t j = i;
  uint32_t c = 0;
  bool found = false;
  while (j > 0) {
    c = cps[--j];
    if (!is_case_ignorable(c)) { found = true; break; }
  }
  if (!found || !is_cased(c)) return false;
  for (j = i + 1; j < n; j++) {
    c = cps[j];
    if (!is_case_ignorable(c)) return !is_cased(c);
  }
  return true;
}

hm_status hm_utf8_lower(const char *s, size_t len, char **out, size_t *out_len) {
  *out = NULL;
  if (out_len) *out_len = 0;
  size_t bad;
  if (!hm_utf8_valid(s, len, &bad))
    return hm_error(HM_ERR_INVALID_ARG, "invalid UTF-8 at byte offset %zu", bad);
  const unsigned char *u = (const unsigned char *)s;
  uint32_t *cps = malloc((len + 1) * sizeof *cps);
  /* worst case: every code point grows to 4 bytes, U+0130 to 3 bytes from 2 */
  char *o = malloc(len * 4 + 8);
  if (!cps || !o) { free(cps); free(o); return hm_error(HM_ERR_NOMEM, "out of memory lowercasing %zu bytes", len); }
  size_t n = 0;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    i += hm_utf8_next(u, len, i, &cp);
    cps[n++] = cp;
  }
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t c = cps[i];
    if (c == 0x130) { /* SpecialCasing: LATIN CAPITAL LETTER I WITH DOT ABOVE -> i + combining dot */
      w += hm_utf8_put(o + w, 0x69);
      w += hm_utf8_put(o + w, 0x307);
    } else if (c == 0x3A3) {
      w += hm_utf8_put(o + w, final_sigma(cps, n, i) ? 0x3C2 : 0x3C3);
    } else {
      w += hm_utf8_put(o + w, c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c)
                                       : (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
    }
  }
  o[w] = 0;
  free(cps);
  *out = o;
  if (out_len) *out_len = w;
  return HM_OK;
}
