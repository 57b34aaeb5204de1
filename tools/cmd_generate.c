#include "cli.h"

int cmd_generate(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula: 'generate' is not implemented yet\n");
  return 2;
}
