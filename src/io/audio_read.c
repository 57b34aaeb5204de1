/* Audio in: any file libsndfile reads (WAV, FLAC, OGG, MP3), mono downmix and
 * resampling with libsoxr (very high quality). */
#include "io/audio.h"
#include <sndfile.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>

void hm_audio_free(hm_audio *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

hm_status hm_audio_read(const char *path, hm_audio *out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_audio_read: out is NULL");
  memset(out, 0, sizeof *out);
  if (!path || !*path) return hm_error(HM_ERR_INVALID_ARG, "hm_audio_read: no path given");
  SF_INFO info;
  memset(&info, 0, sizeof info);
  SNDFILE *f = sf_open(path, SFM_READ, &info);
  if (!f) return hm_error(HM_ERR_IO, "cannot read audio file '%s': %s", path, sf_strerror(NULL));
  if (info.channels < 1 || info.channels > 256 || info.samplerate < 1) {
    sf_close(f);
    return hm_error(HM_ERR_FORMAT, "audio file '%s': %d channels at %d Hz is not usable", path, info.channels,
                    info.samplerate);
  }
  /* frames may be unknown (SF_COUNT_MAX) for some streams, and a header may
   * claim any count: start with at most 16 Mi samples and grow only as
   * decoded data arrives, so a small damaged file never makes a huge allocation */
  int64_t cap = info.frames > 0 ? info.frames : 16000 * 60;
  const int64_t first_max = ((int64_t)1 << 24) / info.channels;
  if (cap > first_max) cap = first_max;
  if (cap < 1024) cap = 1024;
  float *buf = malloc(sizeof(float) * (size_t)cap * info.channels);
  if (!buf) { sf_close(f); return hm_error(HM_ERR_NOMEM, "out of memory reading '%s'", path); }
  int64_t n = 0;
  for (;;) {
    if (n == cap) {
      int64_t nc = cap * 2;
      float *nb = realloc(buf, sizeof(float) * (size_t)nc * info.channels);
      if (!nb) { free(buf); sf_close(f); return hm_error(HM_ERR_NOMEM, "out of memory reading '%s'", path); }
      buf = nb;
      cap = nc;
    }
    sf_count_t got = sf_readf_float(f, buf + n * info.channels, (sf_count_t)(cap - n));
    if (got <= 0) break;
    n += got;
  }
  int err = sf_error(f);
  if (err != SF_ERR_NO_ERROR) {
    hm_status st = hm_error(HM_ERR_FORMAT, "audio file '%s' is damaged: %s", path, sf_strerror(f));
    free(buf);
    sf_close(f);
    return st;
  }
  sf_close(f);
  if (n == 0) {
    free(buf);
    return hm_error(HM_ERR_FORMAT, "audio file '%s' holds no samples", path);
  }
  out->data = buf;
  out->n_frames = n;
  out->n_channels = info.channels;
  out->sample_rate_hz = info.samplerate;
  return HM_OK;
}

hm_status hm_audio_to_mono(const hm_audio *in, int rate_hz, float **out, int64_t *n_out) {
  if (!out || !n_out) return hm_error(HM_ERR_INVALID_ARG, "hm_audio_to_mono: out is NULL");
  *out = NULL;
  *n_out = 0;
  if (!in || !in->data || in->n_frames <= 0 || in->n_channels < 1)
    return hm_error(HM_ERR_INVALID_ARG, "hm_audio_to_mono: empty audio");
  if (in->sample_rate_hz < 1 || rate_hz < 1)
    return hm_error(HM_ERR_INVALID_ARG, "hm_audio_to_mono: bad sample rate %d -> %d Hz", in->sample_rate_hz, rate_hz);
  const int64_t n = in->n_frames;
  const int ch = in->n_channels;
  float *mono = malloc(sizeof(float) * (size_t)n);
  if (!mono) return hm_error(HM_ERR_NOMEM, "out of memory (%lld samples)", (long long)n);
  if (ch == 1) memcpy(mono, in->data, sizeof(float) * (size_t)n);
  else {
    for (int64_t i = 0; i < n; i++) {
      float s = 0.0f;
      for (int c = 0; c < ch; c++) s += in->data[i * ch + c];
      mono[i] = s / (float)ch;
    }
  }
  if (in->sample_rate_hz == rate_hz) {
    *out = mono;
    *n_out = n;
    return HM_OK;
  }
  double ratio = (double)rate_hz / in->sample_rate_hz;
  if (ratio > 256.0 || ratio < 1.0 / 256.0) {
    free(mono);
    return hm_error(HM_ERR_UNSUPPORTED, "cannot resample %d Hz to %d Hz (ratio beyond 256)", in->sample_rate_hz, rate_hz);
  }
  size_t olen = (size_t)((double)n * ratio + 0.5);
  float *res = malloc(sizeof(float) * (olen + 16));
  if (!res) { free(mono); return hm_error(HM_ERR_NOMEM, "out of memory resampling"); }
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_VHQ, 0);
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  size_t done = 0;
  soxr_error_t e = soxr_oneshot((double)in->sample_rate_hz, (double)rate_hz, 1, mono, (size_t)n, NULL, res, olen, &done,
                                &io, &q, NULL);
  free(mono);
  if (e) {
    free(res);
    return hm_error(HM_ERR_UNSUPPORTED, "libsoxr cannot convert %d Hz to %d Hz: %s", in->sample_rate_hz, rate_hz, e);
  }
  *out = res;
  *n_out = (int64_t)done;
  return HM_OK;
}
