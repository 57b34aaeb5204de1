/* Transcript output formats (txt, lrc, srt, vtt, json) and transcription of
 * an audio file. */
#include "transcriptor/whisper.h"
#include "io/audio.h"
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf { char *p; size_t n, cap; bool oom; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) HM_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->n;
    int k = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
    va_end(ap);
    if (k < 0) { b->oom = true; return; }
    if ((size_t)k < room) { b->n += (size_t)k; return; }
    size_t nc = (b->cap ? b->cap * 2 : 256) + (size_t)k;
    char *np = realloc(b->p, nc);
    if (!np) { b->oom = true; return; }
    b->p = np;
    b->cap = nc;
  }
}

/* segment text without leading/trailing spaces, as a (ptr, len) slice */
static const char *trimmed(const char *s, int *len) {
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) n--;
  *len = (int)n;
  return s;
}

static void clock_hms(sbuf *b, double t, char sep) {
  if (!(t >= 0)) t = 0;
  long long ms = llround(t * 1000.0);
  sb_printf(b, "%02lld:%02lld:%02lld%c%03lld", ms / 3600000, (ms / 60000) % 60, (ms / 1000) % 60, sep, ms % 1000);
}

hm_status hm_transcript_format(const hm_transcript *t, const char *format, char **out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_transcript_format: out is NULL");
  *out = NULL;
  if (!t) return hm_error(HM_ERR_INVALID_ARG, "hm_transcript_format: no transcript");
  if (!format) format = "txt";
  sbuf b = {0};
  if (!strcmp(format, "json")) {
    json_t *root = json_object(), *segs = json_array();
    if (!root || !segs) { json_decref(root); json_decref(segs); return hm_error(HM_ERR_NOMEM, "out of memory"); }
    json_object_set_new(root, "text", json_string(t->text ? t->text : ""));
    json_object_set_new(root, "language", json_string(t->language));
    json_object_set_new(root, "duration", json_real(t->duration_s));
    for (int i = 0; i < t->n_segments; i++) {
      const hm_transcript_segment *g = &t->segments[i];
      json_t *o = json_object(), *toks = json_array();
      for (int k = 0; k < g->n_tokens; k++) json_array_append_new(toks, json_integer(g->tokens[k]));
      json_object_set_new(o, "start", json_real(round(g->start_s * 1000.0) / 1000.0));
      json_object_set_new(o, "end", json_real(round(g->end_s * 1000.0) / 1000.0));
      json_object_set_new(o, "text", json_string(g->text ? g->text : ""));
      json_object_set_new(o, "tokens", toks);
      json_array_append_new(segs, o);
    }
    json_object_set_new(root, "segments", segs);
    char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!s) return hm_error(HM_ERR_NOMEM, "transcript: JSON output failed (invalid UTF-8 text?)");
    sb_printf(&b, "%s\n", s);
    free(s);
  } else if (!strcmp(format, "txt")) {
    for (int i = 0; i < t->n_segments; i++) {
      int n;
      const char *s = trimmed(t->segments[i].text, &n);
      if (n) sb_printf(&b, "%.*s\n", n, s);
    }
  } else if (!strcmp(format, "lrc")) {
    for (int i = 0; i < t->n_segments; i++) {
      int n;
      const char *s = trimmed(t->segments[i].text, &n);
      long long cs = llround((t->segments[i].start_s > 0 ? t->segments[i].start_s : 0) * 100.0);
      sb_printf(&b, "[%02lld:%02lld.%02lld]%.*s\n", cs / 6000, (cs / 100) % 60, cs % 100, n, s);
    }
  } else if (!strcmp(format, "srt") || !strcmp(format, "vtt")) {
    bool vtt = format[0] == 'v';
    if (vtt) sb_printf(&b, "WEBVTT\n\n");
    for (int i = 0; i < t->n_segments; i++) {
      int n;
      const char *s = trimmed(t->segments[i].text, &n);
      if (!vtt) sb_printf(&b, "%d\n", i + 1);
      clock_hms(&b, t->segments[i].start_s, vtt ? '.' : ',');
      sb_printf(&b, " --> ");
      clock_hms(&b, t->segments[i].end_s, vtt ? '.' : ',');
      sb_printf(&b, "\n%.*s\n\n", n, s);
    }
  } else {
    return hm_error(HM_ERR_INVALID_ARG, "unknown transcript format '%s' (txt, lrc, srt, vtt, json)", format);
  }
  if (b.oom) { free(b.p); return hm_error(HM_ERR_NOMEM, "out of memory"); }
  if (!b.p) { b.p = malloc(1); if (!b.p) return hm_error(HM_ERR_NOMEM, "out of memory"); b.p[0] = 0; }
  *out = b.p;
  return HM_OK;
}

hm_status hm_whisper_transcribe_file(const hm_whisper_model *model, const char *path,
                                     const hm_whisper_params *params, hm_progress_callback progress,
                                     hm_abort_callback abort_cb, void *user_data, hm_transcript **out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_whisper_transcribe_file: out is NULL");
  *out = NULL;
  if (!model) return hm_error(HM_ERR_INVALID_ARG, "hm_whisper_transcribe_file: model is NULL");
  hm_audio a;
  HM_TRY(hm_audio_read(path, &a));
  float *pcm = NULL;
  int64_t n = 0;
  hm_status st = hm_audio_to_mono(&a, model->cfg.sample_rate_hz, &pcm, &n);
  hm_audio_free(&a);
  if (st != HM_OK) return hm_error_context(st, "%s", path);
  if (n <= 0) { free(pcm); return hm_error(HM_ERR_FORMAT, "audio file '%s' holds no samples", path); }
  st = hm_whisper_transcribe(model, pcm, n, params, progress, abort_cb, user_data, out);
  free(pcm);
  return st;
}
