#include "cli.h"

int bench_transcribe(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula bench: mode 'transcribe' is not implemented yet\n");
  return 2;
}
