#include "cli.h"

int cmd_quantize(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula: 'quantize' is not implemented yet\n");
  return 2;
}
