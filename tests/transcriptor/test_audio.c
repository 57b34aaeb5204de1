/* Audio input for transcription: FLAC / MP3 / resampled stereo versions of
 * jfk.wav give the same log-mel as the WAV (within codec tolerance), and bad
 * input (missing, not audio, empty, impossible rates, bad model folders)
 * fails with a clear error. */
#include "harness.h"
#include "io/audio.h"
#include "io/json.h"
#include "transcriptor/whisper.h"
#include <sndfile.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* a/b into buf ("" if it does not fit) */
static const char *pjoin(char *buf, size_t n, const char *a, const char *b) {
  if (snprintf(buf, n, "%s/%s", a, b) >= (int)n) buf[0] = 0;
  return buf;
}

static int write_sf(const char *path, int format, const float *x, int64_t frames, int channels, int rate) {
  SF_INFO info;
  memset(&info, 0, sizeof info);
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  if (!sf_format_check(&info)) return -1;
  SNDFILE *f = sf_open(path, SFM_WRITE, &info);
  if (!f) return -1;
  sf_count_t n;
  if ((format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16) {
    /* exact 16-bit values (reading divides by 32768, float writing scales by 32767) */
    short *s = malloc(sizeof(short) * (size_t)(frames * channels + 1));
    for (int64_t i = 0; s && i < frames * channels; i++) s[i] = (short)lrintf(x[i] * 32768.0f);
    n = s ? sf_writef_short(f, s, frames) : -1;
    free(s);
  } else {
    n = 0; /* in blocks: one large FLAC write may come back short */
    while (n < frames) {
      sf_count_t k = frames - n < 8192 ? frames - n : 8192;
      sf_count_t w = sf_writef_float(f, x + n * channels, k);
      if (w <= 0) break;
      n += w;
    }
  }
  if (n != frames) fprintf(stderr, "write_sf: %s\n", sf_strerror(f));
  sf_close(f);
  return n == frames ? 0 : -1;
}

static float *mel_of_file(hm_mel_ctx *mc, const char *path, int64_t *n_out) {
  hm_audio a;
  if (hm_audio_read(path, &a) != HM_OK) { CHECK_OK(HM_ERR_IO); return NULL; }
  float *pcm = NULL;
  int64_t n = 0;
  CHECK_OK(hm_audio_to_mono(&a, 16000, &pcm, &n));
  hm_audio_free(&a);
  if (!pcm) return NULL;
  float *mel = malloc(sizeof(float) * 128 * 3000);
  CHECK_OK(hm_mel_compute(mc, pcm, n, mel));
  free(pcm);
  if (n_out) *n_out = n;
  return mel;
}

static void mel_diff(const float *a, const float *b, double *max_abs, double *mean_abs) {
  double mx = 0, sum = 0;
  for (int64_t i = 0; i < 128 * 3000; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= mx)) mx = d;
    sum += d;
  }
  *max_abs = mx;
  *mean_abs = sum / (128.0 * 3000.0);
}

void hm_test_main(void) {
  char path[1024], out[1024];
  const char *tmp = hm_test_tmpdir();
  hm_mel_ctx *mc = NULL;
  CHECK_OK(hm_mel_ctx_create(16000, 400, 160, 128, 480000, &mc));
  if (!mc) return;
  hm_audio jfk;
  CHECK_OK(hm_audio_read(hm_test_path(path, sizeof path, "fixtures-whisper/jfk.wav"), &jfk));
  if (!jfk.data) { hm_mel_ctx_free(mc); return; }
  CHECK(jfk.n_frames == 176000 && jfk.n_channels == 1 && jfk.sample_rate_hz == 16000);
  float *ref = mel_of_file(mc, path, NULL);
  double mx, mean;

  /* FLAC 16-bit: lossless, the same samples */
  snprintf(out, sizeof out, "%s/jfk.flac", tmp);
  CHECK(write_sf(out, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, jfk.data, jfk.n_frames, 1, 16000) == 0);
  int64_t n = 0;
  float *mel = mel_of_file(mc, out, &n);
  CHECK(n == 176000);
  if (mel && ref) {
    mel_diff(mel, ref, &mx, &mean);
    CHECK_MSG(mx == 0.0, "flac mel max abs %g", mx);
    printf("flac: mel max abs %.3g, mean abs %.3g\n", mx, mean);
  }
  free(mel);

  /* MP3 (lossy): same mel within codec tolerance */
  snprintf(out, sizeof out, "%s/jfk.mp3", tmp);
  if (write_sf(out, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, jfk.data, jfk.n_frames, 1, 16000) == 0) {
    mel = mel_of_file(mc, out, &n);
    CHECK_MSG(n >= 176000 && n <= 176000 + 4000, "mp3: %lld samples", (long long)n);
    if (mel && ref) {
      mel_diff(mel, ref, &mx, &mean);
      CHECK_MSG(mean <= 0.05, "mp3 mel mean abs %g", mean);
      printf("mp3: mel max abs %.3g, mean abs %.3g (%lld samples)\n", mx, mean, (long long)n);
    }
    free(mel);
  } else {
    printf("mp3: this libsndfile cannot write MP3; case skipped\n");
  }

  /* stereo 44.1 kHz FLAC made by resampling: downmix + resample back to 16 kHz */
  {
    float *up = NULL;
    int64_t n_up = 0;
    hm_audio mono16 = jfk;
    CHECK_OK(hm_audio_to_mono(&mono16, 44100, &up, &n_up));
    CHECK(llabs(n_up - 485100) <= 1);
    float *st = malloc(sizeof(float) * (size_t)n_up * 2);
    for (int64_t i = 0; up && st && i < n_up; i++) { st[2 * i] = up[i] * 1.2f; st[2 * i + 1] = up[i] * 0.8f; /* peak 0.78 * 1.2 < 1 */ }
    snprintf(out, sizeof out, "%s/jfk_stereo44k.flac", tmp);
    CHECK(write_sf(out, SF_FORMAT_FLAC | SF_FORMAT_PCM_24, st, n_up, 2, 44100) == 0);
    mel = mel_of_file(mc, out, &n);
    CHECK_MSG(llabs(n - 176000) <= 1, "resampled back: %lld samples", (long long)n);
    if (mel && ref) {
      mel_diff(mel, ref, &mx, &mean);
      CHECK_MSG(mean <= 0.01, "stereo 44.1k mel mean abs %g", mean);
      printf("stereo 44.1 kHz flac: mel max abs %.3g, mean abs %.3g\n", mx, mean);
    }
    free(mel);
    free(st);
    free(up);
  }
  free(ref);

  /* ---- bad audio ---- */
  hm_audio a;
  snprintf(out, sizeof out, "%s/missing.wav", tmp);
  CHECK_ERR(hm_audio_read(out, &a), "cannot read audio file");
  CHECK_ERR(hm_audio_read(hm_test_path(path, sizeof path, "fixtures-whisper/config.json"), &a), "config.json");
  snprintf(out, sizeof out, "%s/empty.wav", tmp);
  CHECK(write_sf(out, SF_FORMAT_WAV | SF_FORMAT_PCM_16, jfk.data, 0, 1, 16000) == 0);
  CHECK_ERR(hm_audio_read(out, &a), "no samples");
  snprintf(out, sizeof out, "%s/trunc.wav", tmp);
  {
    FILE *f = fopen(out, "wb");
    fwrite("RIFF\x24\x00\x00\x00WAVEfmt ", 1, 16, f);
    fclose(f);
  }
  CHECK_ERR(hm_audio_read(out, &a), "trunc.wav");
  hm_audio odd = jfk;
  float *pcm = NULL;
  int64_t np = 0;
  odd.sample_rate_hz = 10;
  CHECK_ERR(hm_audio_to_mono(&odd, 16000, &pcm, &np), "Hz");
  CHECK(pcm == NULL);
  odd.sample_rate_hz = 0;
  CHECK_ERR(hm_audio_to_mono(&odd, 16000, &pcm, &np), "sample rate");
  hm_audio_free(&jfk);
  hm_mel_ctx_free(mc);

  /* ---- bad model folders and arguments ---- */
  hm_whisper_model *m = NULL;
  snprintf(out, sizeof out, "%s/nowhere", tmp);
  CHECK_ERR(hm_whisper_load(out, &m), "does not exist");
  CHECK(m == NULL);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/model_noweights", tmp);
  CHECK(mkdir(dir, 0777) == 0);
  CHECK_ERR(hm_whisper_load(dir, &m), "no config.json");
  /* the fixture files, linked (not copied) into a folder without model.safetensors */
  const char *files[] = {"config.json", "generation_config.json", "preprocessor_config.json", "tokenizer.json"};
  char *fixdir = realpath(hm_test_path(path, sizeof path, "fixtures-whisper"), NULL);
  CHECK(fixdir != NULL);
  if (!fixdir) return;
  for (int i = 0; i < 4; i++) {
    char src[4096], dst[4096];
    CHECK(symlink(pjoin(src, sizeof src, fixdir, files[i]), pjoin(dst, sizeof dst, dir, files[i])) == 0);
  }
  CHECK_ERR(hm_whisper_load(dir, &m), "no model.safetensors");
  /* a config inconsistent with the weights: d_model 128 against the 64-wide tensors */
  char bad[1024];
  snprintf(bad, sizeof bad, "%s/model_badcfg", tmp);
  CHECK(mkdir(bad, 0777) == 0);
  {
    char src[4096], dst[4096];
    for (int i = 1; i < 4; i++)
      CHECK(symlink(pjoin(src, sizeof src, fixdir, files[i]), pjoin(dst, sizeof dst, bad, files[i])) == 0);
    json_t *cfg = NULL;
    CHECK_OK(hm_json_load(pjoin(src, sizeof src, fixdir, "config.json"), &cfg));
    CHECK(symlink(pjoin(src, sizeof src, fixdir, "model.safetensors"), pjoin(dst, sizeof dst, bad, "model.safetensors")) == 0);
    if (cfg) {
      json_object_set_new(cfg, "d_model", json_integer(128));
      pjoin(dst, sizeof dst, bad, "config.json");
      CHECK(json_dump_file(cfg, dst, 0) == 0);
      CHECK_ERR(hm_whisper_load(bad, &m), "model.encoder.conv1.weight");
      json_object_set_new(cfg, "d_model", json_integer(64));
      json_object_set_new(cfg, "num_mel_bins", json_integer(80));
      CHECK(json_dump_file(cfg, dst, 0) == 0);
      CHECK_ERR(hm_whisper_load(bad, &m), "feature_size 128");
      json_object_set_new(cfg, "num_mel_bins", json_integer(128));
      json_object_del(cfg, "encoder_layers");
      CHECK(json_dump_file(cfg, dst, 0) == 0);
      CHECK_ERR(hm_whisper_load(bad, &m), "encoder_layers");
      json_object_set_new(cfg, "encoder_layers", json_integer(3));
      CHECK(json_dump_file(cfg, dst, 0) == 0);
      CHECK_ERR(hm_whisper_load(bad, &m), "model.encoder.layers.2");
      json_decref(cfg);
    }
  }
  free(fixdir);
  CHECK(m == NULL);
  /* a good model, bad calls */
  CHECK_OK(hm_whisper_load(hm_test_path(path, sizeof path, "fixtures-whisper"), &m));
  if (m) {
    hm_transcript *t = NULL;
    float z[16] = {0};
    CHECK_ERR(hm_whisper_transcribe(m, z, 0, NULL, NULL, NULL, NULL, &t), "empty");
    hm_whisper_params p = hm_whisper_default_params();
    p.language = "klingon";
    CHECK_ERR(hm_whisper_transcribe(m, z, 16, &p, NULL, NULL, NULL, &t), "klingon");
    p = hm_whisper_default_params();
    p.stride_length_s = 20;
    CHECK_ERR(hm_whisper_transcribe(m, z, 16, &p, NULL, NULL, NULL, &t), "stride_length_s");
    p = hm_whisper_default_params();
    p.chunk_length_s = 40;
    CHECK_ERR(hm_whisper_transcribe(m, z, 16, &p, NULL, NULL, NULL, &t), "chunk_length_s");
    snprintf(out, sizeof out, "%s/empty.wav", tmp);
    CHECK_ERR(hm_whisper_transcribe_file(m, out, NULL, NULL, NULL, NULL, &t), "no samples");
    CHECK(t == NULL);
    /* silence transcribes without error (short input, one window) */
    p = hm_whisper_default_params();
    p.max_new_tokens = 3;
    CHECK_OK(hm_whisper_transcribe(m, z, 16, &p, NULL, NULL, NULL, &t));
    CHECK(t && t->n_segments <= 1);
    hm_transcript_free(t);
    hm_whisper_free(m);
  }
}
