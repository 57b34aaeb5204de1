/* src/acestep: ACE-Step v1's lyric tokenizer, as ACEStepPipeline.tokenize_lyrics runs it
 * (acestep/pipeline_ace_step.py and acestep/models/lyrics_utils/lyric_tokenizer.py at
 * d612523): upstream's cleaners, the "[lang]" prefix, spaces as [SPACE], then the
 * XTTS-style character-level BPE of vocab.json through the project's hm_tokenizer.
 *
 * Layout of tokenize_lyrics: [START]=261, then per line of lyrics.split("\n"): the line is
 * str.strip()ped; an empty line gives [SPACE]=2; else the line's ids followed by 2. A line
 * that starts with "[" and has a "]" later (a structure tag) is encoded as English whatever
 * its language.
 *
 * Language per non-empty line: upstream detects it with py3langid; here it is given:
 * hm_lyrics_opts.line_langs (get_lang's results, as the fixtures hold them), else a "[xx]"
 * prefix on the line (with lang_prefix; xx a supported code, removed from the line), else
 * default_lang ("en"). A code outside upstream's SUPPORT_LANGUAGES becomes "en", as upstream
 * does.
 *
 * Not ported yet (clear HM_ERR_UNSUPPORTED errors naming the line): zh / ja / ko lines (their
 * romanisers pypinyin, cutlet, hangul-romanize), and any line holding Han, kana or hangul
 * characters; number expansion (num2words) in languages other than en and cs when the line
 * still holds an ASCII digit. Upstream silently drops a line whose encoding raises; here
 * such a line is an error. */
#ifndef HM_ACESTEP_LYRICS_H
#define HM_ACESTEP_LYRICS_H
#include "base/base.h"
#include "text/tokenizer.h"

enum {
  HM_LYRICS_START_ID = 261, /* [START] */
  HM_LYRICS_SPACE_ID = 2,   /* [SPACE]: spaces, end of line, empty line */
  HM_LYRICS_NO_LYRICS_ID = 0, /* the pipeline's input when the lyrics are empty: ids [0], mask [0] */
  HM_LYRICS_VOCAB_SIZE = 6693 /* with the 33 added tokens; the DiT's lyric embedding rows */
};

typedef struct hm_lyrics hm_lyrics;

/* The lyric vocabulary's path: explicit (must exist) or <model_dir>/vocab.json. The vocab
 * ships with upstream's Python package (acestep/models/lyrics_utils/vocab.json), not with the
 * checkpoint; the error says so. Either argument may be NULL. */
hm_status hm_lyrics_vocab_path(const char *model_dir, const char *explicit_path, char *out, size_t cap);
/* Loads vocab.json (a tokenizers JSON: character-level BPE, Whitespace pre-tokenizer, 33
 * added tokens) and checks the ids the pipeline uses by number. */
hm_status hm_lyrics_load(const char *vocab_path, hm_lyrics **out);
void hm_lyrics_free(hm_lyrics *lx);
const hm_tokenizer *hm_lyrics_tokenizer(const hm_lyrics *lx);

/* True for upstream's SUPPORT_LANGUAGES (en de fr es it pt pl tr ru cs nl ar zh ja hu ko hi). */
bool hm_lyrics_lang_supported(const char *lang);

/* VoiceBpeTokenizer.preprocess_text(text, lang) (the cleaners): *out malloc'ed, NUL-terminated. */
hm_status hm_lyrics_clean(const char *text, size_t len, const char *lang, char **out, size_t *out_len);
/* VoiceBpeTokenizer.encode(line, lang): clean, "[lang]" prefix (zh: "[zh-cn]"), ' ' -> "[SPACE]",
 * BPE. *ids malloc'ed. */
hm_status hm_lyrics_encode_line(const hm_lyrics *lx, const char *line, size_t len, const char *lang, int32_t **ids,
                                int64_t *n);

typedef struct hm_lyrics_opts {
  const char *default_lang;        /* NULL: "en"; must be a supported code */
  const char *const *line_langs;   /* NULL, or the language of each non-empty line, in order */
  int64_t n_line_langs;
  bool lang_prefix;                /* read a "[xx]" language prefix at the start of a line */
} hm_lyrics_opts;

/* tokenize_lyrics(lyrics). Empty lyrics (len 0) are an error naming `lyrics`: the pipeline
 * does not tokenize them, it gives the DiT [HM_LYRICS_NO_LYRICS_ID] with mask [0]. opts may
 * be NULL. *ids malloc'ed. */
hm_status hm_lyrics_tokenize(const hm_lyrics *lx, const char *lyrics, size_t len, const hm_lyrics_opts *opts,
                             int32_t **ids, int64_t *n);
#endif
