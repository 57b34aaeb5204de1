/* A small demo tokenizer.json for the demo checkpoint: byte-level BPE with
 * merges learned here from a built-in English text, in the Llama 3 layout. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/tokenizer.h"
#include "testkit.h"
#include "io/json.h"
#include "text/text_internal.h"

#include <jansson.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Original text written for this purpose (lyrics-like, with section markers
 * and style tags), lowercase as HeartMuLa's prompts are. */
static const char demo_corpus[] =
    "<tag>pop, female vocal, piano, happy, bright, energetic</tag>\n"
    "<tag>rock, male vocal, electric guitar, drums, bass, loud</tag>\n"
    "<tag>ballad, soft, acoustic guitar, strings, slow, sad, romantic</tag>\n"
    "<tag>electronic, synthesizer, dance, upbeat, 120 bpm, club</tag>\n"
    "<tag>folk, country, warm, gentle, harmonica, storytelling</tag>\n"
    "<tag>jazz, saxophone, smooth, night, lounge, relaxed</tag>\n"
    "[intro]\n[verse]\nthe morning light is falling on the river by the town\n"
    "i hear the water singing and i follow every sound\n"
    "we were young and we were running through the fields of gold\n"
    "and every song we sang that summer never will grow old\n\n"
    "[chorus]\noh, oh, take me home tonight, take me where the stars are bright\n"
    "hold me close and hold me tight, we will sing until the light\n"
    "la la la, la la la, we will dance until the dawn\n\n"
    "[verse]\nthe city streets are quiet and the rain is coming down\n"
    "i keep your picture with me when there's no one else around\n"
    "the years have gone so quickly but i still remember you\n"
    "the way you used to smile at me, the way you told me true\n\n"
    "[pre-chorus]\nand if the world should fall apart, i'll be standing here\n"
    "with all the love inside my heart, there is nothing left to fear\n\n"
    "[chorus]\noh, oh, take me home tonight, take me where the stars are bright\n"
    "hold me close and hold me tight, we will sing until the light\n\n"
    "[bridge]\nwhen the music fades away and the night is cold and long\n"
    "i will find my way to you, following this song\n"
    "every heartbeat, every word, every promise that we made\n"
    "is a fire burning in the dark that will never fade\n\n"
    "[verse]\nthe summer wind is blowing and the flowers start to bloom\n"
    "there's a melody that's playing in the corner of the room\n"
    "we are dancing in the kitchen, we are laughing in the hall\n"
    "we are dreaming of the morning, we are standing proud and tall\n\n"
    "[outro]\nsing it louder, sing it stronger, sing it for the ones we love\n"
    "singing, dancing, running, falling, we are flying high above\n"
    "the river and the mountain, the ocean and the sky\n"
    "the memory of yesterday, the reason why we try\n"
    "hello world, this is a song about the people and the places that we know\n"
    "the beautiful, wonderful, unforgettable feeling of letting go\n";

typedef struct { char *b; uint32_t n; } tokb;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static hm_status words_of(const char *text, size_t n, char ***words, size_t **lens, size_t *nw) {
  int err;
  PCRE2_SIZE eoff;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR)hm_llama3_regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &eoff, NULL);
  pcre2_match_data *md = re ? pcre2_match_data_create(1, NULL) : NULL;
  char **w = malloc((n + 1) * sizeof *w);
  size_t *l = malloc((n + 1) * sizeof *l);
  if (!re || !md || !w || !l) {
    pcre2_match_data_free(md); pcre2_code_free(re); free(w); free(l);
    return hm_error(HM_ERR_INTERNAL, "demo tokenizer: cannot set up the pre-tokenizer");
  }
  size_t k = 0, off = 0;
  while (off < n && pcre2_match(re, (PCRE2_SPTR)text, n, off, 0, md, NULL) >= 0) {
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[1] == ov[0]) { off = ov[1] + 1; continue; }
    w[k] = (char *)text + ov[0];
    l[k] = ov[1] - ov[0];
    k++;
    off = ov[1];
  }
  pcre2_match_data_free(md);
  pcre2_code_free(re);
  *words = w; *lens = l; *nw = k;
  return HM_OK;
}

/* byte-level spelling of raw bytes */
static char *spell(const char *b, size_t n) {
  char *s = malloc(n * 2 + 1);
  if (!s) return NULL;
  size_t w = 0;
  for (size_t i = 0; i < n; i++) w += hm_utf8_put(s + w, hm_byte_to_cp((unsigned char)b[i]));
  s[w] = 0;
  return s;
}

static hm_status build_json(int vocab_size, int32_t bos_id, int32_t eos_id, json_t **out) {
  int32_t first_special = bos_id < eos_id ? bos_id : eos_id;
  char **wp = NULL;
  size_t *wl = NULL, nw = 0;
  HM_TRY(words_of(demo_corpus, sizeof demo_corpus - 1, &wp, &wl, &nw));
  /* each word as a sequence of token ids (initially its bytes) */
  size_t total = 0;
  for (size_t i = 0; i < nw; i++) total += wl[i];
  int32_t *sym = malloc((total + 1) * sizeof *sym);
  size_t *wstart = malloc((nw + 1) * sizeof *wstart), *wlen = malloc((nw + 1) * sizeof *wlen);
  tokb *toks = calloc((size_t)vocab_size, sizeof *toks);
  int32_t (*merges)[2] = malloc((size_t)vocab_size * sizeof *merges);
  uint64_t *cnt = malloc((total + 1) * sizeof *cnt); /* pair keys a << 32 | b */
  hm_status st = HM_OK;
  json_t *root = NULL;
  if (!sym || !wstart || !wlen || !toks || !merges || !cnt) { st = hm_error(HM_ERR_NOMEM, "demo tokenizer: out of memory"); goto done; }
  size_t p = 0;
  for (size_t i = 0; i < nw; i++) {
    wstart[i] = p; wlen[i] = wl[i];
    for (size_t k = 0; k < wl[i]; k++) sym[p++] = (unsigned char)wp[i][k];
  }
  for (int b = 0; b < 256; b++) {
    toks[b].b = malloc(1);
    if (!toks[b].b) { st = hm_error(HM_ERR_NOMEM, "demo tokenizer: out of memory"); goto done; }
    toks[b].b[0] = (char)b; toks[b].n = 1;
  }
  int32_t next = 256;
  int n_merges = 0;
  while (next < first_special) {
    /* the most frequent adjacent pair; ties go to the smallest (a, b) */
    size_t np = 0;
    for (size_t i = 0; i < nw; i++)
      for (size_t k = 0; k + 1 < wlen[i]; k++)
        cnt[np++] = (uint64_t)sym[wstart[i] + k] << 32 | (uint32_t)sym[wstart[i] + k + 1];
    qsort(cnt, np, sizeof *cnt, cmp_u64);
    int64_t best = 0;
    int32_t ba = -1, bb = -1;
    for (size_t i = 0; i < np;) {
      size_t j = i;
      while (j < np && cnt[j] == cnt[i]) j++;
      if ((int64_t)(j - i) > best) { best = (int64_t)(j - i); ba = (int32_t)(cnt[i] >> 32); bb = (int32_t)(cnt[i] & 0xffffffffu); }
      i = j;
    }
    if (best == 0) break;
    uint32_t nn = toks[ba].n + toks[bb].n;
    char *nb = malloc(nn);
    if (!nb) { st = hm_error(HM_ERR_NOMEM, "demo tokenizer: out of memory"); goto done; }
    memcpy(nb, toks[ba].b, toks[ba].n);
    memcpy(nb + toks[ba].n, toks[bb].b, toks[bb].n);
    int32_t nid = -1;
    for (int32_t k = 256; k < next; k++)
      if (toks[k].n == nn && !memcmp(toks[k].b, nb, nn)) nid = k;
    if (nid < 0) { nid = next++; toks[nid].b = nb; toks[nid].n = nn; }
    else free(nb);
    merges[n_merges][0] = ba; merges[n_merges][1] = bb; n_merges++;
    for (size_t i = 0; i < nw; i++) { /* apply left to right */
      int32_t *s = sym + wstart[i];
      size_t w = 0;
      for (size_t k = 0; k < wlen[i]; k++) {
        if (k + 1 < wlen[i] && s[k] == ba && s[k + 1] == bb) { s[w++] = nid; k++; }
        else s[w++] = s[k];
      }
      wlen[i] = w;
    }
  }

  root = json_object();
  json_t *vocab = json_object(), *jm = json_array(), *added = json_array();
  json_object_set_new(root, "version", json_string("1.0"));
  json_object_set_new(root, "truncation", json_null());
  json_object_set_new(root, "padding", json_null());
  for (int32_t id = 0; id < vocab_size; id++) {
    if (id < next) {
      char *s = spell(toks[id].b, toks[id].n);
      if (!s) { st = hm_error(HM_ERR_NOMEM, "demo tokenizer: out of memory"); goto done; }
      json_object_set_new(vocab, s, json_integer(id));
      free(s);
      continue;
    }
    char name[64];
    if (id == bos_id) snprintf(name, sizeof name, "<|begin_of_text|>");
    else if (id == eos_id) snprintf(name, sizeof name, "<|end_of_text|>");
    else snprintf(name, sizeof name, "<|reserved_special_token_%d|>", (int)(id - next));
    json_t *a = json_object();
    json_object_set_new(a, "id", json_integer(id));
    json_object_set_new(a, "content", json_string(name));
    json_object_set_new(a, "single_word", json_false());
    json_object_set_new(a, "lstrip", json_false());
    json_object_set_new(a, "rstrip", json_false());
    json_object_set_new(a, "normalized", json_false());
    json_object_set_new(a, "special", json_true());
    json_array_append_new(added, a);
  }
  for (int i = 0; i < n_merges; i++) {
    char *a = spell(toks[merges[i][0]].b, toks[merges[i][0]].n), *b = spell(toks[merges[i][1]].b, toks[merges[i][1]].n);
    char *ab = (a && b) ? malloc(strlen(a) + strlen(b) + 2) : NULL;
    if (!ab) { free(a); free(b); st = hm_error(HM_ERR_NOMEM, "demo tokenizer: out of memory"); goto done; }
    sprintf(ab, "%s %s", a, b);
    json_array_append_new(jm, json_string(ab));
    free(a); free(b); free(ab);
  }
  json_object_set_new(root, "added_tokens", added);
  json_object_set_new(root, "normalizer", json_null());
  json_t *pre = json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]}",
                          "type", "Sequence", "pretokenizers",
                          "type", "Split", "pattern", "Regex", hm_llama3_regex, "behavior", "Isolated", "invert", 0,
                          "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 0);
  json_t *post = json_pack("{s:s, s:[{s:s, s:b, s:b, s:b}, {s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}], s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}, {s:{s:s, s:i}}, {s:{s:s, s:i}}], s:{s:{s:s, s:[i], s:[s]}}}]}",
                           "type", "Sequence", "processors",
                           "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 0, "use_regex", 1,
                           "type", "TemplateProcessing",
                           "single", "SpecialToken", "id", "<|begin_of_text|>", "type_id", 0, "Sequence", "id", "A", "type_id", 0,
                           "pair", "SpecialToken", "id", "<|begin_of_text|>", "type_id", 0, "Sequence", "id", "A", "type_id", 0,
                           "SpecialToken", "id", "<|begin_of_text|>", "type_id", 1, "Sequence", "id", "B", "type_id", 1,
                           "special_tokens", "<|begin_of_text|>", "id", "<|begin_of_text|>", "ids", (int)bos_id, "tokens", "<|begin_of_text|>");
  json_t *dec = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1);
  if (!pre || !post || !dec) { json_decref(pre); json_decref(post); json_decref(dec); st = hm_error(HM_ERR_INTERNAL, "demo tokenizer: json_pack failed"); goto done; }
  json_object_set_new(root, "pre_tokenizer", pre);
  json_object_set_new(root, "post_processor", post);
  json_object_set_new(root, "decoder", dec);
  json_t *model = json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b}", "type", "BPE", "dropout", "unk_token",
                            "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 1);
  json_object_set_new(model, "vocab", vocab);
  json_object_set_new(model, "merges", jm);
  json_object_set_new(root, "model", model);
done:
  if (st != HM_OK) { json_decref(root); root = NULL; }
  for (int32_t i = 0; toks && i < vocab_size; i++) free(toks[i].b);
  free(toks); free(sym); free(wstart); free(wlen); free(merges); free(cnt); free(wp); free(wl);
  *out = root;
  return st;
}

hm_status hm_tokenizer_write_demo(const char *path, int vocab_size, int32_t bos_id, int32_t eos_id, bool overwrite) {
  if (!path) return hm_error(HM_ERR_INVALID_ARG, "hm_tokenizer_write_demo: path is NULL");
  if (vocab_size < 258 || vocab_size > 1 << 20)
    return hm_error(HM_ERR_INVALID_ARG, "hm_tokenizer_write_demo: vocab_size %d out of range [258, 1048576]", vocab_size);
  if (bos_id < 256 || eos_id < 256 || bos_id >= vocab_size || eos_id >= vocab_size || bos_id == eos_id)
    return hm_error(HM_ERR_INVALID_ARG, "hm_tokenizer_write_demo: bos_id %d / eos_id %d must be distinct and in [256, %d)",
                    (int)bos_id, (int)eos_id, vocab_size);
  struct stat sb;
  if (!overwrite && stat(path, &sb) == 0)
    return hm_error(HM_ERR_IO, "'%s' exists (not overwriting)", path);
  json_t *root;
  HM_TRY(build_json(vocab_size, bos_id, eos_id, &root));
  hm_status st = hm_json_write(path, root, JSON_ENSURE_ASCII | JSON_INDENT(1));
  json_decref(root);
  return st;
}
