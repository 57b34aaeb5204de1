/* Writes the seed corpora of the fuzz targets, small inputs made at run time
 * from the fixtures (no large file is committed): make_seeds SHARED_DIR OUT_DIR
 * writes OUT_DIR/<target>/<name>. */
#include "io/audio.h"
#include "testkit.h"
#include "io/fs.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "text/tokenizer.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *out_dir;
static int n_written;

static const char *target_dir(const char *target) {
  static char p[4096];
  snprintf(p, sizeof p, "%s/%s", out_dir, target);
  if (mkdir(p, 0755) != 0 && errno != EEXIST) { perror(p); exit(1); }
  return p;
}

static void put(const char *target, const char *name, const void *data, size_t n) {
  char p[4200];
  snprintf(p, sizeof p, "%s/%s", target_dir(target), name);
  FILE *f = fopen(p, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) { perror(p); exit(1); }
  n_written++;
}

/* A prefix of a fixture file (at most max bytes); silently nothing when absent. */
static void put_file(const char *target, const char *name, const char *path, size_t max) {
  char *buf = NULL;
  size_t n = 0;
  if (hm_read_file(path, &buf, &n) != HM_OK) { fprintf(stderr, "make_seeds: skipped %s\n", path); return; }
  put(target, name, buf, n < max ? n : max);
  free(buf);
}

static void fail(void) { fprintf(stderr, "make_seeds: %s\n", hm_last_error()); exit(1); }

static void safetensors_seeds(const char *shared) {
  char p[4096], tmp[4200];
  static const float f[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
  static const uint16_t h[4] = {0x3c00, 0xc000, 0x7bff, 0x0001};
  static const int32_t i[3] = {1, 2, 3};
  uint8_t q[34 * 2] = {0};
  hm_st_entry e[5] = {
    {"model.a.weight", HM_DT_F32, 2, {2, 3}, f},
    {"model.b.bias", HM_DT_BF16, 1, {4}, h},
    {"model.c", HM_DT_F16, 2, {2, 2}, h},
    {"model.ids", HM_DT_I32, 1, {3}, i},
    {"model.q", HM_DT_Q8_0, 2, {2, 32}, q},
  };
  const char *meta[] = {"format", "pt", NULL};
  snprintf(tmp, sizeof tmp, "%s/seed.safetensors", out_dir);
  if (hm_st_write(tmp, e, 5, meta) != HM_OK) fail();
  put_file("safetensors", "small", tmp, 1 << 20);
  if (hm_st_write(tmp, e, 1, NULL) != HM_OK) fail();
  put_file("safetensors", "one", tmp, 1 << 20);
  remove(tmp);
  /* the real fixtures' headers (the data cut off: offsets then point past the end) */
  const char *fix[] = {"fixtures/heartmula/model.safetensors", "fixtures/heartcodec/model.safetensors",
                       "fixtures-whisper/model.safetensors"};
  for (int k = 0; k < 3; k++) {
    snprintf(p, sizeof p, "%s/%s", shared, fix[k]);
    FILE *fp = fopen(p, "rb");
    if (!fp) continue;
    unsigned char len8[8];
    if (fread(len8, 1, 8, fp) == 8) {
      uint64_t hl = 0;
      for (int b = 7; b >= 0; b--) hl = hl << 8 | len8[b];
      if (hl < (1u << 20)) {
        char name[32];
        snprintf(name, sizeof name, "fixture-header-%d", k);
        put_file("safetensors", name, p, (size_t)(8 + hl + 64));
      }
    }
    fclose(fp);
  }
}

static void index_seeds(const char *shared) {
  static const char idx[] =
    "{\"metadata\": {\"total_size\": 80}, \"weight_map\": {\"a.weight\": \"model-00001-of-00002.safetensors\", "
    "\"a.bias\": \"model-00001-of-00002.safetensors\", \"b.weight\": \"model-00002-of-00002.safetensors\", "
    "\"b.bias\": \"model-00002-of-00002.safetensors\"}}";
  put("st_index", "both", idx, sizeof idx - 1);
  static const char one[] = "{\"weight_map\": {\"a.weight\": \"model-00001-of-00002.safetensors\"}}";
  put("st_index", "one", one, sizeof one - 1);
}

static void config_seeds(const char *shared) {
  const char *files[] = {"fixtures/heartmula/config.json", "fixtures/gen_config.json", "fixtures/heartcodec/config.json",
                         "fixtures-whisper/config.json", "fixtures-whisper/generation_config.json",
                         "fixtures-whisper/preprocessor_config.json"};
  for (int k = 0; k < 6; k++) {
    char p[4096], name[32];
    snprintf(p, sizeof p, "%s/%s", shared, files[k]);
    snprintf(name, sizeof name, "fixture-%d", k);
    put_file("config", name, p, 1 << 16);
  }
}

/* A real tokenizer.json cut down to its first ids and the merges among them:
 * the real structure (pre-tokenizer regexes, post-processor, added tokens) at a
 * size the fuzzer can work on. */
static void tokenizer_json_seeds(const char *shared) {
  const char *files[] = {"tokenizer/tokenizer.json", "fixtures-whisper/tokenizer.json"};
  for (int k = 0; k < 2; k++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", shared, files[k]);
    json_error_t err;
    json_t *root = json_load_file(p, 0, &err);
    if (!root) { fprintf(stderr, "make_seeds: %s: %s\n", p, err.text); continue; }
    json_t *model = json_object_get(root, "model");
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    if (!json_is_object(vocab) || !json_is_array(merges)) { json_decref(root); continue; }
    json_t *v2 = json_object();
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val)
      if (json_integer_value(val) < 400) json_object_set(v2, key, val);
    json_t *m2 = json_array();
    size_t i;
    json_array_foreach(merges, i, val) {
      if (json_array_size(m2) >= 200) break;
      char a[256], b[256], ab[512];
      if (json_is_string(val)) {
        const char *s = json_string_value(val), *sp = strchr(s, ' ');
        if (!sp || (size_t)(sp - s) >= sizeof a || strlen(sp + 1) >= sizeof b) continue;
        memcpy(a, s, (size_t)(sp - s));
        a[sp - s] = 0;
        snprintf(b, sizeof b, "%s", sp + 1);
      } else if (json_is_array(val) && json_array_size(val) == 2) {
        snprintf(a, sizeof a, "%s", json_string_value(json_array_get(val, 0)) ? json_string_value(json_array_get(val, 0)) : "");
        snprintf(b, sizeof b, "%s", json_string_value(json_array_get(val, 1)) ? json_string_value(json_array_get(val, 1)) : "");
      } else continue;
      snprintf(ab, sizeof ab, "%s%s", a, b);
      if (json_object_get(v2, a) && json_object_get(v2, b) && json_object_get(v2, ab)) json_array_append(m2, val);
    }
    json_object_set_new(model, "vocab", v2);
    json_object_set_new(model, "merges", m2);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!s) continue;
    hm_tokenizer *t = NULL;
    if (hm_tokenizer_load_json(s, strlen(s), "seed", &t) != HM_OK)
      fprintf(stderr, "make_seeds: the cut-down %s does not load: %s\n", files[k], hm_last_error());
    hm_tokenizer_free(t);
    char name[32];
    snprintf(name, sizeof name, "cut-%d", k);
    put("tokenizer_json", name, s, strlen(s));
    free(s);
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s/demo-tokenizer.json", out_dir);
  remove(tmp);
  if (hm_tokenizer_write_demo(tmp, 300, 256, 257, true) != HM_OK) fail();
  put_file("tokenizer_json", "demo", tmp, 1 << 20);
  remove(tmp);
}

static void tokenize_seeds(const char *shared) {
  static const char *texts[] = {
    "\x00[verse]\nHello world, it's a test\n[chorus]\nla la la",
    "\x02<|begin_of_text|>pop, female vocal, piano, happy<|end_of_text|>",
    "\x01 And so my fellow Americans, ask not what your country can do for you",
    ("\x00\xc3\x9c" "BER \xce\x9b\xce\x91 \xe6\x98\xaf\xe7\x9a\x84 \xf0\x9f\x8e\xb5 123456789 don't  \t\r\n"),
    "\x03<|startoftranscript|><|en|><|transcribe|> hi<|endoftext|>",
  };
  for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
    char name[32];
    snprintf(name, sizeof name, "text-%zu", k);
    put("tokenize", name, texts[k], 1 + strlen(texts[k] + 1));
  }
  char p[4096];
  snprintf(p, sizeof p, "%s/tokenizer/golden_ids.json", shared);
  put_file("tokenize", "golden", p, 4096);
}

static void npy_seeds(const char *shared) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s/seed.npy", out_dir);
  static const float f[6] = {1, 2, 3, 4, 5, 6};
  static const int32_t c[16] = {0, 1, 2, 8191, 8192, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  int64_t s2[2] = {2, 3}, s8[2] = {8, 2};
  if (hm_npy_write(tmp, HM_DT_F32, 2, s2, f) != HM_OK) fail();
  put_file("npy", "f32", tmp, 1 << 16);
  if (hm_npy_write(tmp, HM_DT_I32, 2, s8, c) != HM_OK) fail();
  put_file("npy", "codes", tmp, 1 << 16);
  if (hm_npy_write(tmp, HM_DT_F32, 0, s2, f) != HM_OK) fail();
  put_file("npy", "scalar", tmp, 1 << 16);
  remove(tmp);
  /* a few small fixture arrays of other dtypes */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/fixtures", shared);
  DIR *d = opendir(dir);
  int taken = 0;
  struct dirent *e;
  while (d && taken < 12 && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 4, ".npy")) continue;
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    struct stat sb;
    if (stat(p, &sb) != 0 || sb.st_size > 4096) continue;
    char name[64];
    snprintf(name, sizeof name, "fixture-%d", taken++);
    put_file("npy", name, p, 4096);
  }
  if (d) closedir(d);
}

static void audio_seeds(void) {
  enum { N = 800 };
  static float l[N], r[N];
  for (int i = 0; i < N; i++) { l[i] = 0.5f * sinf((float)i * 0.07f); r[i] = 0.3f * cosf((float)i * 0.11f); }
  const float *ch[2] = {l, r};
  const struct { const char *ext; hm_audio_format fmt; int nch; int rate; } kinds[] = {
    {"wav", HM_AUDIO_WAV16, 1, 16000}, {"wav", HM_AUDIO_WAV_FLOAT, 2, 48000}, {"flac", HM_AUDIO_FLAC, 2, 44100},
    {"ogg", HM_AUDIO_OGG, 1, 16000}, {"mp3", HM_AUDIO_MP3, 1, 16000},
  };
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    char tmp[4200], name[32];
    snprintf(tmp, sizeof tmp, "%s/seed.%s", out_dir, kinds[k].ext);
    if (hm_audio_write(tmp, kinds[k].fmt, ch, kinds[k].nch, N, kinds[k].rate, true) != HM_OK) {
      fprintf(stderr, "make_seeds: no %s seed: %s\n", kinds[k].ext, hm_last_error());
      continue;
    }
    snprintf(name, sizeof name, "seed-%zu.%s", k, kinds[k].ext);
    put_file("audio", name, tmp, 1 << 16);
    remove(tmp);
  }
}

static void cli_seeds(void) {
  static const char a[] = "--max-audio-length-ms\0" "240000\0" "-m=12\0" "--max_audio_length_ms=-5";
  static const char b[] = "1e308\0" "0x7fffffffffffffff\0" "-9223372036854775809\0" "nan\0" " 42\0" "3.5e-400";
  put("cli_numbers", "opts", a, sizeof a - 1);
  put("cli_numbers", "numbers", b, sizeof b - 1);
}

/* torch_bin: a torch.save zip of one F32 [2] tensor (stored entries; pickle protocol 2), and its pickle
 * alone in a zip without storages. */
static void w16(uint8_t **p, uint16_t v) { *(*p)++ = (uint8_t)v; *(*p)++ = (uint8_t)(v >> 8); }
static void w32(uint8_t **p, uint32_t v) { w16(p, (uint16_t)v); w16(p, (uint16_t)(v >> 16)); }
static size_t torch_zip(uint8_t *out, const char *const *names, const void *const *data, const size_t *sizes, int n) {
  uint8_t *p = out;
  uint32_t off[4];
  for (int i = 0; i < n; i++) {
    off[i] = (uint32_t)(p - out);
    w32(&p, 0x04034b50); w16(&p, 20); w16(&p, 0); w16(&p, 0); w16(&p, 0); w16(&p, 0); w32(&p, 0);
    w32(&p, (uint32_t)sizes[i]); w32(&p, (uint32_t)sizes[i]); w16(&p, (uint16_t)strlen(names[i])); w16(&p, 0);
    memcpy(p, names[i], strlen(names[i])); p += strlen(names[i]);
    memcpy(p, data[i], sizes[i]); p += sizes[i];
  }
  uint32_t cd = (uint32_t)(p - out);
  for (int i = 0; i < n; i++) {
    w32(&p, 0x02014b50); w16(&p, 20); w16(&p, 20); w16(&p, 0); w16(&p, 0); w16(&p, 0); w16(&p, 0); w32(&p, 0);
    w32(&p, (uint32_t)sizes[i]); w32(&p, (uint32_t)sizes[i]); w16(&p, (uint16_t)strlen(names[i]));
    w16(&p, 0); w16(&p, 0); w16(&p, 0); w16(&p, 0); w32(&p, 0); w32(&p, off[i]);
    memcpy(p, names[i], strlen(names[i])); p += strlen(names[i]);
  }
  uint32_t cds = (uint32_t)(p - out) - cd;
  w32(&p, 0x06054b50); w16(&p, 0); w16(&p, 0); w16(&p, (uint16_t)n); w16(&p, (uint16_t)n); w32(&p, cds); w32(&p, cd);
  w16(&p, 0);
  return (size_t)(p - out);
}

static void torch_bin_seeds(void) {
  static const char pkl[] =
      "\x80\x02" "ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\x00\x00\x00w"
      "ctorch._utils\n_rebuild_tensor_v2\nq\x02((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
      "X\x01\x00\x00\x00" "0" "X\x03\x00\x00\x00" "cpu" "K\x02tQK\x00K\x02\x85K\x01\x85\x89"
      "ccollections\nOrderedDict\n)RtRu.";
  static const float w[2] = {1.5f, -2.0f};
  const char *names[3] = {"archive/data.pkl", "archive/byteorder", "archive/data/0"};
  const void *data[3] = {pkl, "little", w};
  const size_t sizes[3] = {sizeof pkl - 1, 6, sizeof w};
  uint8_t buf[2048];
  size_t n = torch_zip(buf, names, data, sizes, 3);
  put("torch_bin", "state_dict.bin", buf, n);
  n = torch_zip(buf, names, data, sizes, 1);
  put("torch_bin", "no_storage.bin", buf, n);
}

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: make_seeds SHARED_DIR OUT_DIR\n"); return 2; }
  out_dir = argv[2];
  if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) { perror(out_dir); return 1; }
  safetensors_seeds(argv[1]);
  index_seeds(argv[1]);
  config_seeds(argv[1]);
  tokenizer_json_seeds(argv[1]);
  tokenize_seeds(argv[1]);
  npy_seeds(argv[1]);
  audio_seeds();
  cli_seeds();
  torch_bin_seeds();
  printf("make_seeds: %d seeds in %s\n", n_written, out_dir);
  return 0;
}
