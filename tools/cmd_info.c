/* heartmula info [DIR|FILE]: this machine (cores, SIMD kernels) and, given a
 * checkpoint folder or a safetensors file, what it holds. */
#include "cli.h"
#include "io/fs.h"
#include "io/json.h"
#include "io/safetensors.h"
#include "tensor/gemm.h"
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static void machine(void) {
  const hm_cpu_features *f = hm_cpu();
  printf("heartmula %s\n", HM_VERSION_STRING);
  printf("cpu: %d cores;%s%s%s%s%s%s\n", hm_num_cores(), f->avx2 ? " avx2" : "", f->fma ? " fma" : "",
         f->avx512f ? " avx512f" : "", f->avx512vnni ? " avx512-vnni" : "", f->avx512bf16 ? " avx512-bf16" : "",
         hm_force_scalar() ? " (HM_FORCE_SCALAR: scalar kernels)" : "");
  const hm_gemm_info gi = hm_gemm_active_info();
  printf("kernels: %s (GEMM micro-kernel %d x %d; no BLAS)\n", gi.name, gi.mr, gi.nr);
}

/* One safetensors set: tensor count, bytes per dtype. */
static int describe_weights(const char *label, const char *path) {
  hm_st *st = NULL;
  if (hm_st_open(path, &st) != HM_OK) {
    printf("  %-22s error: %s\n", label, hm_last_error());
    return 1;
  }
  size_t bytes[HM_DT_COUNT] = {0};
  int64_t params = 0;
  for (int i = 0; i < hm_st_count(st); i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    bytes[t->dtype] += t->nbytes;
    params += t->n_elems;
  }
  printf("  %-22s %d tensors, %.3f G values:", label, hm_st_count(st), (double)params * 1e-9);
  for (int d = 0; d < HM_DT_COUNT; d++)
    if (bytes[d]) printf(" %s %.1f MB", hm_dtype_name((hm_dtype)d), (double)bytes[d] / 1e6);
  printf("\n");
  hm_st_close(st);
  return 0;
}

int cmd_info(int argc, char **argv) {
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (cli_flag(argv[i], "--help", "-h")) {
      printf("usage: heartmula info [CHECKPOINT_DIR | FILE.safetensors]\n"
             "  Prints this machine's cores, SIMD features and kernel table, and what a checkpoint folder holds.\n");
      return 0;
    }
    if (argv[i][0] == '-') { fprintf(stderr, "heartmula info: unknown option '%s'\n", argv[i]); return 2; }
    path = argv[i];
  }
  machine();
  if (!path) return 0;
  if (hm_file_exists(path)) { printf("%s:\n", path); return describe_weights("weights", path); }
  if (!hm_dir_exists(path)) { fprintf(stderr, "heartmula info: error: '%s' is neither a folder nor a file\n", path); return 1; }
  printf("%s:\n", path);
  int bad = 0, found = 0;
  char p[4096];
  /* the folder itself may be one model folder */
  if (hm_path_join(p, sizeof p, path, "config.json") == HM_OK && hm_file_exists(p)) {
    found++;
    bad += describe_weights("(this folder)", path);
  }
  /* every sub-folder holding a config.json: HeartMuLa-oss-<ver>/, HeartCodec-oss/, ... */
  struct dirent **ents = NULL;
  int n = scandir(path, &ents, NULL, alphasort);
  for (int i = 0; i < n; i++) {
    char sub[4096];
    if (ents[i]->d_name[0] != '.' && hm_path_join(sub, sizeof sub, path, ents[i]->d_name) == HM_OK &&
        hm_path_join(p, sizeof p, sub, "config.json") == HM_OK && hm_file_exists(p)) {
      found++;
      bad += describe_weights(ents[i]->d_name, sub);
    }
    free(ents[i]);
  }
  free(ents);
  static const char *const files[] = {"tokenizer.json", "gen_config.json"};
  for (size_t i = 0; i < 2; i++)
    if (hm_path_join(p, sizeof p, path, files[i]) == HM_OK)
      printf("  %-22s %s\n", files[i], hm_file_exists(p) ? "present" : "missing");
  if (hm_path_join(p, sizeof p, path, "gen_config.json") == HM_OK && hm_file_exists(p)) {
    json_t *g;
    if (hm_json_load(p, &g) == HM_OK) {
      char *s = json_dumps(g, JSON_COMPACT);
      printf("  %-22s %s\n", "gen_config", s ? s : "");
      free(s);
      json_decref(g);
    }
  }
  if (!found) printf("  no model folder found (expected HeartMuLa-oss-<version>/, HeartCodec-oss/ ...)\n");
  return bad || !found ? 1 : 0;
}
