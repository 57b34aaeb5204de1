#include "cli.h"

int bench_codec(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula bench: mode 'codec' is not implemented yet\n");
  return 2;
}
