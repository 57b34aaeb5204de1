#include "cli.h"
#include <string.h>

/* heartmula bench [--mode lm|codec|transcribe|e2e|kernels|gemm|clap] [mode options]; default mode lm. */
int cmd_bench(int argc, char **argv) {
  const char *mode = "lm";
  bool help = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_opt(argc, argv, &i, "--mode", NULL, &v)) mode = v;
    else if (cli_flag(argv[i], "--help", "-h")) help = true;
  }
  if (help) fprintf(stderr, "heartmula bench --mode lm|codec|transcribe|e2e|kernels|gemm|clap [options]  (default lm; "
                            "'heartmula bench --mode M --help' for a mode's options)\n\n");
  if (!strcmp(mode, "lm")) return bench_lm(argc, argv);
  if (!strcmp(mode, "codec")) return bench_codec(argc, argv);
  if (!strcmp(mode, "transcribe")) return bench_transcribe(argc, argv);
  if (!strcmp(mode, "e2e")) return bench_e2e(argc, argv);
  if (!strcmp(mode, "kernels")) return bench_kernels(argc, argv);
  if (!strcmp(mode, "gemm")) return bench_gemm(argc, argv);
  if (!strcmp(mode, "clap")) return bench_clap(argc, argv);
  fprintf(stderr, "heartmula bench: unknown --mode '%s' (lm, codec, transcribe, e2e, kernels, gemm, clap)\n", mode);
  return 2;
}
