/* heartmula search: text -> songs of a folder, ranked by HeartCLAP similarity.
 * The folder's audio embeddings are cached in FOLDER/.heartmula-clap-index.json
 * ({"model", "dim", "files": {name: {"size", "mtime", "embedding"}}}) and
 * refreshed when a file is added, changed (size or mtime) or removed, or when
 * the model differs. */
#include "cli.h"
#include "io/audio.h"
#include "io/fs.h"
#include "io/json.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INDEX_NAME ".heartmula-clap-index.json"

static void usage(FILE *f) {
  fprintf(f,
    "usage: heartmula search --clap DIR --index FOLDER [--top-k 10] [--json] [-t N] \"query\"\n"
    "\n"
    "  Ranks the audio files of FOLDER (wav, flac, mp3, ogg; not recursive) by the similarity of their\n"
    "  MuQ-MuLan embedding to the query's. Embeddings are cached in FOLDER/" INDEX_NAME "\n"
    "  and recomputed only for new or changed files.\n"
    "  --top-k N   how many to print (default 10; 0 = all)\n"
    "  --json      [{\"file\": ..., \"score\": ...}] on one line\n");
}

typedef struct hit { char *name; float score; } hit;
static int by_score(const void *a, const void *b) {
  float x = ((const hit *)a)->score, y = ((const hit *)b)->score;
  return x < y ? 1 : x > y ? -1 : 0;
}

static bool cached(const json_t *e, int d, int64_t size, int64_t mtime, float *emb) {
  const json_t *v = json_object_get(e, "embedding");
  if (json_integer_value(json_object_get(e, "size")) != size || json_integer_value(json_object_get(e, "mtime")) != mtime ||
      (int)json_array_size(v) != d)
    return false;
  for (int i = 0; i < d; i++) emb[i] = (float)json_number_value(json_array_get(v, (size_t)i));
  return true;
}

int cmd_search(int argc, char **argv) {
  const char *dir = NULL, *folder = NULL, *query = NULL, *v;
  int64_t top_k = 10, threads = 0;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv[i], "--help", "-h")) { usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--clap", NULL, &v)) dir = v;
    else if (cli_opt(argc, argv, &i, "--index", NULL, &v)) folder = v;
    else if (cli_opt(argc, argv, &i, "--top-k", NULL, &v)) { if (!cli_int("--top-k", v, &top_k)) return 2; }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &threads)) return 2; }
    else if (cli_flag(argv[i], "--json", NULL)) json = true;
    else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "heartmula search: unknown option '%s'\n", argv[i]); usage(stderr); return 2; }
    else if (!query) query = argv[i];
    else { fprintf(stderr, "heartmula search: unexpected argument '%s'\n", argv[i]); return 2; }
  }
  if (!dir || !folder || !query) {
    fprintf(stderr, "heartmula search: error: --clap DIR, --index FOLDER and a query are required\n");
    usage(stderr);
    return 2;
  }
  if (top_k < 0) { fprintf(stderr, "heartmula search: error: --top-k must be >= 0\n"); return 2; }
  DIR *dp = opendir(folder);
  if (!dp) { fprintf(stderr, "heartmula search: error: cannot open folder '%s'\n", folder); return 1; }
  hm_clap_params prm = hm_clap_default_params();
  prm.n_threads = (int)threads;
  hm_clap_model *m = NULL;
  if (hm_clap_load(dir, &prm, &m) != HM_OK) { closedir(dp); return cli_fail("search", "loading the CLAP model"); }
  const int d = hm_clap_dim(m);
  char ipath[4096], fpath[4096];
  json_t *old = NULL;
  if (hm_path_join(ipath, sizeof ipath, folder, INDEX_NAME) == HM_OK && hm_file_exists(ipath) &&
      hm_json_load(ipath, &old) != HM_OK) {
    fprintf(stderr, "heartmula search: warning: %s is unreadable; rebuilding it\n", ipath);
    old = NULL;
  }
  const char *old_model = json_string_value(json_object_get(old, "model"));
  const json_t *old_files = old_model && !strcmp(old_model, dir) && json_integer_value(json_object_get(old, "dim")) == d
                                ? json_object_get(old, "files") : NULL;
  json_t *idx = json_object(), *files = json_object();
  json_object_set_new(idx, "model", json_string(dir));
  json_object_set_new(idx, "dim", json_integer(d));
  float *q = malloc(sizeof(float) * (size_t)d), *e = malloc(sizeof(float) * (size_t)d);
  hit *hits = NULL;
  int n_hits = 0, cap = 0, rc = 0, n_new = 0;
  if (!q || !e) { fprintf(stderr, "heartmula search: error: out of memory\n"); rc = 1; }
  if (!rc && hm_clap_embed_text(m, query, q) != HM_OK) rc = cli_fail("search", "query");
  for (struct dirent *de; !rc && (de = readdir(dp));) {
    if (de->d_name[0] == '.' || hm_audio_format_from_path(de->d_name) == HM_AUDIO_AUTO) continue;
    struct stat sb;
    if (hm_path_join(fpath, sizeof fpath, folder, de->d_name) != HM_OK || stat(fpath, &sb) != 0 || !S_ISREG(sb.st_mode))
      continue;
    if (!cached(json_object_get(old_files, de->d_name), d, (int64_t)sb.st_size, (int64_t)sb.st_mtime, e)) {
      if (hm_clap_embed_audio_file(m, fpath, e) != HM_OK) {
        fprintf(stderr, "heartmula search: warning: skipping %s\n", hm_last_error());
        continue;
      }
      n_new++;
    }
    json_t *arr = json_array(), *ent = json_object();
    for (int i = 0; i < d; i++) json_array_append_new(arr, json_real(e[i]));
    json_object_set_new(ent, "size", json_integer((json_int_t)sb.st_size));
    json_object_set_new(ent, "mtime", json_integer((json_int_t)sb.st_mtime));
    json_object_set_new(ent, "embedding", arr);
    json_object_set_new(files, de->d_name, ent);
    if (n_hits == cap) {
      cap = cap ? cap * 2 : 64;
      hit *nh = realloc(hits, sizeof(hit) * (size_t)cap);
      if (!nh) { rc = 1; break; }
      hits = nh;
    }
    hits[n_hits].name = strdup(de->d_name);
    hits[n_hits++].score = hm_clap_similarity(q, e, d);
  }
  closedir(dp);
  json_object_set_new(idx, "files", files);
  if (!rc && (n_new || !old_files || json_object_size(old_files) != json_object_size(files)) &&
      hm_json_write(ipath, idx, JSON_COMPACT) != HM_OK)
    fprintf(stderr, "heartmula search: warning: the index was not saved: %s\n", hm_last_error());
  if (!rc) {
    fprintf(stderr, "heartmula search: %d files (%d embedded now, the rest from %s)\n", n_hits, n_new, INDEX_NAME);
    qsort(hits, (size_t)n_hits, sizeof *hits, by_score);
    int k = top_k == 0 || top_k > n_hits ? n_hits : (int)top_k;
    if (json) printf("[");
    for (int i = 0; i < k; i++) {
      hm_path_join(fpath, sizeof fpath, folder, hits[i].name);
      if (json) printf("%s{\"file\": \"%s\", \"score\": %.6f}", i ? ", " : "", fpath, hits[i].score);
      else printf("%.4f  %s\n", hits[i].score, fpath);
    }
    if (json) printf("]\n");
  }
  for (int i = 0; i < n_hits; i++) free(hits[i].name);
  free(hits);
  free(q);
  free(e);
  json_decref(idx);
  json_decref(old);
  hm_clap_free(m);
  return rc;
}
