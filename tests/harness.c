#include "harness.h"
#include <stdarg.h>
#include <stdlib.h>

int hm_test_failed = 0;
int hm_test_passed = 0;
const char *hm_test_shared = "../shared";

const char *hm_test_path(char *buf, size_t n, const char *rel) {
  snprintf(buf, n, "%s/%s", hm_test_shared, rel);
  return buf;
}

const char *hm_test_tmpdir(void) {
  static char dir[256];
  if (!dir[0]) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/hmtest-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); exit(2); }
  }
  return dir;
}

void hm_test_skip(const char *fmt, ...) {
  printf("%d passed, %d failed; SKIPPED: ", hm_test_passed, hm_test_failed);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
  exit(hm_test_failed ? 1 : HM_TEST_SKIP_CODE);
}

int main(int argc, char **argv) {
  if (argc > 1) hm_test_shared = argv[1];
  hm_test_main();
  printf("%d passed, %d failed\n", hm_test_passed, hm_test_failed);
  if (hm_test_failed) return 1;
  if (hm_test_passed == 0) {
    fprintf(stderr, "no check ran: a test that checks nothing does not pass (use hm_test_skip to skip)\n");
    return 1;
  }
  return 0;
}
