#include "cli.h"

int bench_e2e(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula bench: mode 'e2e' is not implemented yet\n");
  return 2;
}
