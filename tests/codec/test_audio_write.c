/* hm_audio_write: every format round-trips through libsndfile; refusals
 * (existing file, missing folder, unknown extension) leave nothing behind. */
#include "harness.h"
#include "io/audio.h"

#include <dirent.h>
#include <sndfile.h>
#include <stdlib.h>
#include <sys/stat.h>

#define N 48000

static float L[N], R[N];

static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));) if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* Reads path back; returns max abs error against L/R over [skip, N - skip) (+inf on failure). */
static double read_back(const char *path, int want_format, int64_t *frames_out) {
  SF_INFO info;
  memset(&info, 0, sizeof info);
  SNDFILE *sf = sf_open(path, SFM_READ, &info);
  if (!sf) { fprintf(stderr, "cannot reopen %s: %s\n", path, sf_strerror(NULL)); return INFINITY; }
  CHECK(info.channels == 2);
  CHECK(info.samplerate == 48000);
  CHECK((info.format & SF_FORMAT_TYPEMASK) == (want_format & SF_FORMAT_TYPEMASK));
  float *buf = malloc((size_t)(info.frames + 1) * 2 * sizeof(float));
  sf_count_t n = sf_readf_float(sf, buf, info.frames);
  sf_close(sf);
  *frames_out = n;
  double mx = 0;
  for (sf_count_t i = 0; i < n && i < N; i++) {
    double a = fabs(buf[2 * i] - L[i]), b = fabs(buf[2 * i + 1] - R[i]);
    if (a > mx) mx = a;
    if (b > mx) mx = b;
  }
  free(buf);
  return mx;
}

void hm_test_main(void) {
  for (int i = 0; i < N; i++) {
    L[i] = 0.5f * sinf(2.0f * 3.14159265f * 440.0f * i / 48000.0f);
    R[i] = 0.25f * sinf(2.0f * 3.14159265f * 660.0f * i / 48000.0f);
  }
  const float *ch[2] = {L, R};
  const char *dir = hm_test_tmpdir();
  char p[1024];
  int64_t n;

  snprintf(p, sizeof p, "%s/a.wav", dir);
  CHECK_OK(hm_audio_write(p, HM_AUDIO_AUTO, ch, 2, N, 48000, false));
  double e = read_back(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, &n);
  CHECK(n == N);
  CHECK_MSG(e < 1.0 / 32768 + 1e-6, "wav16 err %g", e);

  snprintf(p, sizeof p, "%s/b.wav", dir);
  CHECK_OK(hm_audio_write(p, HM_AUDIO_WAV_FLOAT, ch, 2, N, 48000, false));
  e = read_back(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, &n);
  CHECK(n == N && e == 0.0);

  snprintf(p, sizeof p, "%s/c.flac", dir);
  CHECK_OK(hm_audio_write(p, HM_AUDIO_AUTO, ch, 2, N, 48000, false));
  e = read_back(p, SF_FORMAT_FLAC, &n);
  CHECK(n == N);
  CHECK_MSG(e < 1.0 / 32768 + 1e-6, "flac err %g", e);

  /* lossy: only check it decodes to about the right length and energy */
  snprintf(p, sizeof p, "%s/d.mp3", dir);
  hm_status st = hm_audio_write(p, HM_AUDIO_AUTO, ch, 2, N, 48000, false);
  if (st == HM_ERR_UNSUPPORTED) printf("mp3 not supported by this libsndfile: %s\n", hm_last_error());
  else {
    CHECK_OK(st);
    e = read_back(p, SF_FORMAT_MPEG, &n);
    CHECK_MSG(n >= N - 2048 && n <= N + 4096, "mp3 frames %lld", (long long)n);
  }
  snprintf(p, sizeof p, "%s/e.ogg", dir);
  st = hm_audio_write(p, HM_AUDIO_AUTO, ch, 2, N, 48000, false);
  if (st == HM_ERR_UNSUPPORTED) printf("ogg not supported by this libsndfile: %s\n", hm_last_error());
  else {
    CHECK_OK(st);
    e = read_back(p, SF_FORMAT_OGG, &n);
    CHECK_MSG(n >= N - 2048 && n <= N + 4096, "ogg frames %lld", (long long)n);
  }
  int before = count_files(dir);

  /* refusals: existing file (content unchanged), missing folder, unknown extension */
  snprintf(p, sizeof p, "%s/a.wav", dir);
  struct stat s0, s1;
  stat(p, &s0);
  const float *quiet[2] = {R, R};
  CHECK_ERR(hm_audio_write(p, HM_AUDIO_AUTO, quiet, 2, N / 2, 48000, false), "exists");
  stat(p, &s1);
  CHECK(s0.st_size == s1.st_size);
  CHECK_OK(hm_audio_write(p, HM_AUDIO_AUTO, quiet, 2, N / 2, 48000, true));
  e = read_back(p, SF_FORMAT_WAV, &n);
  CHECK(n == N / 2);
  snprintf(p, sizeof p, "%s/no/such/dir/x.wav", dir);
  CHECK_ERR(hm_audio_write(p, HM_AUDIO_AUTO, ch, 2, N, 48000, false), "does not exist");
  snprintf(p, sizeof p, "%s/x.xyz", dir);
  CHECK_ERR(hm_audio_write(p, HM_AUDIO_AUTO, ch, 2, N, 48000, false), "unknown extension");
  snprintf(p, sizeof p, "%s/noext", dir);
  CHECK_ERR(hm_audio_write(p, HM_AUDIO_AUTO, ch, 2, N, 48000, false), "unknown extension");
  CHECK_ERR(hm_audio_write(p, HM_AUDIO_WAV16, ch, 0, N, 48000, false), "n_channels");
  CHECK(count_files(dir) == before); /* no partial or temporary file left */
}
