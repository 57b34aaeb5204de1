/* The public transcription call on the fixture model: jfk.wav (one window,
 * with and without timestamps), long.wav (two windows merged as the HF
 * pipeline merges them) and the output formats. */
#include "harness.h"
#include "io/json.h"
#include "transcriptor/whisper.h"
#include <stdlib.h>

static bool ids_equal_json(const int32_t *got, int n, const json_t *arr) {
  if ((int)json_array_size(arr) != n) return false;
  for (int i = 0; i < n; i++)
    if (json_integer_value(json_array_get(arr, (size_t)i)) != got[i]) return false;
  return true;
}

void hm_test_main(void) {
  char path[1024], wav[1024];
  hm_whisper_model *m = NULL;
  CHECK_OK(hm_whisper_load(hm_test_path(path, sizeof path, "fixtures-whisper"), &m));
  if (!m) return;
  json_t *g = NULL;
  CHECK_OK(hm_json_load(hm_test_path(path, sizeof path, "fixtures-whisper/jfk_greedy.json"), &g));
  if (!g) { hm_whisper_free(m); return; }
  const json_t *nt = json_object_get(g, "notimestamps");

  /* no timestamps: one segment with exactly the fixture's greedy tokens and text */
  hm_whisper_params p = hm_whisper_default_params();
  CHECK(p.language && !strcmp(p.language, "en") && !p.timestamps && p.chunk_length_s == 30.0 && p.stride_length_s == 5.0);
  p.max_new_tokens = 30;
  p.n_threads = 2;
  hm_transcript *t = NULL;
  CHECK_OK(hm_whisper_transcribe_file(m, hm_test_path(wav, sizeof wav, "fixtures-whisper/jfk.wav"), &p, NULL, NULL, NULL, &t));
  if (t) {
    CHECK(t->n_segments == 1);
    CHECK(!strcmp(t->language, "en"));
    CHECK_NEAR(t->duration_s, 11.0, 1e-9);
    if (t->n_segments == 1) {
      CHECK(ids_equal_json(t->segments[0].tokens, t->segments[0].n_tokens, json_object_get(nt, "tokens")));
      CHECK_MSG(!strcmp(t->segments[0].text, json_string_value(json_object_get(nt, "text"))), "text '%s'", t->segments[0].text);
      CHECK(t->segments[0].start_s == 0.0 && t->segments[0].end_s == 11.0);
    }
    char *js = NULL;
    CHECK_OK(hm_transcript_format(t, "json", &js));
    json_error_t err;
    json_t *back = js ? json_loads(js, 0, &err) : NULL;
    CHECK(back != NULL);
    const json_t *seg0 = json_array_get(json_object_get(back, "segments"), 0);
    CHECK(seg0 && ids_equal_json(t->segments[0].tokens, t->segments[0].n_tokens, json_object_get(seg0, "tokens")));
    CHECK(back && !strcmp(json_string_value(json_object_get(back, "text")), t->text));
    json_decref(back);
    free(js);
    char *txt = NULL;
    CHECK_ERR(hm_transcript_format(t, "docx", &txt), "docx");
    hm_transcript_free(t);
  }

  /* timestamps: segments from the timestamp pairs (openai decode of the same window) */
  p.timestamps = true;
  t = NULL;
  CHECK_OK(hm_whisper_transcribe_file(m, wav, &p, NULL, NULL, NULL, &t));
  if (t) {
    int n_tok = 0; /* all 17 text tokens of the 30 sampled */
    for (int i = 0; i < t->n_segments; i++) n_tok += t->segments[i].n_tokens;
    CHECK_MSG(n_tok == 17, "%d text tokens", n_tok);
    CHECK_MSG(t->n_segments == 7, "%d segments", t->n_segments);
    if (t->n_segments >= 3) {
      /* <|0.86|>是<|14.70|><|14.70|>quently<|17.92|><|25.48|> stretch<|28.32|> ... */
      CHECK_NEAR(t->segments[0].start_s, 0.86, 1e-9);
      CHECK_NEAR(t->segments[0].end_s, 14.70, 1e-9);
      CHECK(!strcmp(t->segments[0].text, "是"));
      CHECK_NEAR(t->segments[1].start_s, 14.70, 1e-9);
      CHECK_NEAR(t->segments[1].end_s, 17.92, 1e-9);
      CHECK(!strcmp(t->segments[1].text, "quently"));
      CHECK_NEAR(t->segments[2].start_s, 25.48, 1e-9);
      CHECK(!strcmp(t->segments[2].text, " stretch"));
    }
    char *lrc = NULL;
    CHECK_OK(hm_transcript_format(t, "lrc", &lrc));
    CHECK(lrc && !strncmp(lrc, "[00:00.86]是\n[00:14.70]quently\n[00:25.48]stretch\n", strlen("[00:00.86]是\n[00:14.70]quently\n[00:25.48]stretch\n")));
    free(lrc);
    char *srt = NULL;
    CHECK_OK(hm_transcript_format(t, "srt", &srt));
    const char *srt_head = "1\n00:00:00,860 --> 00:00:14,700\n是\n\n2\n00:00:14,700 --> 00:00:17,920\nquently\n";
    CHECK(srt && !strncmp(srt, srt_head, strlen(srt_head)));
    free(srt);
    char *vtt = NULL;
    CHECK_OK(hm_transcript_format(t, "vtt", &vtt));
    const char *vtt_head = "WEBVTT\n\n00:00:00.860 --> 00:00:14.700\n是\n";
    CHECK(vtt && !strncmp(vtt, vtt_head, strlen(vtt_head)));
    free(vtt);
    hm_transcript_free(t);
  }

  /* long.wav: windows [0, 30 s) and [20, 50 s) merged by the longest common
   * sequence (expected ids from transformers' _find_longest_common_sequence
   * run on long_windows.json's tokens). */
  /* window 1 sampled a timestamp token (51170) in no-timestamp mode: _decode_asr
   * takes it as a timestamp, so it is not part of the merged text */
  static const int32_t merged[29] = {1541, 45921, 44112, 47519, 12990, 40319, 5985, 38216, 14595, 17531,
                                     9855, 45921, 45921, 42598, 8684, 41724, 34548, 50075, 50075, 880,
                                     44061, 44061, 44112, 25752, 2513, 20368, 17486, 14632, 1627};
  p.timestamps = false;
  t = NULL;
  CHECK_OK(hm_whisper_transcribe_file(m, hm_test_path(wav, sizeof wav, "fixtures-whisper/long.wav"), &p, NULL, NULL, NULL, &t));
  if (t) {
    CHECK(t->n_segments == 1);
    CHECK_NEAR(t->duration_s, 50.0, 1e-9);
    if (t->n_segments == 1) {
      CHECK(t->segments[0].start_s == 0.0 && t->segments[0].end_s == 50.0);
      bool same = t->segments[0].n_tokens == 29;
      for (int i = 0; same && i < 29; i++) same = t->segments[0].tokens[i] == merged[i];
      CHECK(same);
    }
    hm_transcript_free(t);
  }
  /* long.wav with timestamps: _decode_asr's stitching across the two windows
   * (expected times from a Python transcription of transformers' _decode_asr run
   * on the same window tokens; the last segment has no closing timestamp) */
  p.timestamps = true;
  t = NULL;
  CHECK_OK(hm_whisper_transcribe_file(m, wav, &p, NULL, NULL, NULL, &t));
  if (t) {
    static const double times[8][2] = {{0.86, 1.78}, {16.1, 17.92}, {29.78, 36.1}, {37.92, 45.48},
                                       {48.32, 48.46}, {49.0, 49.36}, {49.52, 49.64}, {49.82, 50.0}};
    static const int n_tok[8] = {1, 1, 18, 1, 1, 1, 1, 12};
    CHECK_MSG(t->n_segments == 8, "%d segments", t->n_segments);
    for (int i = 0; i < 8 && i < t->n_segments; i++) {
      CHECK_NEAR(t->segments[i].start_s, times[i][0], 1e-9);
      CHECK_NEAR(t->segments[i].end_s, times[i][1], 1e-9);
      CHECK_MSG(t->segments[i].n_tokens == n_tok[i], "segment %d: %d tokens", i, t->segments[i].n_tokens);
    }
    if (t->n_segments > 2) CHECK(t->segments[2].tokens[0] == 5985 && t->segments[2].tokens[17] == 45921);
    hm_transcript_free(t);
  }
  p.timestamps = false;
  /* language detection runs and picks a language token */
  p.language = "auto";
  p.max_new_tokens = 2;
  t = NULL;
  CHECK_OK(hm_whisper_transcribe_file(m, hm_test_path(wav, sizeof wav, "fixtures-whisper/jfk.wav"), &p, NULL, NULL, NULL, &t));
  CHECK(t && strlen(t->language) >= 2);
  hm_transcript_free(t);
  json_decref(g);
  hm_whisper_free(m);
}
