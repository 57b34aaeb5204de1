#include "cli.h"

int cmd_make_checkpoint(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula: 'make_checkpoint' is not implemented yet\n");
  return 2;
}
