#include "cli.h"
#include <string.h>

/* heartmula bench [--mode lm|codec|transcribe|e2e] [mode options]; default mode lm. */
int cmd_bench(int argc, char **argv) {
  const char *mode = "lm";
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_opt(argc, argv, &i, "--mode", NULL, &v)) mode = v;
  }
  if (!strcmp(mode, "lm")) return bench_lm(argc, argv);
  if (!strcmp(mode, "codec")) return bench_codec(argc, argv);
  if (!strcmp(mode, "transcribe")) return bench_transcribe(argc, argv);
  if (!strcmp(mode, "e2e")) return bench_e2e(argc, argv);
  fprintf(stderr, "heartmula bench: unknown --mode '%s' (lm, codec, transcribe, e2e)\n", mode);
  return 2;
}
