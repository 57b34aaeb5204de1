/* Whisper decoding: openai decoding.py's logit filters and greedy search per
 * 30 s window, the HF ASR pipeline's window layout (chunk_iter) and its merge
 * of overlapping windows (tokenization_whisper._decode_asr /
 * _find_longest_common_sequence), and the public transcription call. */
#include "transcriptor/whisper.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- logit filters ---- */
static void suppress_range(float *logits, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++) logits[i] = -INFINITY;
}

/* log_softmax(logits) into work (double); returns nothing. */
static void log_softmax_d(const float *logits, int64_t n, double *work) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; i++) if (logits[i] > mx) mx = logits[i];
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
  double lse = mx + log(sum);
  for (int64_t i = 0; i < n; i++) work[i] = (double)logits[i] - lse;
}

void hm_whisper_apply_filters(const hm_whisper_config *c, float *logits, const int32_t *sampled,
                              int n_sampled, bool timestamps, double *work) {
  const int64_t V = c->n_vocab;
  /* 1. SuppressBlank (begin_suppress_tokens) at the first sampled step */
  if (n_sampled == 0)
    for (int i = 0; i < c->n_begin_suppress; i++) logits[c->begin_suppress[i]] = -INFINITY;
  /* 2. SuppressTokens */
  for (int i = 0; i < c->n_suppress; i++) logits[c->suppress[i]] = -INFINITY;
  if (!timestamps) return;
  /* 3. ApplyTimestampRules */
  const int32_t tb = c->timestamp_begin;
  logits[c->no_timestamps] = -INFINITY;
  bool last_ts = n_sampled >= 1 && sampled[n_sampled - 1] >= tb;
  bool penult_ts = n_sampled < 2 || sampled[n_sampled - 2] >= tb;
  if (last_ts) {
    if (penult_ts) suppress_range(logits, tb, V);
    else suppress_range(logits, 0, c->eot);
  }
  int32_t last_stamp = -1;
  for (int i = n_sampled - 1; i >= 0; i--)
    if (sampled[i] >= tb) { last_stamp = sampled[i]; break; }
  if (last_stamp >= 0) {
    int64_t lim = (last_ts && !penult_ts) ? last_stamp : last_stamp + 1;
    if (lim > V) lim = V;
    suppress_range(logits, tb, lim);
  }
  if (n_sampled == 0) {
    suppress_range(logits, 0, tb);
    if (c->max_initial_timestamp_index >= 0) {
      int64_t last_allowed = (int64_t)tb + c->max_initial_timestamp_index;
      if (last_allowed + 1 < V) suppress_range(logits, last_allowed + 1, V);
    }
  }
  log_softmax_d(logits, V, work);
  double mx = -INFINITY, ts_max = -INFINITY;
  for (int64_t i = 0; i < tb; i++) if (work[i] > mx) mx = work[i];
  for (int64_t i = tb; i < V; i++) if (work[i] > ts_max) ts_max = work[i];
  double ts_lse = -INFINITY;
  if (ts_max > -INFINITY) {
    double sum = 0.0;
    for (int64_t i = tb; i < V; i++) sum += exp(work[i] - ts_max);
    ts_lse = ts_max + log(sum);
  }
  if (ts_lse > mx) suppress_range(logits, 0, tb);
}

/* ---- greedy decode of one window ---- */
void hm_whisper_window_result_free(hm_whisper_window_result *r) {
  if (!r) return;
  free(r->tokens);
  memset(r, 0, sizeof *r);
}

static int64_t argmax_f(const float *x, int64_t lo, int64_t hi) {
  int64_t best = lo;
  for (int64_t i = lo + 1; i < hi; i++) if (x[i] > x[best]) best = i;
  return best;
}

double hm_whisper_tokens_entropy(const int32_t *tokens, int n) {
  int i0 = n > 32 ? n - 32 : 0, cnt = n - i0;
  if (cnt <= 0) return 0.0;
  double e = 0.0;
  for (int i = i0; i < n; i++) {
    bool seen = false;
    for (int j = i0; j < i && !seen; j++) seen = tokens[j] == tokens[i];
    if (seen) continue;
    int c = 0;
    for (int j = i; j < n; j++) c += tokens[j] == tokens[i];
    double p = (double)c / cnt;
    e -= p * log(p);
  }
  return e;
}

/* Samples from softmax(logits / T) (work = scratch); -inf entries never win. */
static int32_t sample_token(const float *logits, int64_t n, float temp, hm_rng *rng, double *work) {
  double mx = -INFINITY;
  for (int64_t i = 0; i < n; i++) if (logits[i] > mx) mx = logits[i];
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) {
    work[i] = logits[i] == -INFINITY ? 0.0 : exp(((double)logits[i] - mx) / temp);
    sum += work[i];
  }
  double u = hm_rng_uniform(rng) * sum, acc = 0.0;
  int64_t last = 0;
  for (int64_t i = 0; i < n; i++) {
    if (work[i] <= 0.0) continue;
    acc += work[i];
    last = i;
    if (u < acc) return (int32_t)i;
  }
  return (int32_t)last;
}

hm_status hm_whisper_decode_window(hm_whisper_state *s, int32_t language_token, bool translate,
                                   bool timestamps, int max_new_tokens, hm_abort_callback abort_cb,
                                   void *user_data, hm_whisper_window_result *res) {
  return hm_whisper_decode_window_t(s, language_token, translate, timestamps, max_new_tokens, 0.0f, NULL, abort_cb,
                                    user_data, res);
}

hm_status hm_whisper_decode_window_t(hm_whisper_state *s, int32_t language_token, bool translate,
                                     bool timestamps, int max_new_tokens, float temperature, hm_rng *rng,
                                     hm_abort_callback abort_cb, void *user_data, hm_whisper_window_result *res) {
  if (temperature > 0 && !rng) return hm_error(HM_ERR_INVALID_ARG, "decode: a temperature > 0 needs an RNG");
  const hm_whisper_config *c = &s->m->cfg;
  memset(res, 0, sizeof *res);
  res->language = -1;
  res->temperature = temperature > 0 ? temperature : 0.0f;
  hm_whisper_cross_kv(s);
  int32_t prompt[8];
  int np = 0;
  prompt[np++] = c->sot;
  /* SOT first: its logits give no_speech_prob and, if asked, the language */
  HM_TRY(hm_whisper_decoder_step(s, c->sot));
  {
    log_softmax_d(s->logits, c->n_vocab, s->work);
    res->no_speech_prob = (c->no_speech >= 0 && c->no_speech < c->n_vocab) ? exp(s->work[c->no_speech]) : 0.0;
  }
  if (c->multilingual && c->n_langs > 0) {
    if (language_token < 0) language_token = (int32_t)argmax_f(s->logits, c->lang_first, c->lang_first + c->n_langs);
    prompt[np++] = language_token;
    res->language = language_token;
    prompt[np++] = translate ? c->translate : c->transcribe;
  }
  if (!timestamps) prompt[np++] = c->no_timestamps;
  for (int i = 1; i < np; i++) HM_TRY(hm_whisper_decoder_step(s, prompt[i]));
  int room = c->n_text_ctx - np;
  if (max_new_tokens <= 0 || max_new_tokens > room) max_new_tokens = room;
  res->tokens = malloc(sizeof(int32_t) * (size_t)(max_new_tokens > 0 ? max_new_tokens : 1));
  if (!res->tokens) return hm_error(HM_ERR_NOMEM, "out of memory");
  double sum_lp = 0.0, sum_sampled = 0.0;
  for (int step = 0; step < max_new_tokens; step++) {
    if (abort_cb && abort_cb(user_data)) {
      hm_whisper_window_result_free(res);
      return hm_error(HM_ERR_ABORTED, "transcription aborted");
    }
    hm_whisper_apply_filters(c, s->logits, res->tokens, res->n_tokens, timestamps, s->work);
    int32_t tok = temperature > 0 ? sample_token(s->logits, c->n_vocab, temperature, rng, s->work)
                                  : (int32_t)argmax_f(s->logits, 0, c->n_vocab);
    log_softmax_d(s->logits, c->n_vocab, s->work);
    sum_lp += s->work[tok];
    if (tok == c->eot) { res->ended_with_eot = true; break; }
    sum_sampled += s->work[tok];
    res->tokens[res->n_tokens++] = tok;
    if (step + 1 < max_new_tokens) {
      if (s->n_past >= c->n_text_ctx) break;
      hm_status st = hm_whisper_decoder_step(s, tok);
      if (st != HM_OK) { hm_whisper_window_result_free(res); return st; }
    }
  }
  res->sum_logprob = sum_lp;
  res->sum_logprob_sampled = sum_sampled;
  res->avg_logprob = sum_lp / (res->n_tokens + 1);
  return HM_OK;
}

/* ---- HF pipeline chunk_iter ---- */
int64_t hm_whisper_windows(int64_t n_samples, int64_t chunk_len, int64_t stride_left,
                           int64_t stride_right, hm_whisper_window *out, int64_t max) {
  int64_t step = chunk_len - stride_left - stride_right;
  if (step <= 0 || n_samples <= 0) return 0;
  int64_t n = 0;
  for (int64_t start = 0; start < n_samples; start += step) {
    int64_t end = start + chunk_len;
    int64_t len = (end < n_samples ? end : n_samples) - start;
    int64_t sl = start == 0 ? 0 : stride_left;
    bool is_last = end >= n_samples;
    int64_t sr = is_last ? 0 : stride_right;
    if (len > sl) {
      if (out && n < max) {
        out[n].start = start;
        out[n].len = len;
        out[n].stride_left = sl;
        out[n].stride_right = sr;
        out[n].is_last = is_last;
      }
      n++;
    }
    if (is_last) break;
  }
  return n;
}

/* ---- merge of windows (HF _decode_asr) ---- */
typedef struct ivec { int32_t *v; int64_t n, cap; } ivec;
static bool ivec_push(ivec *a, int32_t x) {
  if (a->n == a->cap) {
    int64_t cap = a->cap ? a->cap * 2 : 64;
    int32_t *p = realloc(a->v, sizeof(int32_t) * (size_t)cap);
    if (!p) return false;
    a->v = p;
    a->cap = cap;
  }
  a->v[a->n++] = x;
  return true;
}
static bool ivec_append(ivec *a, const int32_t *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) if (!ivec_push(a, x[i])) return false;
  return true;
}

/* _find_longest_common_sequence over seqs[0..n) into out. */
static bool longest_common_merge(ivec *seqs, int n, ivec *out) {
  out->n = 0;
  if (n == 0) return true;
  const int32_t *left = seqs[0].v;
  int64_t left_len = seqs[0].n;
  for (int si = 1; si < n; si++) {
    const int32_t *right = seqs[si].v;
    int64_t right_len = seqs[si].n;
    double max_ = 0.0;
    int64_t bl0 = left_len, bl1 = left_len, br0 = 0, br1 = 0;
    for (int64_t i = 1; i < left_len + right_len; i++) {
      double eps = i / 10000.0;
      int64_t l0 = left_len - i > 0 ? left_len - i : 0;
      int64_t l1 = left_len + right_len - i < left_len ? left_len + right_len - i : left_len;
      int64_t r0 = i - left_len > 0 ? i - left_len : 0;
      int64_t r1 = right_len < i ? right_len : i;
      int64_t matches = 0;
      for (int64_t k = 0; k < l1 - l0; k++) matches += left[l0 + k] == right[r0 + k];
      double matching = (double)matches / (double)i + eps;
      if (matches > 1 && matching > max_) {
        max_ = matching;
        bl0 = l0; bl1 = l1; br0 = r0; br1 = r1;
      }
    }
    int64_t left_mid = (bl1 + bl0) / 2, right_mid = (br1 + br0) / 2;
    if (!ivec_append(out, left, left_mid)) return false;
    left = right + right_mid;
    left_len = right_len - right_mid;
  }
  return ivec_append(out, left, left_len);
}

/* Python's bytes.decode("utf-8", errors="replace"): each maximal ill-formed
 * subpart becomes U+FFFD. Returns a malloc'ed NUL-terminated string. */
static char *utf8_replace(const char *s, size_t n) {
  char *o = malloc(n * 3 + 1);
  if (!o) return NULL;
  size_t j = 0;
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    unsigned c = u[i];
    int need = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) { o[j++] = (char)c; i++; continue; }
    else if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else { o[j++] = (char)0xEF; o[j++] = (char)0xBF; o[j++] = (char)0xBD; i++; continue; }
    size_t k = 1;
    bool ok = true;
    for (int t = 0; t < need; t++) {
      if (i + k >= n) { ok = false; break; }
      unsigned b = u[i + k];
      unsigned l = t == 0 ? lo : 0x80, h = t == 0 ? hi : 0xBF;
      if (b < l || b > h) { ok = false; break; }
      k++;
    }
    if (ok) { memcpy(o + j, s + i, k); j += k; }
    else { o[j++] = (char)0xEF; o[j++] = (char)0xBF; o[j++] = (char)0xBD; }
    i += k;
  }
  o[j] = 0;
  return o;
}

static hm_status decode_text(const hm_whisper_model *m, const int32_t *ids, int64_t n, char **out) {
  char *raw = NULL;
  size_t len = 0;
  HM_TRY(hm_tokenizer_decode(m->tok, ids, n, true, &raw, &len));
  *out = utf8_replace(raw, len);
  free(raw);
  if (!*out) return hm_error(HM_ERR_NOMEM, "out of memory");
  return HM_OK;
}

typedef struct seg_list { hm_transcript_segment *v; int n, cap; } seg_list;

static hm_status emit_segment(const hm_whisper_model *m, seg_list *segs, ivec *prev, int n_prev,
                              double t0, double t1) {
  ivec merged = {0};
  if (!longest_common_merge(prev, n_prev, &merged)) { free(merged.v); return hm_error(HM_ERR_NOMEM, "out of memory"); }
  if (segs->n == segs->cap) {
    int cap = segs->cap ? segs->cap * 2 : 16;
    hm_transcript_segment *p = realloc(segs->v, sizeof *p * (size_t)cap);
    if (!p) { free(merged.v); return hm_error(HM_ERR_NOMEM, "out of memory"); }
    segs->v = p;
    segs->cap = cap;
  }
  hm_transcript_segment *g = &segs->v[segs->n];
  memset(g, 0, sizeof *g);
  hm_status st = decode_text(m, merged.v, merged.n, &g->text);
  if (st != HM_OK) { free(merged.v); return st; }
  g->start_s = t0;
  g->end_s = t1;
  g->n_tokens = (int)merged.n;
  g->tokens = merged.v ? merged.v : malloc(sizeof(int32_t));
  segs->n++;
  return HM_OK;
}

static double round2(double x) { return nearbyint(x * 100.0) / 100.0; }

/* Port of _decode_asr: windows' tokens (sampled tokens only; the prompt holds
 * nothing but special tokens, which _decode_asr skips) with their strides in
 * seconds. */
static hm_status merge_windows(const hm_whisper_model *m, const hm_whisper_window *w,
                               hm_whisper_window_result *r, int64_t nw, double duration_s,
                               seg_list *segs) {
  const hm_whisper_config *c = &m->cfg;
  const double sr = c->sample_rate_hz;
  const double prec = (double)c->n_samples / sr / c->n_audio_ctx;
  const int32_t tb = c->timestamp_begin;
  ivec *prev = NULL;
  int n_prev = 0, cap_prev = 0;
  ivec cur = {0};
  double time_offset = 0.0, ts0 = NAN;
  bool skip = false;
  hm_status st = HM_OK;
#define PUSH_PREV() do { \
    if (n_prev == cap_prev) { int nc = cap_prev ? cap_prev * 2 : 8; ivec *p = realloc(prev, sizeof *p * (size_t)nc); \
      if (!p) { st = hm_error(HM_ERR_NOMEM, "out of memory"); goto done; } prev = p; cap_prev = nc; } \
    prev[n_prev++] = cur; cur = (ivec){0}; } while (0)
#define FLUSH_PREV() do { for (int q_ = 0; q_ < n_prev; q_++) free(prev[q_].v); n_prev = 0; } while (0)
  for (int64_t wi = 0; wi < nw; wi++) {
    const int32_t *tok = r[wi].tokens;
    int64_t nt = r[wi].n_tokens;
    double chunk_len = w[wi].len / sr, sl = w[wi].stride_left / sr, srt = w[wi].stride_right / sr;
    int32_t last_timestamp = -1;
    double first_timestamp = tb;
    time_offset -= sl;
    double right_stride_start = chunk_len - srt;
    if (sl > 0) first_timestamp = sl / prec + tb;
    if (srt > 0) {
      for (int64_t i = nt - 1; i >= 0; i--) {
        if (tok[i] >= tb) {
          if (last_timestamp >= 0 && (tok[i] - tb) * prec < right_stride_start) break;
          last_timestamp = tok[i];
        }
      }
    }
    cur.n = 0;
    for (int64_t i = 0; i < nt; i++) {
      int32_t t = tok[i];
      if (t >= c->eot && t < tb) continue; /* special tokens (language: one per window here) */
      if (t >= tb) {
        double time = round2((t - tb) * prec + time_offset);
        if (last_timestamp >= 0 && t >= last_timestamp) {
          skip = true;
        } else if (skip || (n_prev > 0 && t < first_timestamp)) {
          skip = false;
        } else if (isnan(ts0)) {
          ts0 = time;
        } else if (time != ts0) {
          PUSH_PREV();
          st = emit_segment(m, segs, prev, n_prev, ts0, time);
          FLUSH_PREV();
          if (st != HM_OK) goto done;
          ts0 = NAN;
        }
      } else {
        if (!ivec_push(&cur, t)) { st = hm_error(HM_ERR_NOMEM, "out of memory"); goto done; }
      }
    }
    time_offset += chunk_len - srt;
    if (cur.n > 0) {
      PUSH_PREV();
    } else {
      bool any = false;
      for (int q = 0; q < n_prev; q++) any |= prev[q].n > 0;
      if (!any) { FLUSH_PREV(); ts0 = NAN; }
    }
  }
  if (n_prev > 0) {
    double t0 = isnan(ts0) ? 0.0 : ts0;
    /* no closing timestamp: the segment runs to the end of the input */
    st = emit_segment(m, segs, prev, n_prev, t0, duration_s > t0 ? duration_s : t0);
    FLUSH_PREV();
  }
done:
#undef PUSH_PREV
#undef FLUSH_PREV
  for (int q = 0; q < n_prev; q++) free(prev[q].v);
  free(prev);
  free(cur.v);
  return st;
}

/* ---- public API ---- */
hm_whisper_params hm_whisper_default_params(void) {
  /* the HF pipeline's: English, no timestamps, 30 s chunks with 5 s strides, greedy */
  return (hm_whisper_params){.language = "en", .chunk_length_s = 30.0, .stride_length_s = 5.0};
}

void hm_transcript_free(hm_transcript *t) {
  if (!t) return;
  for (int i = 0; i < t->n_segments; i++) {
    free(t->segments[i].text);
    free(t->segments[i].tokens);
  }
  free(t->segments);
  free(t->text);
  free(t);
}

int hm_whisper_sample_rate(const hm_whisper_model *model) { return model ? model->cfg.sample_rate_hz : 16000; }

static hm_status language_token(const hm_whisper_model *m, const char *lang, int32_t *out) {
  const hm_whisper_config *c = &m->cfg;
  *out = -1;
  if (!lang || !*lang || !strcmp(lang, "auto")) return HM_OK;
  if (!c->multilingual) {
    if (strcmp(lang, "en") != 0)
      return hm_error(HM_ERR_INVALID_ARG, "language '%s': this model is English-only", lang);
    return HM_OK;
  }
  char tokstr[64];
  if (strlen(lang) > 32) return hm_error(HM_ERR_INVALID_ARG, "language '%s' is not a Whisper language code", lang);
  snprintf(tokstr, sizeof tokstr, "<|%s|>", lang);
  int32_t id = hm_tokenizer_token_id(m->tok, tokstr);
  if (id < c->lang_first || id >= c->lang_first + c->n_langs)
    return hm_error(HM_ERR_INVALID_ARG, "language '%s' is not a Whisper language code (en, zh, de, ..., or auto)", lang);
  *out = id;
  return HM_OK;
}

hm_status hm_whisper_transcribe(const hm_whisper_model *model, const float *pcm, int64_t n_samples,
                                const hm_whisper_params *params, hm_progress_callback progress,
                                hm_abort_callback abort_cb, void *user_data, hm_transcript **out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_whisper_transcribe: out is NULL");
  *out = NULL;
  if (!model) return hm_error(HM_ERR_INVALID_ARG, "hm_whisper_transcribe: model is NULL");
  if (n_samples <= 0 || !pcm) return hm_error(HM_ERR_INVALID_ARG, "hm_whisper_transcribe: the audio is empty");
  hm_whisper_params p = params ? *params : hm_whisper_default_params();
  const hm_whisper_config *c = &model->cfg;
  const double sr = c->sample_rate_hz;
  if (!(p.chunk_length_s > 0) || p.chunk_length_s * sr > c->n_samples + 0.5)
    return hm_error(HM_ERR_INVALID_ARG, "chunk_length_s %g must be in (0, %g]", p.chunk_length_s, c->n_samples / sr);
  if (p.stride_length_s < 0 || 2 * p.stride_length_s >= p.chunk_length_s)
    return hm_error(HM_ERR_INVALID_ARG, "stride_length_s %g must be >= 0 and below chunk_length_s / 2", p.stride_length_s);
  if (p.max_new_tokens < 0) return hm_error(HM_ERR_INVALID_ARG, "max_new_tokens %d is negative", p.max_new_tokens);
  if (p.translate && c->translate < 0) return hm_error(HM_ERR_UNSUPPORTED, "this model has no translate task");
  int32_t lang;
  HM_TRY(language_token(model, p.language, &lang));
  int64_t chunk = (int64_t)llround(p.chunk_length_s * sr), stride = (int64_t)llround(p.stride_length_s * sr);
  int64_t nw = hm_whisper_windows(n_samples, chunk, stride, stride, NULL, 0);
  hm_whisper_window *w = calloc((size_t)(nw > 0 ? nw : 1), sizeof *w);
  hm_whisper_window_result *r = calloc((size_t)(nw > 0 ? nw : 1), sizeof *r);
  hm_whisper_state *s = NULL;
  hm_transcript *t = NULL;
  seg_list segs = {0};
  hm_rng rng;
  hm_status st = HM_OK;
  if (!w || !r) { st = hm_error(HM_ERR_NOMEM, "out of memory"); goto done; }
  hm_whisper_windows(n_samples, chunk, stride, stride, w, nw);
  st = hm_whisper_state_create(model, p.n_threads, &s);
  if (st != HM_OK) goto done;
  hm_rng_seed(&rng, p.seed, 3);
  if (progress) progress(user_data, 0, nw);
  for (int64_t i = 0; i < nw; i++) {
    if (abort_cb && abort_cb(user_data)) { st = hm_error(HM_ERR_ABORTED, "transcription aborted"); goto done; }
    st = hm_mel_compute(s->mel_ctx, pcm + w[i].start, w[i].len, s->mel);
    if (st == HM_OK) st = hm_whisper_encode(s, s->mel, -1);
    if (st == HM_OK)
      st = hm_whisper_decode_window(s, lang, p.translate, p.timestamps, p.max_new_tokens, abort_cb, user_data, &r[i]);
    /* whisper.cpp's temperature fallback (opt-in): redo a window that looks
     * like a repetition loop (entropy of its last 32 tokens < 2.4 when longer
     * than 32) or has a mean token log-probability below -1, at 0.2, 0.4, ... 1.0 */
    for (int k = 1; st == HM_OK && p.temperature_fallback && k <= 5; k++) {
      bool looped = r[i].n_tokens > 32 && hm_whisper_tokens_entropy(r[i].tokens, r[i].n_tokens) < 2.4;
      bool unsure = r[i].n_tokens > 0 && r[i].sum_logprob_sampled / r[i].n_tokens < -1.0;
      if (!looped && !unsure) break;
      hm_whisper_window_result_free(&r[i]);
      hm_log(HM_LOG_DEBUG, "whisper: window %lld: fallback to temperature %.1f", (long long)i + 1, 0.2 * k);
      st = hm_whisper_decode_window_t(s, lang, p.translate, p.timestamps, p.max_new_tokens, 0.2f * (float)k, &rng,
                                      abort_cb, user_data, &r[i]);
    }
    if (st != HM_OK) goto done;
    hm_log(HM_LOG_DEBUG, "whisper: window %lld/%lld: %d tokens, avg logprob %.3f", (long long)i + 1, (long long)nw,
           r[i].n_tokens, r[i].avg_logprob);
    if (progress) progress(user_data, i + 1, nw);
  }
  t = calloc(1, sizeof *t);
  if (!t) { st = hm_error(HM_ERR_NOMEM, "out of memory"); goto done; }
  t->duration_s = n_samples / sr;
  st = merge_windows(model, w, r, nw, t->duration_s, &segs);
  if (st != HM_OK) goto done;
  if (!p.timestamps && segs.n > 1) {
    /* without timestamps the pipeline returns one text: stray timestamp tokens
     * only split _decode_asr's merge, so join the pieces into one segment */
    hm_transcript_segment *g0 = &segs.v[0];
    int64_t nt = 0;
    size_t nc = 1;
    for (int i = 0; i < segs.n; i++) { nt += segs.v[i].n_tokens; nc += strlen(segs.v[i].text); }
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(nt + 1));
    char *txt = malloc(nc);
    if (!tok || !txt) { free(tok); free(txt); st = hm_error(HM_ERR_NOMEM, "out of memory"); goto done; }
    int64_t k = 0;
    size_t cpos = 0;
    for (int i = 0; i < segs.n; i++) {
      memcpy(tok + k, segs.v[i].tokens, sizeof(int32_t) * (size_t)segs.v[i].n_tokens);
      k += segs.v[i].n_tokens;
      size_t l = strlen(segs.v[i].text);
      memcpy(txt + cpos, segs.v[i].text, l);
      cpos += l;
      free(segs.v[i].tokens);
      free(segs.v[i].text);
    }
    txt[cpos] = 0;
    g0->tokens = tok;
    g0->n_tokens = (int)nt;
    g0->text = txt;
    segs.n = 1;
  }
  if (!p.timestamps && segs.n == 1) {
    segs.v[0].start_s = 0.0;
    segs.v[0].end_s = t->duration_s;
  }
  t->segments = segs.v;
  t->n_segments = segs.n;
  segs = (seg_list){0};
  {
    size_t total = 1;
    for (int i = 0; i < t->n_segments; i++) total += strlen(t->segments[i].text);
    t->text = malloc(total);
    if (!t->text) { st = hm_error(HM_ERR_NOMEM, "out of memory"); goto done; }
    t->text[0] = 0;
    size_t pos = 0;
    for (int i = 0; i < t->n_segments; i++) {
      size_t l = strlen(t->segments[i].text);
      memcpy(t->text + pos, t->segments[i].text, l + 1);
      pos += l;
    }
  }
  {
    int32_t lt = nw > 0 ? r[nw - 1].language : -1;
    const char *ls = lt >= 0 ? hm_tokenizer_token_str(model->tok, lt) : NULL;
    if (ls && strlen(ls) > 4 && strlen(ls) < sizeof t->language + 4) {
      size_t l = strlen(ls) - 4;
      memcpy(t->language, ls + 2, l);
      t->language[l] = 0;
    }
  }
done:
  if (r) for (int64_t i = 0; i < nw; i++) hm_whisper_window_result_free(&r[i]);
  free(r);
  free(w);
  for (int i = 0; i < segs.n; i++) { free(segs.v[i].text); free(segs.v[i].tokens); }
  free(segs.v);
  hm_whisper_state_free(s);
  if (st != HM_OK) { hm_transcript_free(t); return st; }
  *out = t;
  return HM_OK;
}
