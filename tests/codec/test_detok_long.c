/* HeartCodec.detokenize, long case (380 frames: two windows, the latent
 * hand-over of 104 in-context frames and the linear cross-fade), replayed
 * draws; latents per window within 1e-4, waveform up to round(9x) flips. */
#include "detok_common.h"

void hm_test_main(void) {
  char dir[1024];
  hm_codec_model *m = NULL;
  CHECK_OK(hm_codec_load(hm_test_path(dir, sizeof dir, "fixtures/heartcodec"), NULL, &m));
  if (!m) return;
  hm_pool *pool = hm_pool_create(2);
  run_case(m, pool, "long", 4, false);
  hm_pool_free(pool);
  hm_codec_free(m);
}
