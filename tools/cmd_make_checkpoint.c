/* heartmula make-checkpoint --flavor tiny|3B --out DIR [--seed N] [--shards N] [--force]
 * Writes a random checkpoint in the published layout (DIR/HeartMuLa-oss-<ver>/,
 * DIR/gen_config.json) for tests, the demo and full-size benchmarks. */
#include "cli.h"
#include "io/json.h"
#include <string.h>

static void usage(void) {
  fprintf(stderr,
          "usage: heartmula make-checkpoint --flavor tiny|3B --out DIR [--seed N] [--shards N] [--force]\n"
          "  Writes random weights in the published layout: DIR/HeartMuLa-oss-<ver>/ (config.json, F32\n"
          "  model-0000k-of-0000n.safetensors + model.safetensors.index.json) and DIR/gen_config.json.\n"
          "  tiny: the fixture's shapes (~2 MB); 3B: HeartMuLa-oss-3B's shapes (~16 GB F32, 4 shards).\n"
          "  --shards N   safetensors files (default 4 for 3B, 1 for tiny)\n"
          "  --force      replace an existing HeartMuLa-oss-<ver> folder's files\n");
}

int cmd_make_checkpoint(int argc, char **argv) {
  const char *flavor = NULL, *out = NULL;
  int64_t seed = 0, shards = -1;
  bool force = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_flag(argv[i], "--help", "-h")) { usage(); return 0; }
    else if (cli_opt(argc, argv, &i, "--flavor", NULL, &v)) flavor = v;
    else if (cli_opt(argc, argv, &i, "--out", "-o", &v)) out = v;
    else if (cli_opt(argc, argv, &i, "--seed", NULL, &v)) { if (!cli_int("--seed", v, &seed)) return 2; }
    else if (cli_opt(argc, argv, &i, "--shards", NULL, &v)) { if (!cli_int("--shards", v, &shards)) return 2; }
    else if (cli_flag(argv[i], "--force", NULL)) force = true;
    else { fprintf(stderr, "heartmula make-checkpoint: unknown argument '%s'\n", argv[i]); usage(); return 2; }
  }
  if (!flavor || !out) { usage(); return 2; }
  if (strcmp(flavor, "tiny") != 0 && strcmp(flavor, "3B") != 0) {
    fprintf(stderr, "heartmula make-checkpoint: error: unknown --flavor '%s' (tiny, 3B)\n", flavor);
    return 2;
  }
  if (shards < 0) shards = !strcmp(flavor, "3B") ? 4 : 1;
  if (shards < 1 || shards > 99) {
    fprintf(stderr, "heartmula make-checkpoint: error: --shards %lld is out of range (1..99)\n", (long long)shards);
    return 2;
  }
  char dir[4096], name[64];
  snprintf(name, sizeof name, "HeartMuLa-oss-%s", flavor);
  if (hm_path_join(dir, sizeof dir, out, name) != HM_OK) return cli_fail("make-checkpoint", out);
  if (hm_dir_exists(dir) && !force) {
    fprintf(stderr, "heartmula make-checkpoint: error: %s exists (use --force to replace its files)\n", dir);
    return 1;
  }
  if (hm_mula_make_checkpoint(out, flavor, (uint64_t)seed, (int)shards) != HM_OK)
    return cli_fail("make-checkpoint", dir);
  /* Hook (TODO(lead)): the HeartCodec-oss folder and tokenizer.json of a complete
   * pretrained folder are written here, next to HeartMuLa-oss-<ver>. */
  printf("wrote %s and %s/gen_config.json\n", dir, out);
  return 0;
}
