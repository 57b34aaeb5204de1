#include "cli.h"

int cmd_decode(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula: 'decode' is not implemented yet\n");
  return 2;
}
