/* The smallest program that makes a song with heartmula.c, using only the
 * public header:  simple_generate MODEL_DIR OUT.wav [SEED]
 * MODEL_DIR holds HeartMuLa-oss-3B/, HeartCodec-oss/, tokenizer.json and
 * gen_config.json (or a demo checkpoint from `heartmula make-checkpoint`). */
#include <heartmula.h>

#include <stdio.h>
#include <stdlib.h>

static void on_progress(void *user_data, hm_stage stage, int64_t done, int64_t total) {
  (void)user_data;
  if (done == total) fprintf(stderr, "%s: %lld/%lld\n", stage == HM_STAGE_LM ? "LM" : "codec", (long long)done, (long long)total);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL_DIR OUT.wav [SEED]\n", argv[0]);
    return 2;
  }
  hm_generate_params p = hm_generate_default_params();
  p.model_path = argv[1];
  p.output_path = argv[2];
  p.overwrite = true;
  p.version = getenv("HM_VERSION") ? getenv("HM_VERSION") : "3B";
  p.lyrics = "[verse]\nhello from a tiny c program\n";
  p.tags = "pop,piano,happy";
  p.max_audio_ms = 2000;
  p.seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 42;
  p.progress = on_progress;

  hm_generate_result r;
  if (hm_generate(&p, &r) != HM_OK) {
    fprintf(stderr, "error: %s\n", hm_last_error());
    return 1;
  }
  printf("%lld frames, %lld samples per channel -> %s\n", (long long)r.n_frames, (long long)r.n_samples, argv[2]);
  hm_generate_result_free(&r);
  return 0;
}
