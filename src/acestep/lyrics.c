/* ACE-Step v1's lyric tokenizer: the vocab lookup, VoiceBpeTokenizer.encode and
 * ACEStepPipeline.tokenize_lyrics' layout (see lyrics.h). The cleaners are in
 * lyrics_clean.c, English num2words in num2words_en.c. */
#include "acestep/lyrics.h"
#include "acestep/lyrics_internal.h"
#include "io/fs.h"
#include "text/text_internal.h"

#include <stdio.h>
#include <stdlib.h>

struct hm_lyrics { hm_tokenizer *tok; };

static const char *const k_support[] = {"en", "de", "fr", "es", "it", "pt", "pl", "tr", "ru",
                                        "cs", "nl", "ar", "zh", "ja", "hu", "ko", "hi"};

bool hm_lyrics_lang_supported(const char *lang) {
  for (size_t i = 0; lang && i < sizeof k_support / sizeof k_support[0]; i++)
    if (!strcmp(k_support[i], lang)) return true;
  return false;
}

#define VOCAB_ORIGIN                                                                                     \
  "the lyric vocabulary is not part of the ACE-Step checkpoint: it ships with upstream's Python package " \
  "(acestep/models/lyrics_utils/vocab.json in github.com/ace-step/ACE-Step, 364005 bytes); copy it into "  \
  "the model folder or give its path (--lyric-vocab PATH)"

hm_status hm_lyrics_vocab_path(const char *model_dir, const char *explicit_path, char *out, size_t cap) {
  if (!out || !cap) return hm_error(HM_ERR_INVALID_ARG, "hm_lyrics_vocab_path: no output buffer");
  out[0] = 0;
  if (explicit_path && *explicit_path) {
    if (!hm_file_exists(explicit_path))
      return hm_error(HM_ERR_IO, "lyric vocab '%s': no such file (%s)", explicit_path, VOCAB_ORIGIN);
    if ((size_t)snprintf(out, cap, "%s", explicit_path) >= cap) return hm_error(HM_ERR_INVALID_ARG, "lyric vocab path is too long");
    return HM_OK;
  }
  if (!model_dir || !*model_dir) return hm_error(HM_ERR_INVALID_ARG, "no lyric vocab given and no model folder (%s)", VOCAB_ORIGIN);
  HM_TRY(hm_path_join(out, cap, model_dir, "vocab.json"));
  if (!hm_file_exists(out)) {
    hm_status st = hm_error(HM_ERR_IO, "lyric vocab '%s': no such file (%s)", out, VOCAB_ORIGIN);
    out[0] = 0;
    return st;
  }
  return HM_OK;
}

hm_status hm_lyrics_load(const char *vocab_path, hm_lyrics **out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_lyrics_load: out is NULL");
  *out = NULL;
  if (!vocab_path) return hm_error(HM_ERR_INVALID_ARG, "hm_lyrics_load: no vocab path (%s)", VOCAB_ORIGIN);
  if (!hm_file_exists(vocab_path)) return hm_error(HM_ERR_IO, "lyric vocab '%s': no such file (%s)", vocab_path, VOCAB_ORIGIN);
  hm_lyrics *lx = calloc(1, sizeof *lx);
  if (!lx) return hm_error(HM_ERR_NOMEM, "lyric vocab: out of memory");
  hm_status st = hm_tokenizer_load(vocab_path, &lx->tok);
  if (st != HM_OK) { free(lx); return st; }
  /* the ids the pipeline uses by number */
  static const struct { const char *tok; int32_t id; } fixed[] = {{"[START]", HM_LYRICS_START_ID}, {"[SPACE]", HM_LYRICS_SPACE_ID},
                                                                  {"[en]", 259}, {"[UNK]", 1}};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    if (hm_tokenizer_token_id(lx->tok, fixed[i].tok) != fixed[i].id) {
      st = hm_error(HM_ERR_FORMAT, "%s: token '%s' must have id %d (upstream's vocab.json), it has %d", vocab_path,
                    fixed[i].tok, (int)fixed[i].id, (int)hm_tokenizer_token_id(lx->tok, fixed[i].tok));
      hm_lyrics_free(lx);
      return st;
    }
  if (hm_tokenizer_vocab_size(lx->tok) > HM_LYRICS_VOCAB_SIZE) {
    st = hm_error(HM_ERR_FORMAT, "%s: %lld ids, more than the DiT's %d lyric embedding rows", vocab_path,
                  (long long)hm_tokenizer_vocab_size(lx->tok), HM_LYRICS_VOCAB_SIZE);
    hm_lyrics_free(lx);
    return st;
  }
  *out = lx;
  return HM_OK;
}

void hm_lyrics_free(hm_lyrics *lx) {
  if (!lx) return;
  hm_tokenizer_free(lx->tok);
  free(lx);
}

const hm_tokenizer *hm_lyrics_tokenizer(const hm_lyrics *lx) { return lx ? lx->tok : NULL; }

hm_status hm_lyrics_clean(const char *text, size_t len, const char *lang, char **out, size_t *out_len) {
  if (!out || !out_len || !lang || (!text && len)) return hm_error(HM_ERR_INVALID_ARG, "hm_lyrics_clean: NULL argument");
  size_t bad;
  if (!hm_utf8_valid(text ? text : "", len, &bad)) return hm_error(HM_ERR_INVALID_ARG, "lyrics: invalid UTF-8 at byte offset %zu", bad);
  char base[16];
  snprintf(base, sizeof base, "%.*s", (int)strcspn(lang, "-"), lang); /* lang.split('-')[0] */
  if (!strcmp(base, "zh") || !strcmp(base, "ja") || !strcmp(base, "ko"))
    return hm_error(HM_ERR_UNSUPPORTED, "lyrics: language '%s' needs upstream's romaniser (%s), which is not implemented yet",
                    base, !strcmp(base, "zh") ? "pypinyin" : !strcmp(base, "ja") ? "cutlet" : "hangul-romanize");
  return lyr_preprocess(text ? text : "", len, base, out, out_len);
}

hm_status hm_lyrics_encode_line(const hm_lyrics *lx, const char *line, size_t len, const char *lang, int32_t **ids,
                                int64_t *n) {
  if (ids) *ids = NULL;
  if (n) *n = 0;
  if (!lx || !ids || !n || !lang) return hm_error(HM_ERR_INVALID_ARG, "hm_lyrics_encode_line: NULL argument");
  char *clean;
  size_t cl;
  HM_TRY(hm_lyrics_clean(line, len, lang, &clean, &cl));
  char base[16];
  snprintf(base, sizeof base, "%.*s", (int)strcspn(lang, "-"), lang);
  lyr_buf b = {0};
  bool ok = lyr_puts(&b, "[") && lyr_puts(&b, strcmp(base, "zh") ? base : "zh-cn") && lyr_puts(&b, "]");
  for (size_t i = 0; ok && i < cl; i++) ok = clean[i] == ' ' ? lyr_puts(&b, "[SPACE]") : lyr_put(&b, clean + i, 1);
  free(clean);
  if (!ok) { free(b.p); return hm_error(HM_ERR_NOMEM, "lyrics: out of memory"); }
  hm_status st = hm_tokenizer_encode(lx->tok, b.p, b.n, false, ids, n);
  free(b.p);
  return st;
}

/* The script of a character no romaniser handles yet, or NULL. */
static const char *cjk_script(uint32_t c) {
  if ((c >= 0x3040 && c <= 0x309F)) return "hiragana";
  if ((c >= 0x30A0 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) || (c >= 0xFF66 && c <= 0xFF9F)) return "katakana";
  if ((c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F) || (c >= 0xA960 && c <= 0xA97F) ||
      (c >= 0xAC00 && c <= 0xD7FF))
    return "hangul";
  if ((c >= 0x2E80 && c <= 0x2FDF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
      (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3FFFF))
    return "Han";
  return NULL;
}

static bool push_ids(int32_t **ids, int64_t *n, int64_t *cap, const int32_t *src, int64_t k) {
  if (*n + k > *cap) {
    int64_t c = *cap ? *cap : 256;
    while (c < *n + k) c *= 2;
    int32_t *p = realloc(*ids, (size_t)c * sizeof *p);
    if (!p) return false;
    *ids = p;
    *cap = c;
  }
  memcpy(*ids + *n, src, (size_t)k * sizeof *src);
  *n += k;
  return true;
}

hm_status hm_lyrics_tokenize(const hm_lyrics *lx, const char *lyrics, size_t len, const hm_lyrics_opts *opts,
                             int32_t **ids_out, int64_t *n_out) {
  if (ids_out) *ids_out = NULL;
  if (n_out) *n_out = 0;
  if (!lx || !ids_out || !n_out || (!lyrics && len)) return hm_error(HM_ERR_INVALID_ARG, "hm_lyrics_tokenize: NULL argument");
  if (len == 0)
    return hm_error(HM_ERR_INVALID_ARG, "lyrics: empty (upstream does not tokenize empty lyrics: the DiT gets id %d with "
                    "mask 0; use \"[inst]\" for an instrumental)", HM_LYRICS_NO_LYRICS_ID);
  size_t bad;
  if (!hm_utf8_valid(lyrics, len, &bad))
    return hm_error(HM_ERR_INVALID_ARG, "lyrics: invalid UTF-8 at byte offset %zu", bad);
  const char *def = opts && opts->default_lang ? opts->default_lang : "en";
  if (!hm_lyrics_lang_supported(def))
    return hm_error(HM_ERR_INVALID_ARG, "lyrics_lang: '%s' is not one of upstream's languages "
                    "(en de fr es it pt pl tr ru cs nl ar zh ja hu ko hi)", def);
  int32_t *ids = NULL;
  int64_t n = 0, cap = 0, k_line = 0;
  hm_status st = HM_OK;
  const int32_t start = HM_LYRICS_START_ID, space = HM_LYRICS_SPACE_ID;
  if (!push_ids(&ids, &n, &cap, &start, 1)) return hm_error(HM_ERR_NOMEM, "lyrics: out of memory");
  size_t pos = 0;
  for (int line_no = 1; st == HM_OK; line_no++) {
    const char *nl = memchr(lyrics + pos, '\n', len - pos);
    size_t end = nl ? (size_t)(nl - lyrics) : len;
    /* str.strip() */
    size_t a = pos, b = end;
    uint32_t cp;
    while (a < b) {
      size_t k = hm_utf8_next((const unsigned char *)lyrics, b, a, &cp);
      if (!k || !lyr_py_space(cp)) break;
      a += k;
    }
    while (b > a) {
      size_t j = b - 1;
      while (j > a && ((unsigned char)lyrics[j] & 0xC0) == 0x80) j--;
      size_t k = hm_utf8_next((const unsigned char *)lyrics, b, j, &cp);
      if (!k || !lyr_py_space(cp)) break;
      b = j;
    }
    char lang[32];
    snprintf(lang, sizeof lang, "%s", def);
    if (a < b && opts && opts->line_langs) {
      if (k_line >= opts->n_line_langs) {
        st = hm_error(HM_ERR_INVALID_ARG, "lyrics line %d: line_langs has %lld entries, fewer than the non-empty lines",
                      line_no, (long long)opts->n_line_langs);
        break;
      }
      snprintf(lang, sizeof lang, "%s", opts->line_langs[k_line] ? opts->line_langs[k_line] : "en");
    } else if (a < b && opts && opts->lang_prefix && lyrics[a] == '[') {
      const char *close = memchr(lyrics + a, ']', b - a);
      size_t cl = close ? (size_t)(close - lyrics - a - 1) : 0;
      char code[32];
      if (close && cl > 0 && cl < sizeof code) {
        memcpy(code, lyrics + a + 1, cl);
        code[cl] = 0;
        if (!strcmp(code, "zh-cn")) code[2] = 0;
        if (hm_lyrics_lang_supported(code)) { /* a language prefix, not a structure tag */
          snprintf(lang, sizeof lang, "%s", code);
          a += cl + 2;
          while (a < b) {
            size_t k = hm_utf8_next((const unsigned char *)lyrics, b, a, &cp);
            if (!k || !lyr_py_space(cp)) break;
            a += k;
          }
        }
      }
    }
    if (a == b) { /* an empty line */
      if (!push_ids(&ids, &n, &cap, &space, 1)) st = hm_error(HM_ERR_NOMEM, "lyrics: out of memory");
    } else {
      k_line++;
      if (!hm_lyrics_lang_supported(lang)) snprintf(lang, sizeof lang, "en");
      if (strstr(lang, "zh")) snprintf(lang, sizeof lang, "zh"); /* upstream's checks, after the one above */
      if (strstr(lang, "spa")) snprintf(lang, sizeof lang, "es");
      /* structure_pattern.match: "[" at the start and a "]" later */
      bool structure = lyrics[a] == '[' && memchr(lyrics + a + 1, ']', b - a - 1) != NULL;
      const char *enc_lang = structure ? "en" : lang;
      for (size_t i = a; i < b && st == HM_OK;) {
        size_t k = hm_utf8_next((const unsigned char *)lyrics, b, i, &cp);
        const char *script = cjk_script(cp);
        if (script)
          st = hm_error(HM_ERR_UNSUPPORTED, "lyrics line %d: %s characters need upstream's romanisers (pypinyin, cutlet, "
                        "hangul-romanize), which are not implemented yet: '%.*s'", line_no, script, (int)(b - a), lyrics + a);
        i += k ? k : 1;
      }
      int32_t *li = NULL;
      int64_t ln = 0;
      if (st == HM_OK) {
        st = hm_lyrics_encode_line(lx, lyrics + a, b - a, enc_lang, &li, &ln);
        if (st != HM_OK) {
          char msg[1024];
          snprintf(msg, sizeof msg, "%s", hm_last_error());
          st = hm_error(st, "lyrics line %d ('%.*s', language %s): %s", line_no, (int)(b - a), lyrics + a, enc_lang, msg);
        }
      }
      if (st == HM_OK && !(push_ids(&ids, &n, &cap, li, ln) && push_ids(&ids, &n, &cap, &space, 1)))
        st = hm_error(HM_ERR_NOMEM, "lyrics: out of memory");
      free(li);
    }
    if (!nl) break;
    pos = end + 1;
  }
  if (st != HM_OK) { free(ids); return st; }
  *ids_out = ids;
  *n_out = n;
  return HM_OK;
}
