/* heartmula tokenize: text -> ids (one JSON array on one line), or --decode ids -> text. */
#include "cli.h"
#include "io/fs.h"
#include "io/json.h"
#include "text/tokenizer.h"

#include <jansson.h>
#include <stdlib.h>

static void usage(FILE *f) {
  fprintf(f,
          "usage: heartmula tokenize --tokenizer FILE [options] TEXT\n"
          "       heartmula tokenize --tokenizer FILE [options] --file PATH\n"
          "       heartmula tokenize --tokenizer FILE [options] --decode '[9906,1917]'\n\n"
          "Prints the ids of TEXT (or of the file's bytes) as one JSON array on one line,\n"
          "without special tokens unless --add-special; --decode prints the text of ids.\n\n"
          "  --tokenizer FILE   a Hugging Face BPE tokenizer.json (Llama 3, Whisper; character-level: ACE-Step vocab.json)\n"
          "  --file PATH        read the text from PATH instead of the command line\n"
          "  --decode JSON      a JSON array of ids to turn back into text\n"
          "  --add-special      apply the post-processor template (Llama 3: <|begin_of_text|> first)\n"
          "  --skip-special     with --decode: leave special tokens out\n"
          "  --count            print only the number of ids\n");
}

static int decode_ids(const hm_tokenizer *tok, const char *arr, bool skip_special) {
  json_error_t err;
  json_t *j = json_loads(arr, JSON_DECODE_ANY, &err);
  if (!json_is_array(j)) {
    fprintf(stderr, "heartmula tokenize: error: --decode wants a JSON array of ids like [9906,1917]%s%s\n",
            j ? "" : ": ", j ? "" : err.text);
    json_decref(j);
    return 2;
  }
  size_t n = json_array_size(j);
  int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
  if (!ids) { json_decref(j); fprintf(stderr, "heartmula tokenize: error: out of memory\n"); return 1; }
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_array_get(j, i);
    json_int_t x = json_integer_value(v);
    if (!json_is_integer(v) || x < 0 || x > INT32_MAX) {
      fprintf(stderr, "heartmula tokenize: error: --decode: element %zu is not a token id\n", i);
      free(ids); json_decref(j);
      return 2;
    }
    ids[i] = (int32_t)x;
  }
  json_decref(j);
  char *text = NULL;
  size_t len = 0;
  hm_status st = hm_tokenizer_decode(tok, ids, (int64_t)n, skip_special, &text, &len);
  free(ids);
  if (st != HM_OK) return cli_fail("tokenize", "decode");
  fwrite(text, 1, len, stdout);
  fputc('\n', stdout);
  free(text);
  return 0;
}

int cmd_tokenize(int argc, char **argv) {
  const char *tok_path = NULL, *file = NULL, *decode = NULL, *text = NULL, *v;
  bool add_special = false, skip_special = false, count = false;
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv[i], "--help", "-h")) { usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--tokenizer", "-t", &v)) tok_path = v;
    else if (cli_opt(argc, argv, &i, "--file", "-f", &v)) file = v;
    else if (cli_opt(argc, argv, &i, "--decode", "-d", &v)) decode = v;
    else if (cli_flag(argv[i], "--add-special", NULL)) add_special = true;
    else if (cli_flag(argv[i], "--skip-special", NULL)) skip_special = true;
    else if (cli_flag(argv[i], "--count", NULL)) count = true;
    else if (!strcmp(argv[i], "--") && i + 1 < argc && !text) text = argv[++i];
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "heartmula tokenize: unknown option '%s'\n\n", argv[i]);
      usage(stderr);
      return 2;
    } else if (!text) text = argv[i];
    else { fprintf(stderr, "heartmula tokenize: one TEXT only (quote it)\n"); return 2; }
  }
  if (!tok_path) { fprintf(stderr, "heartmula tokenize: --tokenizer FILE is required\n\n"); usage(stderr); return 2; }
  if ((text != NULL) + (file != NULL) + (decode != NULL) != 1) {
    fprintf(stderr, "heartmula tokenize: give exactly one of TEXT, --file PATH, --decode JSON\n\n");
    usage(stderr);
    return 2;
  }
  hm_tokenizer *tok = NULL;
  if (hm_tokenizer_load(tok_path, &tok) != HM_OK) return cli_fail("tokenize", "loading the tokenizer");
  int rc = 0;
  if (decode) {
    rc = decode_ids(tok, decode, skip_special);
  } else {
    char *buf = NULL;
    size_t len = 0;
    if (file) {
      if (hm_read_file(file, &buf, &len) != HM_OK) { hm_tokenizer_free(tok); return cli_fail("tokenize", "reading the text"); }
    } else len = strlen(text);
    int32_t *ids = NULL;
    int64_t n = 0;
    hm_status st = hm_tokenizer_encode(tok, buf ? buf : text, len, add_special, &ids, &n);
    free(buf);
    if (st != HM_OK) {
      rc = cli_fail("tokenize", file ? file : "the text");
    } else if (count) {
      printf("%lld\n", (long long)n);
    } else {
      fputc('[', stdout);
      for (int64_t k = 0; k < n; k++) printf(k ? ",%d" : "%d", ids[k]);
      fputs("]\n", stdout);
    }
    free(ids);
  }
  hm_tokenizer_free(tok);
  return rc;
}
