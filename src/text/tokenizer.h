/* src/text: BPE tokenizer (byte-level or character-level) read from a Hugging Face tokenizer.json
 * (Llama 3 for HeartMuLa, Whisper for HeartTranscriptor).
 *
 * Supported tokenizer.json features: model BPE (vocab, merges as "a b" strings
 * or ["a","b"] pairs, ignore_merges, byte_fallback, empty
 * continuing_subword_prefix / end_of_word_suffix), added_tokens (matched in the
 * raw text before pre-tokenization, leftmost-longest, as HF does), normalizer
 * null, pre_tokenizer ByteLevel (use_regex / add_prefix_space) or a Sequence of
 * Split (Regex or String pattern) + ByteLevel, post_processor TemplateProcessing
 * / ByteLevel / Sequence of them, decoder ByteLevel (or null).
 *
 * Without a ByteLevel step the model is character-level (the XTTS-style lyric
 * vocab of ACE-Step): pre-tokens are split into Unicode characters, each looked
 * up by its UTF-8 spelling ([UNK] for a missing one), then merged; pre_tokenizer
 * Whitespace (Rust `\w+|[^\w\s]+`, Unicode classes, white space dropped) and
 * Split are available there. Decoding then concatenates the spellings (HF joins
 * them with spaces when there is no decoder).
 *
 * A loaded hm_tokenizer is immutable: it may be shared by threads. */
#ifndef HM_TEXT_TOKENIZER_H
#define HM_TEXT_TOKENIZER_H
#include "base/base.h"

typedef struct hm_tokenizer hm_tokenizer;

/* Loads a tokenizer.json. Errors name the file and the field at fault (missing
 * file, malformed JSON, unsupported model / pre-tokenizer type, merge entries
 * whose tokens are not in the vocab). */
hm_status hm_tokenizer_load(const char *path, hm_tokenizer **out);
/* The same from a JSON text in memory (name is used in error messages). */
hm_status hm_tokenizer_load_json(const char *json_text, size_t len, const char *name, hm_tokenizer **out);
void hm_tokenizer_free(hm_tokenizer *tok);

/* Encodes len bytes of UTF-8 text. add_special applies the post-processor's
 * template (Llama 3: <|begin_of_text|> first; Whisper: sot, notimestamps ... eot),
 * as HF's encode(text, add_special_tokens=True) does. *ids is malloc'ed (free()
 * it; may be NULL when *n_ids is 0). Invalid UTF-8 is an error naming the byte
 * offset. */
hm_status hm_tokenizer_encode(const hm_tokenizer *tok, const char *text, size_t len, bool add_special,
                              int32_t **ids, int64_t *n_ids);
/* Decodes ids back to the exact bytes (NUL-terminated, malloc'ed; *len without
 * the NUL). skip_special drops added tokens marked "special". Out-of-range ids
 * are an error naming the position. The bytes are not guaranteed to be valid
 * UTF-8 when ids cut a character in the middle. */
hm_status hm_tokenizer_decode(const hm_tokenizer *tok, const int32_t *ids, int64_t n, bool skip_special,
                              char **text, size_t *len);

/* Id of a token string as written in tokenizer.json (vocab entry such as "Ġthe",
 * or added token such as "<|end_of_text|>"); -1 if absent. */
int32_t hm_tokenizer_token_id(const hm_tokenizer *tok, const char *token);
/* Token string of an id as written in tokenizer.json; NULL if the id is unused. */
const char *hm_tokenizer_token_str(const hm_tokenizer *tok, int32_t id);
/* The raw bytes an id decodes to (not NUL-terminated); NULL if the id is unused. */
const char *hm_tokenizer_token_bytes(const hm_tokenizer *tok, int32_t id, size_t *len);
/* 1 + the largest id (vocab and added tokens), as HF get_vocab_size(True). */
int64_t hm_tokenizer_vocab_size(const hm_tokenizer *tok);
/* True for added tokens marked "special": true. */
bool hm_tokenizer_is_special(const hm_tokenizer *tok, int32_t id);


/* ---- UTF-8 helpers (used by the prompt builder, exposed for others) ---- */
/* True if s[0..len) is valid UTF-8 (no surrogates, no overlongs, <= U+10FFFF);
 * else *bad_offset (may be NULL) = byte offset of the first invalid sequence. */
bool hm_utf8_valid(const char *s, size_t len, size_t *bad_offset);
/* Python str.lower() on UTF-8 text: full Unicode lowercasing (U+0130 -> "i\u0307",
 * final sigma). *out malloc'ed, NUL-terminated. Invalid UTF-8: error with offset. */
hm_status hm_utf8_lower(const char *s, size_t len, char **out, size_t *out_len);

#endif
