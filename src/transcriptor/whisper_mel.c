/* Whisper's log-mel spectrogram (openai/whisper audio.py):
 *   pad_or_trim to n_samples; STFT n_fft, hop, periodic Hann, center=True with
 *   reflect padding; drop the last frame; power |X|^2; Slaney mel filterbank;
 *   log10(max(., 1e-10)); max(., global max - 8); (x + 4) / 4.
 * The FFT is FFTW3 (single precision, real-to-complex). */
#include "transcriptor/whisper.h"
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct hm_mel_ctx {
  int sample_rate_hz, n_fft, hop, n_mels, n_bins;
  int64_t n_samples, n_frames;
  float *window;  /* [n_fft] periodic Hann */
  float *filters; /* [n_mels, n_bins] */
  float *padded;  /* [n_samples + n_fft] reflect-padded signal */
  float *power;   /* [n_frames, n_bins] */
  float *frame;   /* fftw input [n_fft] */
  fftwf_complex *spec; /* fftw output [n_bins] */
  fftwf_plan plan;
};

/* FFTW's planner is not thread-safe. */
static pthread_mutex_t fftw_lock = PTHREAD_MUTEX_INITIALIZER;

/* librosa's Slaney mel scale (htk=False). */
static double hz_to_mel(double f) {
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = log(6.4) / 27.0;
  if (f >= min_log_hz) return min_log_mel + log(f / min_log_hz) / logstep;
  return f / f_sp;
}
static double mel_to_hz(double m) {
  const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
  const double logstep = log(6.4) / 27.0;
  if (m >= min_log_mel) return min_log_hz * exp(logstep * (m - min_log_mel));
  return f_sp * m;
}

hm_status hm_whisper_mel_filters(int sample_rate_hz, int n_fft, int n_mels, float *out) {
  if (sample_rate_hz <= 0 || n_fft < 2 || n_mels < 1)
    return hm_error(HM_ERR_INVALID_ARG, "mel filters: bad sample rate %d / n_fft %d / n_mels %d",
                    sample_rate_hz, n_fft, n_mels);
  int n_bins = n_fft / 2 + 1;
  double *mel_f = malloc(sizeof(double) * (size_t)(n_mels + 2));
  double *fft_f = malloc(sizeof(double) * (size_t)n_bins);
  if (!mel_f || !fft_f) { free(mel_f); free(fft_f); return hm_error(HM_ERR_NOMEM, "mel filters: out of memory"); }
  double fmax = sample_rate_hz / 2.0;
  for (int j = 0; j < n_bins; j++) fft_f[j] = fmax * j / (n_bins - 1); /* np.linspace(0, sr/2, n_bins) */
  double mmin = hz_to_mel(0.0), mmax = hz_to_mel(fmax);
  for (int i = 0; i < n_mels + 2; i++) mel_f[i] = mel_to_hz(mmin + (mmax - mmin) * i / (n_mels + 1));
  for (int i = 0; i < n_mels; i++) {
    double fd0 = mel_f[i + 1] - mel_f[i], fd1 = mel_f[i + 2] - mel_f[i + 1];
    double enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
    for (int j = 0; j < n_bins; j++) {
      double lower = -(mel_f[i] - fft_f[j]) / fd0;
      double upper = (mel_f[i + 2] - fft_f[j]) / fd1;
      double w = lower < upper ? lower : upper;
      if (w < 0) w = 0;
      out[(size_t)i * n_bins + j] = (float)(w * enorm);
    }
  }
  free(mel_f);
  free(fft_f);
  return HM_OK;
}

void hm_mel_ctx_free(hm_mel_ctx *m) {
  if (!m) return;
  pthread_mutex_lock(&fftw_lock);
  if (m->plan) fftwf_destroy_plan(m->plan);
  pthread_mutex_unlock(&fftw_lock);
  if (m->frame) fftwf_free(m->frame);
  if (m->spec) fftwf_free(m->spec);
  free(m->window);
  free(m->filters);
  hm_free_aligned(m->padded);
  hm_free_aligned(m->power);
  free(m);
}

hm_status hm_mel_ctx_create(int sample_rate_hz, int n_fft, int hop, int n_mels, int64_t n_samples,
                            hm_mel_ctx **out) {
  *out = NULL;
  if (n_fft < 4 || hop < 1 || n_samples < n_fft || n_mels < 1 || n_mels > 4096)
    return hm_error(HM_ERR_INVALID_ARG, "log-mel: bad parameters n_fft %d, hop %d, n_mels %d, n_samples %lld",
                    n_fft, hop, n_mels, (long long)n_samples);
  hm_mel_ctx *m = calloc(1, sizeof *m);
  if (!m) return hm_error(HM_ERR_NOMEM, "log-mel: out of memory");
  m->sample_rate_hz = sample_rate_hz;
  m->n_fft = n_fft;
  m->hop = hop;
  m->n_mels = n_mels;
  m->n_bins = n_fft / 2 + 1;
  m->n_samples = n_samples;
  m->n_frames = n_samples / hop; /* 1 + n/hop frames with centering, minus the dropped last one */
  int pad = n_fft / 2;
  m->window = malloc(sizeof(float) * (size_t)n_fft);
  m->filters = malloc(sizeof(float) * (size_t)n_mels * m->n_bins);
  m->padded = hm_malloc_aligned(sizeof(float) * (size_t)(n_samples + 2 * pad));
  m->power = hm_malloc_aligned(sizeof(float) * (size_t)m->n_frames * m->n_bins);
  m->frame = fftwf_malloc(sizeof(float) * (size_t)n_fft);
  m->spec = fftwf_malloc(sizeof(fftwf_complex) * (size_t)m->n_bins);
  if (!m->window || !m->filters || !m->padded || !m->power || !m->frame || !m->spec) {
    hm_mel_ctx_free(m);
    return hm_error(HM_ERR_NOMEM, "log-mel: out of memory");
  }
  for (int i = 0; i < n_fft; i++) m->window[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / n_fft));
  hm_status st = hm_whisper_mel_filters(sample_rate_hz, n_fft, n_mels, m->filters);
  if (st != HM_OK) { hm_mel_ctx_free(m); return st; }
  pthread_mutex_lock(&fftw_lock);
  m->plan = fftwf_plan_dft_r2c_1d(n_fft, m->frame, m->spec, FFTW_ESTIMATE);
  pthread_mutex_unlock(&fftw_lock);
  if (!m->plan) { hm_mel_ctx_free(m); return hm_error(HM_ERR_INTERNAL, "log-mel: FFTW could not plan a %d-point FFT", n_fft); }
  *out = m;
  return HM_OK;
}

int64_t hm_mel_ctx_frames(const hm_mel_ctx *m) { return m->n_frames; }

hm_status hm_mel_ctx_set_filters(hm_mel_ctx *m, const float *filters) {
  if (!m || !filters) return hm_error(HM_ERR_INVALID_ARG, "mel: no filterbank given");
  memcpy(m->filters, filters, sizeof(float) * (size_t)m->n_mels * (size_t)m->n_bins);
  return HM_OK;
}

hm_status hm_mel_power(hm_mel_ctx *m, const float *pcm, int64_t n, float *out) {
  if (n < 0 || (n > 0 && !pcm) || !out) return hm_error(HM_ERR_INVALID_ARG, "log-mel: bad input buffer");
  const int64_t N = m->n_samples;
  const int pad = m->n_fft / 2, nb = m->n_bins, nf = m->n_fft;
  float *p = m->padded + pad;
  int64_t k = n < N ? n : N;
  for (int64_t i = 0; i < k; i++) p[i] = pcm[i];
  for (int64_t i = k; i < N; i++) p[i] = 0.0f;
  for (int i = 1; i <= pad; i++) { /* reflect: x[-i] = x[i], x[N-1+i] = x[N-1-i] */
    p[-i] = p[i];
    p[N - 1 + i] = p[N - 1 - i];
  }
  for (int64_t f = 0; f < m->n_frames; f++) {
    const float *src = m->padded + f * m->hop;
    for (int i = 0; i < nf; i++) m->frame[i] = src[i] * m->window[i];
    fftwf_execute(m->plan);
    float *pw = m->power + f * nb;
    for (int j = 0; j < nb; j++) pw[j] = m->spec[j][0] * m->spec[j][0] + m->spec[j][1] * m->spec[j][1];
  }
  /* mel[n_mels, n_frames] = filters[n_mels, nb] @ power^T */
  hm_sgemm(false, true, m->n_mels, m->n_frames, nb, 1.0f, m->filters, nb, m->power, nb, 0.0f, out, m->n_frames);
  return HM_OK;
}

hm_status hm_mel_compute(hm_mel_ctx *m, const float *pcm, int64_t n, float *out) {
  HM_TRY(hm_mel_power(m, pcm, n, out));
  const int64_t total = (int64_t)m->n_mels * m->n_frames;
  float mx = -INFINITY;
  for (int64_t i = 0; i < total; i++) {
    float v = out[i] > 1e-10f ? out[i] : 1e-10f;
    v = log10f(v);
    out[i] = v;
    if (v > mx) mx = v;
  }
  const float floor_v = mx - 8.0f;
  for (int64_t i = 0; i < total; i++) {
    float v = out[i] > floor_v ? out[i] : floor_v;
    out[i] = (v + 4.0f) / 4.0f;
  }
  return HM_OK;
}
