/* Audio in: WAV, FLAC, OGG ... through libsndfile, MPEG audio (MP3) through
 * libmpg123 (quiet), mono downmix and resampling with libsoxr (very high quality). */
#include "io/audio.h"
#include <errno.h>
#include <mpg123.h>
#include <pthread.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

void hm_audio_free(hm_audio *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

/* Samples decoded so far: interleaved floats, grown as data arrives. A header may
 * claim any count, so the first buffer holds at most 16 Mi samples and a small
 * damaged file never makes a huge allocation. */
typedef struct pcm_buf {
  float *data;
  int64_t n, cap; /* frames */
  int ch;
} pcm_buf;

static bool pcm_init(pcm_buf *b, int ch, int64_t frames_hint) {
  int64_t cap = frames_hint > 0 ? frames_hint : 16000 * 60;
  const int64_t first_max = ((int64_t)1 << 24) / ch;
  if (cap > first_max) cap = first_max;
  if (cap < 1024) cap = 1024;
  b->ch = ch;
  b->n = 0;
  b->cap = cap;
  b->data = malloc(sizeof(float) * (size_t)cap * (size_t)ch);
  return b->data != NULL;
}

/* room for at least one more frame */
static bool pcm_room(pcm_buf *b) {
  if (b->n < b->cap) return true;
  float *nb = realloc(b->data, sizeof(float) * (size_t)(b->cap * 2) * (size_t)b->ch);
  if (!nb) return false;
  b->data = nb;
  b->cap *= 2;
  return true;
}

static hm_status pcm_finish(pcm_buf *b, const char *path, int rate, hm_audio *out) {
  if (b->n == 0) {
    free(b->data);
    return hm_error(HM_ERR_FORMAT, "audio file '%s' holds no samples", path);
  }
  out->data = b->data;
  out->n_frames = b->n;
  out->n_channels = b->ch;
  out->sample_rate_hz = rate;
  return HM_OK;
}

/* ---- libsndfile (WAV, FLAC, OGG, ...), through virtual I/O on our FILE ----
 * Virtual I/O has no file name, so libsndfile never picks its MPEG decoder from a
 * .mp3 name; MPEG data goes to libmpg123 below instead (libsndfile's own mpg123
 * handle prints "Note: ..." lines on stderr, which a library must not). */
static sf_count_t vio_len(void *ud) {
  FILE *f = ud;
  struct stat st;
  return fstat(fileno(f), &st) == 0 ? (sf_count_t)st.st_size : -1;
}
static sf_count_t vio_seek(sf_count_t off, int whence, void *ud) {
  FILE *f = ud;
  if (fseeko(f, (off_t)off, whence) != 0) return -1;
  return (sf_count_t)ftello(f);
}
static sf_count_t vio_read(void *ptr, sf_count_t n, void *ud) { return (sf_count_t)fread(ptr, 1, (size_t)n, ud); }
static sf_count_t vio_write(const void *ptr, sf_count_t n, void *ud) { (void)ptr; (void)n; (void)ud; return 0; }
static sf_count_t vio_tell(void *ud) { return (sf_count_t)ftello(ud); }

/* HM_OK, HM_ERR_UNSUPPORTED when libsndfile does not recognise the data (why says so), or
 * another error for a recognised but damaged file */
static hm_status read_sndfile(FILE *fp, const char *path, hm_audio *out, char *why, size_t nwhy) {
  SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
  SF_INFO info;
  memset(&info, 0, sizeof info);
  rewind(fp);
  SNDFILE *f = sf_open_virtual(&vio, SFM_READ, &info, fp);
  if (!f) {
    snprintf(why, nwhy, "%s", sf_strerror(NULL));
    return HM_ERR_UNSUPPORTED;
  }
  if (info.channels < 1 || info.channels > 256 || info.samplerate < 1) {
    sf_close(f);
    return hm_error(HM_ERR_FORMAT, "audio file '%s': %d channels at %d Hz is not usable", path, info.channels,
                    info.samplerate);
  }
  pcm_buf b;
  if (!pcm_init(&b, info.channels, info.frames)) { sf_close(f); return hm_error(HM_ERR_NOMEM, "out of memory reading '%s'", path); }
  for (;;) {
    if (!pcm_room(&b)) { free(b.data); sf_close(f); return hm_error(HM_ERR_NOMEM, "out of memory reading '%s'", path); }
    sf_count_t got = sf_readf_float(f, b.data + b.n * b.ch, (sf_count_t)(b.cap - b.n));
    if (got <= 0) break;
    b.n += got;
  }
  int err = sf_error(f);
  if (err != SF_ERR_NO_ERROR) {
    hm_status st = hm_error(HM_ERR_FORMAT, "audio file '%s' is damaged: %s", path, sf_strerror(f));
    free(b.data);
    sf_close(f);
    return st;
  }
  sf_close(f);
  return pcm_finish(&b, path, info.samplerate, out);
}

/* ---- libmpg123 (MP1/2/3), quiet ---- */
static pthread_once_t mpg123_once = PTHREAD_ONCE_INIT;
static int mpg123_init_status = MPG123_OK;
static void mpg123_init_once(void) { mpg123_init_status = mpg123_init(); } /* a no-op since mpg123 1.27 */

static hm_status read_mpg123(const char *path, hm_audio *out, char *why, size_t nwhy) {
  pthread_once(&mpg123_once, mpg123_init_once);
  if (mpg123_init_status != MPG123_OK) {
    snprintf(why, nwhy, "%s", mpg123_plain_strerror(mpg123_init_status));
    return HM_ERR_UNSUPPORTED;
  }
  int err = MPG123_OK;
  mpg123_handle *mh = mpg123_new(NULL, &err);
  if (!mh) {
    snprintf(why, nwhy, "%s", mpg123_plain_strerror(err));
    return HM_ERR_UNSUPPORTED;
  }
  /* no printouts (the "Note: ..." lines), float output, gapless as libsndfile decodes MP3 */
  mpg123_param(mh, MPG123_ADD_FLAGS, MPG123_QUIET | MPG123_GAPLESS | MPG123_FORCE_FLOAT, 0.0);
  long rate = 0;
  int ch = 0, enc = 0;
  if (mpg123_open(mh, path) != MPG123_OK || mpg123_getformat(mh, &rate, &ch, &enc) != MPG123_OK) {
    snprintf(why, nwhy, "%s", mpg123_strerror(mh));
    mpg123_close(mh);
    mpg123_delete(mh);
    return HM_ERR_UNSUPPORTED;
  }
  hm_status st = HM_OK;
  pcm_buf b;
  memset(&b, 0, sizeof b);
  if (ch < 1 || ch > 2 || rate < 1 || rate > 1000000) {
    st = hm_error(HM_ERR_FORMAT, "audio file '%s': %d channels at %ld Hz is not usable", path, ch, rate);
    goto done;
  }
  if (enc != MPG123_ENC_FLOAT_32) { /* MPG123_FORCE_FLOAT, set before the open, gives 32-bit floats */
    st = hm_error(HM_ERR_UNSUPPORTED, "audio file '%s': mpg123 gives encoding 0x%x, not 32-bit float", path, enc);
    goto done;
  }
  if (!pcm_init(&b, ch, 0)) { st = hm_error(HM_ERR_NOMEM, "out of memory reading '%s'", path); goto done; }
  for (;;) {
    if (!pcm_room(&b)) { st = hm_error(HM_ERR_NOMEM, "out of memory reading '%s'", path); break; }
    size_t done_bytes = 0;
    int r = mpg123_read(mh, (unsigned char *)(b.data + b.n * ch), (size_t)(b.cap - b.n) * (size_t)ch * sizeof(float),
                        &done_bytes);
    b.n += (int64_t)(done_bytes / (sizeof(float) * (size_t)ch));
    if (r == MPG123_DONE) break;
    if (r == MPG123_NEW_FORMAT) {
      long r2 = 0;
      int c2 = 0, e2 = 0;
      if (mpg123_getformat(mh, &r2, &c2, &e2) != MPG123_OK || r2 != rate || c2 != ch || e2 != enc) {
        st = hm_error(HM_ERR_FORMAT, "audio file '%s' changes its format mid-stream (%ld Hz x %d -> %ld Hz x %d)", path,
                      rate, ch, r2, c2);
        break;
      }
      continue;
    }
    if (r != MPG123_OK) {
      st = hm_error(HM_ERR_FORMAT, "audio file '%s' is damaged: mpg123: %s", path, mpg123_strerror(mh));
      break;
    }
  }
done:
  mpg123_close(mh);
  mpg123_delete(mh);
  if (st != HM_OK) {
    free(b.data);
    return st;
  }
  return pcm_finish(&b, path, (int)rate, out);
}

/* MPEG audio by name (.mp1/.mp2/.mp3/.mpga) or by content: an ID3v2 tag or an MPEG
 * frame sync (11 set bits) at the start, as libsndfile itself recognises MPEG */
static bool mpeg_name(const char *path) {
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  if (!dot || (slash && dot < slash)) return false;
  return !strcasecmp(dot, ".mp3") || !strcasecmp(dot, ".mp2") || !strcasecmp(dot, ".mp1") || !strcasecmp(dot, ".mpga");
}
static bool mpeg_content(FILE *fp) {
  unsigned char h[4] = {0};
  rewind(fp);
  size_t n = fread(h, 1, sizeof h, fp);
  rewind(fp);
  if (n >= 3 && h[0] == 'I' && h[1] == 'D' && h[2] == '3') return true;
  return n >= 2 && h[0] == 0xFF && (h[1] & 0xE0) == 0xE0;
}

hm_status hm_audio_read(const char *path, hm_audio *out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_audio_read: out is NULL");
  memset(out, 0, sizeof *out);
  if (!path || !*path) return hm_error(HM_ERR_INVALID_ARG, "hm_audio_read: no path given");
  FILE *fp = fopen(path, "rb");
  if (!fp) return hm_error(HM_ERR_IO, "cannot read audio file '%s': %s", path, errno == ENOENT ? "no such file" : strerror(errno));
  struct stat stt;
  if (fstat(fileno(fp), &stt) != 0 || !S_ISREG(stt.st_mode)) {
    fclose(fp);
    return hm_error(HM_ERR_IO, "cannot read audio file '%s': not a regular file", path);
  }
  /* MPEG data never reaches libsndfile (see read_sndfile); other data named .mp3 tries both */
  const bool by_content = mpeg_content(fp), mpeg_first = by_content || mpeg_name(path);
  char sf_why[256] = "", mp_why[256] = "";
  hm_status st = HM_ERR_UNSUPPORTED;
  if (by_content) snprintf(sf_why, sizeof sf_why, "not tried on MPEG data");
  for (int pass = 0; pass < 2 && st == HM_ERR_UNSUPPORTED; pass++) {
    const bool mpg = (pass == 0) == mpeg_first;
    if (mpg) st = read_mpg123(path, out, mp_why, sizeof mp_why);
    else if (!by_content) st = read_sndfile(fp, path, out, sf_why, sizeof sf_why);
  }
  fclose(fp);
  if (st != HM_ERR_UNSUPPORTED) return st;
  size_t l = strlen(sf_why); /* "Format not recognised." -> without the period */
  if (l && sf_why[l - 1] == '.') sf_why[l - 1] = 0;
  return hm_error(HM_ERR_FORMAT, "not an audio file we can read: %s (libsndfile: %s; mpg123: %s)", path, sf_why, mp_why);
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
