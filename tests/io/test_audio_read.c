/* Audio reading of hostile files: libmpg123's "Note: ..." lines never reach
 * stderr (a damaged MP3, random bytes named .mp3: the library prints nothing),
 * and a file that neither libsndfile nor libmpg123 reads gets one message naming
 * the file and both libraries' reasons. */
#include "harness.h"
#include "io/audio.h"
#include "io/fs.h"
#include "io/json.h"

#include <math.h>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* stderr of the calls between capture_begin and capture_end, as a string (malloc) */
static int saved_fd = -1;
static char cap_path[1024];
static void capture_begin(void) {
  fflush(stderr);
  snprintf(cap_path, sizeof cap_path, "%s/stderr.txt", hm_test_tmpdir());
  int fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  saved_fd = dup(2);
  dup2(fd, 2);
  close(fd);
}
static char *capture_end(void) {
  fflush(stderr);
  dup2(saved_fd, 2);
  close(saved_fd);
  FILE *f = fopen(cap_path, "rb");
  char *s = calloc(1, 65536);
  if (f && s) { size_t n = fread(s, 1, 65535, f); s[n] = 0; }
  if (f) fclose(f);
  return s;
}

static void write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f && fwrite(p, 1, n, f) == n);
  if (f) fclose(f);
}

/* hm_audio_read with stderr captured: status, and stderr must stay empty */
static hm_status read_quietly(const char *path, hm_audio *a) {
  capture_begin();
  hm_status st = hm_audio_read(path, a);
  char *err = capture_end();
  CHECK_MSG(err && err[0] == 0, "%s: the library wrote to stderr: '%s'", path, err ? err : "?");
  free(err);
  return st;
}

static void check_unreadable(const char *path) {
  hm_audio a;
  hm_status st = read_quietly(path, &a);
  char want[1200];
  snprintf(want, sizeof want, "not an audio file we can read: %s (libsndfile: ", path);
  const char *e = hm_last_error();
  CHECK_MSG(st == HM_ERR_FORMAT && strstr(e, want) && strstr(e, "; mpg123: ") && e[strlen(e) - 1] == ')',
            "%s: status %d '%s'", path, (int)st, e);
}

void hm_test_main(void) {
  const char *dir = hm_test_tmpdir();
  char p[1024];

  /* a real MP3 (1 s of a 440 Hz tone, 48 kHz stereo), read back through libmpg123 */
  enum { N = 48000 };
  float *l = malloc(sizeof(float) * N), *r = malloc(sizeof(float) * N);
  for (int i = 0; i < N; i++) l[i] = r[i] = 0.3f * sinf(6.2831853f * 440.0f * (float)i / 48000.0f);
  const float *ch[2] = {l, r};
  snprintf(p, sizeof p, "%s/tone.mp3", dir);
  hm_status st = hm_audio_write(p, HM_AUDIO_MP3, ch, 2, N, 48000, false);
  free(l);
  free(r);
  if (st == HM_ERR_UNSUPPORTED) printf("this libsndfile cannot write MP3: the MP3 cases are skipped\n");
  else {
    CHECK_OK(st);
    hm_audio a;
    CHECK_OK(read_quietly(p, &a));
    CHECK_MSG(a.n_channels == 2 && a.sample_rate_hz == 48000 && a.n_frames >= N - 2048 && a.n_frames <= N + 4096,
              "mp3: %d channels, %d Hz, %lld frames", a.n_channels, a.sample_rate_hz, (long long)a.n_frames);
    double e = 0;
    for (int64_t i = 0; i < a.n_frames * a.n_channels; i++) e += (double)a.data[i] * a.data[i];
    e /= (double)(a.n_frames * a.n_channels);
    CHECK_MSG(e > 0.02 && e < 0.07, "mp3: mean power %g (a 0.3 sine: 0.045)", e); /* floats, not 16-bit bytes */
    hm_audio_free(&a);

    /* damaged: 3000 zero bytes in the middle (libsndfile's own mpg123 prints
     * "Note: Illegal Audio-MPEG-Header ..." and "Trying to resync..." here) */
    char *buf;
    size_t n;
    CHECK_OK(hm_read_file(p, &buf, &n));
    if (buf && n > 8000) {
      memset(buf + n * 2 / 5, 0, 3000);
      snprintf(p, sizeof p, "%s/damaged.mp3", dir);
      write_bytes(p, buf, n);
      st = read_quietly(p, &a);
      if (st == HM_OK) hm_audio_free(&a);
      else CHECK_MSG(strstr(hm_last_error(), "damaged.mp3"), "damaged mp3: '%s'", hm_last_error());
      /* the same damage as a .wav: found to be MPEG by its content, never handed to libsndfile */
      snprintf(p, sizeof p, "%s/damaged_mp3.wav", dir);
      write_bytes(p, buf, n);
      st = read_quietly(p, &a);
      if (st == HM_OK) hm_audio_free(&a);
    }
    free(buf);
  }

  /* text named .mp3, random bytes named .mp3 and .wav, an empty .mp3: one message, both reasons */
  static const char text[] = "this is not audio at all, just a line of text\n";
  char big[4096];
  for (size_t i = 0; i < sizeof big; i++) big[i] = text[i % (sizeof text - 1)];
  snprintf(p, sizeof p, "%s/garbage.mp3", dir);
  write_bytes(p, big, sizeof big);
  check_unreadable(p);
  hm_rng rng;
  hm_rng_seed(&rng, 17, 0);
  static unsigned char rnd[20000];
  for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)(hm_rng_u64(&rng) >> 56);
  rnd[0] = 0x12; /* not an MPEG sync, not ID3 */
  snprintf(p, sizeof p, "%s/random.mp3", dir);
  write_bytes(p, rnd, sizeof rnd);
  check_unreadable(p);
  snprintf(p, sizeof p, "%s/random.wav", dir);
  write_bytes(p, rnd, sizeof rnd);
  check_unreadable(p);
  snprintf(p, sizeof p, "%s/empty.mp3", dir);
  write_bytes(p, "", 0);
  check_unreadable(p);

  /* a missing file and a folder: the file system's reason */
  hm_audio a;
  snprintf(p, sizeof p, "%s/no_such.mp3", dir);
  CHECK_ERR(hm_audio_read(p, &a), "no such file");
  snprintf(p, sizeof p, "%s/a_folder.mp3", dir);
  mkdir(p, 0700);
  CHECK_ERR(hm_audio_read(p, &a), "not a regular file");
}
