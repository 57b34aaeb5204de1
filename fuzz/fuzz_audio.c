/* Audio file reading (libsndfile: WAV, FLAC, OGG, MP3 ...), then the mono
 * downmix and resampling the transcriber applies. */
#include "fuzz_common.h"
#include "io/audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("x.wav", data, size);
  hm_audio a;
  if (hm_audio_read(path, &a) != HM_OK) return 0;
  FUZZ_ASSERT(a.data && a.n_frames > 0 && a.n_channels >= 1 && a.sample_rate_hz >= 1);
  /* resampling cost grows with the ratio: keep the work per input bounded */
  if (a.n_frames <= 48000 * 2 && a.sample_rate_hz >= 1000 && a.sample_rate_hz <= 384000) {
    float *mono = NULL;
    int64_t n = 0;
    if (hm_audio_to_mono(&a, 16000, &mono, &n) == HM_OK) FUZZ_ASSERT(n >= 0);
    free(mono);
  }
  hm_audio_free(&a);
  return 0;
}
