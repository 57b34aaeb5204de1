/* Tokenizer: golden ids of the real Llama 3 and Whisper tokenizer.json files,
 * decode round trips, and unit cases on small tokenizers built here. */
#include "harness.h"
#include "testkit.h"
#include "text/tokenizer.h"

#include <jansson.h>
#include <stdlib.h>

static bool ids_equal(const int32_t *a, int64_t n, const json_t *arr) {
  if ((size_t)n != json_array_size(arr)) return false;
  for (int64_t i = 0; i < n; i++)
    if (a[i] != json_integer_value(json_array_get(arr, (size_t)i))) return false;
  return true;
}

static void print_ids(const int32_t *a, int64_t n) {
  fprintf(stderr, "  got [");
  for (int64_t i = 0; i < n; i++) fprintf(stderr, "%s%d", i ? "," : "", a[i]);
  fprintf(stderr, "]\n");
}

/* every case: exact ids without specials, and decode(ids) == text */
static void golden_cases(hm_tokenizer *t, const json_t *cases, const char *label) {
  size_t i;
  const json_t *c;
  int n_ok = 0;
  json_array_foreach(cases, i, c) {
    const json_t *jt = json_object_get(c, "text");
    const char *text = json_string_value(jt);
    size_t len = json_string_length(jt);
    int32_t *ids = NULL;
    int64_t n = 0;
    CHECK_OK(hm_tokenizer_encode(t, text, len, false, &ids, &n));
    bool eq = ids_equal(ids, n, json_object_get(c, "ids"));
    CHECK_MSG(eq, "%s case %zu ids differ (text '%.40s')", label, i, text);
    if (!eq) print_ids(ids, n);
    char *dec = NULL;
    size_t dl = 0;
    CHECK_OK(hm_tokenizer_decode(t, ids, n, false, &dec, &dl));
    CHECK_MSG(dec && dl == len && !memcmp(dec, text, len), "%s case %zu decode differs", label, i);
    n_ok += eq;
    free(ids);
    free(dec);
  }
  printf("%s: %d/%zu golden cases exact\n", label, n_ok, json_array_size(cases));
}

static void test_llama3(void) {
  char p[512];
  hm_tokenizer *t = NULL;
  CHECK_OK(hm_tokenizer_load(hm_test_path(p, sizeof p, "tokenizer/tokenizer.json"), &t));
  if (!t) return;
  CHECK(hm_tokenizer_vocab_size(t) == 128256);
  CHECK(hm_tokenizer_token_id(t, "<|begin_of_text|>") == 128000);
  CHECK(hm_tokenizer_token_id(t, "<|end_of_text|>") == 128001);
  CHECK(hm_tokenizer_token_id(t, "Hello") == 9906);
  CHECK(hm_tokenizer_token_id(t, "Ġworld") == 1917);
  CHECK(hm_tokenizer_token_id(t, "no-such-token-xyz") == -1);
  CHECK(hm_tokenizer_is_special(t, 128000));
  CHECK(!hm_tokenizer_is_special(t, 9906));
  CHECK(hm_tokenizer_token_str(t, 1917) && !strcmp(hm_tokenizer_token_str(t, 1917), "Ġworld"));
  CHECK(hm_tokenizer_token_str(t, 128256) == NULL);
  size_t bl = 0;
  const char *b = hm_tokenizer_token_bytes(t, 1917, &bl);
  CHECK(b && bl == 6 && !memcmp(b, " world", 6));

  json_error_t err;
  json_t *g = json_load_file(hm_test_path(p, sizeof p, "tokenizer/golden_ids.json"), 0, &err);
  CHECK_MSG(json_is_array(g), "golden_ids.json: %s", err.text);
  if (g) golden_cases(t, g, "llama3");
  json_decref(g);

  /* add_special: the template puts <|begin_of_text|> first, nothing after */
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_OK(hm_tokenizer_encode(t, "Hello world", 11, true, &ids, &n));
  CHECK(n == 3 && ids[0] == 128000 && ids[1] == 9906 && ids[2] == 1917);
  free(ids);
  CHECK_OK(hm_tokenizer_encode(t, "", 0, true, &ids, &n));
  CHECK(n == 1 && ids[0] == 128000);
  free(ids);

  /* decode with skip_special */
  int32_t seq[] = {128000, 9906, 1917, 128001};
  char *d = NULL;
  size_t dl = 0;
  CHECK_OK(hm_tokenizer_decode(t, seq, 4, true, &d, &dl));
  CHECK(d && dl == 11 && !strcmp(d, "Hello world"));
  free(d);
  CHECK_OK(hm_tokenizer_decode(t, seq, 4, false, &d, &dl));
  CHECK(d && !strcmp(d, "<|begin_of_text|>Hello world<|end_of_text|>"));
  free(d);
  int32_t badseq[] = {9906, 128256};
  CHECK_ERR(hm_tokenizer_decode(t, badseq, 2, false, &d, &dl), "position 1");

  /* invalid UTF-8: error with the byte offset */
  CHECK_ERR(hm_tokenizer_encode(t, "abc\xff", 4, false, &ids, &n), "byte offset 3");
  CHECK_ERR(hm_tokenizer_encode(t, "ab\xe4\xbd", 4, false, &ids, &n), "byte offset 2"); /* truncated */
  CHECK_ERR(hm_tokenizer_encode(t, "\xc0\xaf", 2, false, &ids, &n), "byte offset 0");   /* overlong */
  CHECK_ERR(hm_tokenizer_encode(t, "x\xed\xa0\x80", 4, false, &ids, &n), "byte offset 1"); /* surrogate */

  /* a repeated lyric line gives the same ids each time (the word cache) */
  const char *line = "Oh, take me home tonight\n";
  int32_t *one = NULL, *many = NULL;
  int64_t n1 = 0, nm = 0;
  CHECK_OK(hm_tokenizer_encode(t, line, strlen(line), false, &one, &n1));
  char rep[25 * 40 + 1];
  rep[0] = 0;
  for (int i = 0; i < 40; i++) strcat(rep, line);
  CHECK_OK(hm_tokenizer_encode(t, rep, strlen(rep), false, &many, &nm));
  bool same = one && many && nm == 40 * n1;
  for (int64_t i = 0; same && i < nm; i++) same = many[i] == one[i % n1];
  CHECK(same);
  free(one);
  free(many);
  hm_tokenizer_free(t);
}

static void test_whisper(void) {
  char p[512];
  hm_tokenizer *t = NULL;
  CHECK_OK(hm_tokenizer_load(hm_test_path(p, sizeof p, "fixtures-whisper/tokenizer.json"), &t));
  if (!t) return;
  CHECK(hm_tokenizer_vocab_size(t) == 51866);
  CHECK(hm_tokenizer_token_id(t, "<|startoftranscript|>") == 50258);
  CHECK(hm_tokenizer_token_id(t, "<|0.00|>") == 50365);
  CHECK(hm_tokenizer_token_id(t, "<|30.00|>") == 51865);
  CHECK(hm_tokenizer_is_special(t, 50257));
  CHECK(!hm_tokenizer_is_special(t, 50365)); /* timestamps are added but not special */
  json_error_t err;
  json_t *g = json_load_file(hm_test_path(p, sizeof p, "fixtures-whisper/tokenizer_cases.json"), 0, &err);
  CHECK_MSG(json_is_object(g), "tokenizer_cases.json: %s", err.text);
  if (g) golden_cases(t, json_object_get(g, "cases"), "whisper");
  json_decref(g);
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_OK(hm_tokenizer_encode(t, "Hello world", 11, true, &ids, &n));
  CHECK(n == 5 && ids[0] == 50258 && ids[1] == 50364 && ids[2] == 15947 && ids[3] == 1002 && ids[4] == 50257);
  free(ids);
  /* skip_special drops specials but keeps the timestamps */
  int32_t seq[] = {50258, 50365, 15947, 50257};
  char *d = NULL;
  size_t dl;
  CHECK_OK(hm_tokenizer_decode(t, seq, 4, true, &d, &dl));
  CHECK(d && !strcmp(d, "<|0.00|>Hello"));
  free(d);
  hm_tokenizer_free(t);
}

/* A tiny Whisper-style tokenizer (plain ByteLevel pre-tokenizer with the GPT-2
 * regex): the 256 byte tokens, "Ġh"+"i", "h"+"i", "Ġh"+"e", "l"+"l", "he"+"ll"
 * merges, two added tokens. merges_json is spliced in, so both forms are tried. */
static char *tiny_json(const char *merges_json, const char *extra_vocab) {
  size_t cap = 65536;
  char *s = malloc(cap);
  size_t w = (size_t)snprintf(s, cap, "{\"version\":\"1.0\",\"added_tokens\":["
      "{\"id\":300,\"content\":\"<|eot|>\",\"special\":true,\"normalized\":false},"
      "{\"id\":301,\"content\":\"<|eot|>x\",\"special\":false,\"normalized\":false},"
      "{\"id\":302,\"content\":\"<|t|>\",\"special\":false,\"normalized\":false}],"
      "\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":true},"
      "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"A\"}},"
      "{\"SpecialToken\":{\"id\":\"<|eot|>\"}}],\"special_tokens\":{\"<|eot|>\":{\"id\":\"<|eot|>\",\"ids\":[300]}}},"
      "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{");
  for (unsigned b = 0; b < 256; b++) { /* GPT-2 byte -> unicode */
    unsigned printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    unsigned cp = b;
    if (!printable) {
      cp = 256;
      for (unsigned k = 0; k < b; k++) cp += !((k >= 33 && k <= 126) || (k >= 161 && k <= 172) || k >= 174);
    }
    char u[8];
    if (cp == '"' || cp == '\\') snprintf(u, sizeof u, "\\%c", (char)cp);
    else if (cp < 0x80) snprintf(u, sizeof u, "%c", (char)cp);
    else snprintf(u, sizeof u, "%c%c", (char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F)));
    w += (size_t)snprintf(s + w, cap - w, "\"%s\":%u,", u, b);
  }
  w += (size_t)snprintf(s + w, cap - w, "\"\xc4\xa0h\":256,\"\xc4\xa0hi\":257,\"hi\":258,\"\xc4\xa0he\":259,\"ll\":260,"
                        "\"\xc4\xa0hell\":261%s},\"merges\":%s}}", extra_vocab, merges_json);
  return s;
}

/* form 2: every "Ġ" written as the JSON escape \u0120 (as Python's json.dumps does) */
static char *escape_g(char *j) {
  char *o = malloc(strlen(j) * 3 + 1), *w = o;
  for (const char *c = j; *c; c++) {
    if (c[0] == '\xc4' && c[1] == '\xa0') { memcpy(w, "\\u0120", 6); w += 6; c++; }
    else *w++ = *c;
  }
  *w = 0;
  free(j);
  return o;
}

static hm_status load_tiny_form(const char *merges, const char *extra, bool escaped, hm_tokenizer **t) {
  char *j = tiny_json(merges, extra);
  if (escaped) j = escape_g(j);
  hm_status st = hm_tokenizer_load_json(j, strlen(j), "tiny.json", t);
  free(j);
  return st;
}

static hm_status load_tiny(const char *merges, const char *extra, hm_tokenizer **t) {
  char *j = tiny_json(merges, extra);
  hm_status st = hm_tokenizer_load_json(j, strlen(j), "tiny.json", t);
  free(j);
  return st;
}

static void expect(hm_tokenizer *t, const char *text, const int32_t *want, int64_t nw, bool add_special) {
  int32_t *ids = NULL;
  int64_t n = -1;
  CHECK_OK(hm_tokenizer_encode(t, text, strlen(text), add_special, &ids, &n));
  bool eq = n == nw;
  for (int64_t i = 0; eq && i < n; i++) eq = ids[i] == want[i];
  CHECK_MSG(eq, "encode('%s')", text);
  if (!eq) print_ids(ids, n);
  char *d = NULL;
  size_t dl = 0;
  if (!add_special) {
    CHECK_OK(hm_tokenizer_decode(t, ids, n, false, &d, &dl));
    CHECK_MSG(d && dl == strlen(text) && !strcmp(d, text), "decode('%s') = '%s'", text, d ? d : "(null)");
  }
  free(d);
  free(ids);
}

static void test_tiny(void) {
  const char *m_str = "[\"\xc4\xa0 h\",\"\xc4\xa0h i\",\"h i\",\"\xc4\xa0h e\",\"l l\",\"\xc4\xa0he ll\"]";
  const char *m_pair = "[[\"\xc4\xa0\",\"h\"],[\"\xc4\xa0h\",\"i\"],[\"h\",\"i\"],[\"\xc4\xa0h\",\"e\"],[\"l\",\"l\"],[\"\xc4\xa0he\",\"ll\"]]";
  for (int form = 0; form < 3; form++) {
    hm_tokenizer *t = NULL;
    CHECK_OK(load_tiny_form(form == 1 ? m_pair : m_str, "", form == 2, &t));
    if (!t) continue;
    CHECK(hm_tokenizer_vocab_size(t) == 303);
    /* " hi" -> Ġhi; "hi" -> hi; " hello" -> Ġhell + o; "a" one byte */
    expect(t, "hi hi", (int32_t[]){258, 257}, 2, false);
    expect(t, " hello", (int32_t[]){261, 'o'}, 2, false);
    expect(t, "a", (int32_t[]){'a'}, 1, false);
    expect(t, "", NULL, 0, false);
    /* single non-ASCII byte-level characters: "é" is bytes c3 a9 -> ids 195, 169 */
    expect(t, "\xc3\xa9", (int32_t[]){195, 169}, 2, false);
    /* added tokens are cut first, leftmost-longest: "<|eot|>x" beats "<|eot|>" */
    expect(t, "hi<|eot|>x<|eot|> hi<|t|>", (int32_t[]){258, 301, 300, 257, 302}, 5, false);
    expect(t, "<|eot", (int32_t[]){'<', '|', 'e', 'o', 't'}, 5, false);
    /* add_special appends <|eot|> (template: A then <|eot|>) */
    expect(t, "hi", (int32_t[]){258, 300}, 2, true);
    expect(t, "", (int32_t[]){300}, 1, true);
    /* skip_special drops only the special one */
    int32_t seq[] = {258, 300, 302};
    char *d = NULL;
    size_t dl;
    CHECK_OK(hm_tokenizer_decode(t, seq, 3, true, &d, &dl));
    CHECK(d && !strcmp(d, "hi<|t|>"));
    free(d);
    int32_t *ids = NULL;
    int64_t n = 0;
    CHECK_ERR(hm_tokenizer_encode(t, "ok \xe2\x82", 5, false, &ids, &n), "byte offset 3");
    hm_tokenizer_free(t);
  }
  /* merge rank order decides: with "h i" ranked before "Ġ h", " hi" becomes Ġ + hi */
  {
    hm_tokenizer *t = NULL;
    CHECK_OK(load_tiny("[\"h i\",\"\xc4\xa0 h\",\"\xc4\xa0h i\"]", "", &t));
    if (t) expect(t, " hi", (int32_t[]){32, 258}, 2, false);
    hm_tokenizer_free(t);
  }
  /* unknown merge entries: the error names the token */
  hm_tokenizer *t = NULL;
  CHECK_ERR(load_tiny("[\"\xc4\xa0 h\",\"q zz\"]", "", &t), "'zz'");
  CHECK(t == NULL);
  CHECK_ERR(load_tiny("[\"x y\"]", "", &t), "merges[0]"); /* "xy" is not in the vocab */
  CHECK_ERR(load_tiny("[\"abc\"]", "", &t), "merges[0]");
  CHECK_ERR(load_tiny("[[\"a\"]]", "", &t), "merges[0]");
  /* a vocab value that is not an integer (the fast reader hands it to jansson) */
  CHECK_ERR(load_tiny("[]", ",\"zz\":5.5", &t), "not an integer");
  CHECK_ERR(load_tiny("[]", ",\"zz\":-3", &t), "zz");
  /* duplicate id */
  CHECK_ERR(load_tiny("[]", ",\"zz\":5", &t), "id 5");
  /* malformed JSON, missing file, unsupported model */
  CHECK_ERR(hm_tokenizer_load_json("{\"model\": ", 10, "broken.json", &t), "broken.json:1");
  CHECK_ERR(hm_tokenizer_load("/nonexistent/tokenizer.json", &t), "/nonexistent/tokenizer.json");
  const char *wp = "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}";
  CHECK_ERR(hm_tokenizer_load_json(wp, strlen(wp), "wp.json", &t), "WordPiece");
  const char *nov = "{\"model\":{\"type\":\"BPE\",\"merges\":[]}}";
  CHECK_ERR(hm_tokenizer_load_json(nov, strlen(nov), "nov.json", &t), "model.vocab");
}

/* The Llama 3 layout (Split regex + ByteLevel without regex, ignore_merges),
 * written by hm_tokenizer_write_demo. */
static void test_demo(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/demo_tokenizer.json", hm_test_tmpdir());
  CHECK_OK(hm_tokenizer_write_demo(path, 1024, 1000, 1001, false));
  CHECK_ERR(hm_tokenizer_write_demo(path, 1024, 1000, 1001, false), "exists");
  CHECK_OK(hm_tokenizer_write_demo(path, 1024, 1000, 1001, true));
  CHECK_ERR(hm_tokenizer_write_demo(path, 1024, 1000, 1000, true), "distinct");
  hm_tokenizer *t = NULL;
  CHECK_OK(hm_tokenizer_load(path, &t));
  if (!t) return;
  CHECK(hm_tokenizer_vocab_size(t) == 1024);
  CHECK(hm_tokenizer_token_id(t, "<|begin_of_text|>") == 1000);
  CHECK(hm_tokenizer_token_id(t, "<|end_of_text|>") == 1001);
  CHECK(hm_tokenizer_is_special(t, 1023));
  for (int32_t id = 0; id < 1024; id++) CHECK_MSG(hm_tokenizer_token_str(t, id) != NULL, "demo id %d unused", (int)id);
  const char *text = "[verse]\nthe morning light is falling, 2024!\n\n[chorus]\noh, oh \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x8e\xb5<|end_of_text|>";
  int32_t *ids = NULL;
  int64_t n = 0;
  CHECK_OK(hm_tokenizer_encode(t, text, strlen(text), true, &ids, &n));
  CHECK(n > 2 && ids[0] == 1000 && ids[n - 1] == 1001);
  CHECK(n < (int64_t)strlen(text) / 2); /* the merges compress English */
  bool in_range = true;
  for (int64_t i = 0; i < n; i++) in_range &= ids[i] >= 0 && ids[i] < 1024;
  CHECK(in_range);
  char *d = NULL;
  size_t dl = 0;
  CHECK_OK(hm_tokenizer_decode(t, ids + 1, n - 1, false, &d, &dl));
  CHECK(d && !strcmp(d, text));
  free(d);
  free(ids);
  hm_tokenizer_free(t);
}

static void lower_is(const char *in, const char *want) {
  char *o = NULL;
  size_t n = 0;
  CHECK_OK(hm_utf8_lower(in, strlen(in), &o, &n));
  CHECK_MSG(o && n == strlen(want) && !strcmp(o, want), "lower('%s') = '%s', want '%s'", in, o ? o : "", want);
  free(o);
}

static void test_lower(void) {
  lower_is("Hello WORLD 123", "hello world 123");
  lower_is("\xc3\x80\xc3\x89\xc3\x8e \xc3\x9c", "\xc3\xa0\xc3\xa9\xc3\xae \xc3\xbc");          /* ÀÉÎ Ü */
  lower_is("\xd0\x9a\xd0\xb8\xd0\xa0", "\xd0\xba\xd0\xb8\xd1\x80");                           /* КиР */
  lower_is("\xc4\xb0", "i\xcc\x87");                                                          /* İ -> i + U+0307 */
  lower_is("\xce\x91\xce\xa3", "\xce\xb1\xcf\x82");                                           /* ΑΣ -> ας (final) */
  lower_is("\xce\xa3\xce\x91", "\xcf\x83\xce\xb1");                                           /* ΣΑ -> σα */
  lower_is("\xce\xa3", "\xcf\x83");                                                           /* Σ alone -> σ */
  lower_is("\xce\x91\xce\xa3 \xce\x91", "\xce\xb1\xcf\x82 \xce\xb1");                         /* word-final */
  lower_is("\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x8e\xb5", "\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x8e\xb5"); /* no case */
  lower_is("", "");
  char *o = NULL;
  size_t n;
  CHECK_ERR(hm_utf8_lower("AB\x80", 3, &o, &n), "byte offset 2");
  size_t bad = 99;
  CHECK(hm_utf8_valid("ok", 2, &bad));
  CHECK(!hm_utf8_valid("ok\xf5\x80\x80\x80", 6, &bad) && bad == 2);
}

void hm_test_main(void) {
  test_llama3();
  test_whisper();
  test_tiny();
  test_demo();
  test_lower();
}
