/* Same job, same seed, 1, 2 or 3 threads: the same codes and the same bytes of
 * audio (every reduction has one order whatever the thread split; docs/api.md
 * "Reproducibility"), through the C API, for a song of two codec windows
 * (more than 372 frames: the overlap-add path). */
#include "heartmula.h"
#include "harness.h"
#include "demo_ckpt.h"
#include "text/tokenizer.h"

#include <stdlib.h>

static char ckpt[512];

static hm_status make_ckpt(void) { return hm_test_demo_ckpt(ckpt, sizeof ckpt, 2); }

static bool same_file(const char *a, const char *b) { return hm_test_same_file(a, b); }

void hm_test_main(void) {
  CHECK_OK(make_ckpt());
  char out[3][1024];
  hm_generate_result res[3];
  const int threads[3] = {1, 2, 3};
  for (int i = 0; i < 3; i++) {
    snprintf(out[i], sizeof out[i], "%s/t%d.wav", hm_test_tmpdir(), threads[i]);
    hm_generate_params p = hm_generate_default_params();
    p.model_path = ckpt;
    p.version = "demo";
    p.lyrics = "[verse]\nthe same song at any thread count\n";
    p.tags = "pop,piano";
    p.max_audio_ms = 32000; /* up to 400 frames: two codec windows */
    p.seed = 21;
    p.n_threads = threads[i];
    p.output_path = out[i];
    p.overwrite = true;
    memset(&res[i], 0, sizeof res[i]);
    CHECK_OK(hm_generate(&p, &res[i]));
  }
  CHECK_MSG(res[0].n_frames > 372, "only %lld frames: the song must span two codec windows", (long long)res[0].n_frames);
  for (int i = 1; i < 3; i++) {
    CHECK_MSG(res[i].n_frames == res[0].n_frames && res[i].codes && res[0].codes &&
                  memcmp(res[i].codes, res[0].codes, (size_t)(8 * res[0].n_frames) * sizeof(int32_t)) == 0,
              "codes at %d threads differ from 1 thread", threads[i]);
    CHECK_MSG(same_file(out[0], out[i]), "audio at %d threads differs from 1 thread", threads[i]);
  }
  for (int i = 0; i < 3; i++) hm_generate_result_free(&res[i]);
}
