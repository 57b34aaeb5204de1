/* Tokenizer speed: load time of a tokenizer.json and encode time of a ~10 KB
 * lyric. usage: bench_tokenizer TOKENIZER.json [LYRICS.txt] [repeats] */
#include "text/prompt.h"
#include "text/tokenizer.h"
#include "io/fs.h"

#include <stdio.h>
#include <stdlib.h>

/* a synthetic 10 KB song: section markers, lines of words drawn with a fixed LCG
 * from a small vocabulary, a chorus that repeats (as songs do), some non-ASCII */
static char *make_lyric(size_t target, size_t *len) {
  static const char *words[] = {
    "love", "heart", "night", "light", "fire", "rain", "dream", "home", "road", "sky", "river", "tonight",
    "forever", "never", "always", "I'm", "you're", "we'll", "don't", "can't", "baby", "oh", "yeah", "la",
    "dancing", "running", "falling", "singing", "burning", "waiting", "golden", "broken", "shadow", "ocean",
    "mountain", "city", "street", "summer", "winter", "morning", "memory", "promise", "whisper", "thunder",
    "the", "a", "and", "in", "of", "to", "my", "your", "with", "through", "under", "over", "12", "2024",
    "café", "corazón", "été", "你好", "爱情", "사랑", "🎵", "niño", "über", "señorita", "amour", "déjà-vu"};
  const size_t nwords = sizeof words / sizeof words[0];
  char *s = malloc(target + 256);
  size_t w = 0;
  uint64_t x = 12345;
  const char *chorus = "[Chorus]\nOh, oh, take me home tonight, take me where the stars are bright\n"
                       "Hold me close and hold me tight, we will sing until the light\n\n";
  int verse = 0;
  while (w < target) {
    if (verse % 2 == 1 && w + strlen(chorus) < target) { memcpy(s + w, chorus, strlen(chorus)); w += strlen(chorus); }
    w += (size_t)snprintf(s + w, 32, "[Verse %d]\n", ++verse);
    for (int line = 0; line < 4 && w < target; line++) {
      for (int k = 0; k < 8 && w < target; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        const char *wd = words[(x >> 33) % nwords];
        size_t l = strlen(wd);
        if (w + l + 2 > target + 200) break;
        if (k) s[w++] = ' ';
        memcpy(s + w, wd, l);
        w += l;
      }
      s[w++] = '\n';
    }
    s[w++] = '\n';
  }
  s[w] = 0;
  *len = w;
  return s;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: %s TOKENIZER.json [LYRICS.txt] [repeats]\n", argv[0]); return 2; }
  int reps = argc > 3 ? atoi(argv[3]) : 50;
  if (reps < 1) reps = 1;
  double best_load = 1e9;
  hm_tokenizer *tok = NULL;
  for (int r = 0; r < 3; r++) {
    if (tok) hm_tokenizer_free(tok);
    int64_t t0 = hm_time_us();
    if (hm_tokenizer_load(argv[1], &tok) != HM_OK) { fprintf(stderr, "%s\n", hm_last_error()); return 1; }
    double ms = (double)(hm_time_us() - t0) / 1000.0;
    if (ms < best_load) best_load = ms;
  }
  char *text;
  size_t len;
  if (argc > 2 && strcmp(argv[2], "-")) {
    if (hm_read_file(argv[2], &text, &len) != HM_OK) { fprintf(stderr, "%s\n", hm_last_error()); return 1; }
  } else text = make_lyric(10240, &len);
  double best = 1e9, sum = 0;
  int64_t n = 0;
  for (int r = 0; r < reps; r++) {
    int32_t *ids;
    int64_t t0 = hm_time_us();
    if (hm_tokenizer_encode(tok, text, len, false, &ids, &n) != HM_OK) { fprintf(stderr, "%s\n", hm_last_error()); return 1; }
    double ms = (double)(hm_time_us() - t0) / 1000.0;
    free(ids);
    if (ms < best) best = ms;
    sum += ms;
  }
  hm_prompt_params pp = hm_prompt_default_params();
  hm_prompt pr;
  int64_t t0 = hm_time_us();
  hm_status st = hm_prompt_build(tok, "pop, female vocal, piano, happy", text, &pp, &pr);
  double prompt_ms = (double)(hm_time_us() - t0) / 1000.0;
  printf("tokenizer %s: vocab %lld, load %.1f ms (best of 3)\n", argv[1], (long long)hm_tokenizer_vocab_size(tok), best_load);
  printf("encode %zu bytes -> %lld ids: best %.3f ms, mean %.3f ms over %d runs (%.1f MB/s)\n", len, (long long)n, best,
         sum / reps, reps, (double)len / (best / 1000.0) / 1e6);
  if (st == HM_OK) printf("prompt build (lowercase + tags + lyrics): %.3f ms, %lld rows\n", prompt_ms, (long long)pr.n_rows);
  hm_prompt_free(&pr);
  free(text);
  hm_tokenizer_free(tok);
  return 0;
}
