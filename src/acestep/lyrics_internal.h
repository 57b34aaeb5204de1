/* src/acestep internals of the lyric tokenizer (not an API):
 *   lyrics.c         vocab lookup, VoiceBpeTokenizer.encode, tokenize_lyrics' layout
 *   lyrics_clean.c   upstream's cleaners (multilingual_cleaners, basic_cleaners) with
 *                    Python's str/re semantics
 *   num2words_en.c   num2words 0.5.14's English cardinals, ordinals, floats, currency */
#ifndef HM_ACESTEP_LYRICS_INTERNAL_H
#define HM_ACESTEP_LYRICS_INTERNAL_H
#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A growable NUL-terminated byte string; p is NULL until something is appended. */
typedef struct { char *p; size_t n, cap; } lyr_buf;
bool lyr_put(lyr_buf *b, const char *s, size_t n);
static inline bool lyr_puts(lyr_buf *b, const char *s) { return lyr_put(b, s, strlen(s)); }

/* Python str.isspace() (also what re's Unicode \s matches). */
bool lyr_py_space(uint32_t c);

/* num2words(int(digits), lang='en') and num2words(..., ordinal=True): digits is a run of
 * ASCII digits (leading zeros allowed). HM_ERR_UNSUPPORTED when the value is >= 10**306
 * (num2words' OverflowError). Appends to out. */
hm_status lyr_n2w_en_cardinal(const char *digits, size_t n, lyr_buf *out);
hm_status lyr_n2w_en_ordinal(const char *digits, size_t n, lyr_buf *out);
/* num2words(float(text), lang='en'); text is "[0-9]+.[0-9]+". */
hm_status lyr_n2w_en_float(const char *text, size_t n, lyr_buf *out);
/* num2words(amount, to='currency', currency=cur, lang='en') for a float amount, then
 * upstream's cut at the last ", " when the amount is integral. cur: "USD", "GBP", "EUR". */
hm_status lyr_n2w_en_currency(double amount, const char *cur, lyr_buf *out);

/* upstream's preprocess_text(txt, lang) for the languages that need no romaniser; the
 * caller has rejected zh/ja/ko. *out malloc'ed. Errors name lang. */
hm_status lyr_preprocess(const char *txt, size_t len, const char *lang, char **out, size_t *out_len);
#endif
