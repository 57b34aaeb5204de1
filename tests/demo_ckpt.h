/* For the tests that run whole songs through the public API: a demo checkpoint
 * folder (demo LM, the fixture-sized codec, a demo tokenizer) in this test's
 * temporary directory, and a byte comparison of two files. */
#ifndef HM_TEST_DEMO_CKPT_H
#define HM_TEST_DEMO_CKPT_H
#include "harness.h"
#include "testkit.h"
#include "heartmula.h"
#include "io/fs.h"
#include "text/tokenizer.h"

#include <stdlib.h>

/* Writes the folder to <tmpdir>/ckpt (its path into dir); lm_shards: 1 or more. */
static inline hm_status hm_test_demo_ckpt(char *dir, size_t n, int lm_shards) {
  char p[1024];
  snprintf(dir, n, "%s/ckpt", hm_test_tmpdir());
  HM_TRY(hm_mula_make_checkpoint(dir, "demo", 11, lm_shards));
  HM_TRY(hm_path_join(p, sizeof p, dir, "HeartCodec-oss"));
  HM_TRY(hm_codec_make_checkpoint(p, "tiny", 12));
  HM_TRY(hm_path_join(p, sizeof p, dir, "tokenizer.json"));
  return hm_tokenizer_write_demo(p, 1024, 1000, 1001, true);
}

/* Both files readable and byte for byte equal. */
static inline bool hm_test_same_file(const char *a, const char *b) {
  char *x, *y;
  size_t nx, ny;
  if (hm_read_file(a, &x, &nx) != HM_OK) return false;
  if (hm_read_file(b, &y, &ny) != HM_OK) { free(x); return false; }
  bool same = nx == ny && memcmp(x, y, nx) == 0;
  free(x);
  free(y);
  return same;
}
#endif
