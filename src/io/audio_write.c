/* hm_audio_writer / hm_audio_write: planar float channels -> WAV (16-bit or
 * float), FLAC, MP3 or OGG Vorbis through libsndfile, block by block. Written to a temporary file in the target's
 * folder and moved into place when complete: link() when the target must not
 * be clobbered (fails atomically if it appeared meanwhile), rename() with
 * overwrite. On any failure the temporary file is removed. */
#include "io/audio.h"

#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITE_BLOCK 4096 /* frames interleaved per sf_writef_float call */

/* The one list of output extensions (also what the engine checks outputs against). */
static const struct { const char *ext; hm_audio_format fmt; } k_exts[] = {
  {".wav", HM_AUDIO_WAV16}, {".flac", HM_AUDIO_FLAC}, {".mp3", HM_AUDIO_MP3}, {".ogg", HM_AUDIO_OGG}, {".oga", HM_AUDIO_OGG},
};

hm_audio_format hm_audio_format_from_path(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(slash ? slash + 1 : path, '.');
  for (size_t i = 0; dot && i < sizeof k_exts / sizeof k_exts[0]; i++)
    if (!strcasecmp(dot, k_exts[i].ext)) return k_exts[i].fmt;
  return HM_AUDIO_AUTO;
}

static int sf_format_of(hm_audio_format f) {
  switch (f) {
  case HM_AUDIO_WAV16: return SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  case HM_AUDIO_WAV_FLOAT: return SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  case HM_AUDIO_FLAC: return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  case HM_AUDIO_MP3: return SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
  case HM_AUDIO_OGG: return SF_FORMAT_OGG | SF_FORMAT_VORBIS;
  default: return 0;
  }
}

static const char *format_name(hm_audio_format f) {
  switch (f) {
  case HM_AUDIO_WAV16: return "WAV 16-bit";
  case HM_AUDIO_WAV_FLOAT: return "WAV float";
  case HM_AUDIO_FLAC: return "FLAC";
  case HM_AUDIO_MP3: return "MP3";
  case HM_AUDIO_OGG: return "OGG Vorbis";
  default: return "?";
  }
}

struct hm_audio_writer {
  char *path, *tmp;
  int n_channels;
  bool overwrite;
  int fd;
  SNDFILE *sf;
  float *buf; /* WRITE_BLOCK interleaved frames */
  int64_t n_frames;
};

static void writer_free(hm_audio_writer *w) {
  free(w->path); free(w->tmp); free(w->buf);
  free(w);
}

void hm_audio_writer_discard(hm_audio_writer *w) {
  if (!w) return;
  if (w->sf) sf_close(w->sf);
  if (w->fd >= 0) close(w->fd);
  if (w->tmp) unlink(w->tmp);
  writer_free(w);
}

hm_status hm_audio_writer_open(const char *path, hm_audio_format fmt, int n_channels, int sample_rate_hz, bool overwrite,
                               hm_audio_writer **out) {
  if (out) *out = NULL;
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "audio write: out must not be NULL");
  if (!path || !*path) return hm_error(HM_ERR_INVALID_ARG, "audio write: empty output path");
  if (n_channels < 1 || n_channels > 8)
    return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': n_channels = %d must be 1..8", path, n_channels);
  if (sample_rate_hz < 1 || sample_rate_hz > 768000)
    return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': sample rate %d Hz", path, sample_rate_hz);
  if (fmt == HM_AUDIO_AUTO) {
    fmt = hm_audio_format_from_path(path);
    if (fmt == HM_AUDIO_AUTO)
      return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': unknown extension (" HM_AUDIO_EXTENSIONS ")", path);
  }
  int sf_fmt = sf_format_of(fmt);
  if (!sf_fmt) return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': unknown format %d", path, (int)fmt);
  SF_INFO info;
  memset(&info, 0, sizeof info);
  info.samplerate = sample_rate_hz;
  info.channels = n_channels;
  info.format = sf_fmt;
  if (!sf_format_check(&info))
    return hm_error(HM_ERR_UNSUPPORTED, "audio write '%s': libsndfile cannot write %s at %d Hz, %d channels", path,
                    format_name(fmt), sample_rate_hz, n_channels);

  /* the folder must exist; the file must not, unless overwrite */
  size_t len = strlen(path);
  hm_audio_writer *w = calloc(1, sizeof *w);
  char *dir = malloc(len + 2);
  if (w) {
    w->fd = -1;
    w->path = malloc(len + 1);
    w->tmp = malloc(len + 32);
    w->buf = malloc((size_t)WRITE_BLOCK * n_channels * sizeof(float));
  }
  if (!w || !dir || !w->path || !w->tmp || !w->buf) {
    free(dir);
    if (w) { free(w->tmp); w->tmp = NULL; writer_free(w); }
    return hm_error(HM_ERR_NOMEM, "audio write: out of memory");
  }
  memcpy(w->path, path, len + 1);
  w->n_channels = n_channels;
  w->overwrite = overwrite;
  memcpy(dir, path, len + 1);
  char *slash = strrchr(dir, '/');
  if (!slash) strcpy(dir, ".");
  else if (slash == dir) dir[1] = '\0';
  else *slash = '\0';
  struct stat sb;
  hm_status st = HM_OK;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    st = hm_error(HM_ERR_IO, "audio write '%s': folder '%s' does not exist", path, dir);
  else if (!overwrite && lstat(path, &sb) == 0)
    st = hm_error(HM_ERR_IO, "audio write '%s': file exists (pass overwrite to replace it)", path);
  else if (overwrite && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
    st = hm_error(HM_ERR_IO, "audio write '%s': is a folder", path);
  if (st) { free(dir); free(w->tmp); w->tmp = NULL; writer_free(w); return st; }

  snprintf(w->tmp, len + 32, "%s.tmp-XXXXXX", path);
  w->fd = mkstemp(w->tmp);
  if (w->fd < 0) {
    st = hm_error(HM_ERR_IO, "audio write '%s': cannot create a temporary file in '%s': %s", path, dir, strerror(errno));
    free(dir); free(w->tmp); w->tmp = NULL; writer_free(w);
    return st;
  }
  free(dir);
  (void)fchmod(w->fd, 0644); /* mkstemp makes 0600 */
  w->sf = sf_open_fd(w->fd, SFM_WRITE, &info, SF_FALSE);
  if (!w->sf) {
    st = hm_error(HM_ERR_IO, "audio write '%s': libsndfile: %s", path, sf_strerror(NULL));
    hm_audio_writer_discard(w);
    return st;
  }
  sf_command(w->sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
  /* no PEAK chunk in float WAVs: it holds a time stamp, so the same song would not give the same bytes */
  sf_command(w->sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
  *out = w;
  return HM_OK;
}

hm_status hm_audio_writer_write(hm_audio_writer *w, const float *const *channels, int64_t n_frames) {
  if (!w || !w->sf) return hm_error(HM_ERR_INVALID_ARG, "audio write: the writer is not open");
  if (n_frames < 0) return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': n_frames = %lld", w->path, (long long)n_frames);
  if (n_frames > 0 && !channels) return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': channels are NULL", w->path);
  for (int c = 0; n_frames > 0 && c < w->n_channels; c++)
    if (!channels[c]) return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': channel %d is NULL", w->path, c);
  const int nc = w->n_channels;
  for (int64_t i0 = 0; i0 < n_frames; i0 += WRITE_BLOCK) {
    int64_t n = n_frames - i0 < WRITE_BLOCK ? n_frames - i0 : WRITE_BLOCK;
    for (int64_t i = 0; i < n; i++)
      for (int c = 0; c < nc; c++) {
        float v = channels[c][i0 + i];
        w->buf[i * nc + c] = v == v ? v : 0.0f; /* NaN would become noise in integer formats */
      }
    if (sf_writef_float(w->sf, w->buf, n) != n)
      return hm_error(HM_ERR_IO, "audio write '%s': libsndfile: %s", w->path, sf_strerror(w->sf));
  }
  w->n_frames += n_frames;
  return HM_OK;
}

hm_status hm_audio_writer_close(hm_audio_writer *w) {
  if (!w) return hm_error(HM_ERR_INVALID_ARG, "audio write: the writer is not open");
  hm_status st = HM_OK;
  const char *path = w->path;
  struct stat sb;
  int rc = sf_close(w->sf);
  w->sf = NULL;
  if (rc != 0) st = hm_error(HM_ERR_IO, "audio write '%s': closing failed", path);
  rc = close(w->fd);
  w->fd = -1;
  if (rc != 0 && !st) st = hm_error(HM_ERR_IO, "audio write '%s': %s", path, strerror(errno));
  if (!st) {
    if (w->overwrite) {
      if (rename(w->tmp, path) != 0) st = hm_error(HM_ERR_IO, "audio write '%s': rename failed: %s", path, strerror(errno));
    } else if (link(w->tmp, path) == 0) {
      unlink(w->tmp);
    } else if (errno == EEXIST || lstat(path, &sb) == 0) {
      st = hm_error(HM_ERR_IO, "audio write '%s': file exists (pass overwrite to replace it)", path);
    } else if (rename(w->tmp, path) != 0) { /* no hard links on this file system: checked, then rename */
      st = hm_error(HM_ERR_IO, "audio write '%s': rename failed: %s", path, strerror(errno));
    }
  }
  if (st) hm_audio_writer_discard(w);
  else writer_free(w);
  return st;
}

hm_status hm_audio_write(const char *path, hm_audio_format fmt, const float *const *channels, int n_channels,
                         int64_t n_frames, int sample_rate_hz, bool overwrite) {
  if (!channels || n_channels < 1 || n_channels > 8)
    return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': n_channels = %d must be 1..8", path ? path : "", n_channels);
  for (int c = 0; c < n_channels; c++)
    if (!channels[c] && n_frames > 0) return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': channel %d is NULL", path ? path : "", c);
  if (n_frames < 0) return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': n_frames = %lld", path ? path : "", (long long)n_frames);
  hm_audio_writer *w = NULL;
  HM_TRY(hm_audio_writer_open(path, fmt, n_channels, sample_rate_hz, overwrite, &w));
  hm_status st = hm_audio_writer_write(w, channels, n_frames);
  if (st) { hm_audio_writer_discard(w); return st; }
  return hm_audio_writer_close(w);
}
