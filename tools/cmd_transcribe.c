#include "cli.h"

int cmd_transcribe(int argc, char **argv) {
  (void)argc; (void)argv;
  fprintf(stderr, "heartmula: 'transcribe' is not implemented yet\n");
  return 2;
}
