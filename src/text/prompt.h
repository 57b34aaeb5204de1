/* src/text: HeartMuLa prompt rows, exactly as heartlib's
 * pipelines/music_generation.py HeartMuLaGenPipeline.preprocess builds them:
 *   tags:   Python str.lower(); "<tag>" prepended unless it starts with it, "</tag>"
 *           appended unless it ends with it; encode (add_special = true, so the
 *           post-processor's bos comes first); bos prepended if ids[0] != bos,
 *           eos appended if ids[-1] != eos.
 *   lyrics: the same without the <tag> wrapping.
 *   rows:   [tags_ids | one muq slot row | lyrics_ids], n_cols = n_codebooks + 1
 *           columns; the text id in the last column, every other entry 0
 *           (upstream uses torch.zeros); mask true in the last column of every
 *           row (the muq slot row included), false elsewhere; muq_idx =
 *           len(tags_ids). CFG duplication is the LM's business. */
#ifndef HM_TEXT_PROMPT_H
#define HM_TEXT_PROMPT_H
#include "text/tokenizer.h"

typedef struct hm_prompt_params {
  int32_t text_bos_id;  /* 128000 (gen_config.json text_bos_id) */
  int32_t text_eos_id;  /* 128001 (gen_config.json text_eos_id) */
  int n_codebooks;      /* 8: rows have n_codebooks + 1 columns */
} hm_prompt_params;
hm_prompt_params hm_prompt_default_params(void);
/* Sets text_bos_id / text_eos_id from a checkpoint's gen_config.json (other
 * fields untouched); errors name the file and the key. */
hm_status hm_prompt_params_load(const char *gen_config_path, hm_prompt_params *params);

typedef struct hm_prompt {
  int64_t n_rows;       /* n_tags + 1 + n_lyrics */
  int n_cols;           /* n_codebooks + 1 */
  int32_t *tokens;      /* [n_rows, n_cols] row-major */
  uint8_t *mask;        /* [n_rows, n_cols] 0/1 */
  int64_t muq_idx;      /* row of the muq slot (= n_tags) */
  int32_t *tags_ids;    /* [n_tags] with bos/eos */
  int64_t n_tags;
  int32_t *lyrics_ids;  /* [n_lyrics] with bos/eos */
  int64_t n_lyrics;
} hm_prompt;

/* tags and lyrics are NUL-terminated UTF-8 text, used as given: a string that
 * names a file is not opened (upstream's pipeline reads such a file; here the
 * CLI does that, with hm_text_file_read, so a library caller passing user text
 * never leaks a file into the prompt).
 * Invalid UTF-8 is an error naming "tags" or "lyrics" and the byte offset.
 * Free the result with hm_prompt_free (safe on a zeroed struct). */
hm_status hm_prompt_build(const hm_tokenizer *tok, const char *tags, const char *lyrics,
                          const hm_prompt_params *params, hm_prompt *out);
void hm_prompt_free(hm_prompt *p);

/* A tags / lyrics file as upstream reads it (Python open(..., encoding="utf-8")
 * .read()): invalid UTF-8 is an error naming `what` ("tags" / "lyrics"), the
 * file and the byte offset; "\r\n" and "\r" become "\n". *out is malloc'ed and
 * NUL-terminated, *len excludes the NUL. */
hm_status hm_text_file_read(const char *path, const char *what, char **out, size_t *len);

#endif
