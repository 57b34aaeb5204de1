#include "cli.h"

int cmd_tokenize(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula: 'tokenize' is not implemented yet\n");
  return 2;
}
