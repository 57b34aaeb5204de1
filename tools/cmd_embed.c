/* heartmula embed / tag: HeartCLAP (MuQ-MuLan) audio and text embeddings, and
 * zero-shot tags of an audio file ranked by similarity. */
#include "cli.h"
#include "clap_tags.h"
#include "io/fs.h"

#include <stdlib.h>
#include <string.h>

static void embed_usage(FILE *f) {
  fprintf(f,
    "usage: heartmula embed --clap DIR (--audio FILE | --text TEXT) [--json] [-t N]\n"
    "\n"
    "  --clap DIR     MuQ-MuLan folder (config.json, model.safetensors, sentencepiece.bpe.model for text)\n"
    "  --audio FILE   any audio file (mono 24 kHz after resampling; >= 1 s; clips of 10 s averaged)\n"
    "  --text TEXT    a text (embedded alone, no padding)\n"
    "  --json         one line {\"embedding\": [...], \"dim\": 512}; default: one value per line\n"
    "  -t, --threads  threads (default: all cores)\n");
}

static int load(const char *cmd, const char *dir, int threads, hm_clap_model **m) {
  hm_clap_params p = hm_clap_default_params();
  p.n_threads = threads;
  if (hm_clap_load(dir, &p, m) != HM_OK) return cli_fail(cmd, "loading the CLAP model");
  return 0;
}

int cmd_embed(int argc, char **argv) {
  const char *dir = NULL, *audio = NULL, *text = NULL, *v;
  bool json = false;
  int64_t threads = 0;
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv[i], "--help", "-h")) { embed_usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--clap", NULL, &v)) dir = v;
    else if (cli_opt(argc, argv, &i, "--audio", NULL, &v)) audio = v;
    else if (cli_opt(argc, argv, &i, "--text", NULL, &v)) text = v;
    else if (cli_flag(argv[i], "--json", NULL)) json = true;
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &threads)) return 2; }
    else { fprintf(stderr, "heartmula embed: unexpected argument '%s'\n", argv[i]); embed_usage(stderr); return 2; }
  }
  if (!dir) { fprintf(stderr, "heartmula embed: error: --clap DIR is required\n"); embed_usage(stderr); return 2; }
  if (!audio == !text) {
    fprintf(stderr, "heartmula embed: error: give exactly one of --audio FILE and --text TEXT\n");
    return 2;
  }
  hm_clap_model *m = NULL;
  if (load("embed", dir, (int)threads, &m)) return 1;
  int d = hm_clap_dim(m);
  float *e = malloc(sizeof(float) * (size_t)d);
  hm_status st = e ? (audio ? hm_clap_embed_audio_file(m, audio, e) : hm_clap_embed_text(m, text, e)) : HM_ERR_NOMEM;
  int rc = 0;
  if (st != HM_OK) rc = cli_fail("embed", audio ? audio : "text");
  else if (json) {
    printf("{\"embedding\": [");
    for (int i = 0; i < d; i++) printf("%s%.9g", i ? ", " : "", e[i]);
    printf("], \"dim\": %d}\n", d);
  } else
    for (int i = 0; i < d; i++) printf("%.9g\n", e[i]);
  free(e);
  hm_clap_free(m);
  return rc;
}

static void tag_usage(FILE *f) {
  fprintf(f,
    "usage: heartmula tag --clap DIR AUDIO [--tags FILE] [--top-k 5] [--json] [-t N]\n"
    "\n"
    "  Ranks tags by the similarity of their MuQ-MuLan text embedding to the audio's.\n"
    "  --clap DIR     MuQ-MuLan folder\n"
    "  --tags FILE    one tag per line (blank lines and lines starting with # ignored); default: the\n"
    "                 built-in HeartMuLa vocabulary (%d tags: genre, mood, instrument, scene, vocal;\n"
    "                 docs/cli.md lists them)\n"
    "  --top-k N      how many to print (default 5; 0 = all)\n"
    "  --json         [{\"tag\": ..., \"score\": ...}, ...] on one line\n",
    clap_n_builtin_tags);
}

typedef struct scored { const char *tag; float score; } scored;
static int by_score(const void *a, const void *b) {
  float x = ((const scored *)a)->score, y = ((const scored *)b)->score;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Tags from a file: *buf owns the text, tags[] point into it. */
static int read_tags(const char *path, char **buf, const char ***tags, int *n) {
  size_t len;
  if (hm_read_file(path, buf, &len) != HM_OK) return cli_fail("tag", path);
  int cap = 16;
  *tags = malloc(sizeof(char *) * (size_t)cap);
  *n = 0;
  for (char *line = strtok(*buf, "\n"); line && *tags; line = strtok(NULL, "\n")) {
    while (*line == ' ' || *line == '\t') line++;
    char *end = line + strlen(line);
    while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) *--end = 0;
    if (!*line || *line == '#') continue;
    if (*n == cap) {
      cap *= 2;
      const char **nt = realloc(*tags, sizeof(char *) * (size_t)cap);
      if (!nt) { free(*tags); *tags = NULL; break; }
      *tags = nt;
    }
    (*tags)[(*n)++] = line;
  }
  if (!*tags) { fprintf(stderr, "heartmula tag: error: out of memory\n"); return 1; }
  if (*n == 0) { fprintf(stderr, "heartmula tag: error: %s: no tags (one per line)\n", path); return 1; }
  return 0;
}

int cmd_tag(int argc, char **argv) {
  const char *dir = NULL, *audio = NULL, *tags_file = NULL, *v;
  int64_t top_k = 5, threads = 0;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv[i], "--help", "-h")) { tag_usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--clap", NULL, &v)) dir = v;
    else if (cli_opt(argc, argv, &i, "--tags", NULL, &v)) tags_file = v;
    else if (cli_opt(argc, argv, &i, "--top-k", NULL, &v)) { if (!cli_int("--top-k", v, &top_k)) return 2; }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &threads)) return 2; }
    else if (cli_flag(argv[i], "--json", NULL)) json = true;
    else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "heartmula tag: unknown option '%s'\n", argv[i]); tag_usage(stderr); return 2; }
    else if (!audio) audio = argv[i];
    else { fprintf(stderr, "heartmula tag: unexpected argument '%s'\n", argv[i]); return 2; }
  }
  if (!dir || !audio) { fprintf(stderr, "heartmula tag: error: --clap DIR and AUDIO are required\n"); tag_usage(stderr); return 2; }
  if (top_k < 0) { fprintf(stderr, "heartmula tag: error: --top-k must be >= 0\n"); return 2; }
  char *buf = NULL;
  const char **tags = NULL;
  int n = 0;
  if (tags_file) {
    if (read_tags(tags_file, &buf, &tags, &n)) { free(buf); free(tags); return 1; }
  } else {
    n = clap_n_builtin_tags;
    tags = malloc(sizeof(char *) * (size_t)n);
    for (int i = 0; tags && i < n; i++) tags[i] = clap_builtin_tags[i].tag;
  }
  hm_clap_model *m = NULL;
  int rc = tags ? load("tag", dir, (int)threads, &m) : 1;
  int d = m ? hm_clap_dim(m) : 0;
  float *a = m ? malloc(sizeof(float) * (size_t)d) : NULL, *t = m ? malloc(sizeof(float) * (size_t)d) : NULL;
  scored *s = m ? malloc(sizeof(scored) * (size_t)n) : NULL;
  if (!rc && (!a || !t || !s)) { fprintf(stderr, "heartmula tag: error: out of memory\n"); rc = 1; }
  if (!rc && hm_clap_embed_audio_file(m, audio, a) != HM_OK) rc = cli_fail("tag", audio);
  for (int i = 0; !rc && i < n; i++) {
    if (hm_clap_embed_text(m, tags[i], t) != HM_OK) { rc = cli_fail("tag", tags[i]); break; }
    s[i].tag = tags[i];
    s[i].score = hm_clap_similarity(a, t, d);
  }
  if (!rc) {
    qsort(s, (size_t)n, sizeof *s, by_score);
    int k = top_k == 0 || top_k > n ? n : (int)top_k;
    if (json) printf("[");
    for (int i = 0; i < k; i++) {
      if (json) printf("%s{\"tag\": \"%s\", \"score\": %.6f}", i ? ", " : "", s[i].tag, s[i].score);
      else printf("%.4f  %s\n", s[i].score, s[i].tag);
    }
    if (json) printf("]\n");
  }
  free(a);
  free(t);
  free(s);
  free(tags);
  free(buf);
  hm_clap_free(m);
  return rc;
}
