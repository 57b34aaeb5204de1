/* Runs a fuzz target's LLVMFuzzerTestOneInput once on each file given (folders:
 * each file in them), without libFuzzer: the regression tests of the normal
 * build (fuzz/regressions/<target>/, the seeds of fuzz/seeds/<target>/). A
 * crash or a sanitizer report fails the run; so does an empty input list. */
#include "fuzz_common.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); return -1; }
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (n == cap) { cap *= 2; buf = realloc(buf, cap); }
    if (!buf) { fclose(f); return -1; }
    size_t got = fread(buf + n, 1, cap - n, f);
    if (!got) break;
    n += got;
  }
  fclose(f);
  /* an exact-size copy, so reads past the end are caught by ASan */
  uint8_t *in = malloc(n ? n : 1);
  if (!in) { free(buf); return -1; }
  memcpy(in, buf, n);
  free(buf);
  LLVMFuzzerTestOneInput(in, n);
  free(in);
  return 1;
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  int ran = 0;
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) != 0) { perror(argv[i]); return 1; }
    if (S_ISDIR(sb.st_mode)) {
      DIR *d = opendir(argv[i]);
      if (!d) { perror(argv[i]); return 1; }
      struct dirent *e;
      while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
        int r = run_file(p);
        if (r < 0) { closedir(d); return 1; }
        ran += r;
      }
      closedir(d);
    } else {
      int r = run_file(argv[i]);
      if (r < 0) return 1;
      ran += r;
    }
  }
  printf("%d inputs ran\n", ran);
  return ran ? 0 : 1;
}
