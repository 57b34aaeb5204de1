/* src/text internals shared by its .c files (not part of the API). */
#ifndef HM_TEXT_INTERNAL_H
#define HM_TEXT_INTERNAL_H
#include "base/base.h"

/* One code point at s[i..len): its byte length, 0 if the sequence is invalid. */
size_t hm_utf8_next(const unsigned char *s, size_t len, size_t i, uint32_t *cp);
/* Writes cp as UTF-8 (1..4 bytes); returns the length. */
size_t hm_utf8_put(char *out, uint32_t cp);

/* The Llama 3 pre-tokenizer regex and the GPT-2 one (HF ByteLevel use_regex). */
extern const char hm_llama3_regex[];
extern const char hm_gpt2_regex[];
/* GPT-2 bytes_to_unicode: the code point byte b is written as. */
uint32_t hm_byte_to_cp(unsigned b);
#endif
