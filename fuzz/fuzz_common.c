#include "fuzz_common.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *fuzz_dir(void) {
  static char dir[512];
  if (!dir[0]) {
    const char *base = getenv("TMPDIR");
    struct stat sb;
    if (!base || !*base) base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/hmfuzz-XXXXXX", base);
    if (!mkdtemp(dir)) { perror("mkdtemp"); abort(); }
  }
  return dir;
}

const char *fuzz_file(const char *name, const void *data, size_t size) {
  static char paths[8][600];
  static char names[8][64];
  int slot = -1;
  for (int i = 0; i < 8 && slot < 0; i++)
    if (!strcmp(names[i], name) || !names[i][0]) slot = i;
  if (slot < 0) abort();
  snprintf(names[slot], sizeof names[slot], "%s", name);
  snprintf(paths[slot], sizeof paths[slot], "%s/%s", fuzz_dir(), name);
  FILE *f = fopen(paths[slot], "wb");
  if (!f) { perror(paths[slot]); abort(); }
  if (size && fwrite(data, 1, size, f) != size) { perror(paths[slot]); abort(); }
  if (fclose(f) != 0) { perror(paths[slot]); abort(); }
  return paths[slot];
}

static int saved_stderr = -1;

void fuzz_quiet_begin(void) {
  fflush(stderr);
  saved_stderr = dup(2);
  int null_fd = open("/dev/null", O_WRONLY);
  if (null_fd >= 0) { dup2(null_fd, 2); close(null_fd); }
}

void fuzz_quiet_end(void) {
  fflush(stderr);
  if (saved_stderr >= 0) { dup2(saved_stderr, 2); close(saved_stderr); saved_stderr = -1; }
}
