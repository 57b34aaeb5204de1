/* The CLI's option parsing (tools/cli_util.c): integers, numbers, "--flag=value"
 * and "--flag value" with dash / underscore spellings. The input is split at
 * NUL bytes into an argv. */
#include "fuzz_common.h"
#include "../tools/cli.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = 0;
  char *argv[64];
  int argc = 0;
  argv[argc++] = (char *)"heartmula";
  for (size_t i = 0; i <= size && argc < 62;) {
    argv[argc++] = buf + i;
    i += strlen(buf + i) + 1;
  }
  argv[argc++] = (char *)"end"; /* cli_opt exits (as the CLI must) when a flag is last without a value */
  argv[argc] = NULL;
  fuzz_quiet_begin();
  for (int i = 1; i < argc; i++) {
    int64_t n = 0;
    double x = 0;
    (void)cli_int("--n", argv[i], &n);
    (void)cli_float("--x", argv[i], &x);
    (void)cli_flag(argv[i], "--codes-only", "-q");
  }
  for (int i = 1; i < argc - 1; i++) {
    const char *v = NULL;
    int before = i;
    if (cli_opt(argc, argv, &i, "--max-audio-length-ms", "-m", &v)) {
      FUZZ_ASSERT(v != NULL && i < argc && i >= before);
      int64_t n;
      (void)cli_int(argv[i - (i > before)], v, &n);
    }
  }
  fuzz_quiet_end();
  free(buf);
  return 0;
}
