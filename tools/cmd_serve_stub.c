/* `heartmula serve` when the build lacks the server's libraries (see tools/CMakeLists.txt). */
#include "cli.h"

#ifndef HM_HAVE_SERVER
int cmd_serve(int argc, char **argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "heartmula serve: error: this build has no server (it needs civetweb, SQLite, libsodium and libjwt: "
                  "run scripts/install-deps.sh, then rebuild)\n");
  return 1;
}
#endif
