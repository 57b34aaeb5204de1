/* src/text: the Unigram (sentencepiece-style) tokenizer read from a Hugging Face
 * tokenizer.json, as the T5 / umT5 fast tokenizers ship it (ACE-Step's UMT5 prompt
 * encoder; any model with such a file).
 *
 * What it runs, in HF's order:
 *   1. added tokens cut out of the raw text (leftmost, then longest);
 *   2. each other segment normalised: normalizer null, Precompiled (sentencepiece's
 *      precompiled_charsmap: HF applies it per extended grapheme cluster of < 6 bytes,
 *      else per code point, taking the FIRST prefix match of the trie as HF does),
 *      Strip, Replace (String or Regex pattern) or a Sequence of them;
 *   3. pre-tokenised: WhitespaceSplit and/or Metaspace (replacement, legacy
 *      add_prefix_space or prepend_scheme always/first/never, split), alone or in a Sequence;
 *   4. each word: Viterbi over the piece scores (f64 sums, first-found wins on ties, as
 *      HF's encode_optimized); a character no piece covers is an unk node scored
 *      min_score - 10; runs of unk nodes are fused into one unk id;
 *   5. truncation of the body to max_length minus the template's special tokens, then
 *      the post-processor's TemplateProcessing ("$A </s>" for T5: no BOS).
 * A loaded hm_unigram is immutable: threads may share it. */
#ifndef HM_TEXT_UNIGRAM_H
#define HM_TEXT_UNIGRAM_H
#include "base/base.h"

typedef struct hm_unigram hm_unigram;

/* Errors name the file and the field (model.type not Unigram, byte_fallback, an
 * unsupported normalizer / pre_tokenizer type, a malformed precompiled_charsmap). */
hm_status hm_unigram_load(const char *path, hm_unigram **out);
void hm_unigram_free(hm_unigram *t);

/* Encodes len bytes of UTF-8. add_special: the post-processor's template. max_length > 0:
 * HF's truncation (longest_first, right) to max_length ids including the template's ids.
 * *ids malloc'ed (free()); *n_ids may be 0 only when add_special is false. */
hm_status hm_unigram_encode(const hm_unigram *t, const char *text, size_t len, bool add_special, int max_length,
                            int32_t **ids, int64_t *n_ids);

/* 1 + the largest id (pieces and added tokens). */
int64_t hm_unigram_vocab_size(const hm_unigram *t);
/* Id of a piece or added token as spelled in tokenizer.json; -1 if absent. */
int32_t hm_unigram_token_id(const hm_unigram *t, const char *token);
/* Spelling of an id; NULL if unused. */
const char *hm_unigram_token_str(const hm_unigram *t, int32_t id);
/* The pad id (the added token "<pad>", else 0) used to pad batches. */
int32_t hm_unigram_pad_id(const hm_unigram *t);

#endif
