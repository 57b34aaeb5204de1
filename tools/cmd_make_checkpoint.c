/* heartmula make-checkpoint --flavor tiny|demo|3B --out DIR [--seed N] [--shards N]
 *                           [--parts lm,codec,tokenizer,whisper,clap] [--force]
 * Writes a random checkpoint folder in the published layout, for tests, the demo
 * and full-size benchmarks:
 *   DIR/HeartMuLa-oss-<flavor>/  DIR/HeartCodec-oss/  DIR/tokenizer.json  DIR/gen_config.json
 *   (+ DIR/HeartTranscriptor-oss/ with the whisper part, DIR/MuQ-MuLan-large/ with the clap part). */
#include "cli.h"
#include "testkit.h"
#include "io/fs.h"
#include "text/tokenizer.h"
#include <dirent.h>
#include <stdio.h>
#include <string.h>

static void usage(void) {
  fprintf(stderr,
          "usage: heartmula make-checkpoint --flavor tiny|demo|3B --out DIR [--seed N] [--shards N]\n"
          "                                 [--parts lm,codec,tokenizer,whisper,clap] [--force]\n"
          "  Writes random weights in the published layout:\n"
          "    DIR/HeartMuLa-oss-<flavor>/  config.json + F32 safetensors (sharded with an index when --shards > 1)\n"
          "    DIR/gen_config.json, DIR/tokenizer.json (a small byte-level BPE; 3B: the Llama 3 id layout)\n"
          "    DIR/HeartCodec-oss/          config.json + F32 safetensors (tiny for tiny/demo, full size for 3B)\n"
          "    DIR/HeartTranscriptor-oss/   only with --parts ...,whisper (tiny, or large-v3 for 3B)\n"
          "    DIR/MuQ-MuLan-large/         only with --parts ...,clap: MuQ-MuLan for reference audio (the fixture's\n"
          "                                 tiny shapes, or OpenMuQ/MuQ-MuLan-large's for 3B: ~2.6 GB; no tokenizer)\n"
          "  tiny: the fixture's shapes (~2 MB); demo: tiny with room for 2-minute songs; 3B: the published\n"
          "  shapes (~16 GB LM + codec). Random weights make noise, not music.\n"
          "  --parts LIST  what to write (default lm,codec,tokenizer)\n"
          "  --shards N    LM safetensors files (default 4 for 3B, 1 otherwise)\n"
          "  --force       replace existing files\n");
}

static bool has_part(const char *parts, const char *name) {
  size_t n = strlen(name);
  for (const char *p = parts; (p = strstr(p, name)) != NULL; p += n)
    if ((p == parts || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return true;
  return false;
}

int cmd_make_checkpoint(int argc, char **argv) {
  const char *flavor = NULL, *out = NULL, *parts = "lm,codec,tokenizer";
  int64_t seed = 0, shards = -1;
  bool force = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_flag(argv[i], "--help", "-h")) { usage(); return 0; }
    else if (cli_opt(argc, argv, &i, "--flavor", NULL, &v)) flavor = v;
    else if (cli_opt(argc, argv, &i, "--out", "-o", &v)) out = v;
    else if (cli_opt(argc, argv, &i, "--seed", NULL, &v)) { if (!cli_int("--seed", v, &seed)) return 2; }
    else if (cli_opt(argc, argv, &i, "--shards", NULL, &v)) { if (!cli_int("--shards", v, &shards)) return 2; }
    else if (cli_opt(argc, argv, &i, "--parts", NULL, &v)) parts = v;
    else if (cli_flag(argv[i], "--force", NULL)) force = true;
    else { fprintf(stderr, "heartmula make-checkpoint: unknown argument '%s'\n", argv[i]); usage(); return 2; }
  }
  if (!flavor || !out) { usage(); return 2; }
  bool big = !strcmp(flavor, "3B");
  if (strcmp(flavor, "tiny") != 0 && strcmp(flavor, "demo") != 0 && !big) {
    fprintf(stderr, "heartmula make-checkpoint: error: unknown --flavor '%s' (tiny, demo, 3B)\n", flavor);
    return 2;
  }
  for (const char *p = parts; *p;) {
    size_t n = strcspn(p, ",");
    if (!((n == 2 && !strncmp(p, "lm", 2)) || (n == 5 && !strncmp(p, "codec", 5)) ||
          (n == 9 && !strncmp(p, "tokenizer", 9)) || (n == 7 && !strncmp(p, "whisper", 7)) ||
          (n == 4 && !strncmp(p, "clap", 4)))) {
      fprintf(stderr, "heartmula make-checkpoint: error: --parts: unknown part '%.*s' (lm, codec, tokenizer, whisper, clap)\n", (int)n, p);
      return 2;
    }
    p += n + (p[n] == ',');
  }
  if (shards < 0) shards = big ? 4 : 1;
  if (shards < 1 || shards > 99) {
    fprintf(stderr, "heartmula make-checkpoint: error: --shards %lld is out of range (1..99)\n", (long long)shards);
    return 2;
  }
  char dir[4096], name[64];
  if (has_part(parts, "lm")) {
    snprintf(name, sizeof name, "HeartMuLa-oss-%s", flavor);
    if (hm_path_join(dir, sizeof dir, out, name) != HM_OK) return cli_fail("make-checkpoint", out);
    if (hm_dir_exists(dir) && !force) {
      fprintf(stderr, "heartmula make-checkpoint: error: %s exists (use --force to replace its files)\n", dir);
      return 1;
    }
    if (hm_mula_make_checkpoint(out, flavor, (uint64_t)seed, (int)shards) != HM_OK) return cli_fail("make-checkpoint", dir);
    printf("wrote %s and %s/gen_config.json\n", dir, out);
  }
  if (has_part(parts, "codec")) {
    if (hm_path_join(dir, sizeof dir, out, "HeartCodec-oss") != HM_OK) return cli_fail("make-checkpoint", out);
    if (hm_dir_exists(dir) && !force) {
      fprintf(stderr, "heartmula make-checkpoint: error: %s exists (use --force to replace its files)\n", dir);
      return 1;
    }
    if (hm_codec_make_checkpoint(dir, big ? "full" : "tiny", (uint64_t)seed + 1) != HM_OK) return cli_fail("make-checkpoint", dir);
    printf("wrote %s\n", dir);
  }
  if (has_part(parts, "tokenizer")) {
    if (hm_path_join(dir, sizeof dir, out, "tokenizer.json") != HM_OK) return cli_fail("make-checkpoint", out);
    hm_status st = big ? hm_tokenizer_write_demo(dir, 128256, 128000, 128001, force)
                       : hm_tokenizer_write_demo(dir, 1024, 1000, 1001, force);
    if (st != HM_OK) return cli_fail("make-checkpoint", dir);
    printf("wrote %s\n", dir);
  }
  if (has_part(parts, "whisper")) {
    if (hm_path_join(dir, sizeof dir, out, "HeartTranscriptor-oss") != HM_OK) return cli_fail("make-checkpoint", out);
    if (hm_dir_exists(dir) && !force) {
      fprintf(stderr, "heartmula make-checkpoint: error: %s exists (use --force to replace its files)\n", dir);
      return 1;
    }
    if (hm_whisper_make_checkpoint(dir, big ? "large-v3" : "tiny", (uint64_t)seed + 2) != HM_OK)
      return cli_fail("make-checkpoint", dir);
    printf("wrote %s\n", dir);
  }
  if (has_part(parts, "clap")) {
    if (hm_path_join(dir, sizeof dir, out, "MuQ-MuLan-large") != HM_OK) return cli_fail("make-checkpoint", out);
    if (hm_dir_exists(dir) && !force) {
      fprintf(stderr, "heartmula make-checkpoint: error: %s exists (use --force to replace its files)\n", dir);
      return 1;
    }
    if (force) { /* the generator refuses to overwrite a model: --force removes the old weights first */
      DIR *d = opendir(dir);
      struct dirent *de;
      char f[4200];
      while (d && (de = readdir(d)))
        if (!strncmp(de->d_name, "model", 5) && strstr(de->d_name, ".safetensors") &&
            hm_path_join(f, sizeof f, dir, de->d_name) == HM_OK)
          remove(f);
      if (d) closedir(d);
    }
    if (hm_clap_make_checkpoint(dir, big ? "large" : "tiny", (uint64_t)seed + 3) != HM_OK)
      return cli_fail("make-checkpoint", dir);
    printf("wrote %s\n", dir);
  }
  return 0;
}
