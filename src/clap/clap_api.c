/* HeartCLAP public calls: audio (PCM or file) and text embeddings. One call
 * at a time per model (the model's thread pool is shared; calls serialise on
 * its lock). */
#include "clap/clap.h"
#include "io/audio.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

hm_status hm_clap_embed_audio(const hm_clap_model *m, const float *pcm, int64_t n_samples, float *out) {
  if (!m || !out || (n_samples > 0 && !pcm)) return hm_error(HM_ERR_INVALID_ARG, "hm_clap_embed_audio: NULL argument");
  float *clips = NULL;
  int nc = 0;
  int64_t len = 0;
  HM_TRY(hm_clap_clips(m, pcm, n_samples, &clips, &nc, &len));
  const int d = m->cfg.dim_latent;
  float *lat = malloc(sizeof(float) * (size_t)d);
  double *acc = calloc((size_t)d, sizeof(double));
  hm_status st = lat && acc ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory");
  hm_clap_model *mm = (hm_clap_model *)m;
  pthread_mutex_lock(&mm->lock);
  for (int i = 0; st == HM_OK && i < nc; i++) {
    st = hm_clap_clip_latent(m, mm->pool, clips + (int64_t)i * len, len, lat);
    for (int j = 0; st == HM_OK && j < d; j++) acc[j] += lat[j];
  }
  pthread_mutex_unlock(&mm->lock);
  if (st == HM_OK)
    for (int j = 0; j < d; j++) out[j] = (float)(acc[j] / nc); /* the clips' mean, not re-normalised */
  free(lat);
  free(acc);
  free(clips);
  return st;
}

hm_status hm_clap_embed_audio_file(const hm_clap_model *m, const char *path, float *out) {
  if (!m || !path || !out) return hm_error(HM_ERR_INVALID_ARG, "hm_clap_embed_audio_file: NULL argument");
  hm_audio a;
  HM_TRY(hm_audio_read(path, &a));
  float *pcm = NULL;
  int64_t n = 0;
  hm_status st = hm_audio_to_mono(&a, m->cfg.sample_rate_hz, &pcm, &n);
  hm_audio_free(&a);
  if (st == HM_OK) st = hm_clap_embed_audio(m, pcm, n, out);
  free(pcm);
  if (st != HM_OK) hm_error_context(st, "%s", path);
  return st;
}

static bool blank(const char *s) {
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
  return true;
}

hm_status hm_clap_tokenize(const hm_clap_model *m, const char *text, int32_t **ids, int64_t *n) {
  if (!m || !text || !ids || !n) return hm_error(HM_ERR_INVALID_ARG, "hm_clap_tokenize: NULL argument");
  *ids = NULL;
  *n = 0;
  if (blank(text)) return hm_error(HM_ERR_INVALID_ARG, "the text is empty");
  if (!m->spm)
    return hm_error(HM_ERR_UNSUPPORTED,
                    "no sentencepiece.bpe.model found for '%s' (looked in the folder, tokenizer/, ../tokenizer/ and "
                    "xlm-roberta-base/)%s", m->dir, m->xl ? "" : "; the text tower was not loaded");
  return hm_clap_spm_encode(m->spm, text, ids, n);
}

hm_status hm_clap_embed_text(const hm_clap_model *m, const char *text, float *out) {
  if (!m || !text || !out) return hm_error(HM_ERR_INVALID_ARG, "hm_clap_embed_text: NULL argument");
  if (!m->xl) return hm_error(HM_ERR_INVALID_ARG, "the CLAP model was loaded without its text tower");
  int32_t *ids = NULL;
  int64_t n = 0;
  HM_TRY(hm_clap_tokenize(m, text, &ids, &n));
  hm_clap_model *mm = (hm_clap_model *)m;
  pthread_mutex_lock(&mm->lock);
  hm_status st = hm_clap_text_latent(m, mm->pool, ids, n, n, out);
  pthread_mutex_unlock(&mm->lock);
  free(ids);
  return st;
}

hm_status hm_clap_embed_texts_batched(const hm_clap_model *m, const char *const *texts, int n_texts, float *out) {
  if (!m || !texts || n_texts < 1 || !out) return hm_error(HM_ERR_INVALID_ARG, "hm_clap_embed_texts_batched: no texts");
  if (!m->xl) return hm_error(HM_ERR_INVALID_ARG, "the CLAP model was loaded without its text tower");
  int32_t **ids = calloc((size_t)n_texts, sizeof *ids);
  int64_t *lens = calloc((size_t)n_texts, sizeof *lens);
  int32_t *row = NULL;
  hm_status st = ids && lens ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory");
  int64_t L = 0;
  for (int i = 0; st == HM_OK && i < n_texts; i++) {
    st = hm_clap_tokenize(m, texts[i] ? texts[i] : "", &ids[i], &lens[i]);
    if (st != HM_OK) hm_error_context(st, "text %d", i);
    else if (lens[i] > L) L = lens[i];
  }
  if (st == HM_OK && !(row = malloc(sizeof(int32_t) * (size_t)L))) st = hm_error(HM_ERR_NOMEM, "out of memory");
  hm_clap_model *mm = (hm_clap_model *)m;
  pthread_mutex_lock(&mm->lock);
  for (int i = 0; st == HM_OK && i < n_texts; i++) {
    memcpy(row, ids[i], sizeof(int32_t) * (size_t)lens[i]);
    for (int64_t j = lens[i]; j < L; j++) row[j] = m->cfg.x_pad; /* right padding with <pad> */
    st = hm_clap_text_latent(m, mm->pool, row, L, lens[i], out + (int64_t)i * m->cfg.dim_latent);
  }
  pthread_mutex_unlock(&mm->lock);
  for (int i = 0; ids && i < n_texts; i++) free(ids[i]);
  free(ids);
  free(lens);
  free(row);
  return st;
}

float hm_clap_similarity(const float *a, const float *b, int dim) {
  double s = 0;
  for (int i = 0; i < dim; i++) s += (double)a[i] * b[i];
  return (float)s;
}

/* Reference audio for HeartMuLa's muq slot: the centre `seconds` of the input, zero-padded at the end
 * when shorter (what the community's reference-audio nodes feed MuQ-MuLan), then embedded as usual. */
hm_status hm_clap_embed_reference(const hm_clap_model *m, const float *pcm, int64_t n_samples, double seconds,
                                  float *out) {
  if (!m || !out || (n_samples > 0 && !pcm))
    return hm_error(HM_ERR_INVALID_ARG, "hm_clap_embed_reference: NULL argument");
  if (seconds <= 0) seconds = 10.0;
  if (!(seconds >= 1 && seconds <= 600))
    return hm_error(HM_ERR_INVALID_ARG, "reference seconds = %g: must be in [1, 600]", seconds);
  const int sr = m->cfg.sample_rate_hz;
  if (n_samples < sr)
    return hm_error(HM_ERR_INVALID_ARG, "reference audio of %lld samples (%.2f s) is shorter than 1 s",
                    (long long)n_samples, (double)n_samples / sr);
  const int64_t len = (int64_t)llround(seconds * sr);
  if (n_samples >= len) return hm_clap_embed_audio(m, pcm + (n_samples - len) / 2, len, out);
  float *buf = calloc((size_t)len, sizeof(float));
  if (!buf) return hm_error(HM_ERR_NOMEM, "out of memory");
  memcpy(buf, pcm, sizeof(float) * (size_t)n_samples);
  hm_status st = hm_clap_embed_audio(m, buf, len, out);
  free(buf);
  return st;
}

hm_status hm_clap_embed_reference_file(const hm_clap_model *m, const char *path, double seconds, float *out) {
  if (!m || !path || !out) return hm_error(HM_ERR_INVALID_ARG, "hm_clap_embed_reference_file: NULL argument");
  hm_audio a;
  HM_TRY(hm_audio_read(path, &a));
  float *pcm = NULL;
  int64_t n = 0;
  hm_status st = hm_audio_to_mono(&a, m->cfg.sample_rate_hz, &pcm, &n);
  hm_audio_free(&a);
  if (st == HM_OK) st = hm_clap_embed_reference(m, pcm, n, seconds, out);
  free(pcm);
  if (st != HM_OK) hm_error_context(st, "reference audio '%s'", path);
  return st;
}
