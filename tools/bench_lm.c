#include "cli.h"

int bench_lm(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula bench: mode 'lm' is not implemented yet\n");
  return 2;
}
