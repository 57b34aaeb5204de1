/* Audio files (libsndfile) and resampling (libsoxr). */
#ifndef HM_AUDIO_H
#define HM_AUDIO_H
#include "base/base.h"

typedef struct hm_audio {
  float *data;   /* interleaved, n_frames x n_channels, owned (malloc) */
  int64_t n_frames;
  int n_channels;
  int sample_rate_hz;
} hm_audio;

/* Reads WAV, FLAC, OGG (libsndfile) and MP3 (libmpg123, quiet: nothing on stderr).
 * A file neither reads: "not an audio file we can read: PATH (libsndfile: ...; mpg123: ...)". */
hm_status hm_audio_read(const char *path, hm_audio *out);
/* Mono downmix (mean of channels) resampled to rate_hz with libsoxr (very high quality). */
hm_status hm_audio_to_mono(const hm_audio *in, int rate_hz, float **out, int64_t *n_out);
void hm_audio_free(hm_audio *a);

typedef enum hm_audio_format {
  HM_AUDIO_AUTO = 0, /* from the extension: .wav (16-bit), .flac, .mp3, .ogg */
  HM_AUDIO_WAV16, HM_AUDIO_WAV_FLOAT, HM_AUDIO_FLAC, HM_AUDIO_MP3, HM_AUDIO_OGG
} hm_audio_format;
/* The format an output path's extension names (case-insensitive), HM_AUDIO_AUTO when none. */
hm_audio_format hm_audio_format_from_path(const char *path);
#define HM_AUDIO_EXTENSIONS "use .wav, .flac, .mp3 or .ogg"
/* Writes planar channels (ch[c][i], i < n_frames) to path via a temporary name,
 * renamed when complete. Refuses an existing path unless overwrite. */
hm_status hm_audio_write(const char *path, hm_audio_format fmt, const float *const *channels,
                         int n_channels, int64_t n_frames, int sample_rate_hz, bool overwrite);

/* The same, block by block (a song written while it is decoded): open checks the
 * target and creates the temporary file; close finishes the file and moves it into
 * place (and frees the writer whatever the outcome); discard removes it. */
typedef struct hm_audio_writer hm_audio_writer;
hm_status hm_audio_writer_open(const char *path, hm_audio_format fmt, int n_channels, int sample_rate_hz,
                               bool overwrite, hm_audio_writer **out);
hm_status hm_audio_writer_write(hm_audio_writer *w, const float *const *channels, int64_t n_frames);
hm_status hm_audio_writer_close(hm_audio_writer *w);
void hm_audio_writer_discard(hm_audio_writer *w);

#endif
