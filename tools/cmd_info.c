#include "cli.h"

int cmd_info(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula: 'info' is not implemented yet\n");
  return 2;
}
