/* hm_audio_write: planar float channels -> WAV (16-bit or float), FLAC, MP3 or
 * OGG Vorbis through libsndfile. Written to a temporary file in the target's
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

static hm_audio_format format_from_ext(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *dot = strrchr(slash ? slash + 1 : path, '.');
  if (!dot) return HM_AUDIO_AUTO;
  if (!strcasecmp(dot, ".wav")) return HM_AUDIO_WAV16;
  if (!strcasecmp(dot, ".flac")) return HM_AUDIO_FLAC;
  if (!strcasecmp(dot, ".mp3")) return HM_AUDIO_MP3;
  if (!strcasecmp(dot, ".ogg") || !strcasecmp(dot, ".oga")) return HM_AUDIO_OGG;
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

hm_status hm_audio_write(const char *path, hm_audio_format fmt, const float *const *channels, int n_channels,
                         int64_t n_frames, int sample_rate_hz, bool overwrite) {
  if (!path || !*path) return hm_error(HM_ERR_INVALID_ARG, "audio write: empty output path");
  if (!channels || n_channels < 1 || n_channels > 8)
    return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': n_channels = %d must be 1..8", path, n_channels);
  for (int c = 0; c < n_channels; c++)
    if (!channels[c] && n_frames > 0) return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': channel %d is NULL", path, c);
  if (n_frames < 0) return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': n_frames = %lld", path, (long long)n_frames);
  if (sample_rate_hz < 1 || sample_rate_hz > 768000)
    return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': sample rate %d Hz", path, sample_rate_hz);
  if (fmt == HM_AUDIO_AUTO) {
    fmt = format_from_ext(path);
    if (fmt == HM_AUDIO_AUTO)
      return hm_error(HM_ERR_INVALID_ARG, "audio write '%s': unknown extension (use .wav, .flac, .mp3 or .ogg)", path);
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
  char *dir = malloc(len + 2), *tmp = malloc(len + 32);
  if (!dir || !tmp) { free(dir); free(tmp); return hm_error(HM_ERR_NOMEM, "audio write: out of memory"); }
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
  if (st) { free(dir); free(tmp); return st; }

  snprintf(tmp, len + 32, "%s.tmp-XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    st = hm_error(HM_ERR_IO, "audio write '%s': cannot create a temporary file in '%s': %s", path, dir, strerror(errno));
    free(dir); free(tmp);
    return st;
  }
  (void)fchmod(fd, 0644); /* mkstemp makes 0600 */
  SNDFILE *sf = sf_open_fd(fd, SFM_WRITE, &info, SF_FALSE);
  if (!sf) {
    st = hm_error(HM_ERR_IO, "audio write '%s': libsndfile: %s", path, sf_strerror(NULL));
    close(fd);
    goto fail;
  }
  sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
  float *buf = malloc((size_t)WRITE_BLOCK * n_channels * sizeof(float));
  if (!buf) { st = hm_error(HM_ERR_NOMEM, "audio write: out of memory"); sf_close(sf); close(fd); goto fail; }
  for (int64_t i0 = 0; i0 < n_frames && !st; i0 += WRITE_BLOCK) {
    int64_t n = n_frames - i0 < WRITE_BLOCK ? n_frames - i0 : WRITE_BLOCK;
    for (int64_t i = 0; i < n; i++)
      for (int c = 0; c < n_channels; c++) {
        float v = channels[c][i0 + i];
        buf[i * n_channels + c] = v == v ? v : 0.0f; /* NaN would become noise in integer formats */
      }
    if (sf_writef_float(sf, buf, n) != n)
      st = hm_error(HM_ERR_IO, "audio write '%s': libsndfile: %s", path, sf_strerror(sf));
  }
  free(buf);
  if (sf_close(sf) != 0 && !st) st = hm_error(HM_ERR_IO, "audio write '%s': closing failed", path);
  if (close(fd) != 0 && !st) st = hm_error(HM_ERR_IO, "audio write '%s': %s", path, strerror(errno));
  if (st) goto fail;
  if (overwrite) {
    if (rename(tmp, path) != 0) { st = hm_error(HM_ERR_IO, "audio write '%s': rename failed: %s", path, strerror(errno)); goto fail; }
  } else {
    if (link(tmp, path) == 0) {
      unlink(tmp);
    } else if (errno == EEXIST || lstat(path, &sb) == 0) {
      st = hm_error(HM_ERR_IO, "audio write '%s': file exists (pass overwrite to replace it)", path);
      goto fail;
    } else if (rename(tmp, path) != 0) { /* no hard links on this file system: checked, then rename */
      st = hm_error(HM_ERR_IO, "audio write '%s': rename failed: %s", path, strerror(errno));
      goto fail;
    }
  }
  free(dir); free(tmp);
  return HM_OK;
fail:
  unlink(tmp);
  free(dir); free(tmp);
  return st;
}
