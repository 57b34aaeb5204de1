/* The harness itself: hm_test_skip exits with the skip code (CTest reports the
 * test as skipped, not passed); a failed check before the skip still fails. */
#include "harness.h"
#include <stdlib.h>

void hm_test_main(void) {
  const char *fail_first = getenv("HM_SELFTEST_FAIL_FIRST");
  CHECK(!(fail_first && *fail_first == '1'));
  hm_test_skip("nothing to test on %s", "this machine");
}
