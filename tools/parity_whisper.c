/* Whisper (HeartTranscriptor) fixture cases for `heartmula parity`:
 * tokenizer ids, mel filters, log-mel 80/128, encoder output, first-step
 * logits, both greedy decodes, every long-form window's mel and tokens, and
 * the public transcription call. Recognises a manifest by its "dims" key. */
#include "parity.h"
#include "io/audio.h"
#include "io/npy.h"
#include "transcriptor/whisper.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double max_abs(const float *a, const float *b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= m)) m = isnan(d) ? INFINITY : d;
  }
  return m;
}

/* Compares got with an .npy array (max abs tolerance); reports the case. */
static void cmp_npy(parity_ctx *p, const char *name, const char *file, const float *got, int64_t n, double tol) {
  char path[4096];
  hm_npy ref;
  if (hm_npy_read_f32(parity_file(p, file, path, sizeof path), &ref) != HM_OK) {
    parity_fail(p, name, "%s", hm_last_error());
    return;
  }
  if (ref.n_elems != n) {
    parity_fail(p, name, "%s has %lld values, expected %lld", file, (long long)ref.n_elems, (long long)n);
  } else {
    double d = max_abs(got, ref.data, n);
    double rel = parity_rel_err(got, ref.data, n);
    if (d <= tol) parity_pass(p, name, rel, "max_abs %.3g (tol %g)", d, tol);
    else parity_fail(p, name, "max_abs %.3g > tol %g (rel %.3g)", d, tol, rel);
  }
  hm_npy_free(&ref);
}

static int32_t *json_ids(const json_t *a, int *n) {
  *n = json_is_array(a) ? (int)json_array_size(a) : 0;
  int32_t *v = malloc(sizeof(int32_t) * (size_t)(*n + 1));
  if (!v) return NULL;
  for (int i = 0; i < *n; i++) v[i] = (int32_t)json_integer_value(json_array_get(a, (size_t)i));
  return v;
}

static void cmp_ids(parity_ctx *p, const char *name, const int32_t *got, int n_got, const json_t *ref_arr, const char *extra) {
  int n_ref;
  int32_t *ref = json_ids(ref_arr, &n_ref);
  if (!ref) { parity_fail(p, name, "out of memory"); return; }
  int bad = -1;
  for (int i = 0; i < n_ref && i < n_got; i++)
    if (got[i] != ref[i]) { bad = i; break; }
  if (bad < 0 && n_got != n_ref) bad = n_got < n_ref ? n_got : n_ref;
  if (bad < 0) parity_pass(p, name, -1, "%d ids equal%s", n_ref, extra ? extra : "");
  else parity_fail(p, name, "ids differ at %d (got %d ids, expected %d): %d vs %d", bad, n_got, n_ref,
                   bad < n_got ? got[bad] : -1, bad < n_ref ? ref[bad] : -1);
  free(ref);
}

static void tokenizer_cases(parity_ctx *p, const hm_whisper_model *m) {
  if (!parity_selected(p, "whisper_tokenizer")) return;
  char path[4096];
  json_t *j = NULL;
  parity_file(p, "tokenizer_cases.json", path, sizeof path);
  if (!hm_file_exists(path)) { parity_skip(p, "whisper_tokenizer", "no tokenizer_cases.json"); return; }
  if (hm_json_load(path, &j) != HM_OK) { parity_fail(p, "whisper_tokenizer", "%s", hm_last_error()); return; }
  const json_t *cases = json_object_get(j, "cases");
  size_t n = json_array_size(cases);
  int bad = 0, bad_decode = 0;
  for (size_t i = 0; i < n; i++) {
    const json_t *c = json_array_get(cases, i);
    const char *text = json_string_value(json_object_get(c, "text"));
    if (!text) { bad++; continue; }
    int32_t *ids = NULL;
    int64_t n_ids = 0;
    if (hm_tokenizer_encode(m->tok, text, strlen(text), false, &ids, &n_ids) != HM_OK) { bad++; continue; }
    int n_ref;
    int32_t *ref = json_ids(json_object_get(c, "ids"), &n_ref);
    bool same = ref && n_ref == n_ids;
    for (int k = 0; same && k < n_ref; k++) same = ids[k] == ref[k];
    if (!same) {
      bad++;
      printf("      case %zu: ids differ for \"%s\"\n", i, text);
    }
    char *back = NULL;
    size_t blen = 0;
    if (hm_tokenizer_decode(m->tok, ids, n_ids, false, &back, &blen) != HM_OK || blen != strlen(text) || memcmp(back, text, blen))
      bad_decode++;
    free(back);
    free(ref);
    free(ids);
  }
  if (!bad && !bad_decode) parity_pass(p, "whisper_tokenizer", -1, "%zu cases: ids equal, decode round-trips", n);
  else parity_fail(p, "whisper_tokenizer", "%d of %zu cases with different ids, %d that do not decode back", bad, n, bad_decode);
  json_decref(j);
}

static float *read_pcm(parity_ctx *p, const char *file, int rate, int64_t *n) {
  char path[4096];
  hm_audio a;
  *n = 0;
  if (hm_audio_read(parity_file(p, file, path, sizeof path), &a) != HM_OK) return NULL;
  float *pcm = NULL;
  hm_status st = hm_audio_to_mono(&a, rate, &pcm, n);
  hm_audio_free(&a);
  return st == HM_OK ? pcm : NULL;
}

/* the fixtures decode with language="en" */
static int32_t en_token(const hm_whisper_model *m) {
  int32_t id = hm_tokenizer_token_id(m->tok, "<|en|>");
  return id >= 0 ? id : m->cfg.lang_first;
}

static void greedy_case(parity_ctx *p, hm_whisper_state *s, const json_t *g, const char *mode) {
  char name[64];
  snprintf(name, sizeof name, "whisper_greedy_%s", mode);
  if (!parity_selected(p, name)) return;
  const json_t *c = json_object_get(g, mode);
  if (!c) { parity_skip(p, name, "not in jfk_greedy.json"); return; }
  hm_whisper_window_result r;
  int n_ref = (int)json_array_size(json_object_get(c, "tokens"));
  int max_new = n_ref + (json_is_true(json_object_get(c, "ended_with_eot")) ? 1 : 0);
  if (hm_whisper_decode_window(s, en_token(s->m), false, !strcmp(mode, "timestamps"), max_new, NULL, NULL, &r) != HM_OK) {
    parity_fail(p, name, "%s", hm_last_error());
    return;
  }
  char extra[128];
  snprintf(extra, sizeof extra, "; avg_logprob %.6f (ref %.6f)", r.avg_logprob, json_real_value(json_object_get(c, "avg_logprob")));
  cmp_ids(p, name, r.tokens, r.n_tokens, json_object_get(c, "tokens"), extra);
  hm_whisper_window_result_free(&r);
}

static void prompt_logits_case(parity_ctx *p, hm_whisper_state *s, const char *name, const char *file) {
  if (!parity_selected(p, name)) return;
  const json_t *arr = json_object_get(json_object_get(parity_manifest(p), "arrays"), file);
  int n;
  int32_t *prompt = json_ids(json_object_get(arr, "prompt"), &n);
  if (!prompt || n < 1) { free(prompt); parity_skip(p, name, "no prompt in the manifest"); return; }
  hm_whisper_cross_kv(s);
  for (int i = 0; i < n; i++)
    if (hm_whisper_decoder_step(s, prompt[i]) != HM_OK) { parity_fail(p, name, "%s", hm_last_error()); free(prompt); return; }
  cmp_npy(p, name, file, s->logits, s->m->cfg.n_vocab, 1e-3);
  free(prompt);
}

int parity_whisper(parity_ctx *p) {
  const json_t *man = parity_manifest(p);
  if (!json_is_object(json_object_get(man, "dims"))) return -1;
  char path[4096];
  /* mel filters: independent of the model */
  for (int k = 0; k < 2; k++) {
    int nm = k ? 128 : 80;
    char name[64], file[64];
    snprintf(name, sizeof name, "whisper_mel_filters_%d", nm);
    snprintf(file, sizeof file, "mel_filters_%d.npy", nm);
    if (!parity_selected(p, name)) continue;
    float *f = malloc(sizeof(float) * (size_t)nm * 201);
    if (!f || hm_whisper_mel_filters(16000, 400, nm, f) != HM_OK) parity_fail(p, name, "%s", hm_last_error());
    else cmp_npy(p, name, file, f, (int64_t)nm * 201, 1e-6);
    free(f);
  }
  parity_use(p, "model.safetensors");
  hm_whisper_model *m = NULL;
  if (hm_whisper_load(parity_dir(p), &m) != HM_OK) {
    parity_fail(p, "whisper_load", "%s", hm_last_error());
    return 0;
  }
  hm_whisper_state *s = NULL;
  if (hm_whisper_state_create(m, parity_threads(p), &s) != HM_OK) {
    parity_fail(p, "whisper_state", "%s", hm_last_error());
    hm_whisper_free(m);
    return 0;
  }
  const hm_whisper_config *c = &m->cfg;
  tokenizer_cases(p, m);
  int64_t n_jfk = 0;
  float *jfk = read_pcm(p, "jfk.wav", c->sample_rate_hz, &n_jfk);
  if (!jfk) parity_fail(p, "whisper_audio_jfk", "%s", hm_last_error());
  /* mel 80 (own context) and the model's mel */
  if (jfk && parity_selected(p, "whisper_mel80")) {
    hm_mel_ctx *mc = NULL;
    float *mel = malloc(sizeof(float) * 80 * (size_t)hm_mel_ctx_frames(s->mel_ctx));
    if (mel && hm_mel_ctx_create(c->sample_rate_hz, c->n_fft, c->hop, 80, c->n_samples, &mc) == HM_OK &&
        hm_mel_compute(mc, jfk, n_jfk, mel) == HM_OK)
      cmp_npy(p, "whisper_mel80", "jfk_mel80.npy", mel, 80 * hm_mel_ctx_frames(mc), 1e-4);
    else parity_fail(p, "whisper_mel80", "%s", hm_last_error());
    hm_mel_ctx_free(mc);
    free(mel);
  }
  const int64_t mel_n = (int64_t)c->n_mels * 2 * c->n_audio_ctx;
  bool have_enc = false;
  if (jfk) {
    /* the encoder and decoder cases run on the fixture's mel (as the reference did) */
    hm_mel_compute(s->mel_ctx, jfk, n_jfk, s->mel);
    if (parity_selected(p, "whisper_mel128")) cmp_npy(p, "whisper_mel128", "jfk_mel128.npy", s->mel, mel_n, 1e-4);
    hm_npy ref;
    if (hm_npy_read_f32(parity_file(p, "jfk_mel128.npy", path, sizeof path), &ref) == HM_OK && ref.n_elems == mel_n) {
      if (hm_whisper_encode(s, ref.data, -1) == HM_OK) have_enc = true;
      else parity_fail(p, "whisper_encoder", "%s", hm_last_error());
    } else parity_fail(p, "whisper_encoder", "jfk_mel128.npy: %s", hm_last_error());
    hm_npy_free(&ref);
  }
  if (have_enc) {
    if (parity_selected(p, "whisper_encoder"))
      cmp_npy(p, "whisper_encoder", "jfk_encoder_out.npy", s->enc_out, (int64_t)c->n_audio_ctx * c->d_model, 1e-3);
    prompt_logits_case(p, s, "whisper_logits_notimestamps", "jfk_prompt_logits_last.npy");
    prompt_logits_case(p, s, "whisper_logits_timestamps", "jfk_prompt_ts_logits_last.npy");
    json_t *g = NULL;
    if (hm_json_load(parity_file(p, "jfk_greedy.json", path, sizeof path), &g) == HM_OK) {
      greedy_case(p, s, g, "notimestamps");
      greedy_case(p, s, g, "timestamps");
      json_decref(g);
    } else parity_fail(p, "whisper_greedy", "%s", hm_last_error());
  }
  /* the public call on jfk.wav: one window, no timestamps, the greedy tokens */
  if (jfk && parity_selected(p, "whisper_transcribe_jfk")) {
    json_t *g = NULL;
    if (hm_json_load(parity_file(p, "jfk_greedy.json", path, sizeof path), &g) == HM_OK) {
      const json_t *ref = json_object_get(json_object_get(g, "notimestamps"), "tokens");
      hm_whisper_params wp = hm_whisper_default_params();
      wp.max_new_tokens = (int)json_array_size(ref);
      wp.n_threads = parity_threads(p);
      hm_transcript *t = NULL;
      if (hm_whisper_transcribe(m, jfk, n_jfk, &wp, NULL, NULL, NULL, &t) == HM_OK && t->n_segments == 1)
        cmp_ids(p, "whisper_transcribe_jfk", t->segments[0].tokens, t->segments[0].n_tokens, ref, NULL);
      else parity_fail(p, "whisper_transcribe_jfk", "%s", t ? "not one segment" : hm_last_error());
      hm_transcript_free(t);
      json_decref(g);
    }
  }
  free(jfk);
  /* long-form windows */
  json_t *lw = NULL;
  parity_file(p, "long_windows.json", path, sizeof path);
  if (hm_file_exists(path) && hm_json_load(path, &lw) == HM_OK) {
    int64_t n_long = 0;
    float *lpcm = read_pcm(p, "long.wav", c->sample_rate_hz, &n_long);
    const json_t *wins = json_object_get(lw, "windows");
    double chunk_s = json_number_value(json_object_get(lw, "chunk_length_s"));
    double stride_s = json_number_value(json_object_get(lw, "stride_length_s"));
    int64_t chunk = (int64_t)llround(chunk_s * c->sample_rate_hz), stride = (int64_t)llround(stride_s * c->sample_rate_hz);
    int64_t nw = lpcm ? hm_whisper_windows(n_long, chunk, stride, stride, NULL, 0) : 0;
    hm_whisper_window *w = calloc((size_t)(nw > 0 ? nw : 1), sizeof *w);
    if (!lpcm || !w) parity_fail(p, "whisper_long", "long.wav: %s", hm_last_error());
    else {
      hm_whisper_windows(n_long, chunk, stride, stride, w, nw);
      if (parity_selected(p, "whisper_long_layout")) {
        bool ok = nw == (int64_t)json_array_size(wins);
        for (int64_t i = 0; ok && i < nw; i++) {
          const json_t *wj = json_array_get(wins, (size_t)i), *st = json_object_get(wj, "stride");
          ok = json_integer_value(json_object_get(wj, "start")) == w[i].start &&
               json_integer_value(json_object_get(wj, "end")) == w[i].start + w[i].len &&
               json_is_true(json_object_get(wj, "is_last")) == w[i].is_last &&
               json_integer_value(json_array_get(st, 0)) == w[i].len &&
               json_integer_value(json_array_get(st, 1)) == w[i].stride_left &&
               json_integer_value(json_array_get(st, 2)) == w[i].stride_right;
        }
        if (ok) parity_pass(p, "whisper_long_layout", -1, "%lld windows, starts and strides equal", (long long)nw);
        else parity_fail(p, "whisper_long_layout", "window layout differs from long_windows.json");
      }
      for (int64_t i = 0; i < nw && i < (int64_t)json_array_size(wins); i++) {
        char name[64], file[64];
        hm_mel_compute(s->mel_ctx, lpcm + w[i].start, w[i].len, s->mel);
        snprintf(name, sizeof name, "whisper_long_win%lld_mel", (long long)i);
        snprintf(file, sizeof file, "long_win%lld_mel128_f16.npy", (long long)i);
        if (parity_selected(p, name)) cmp_npy(p, name, file, s->mel, mel_n, 1e-3);
        snprintf(name, sizeof name, "whisper_long_win%lld_tokens", (long long)i);
        if (!parity_selected(p, name)) continue;
        const json_t *ref = json_object_get(json_array_get(wins, (size_t)i), "tokens_notimestamps");
        hm_whisper_window_result r;
        if (hm_whisper_encode(s, s->mel, -1) != HM_OK ||
            hm_whisper_decode_window(s, en_token(m), false, false, (int)json_array_size(ref), NULL, NULL, &r) != HM_OK) {
          parity_fail(p, name, "%s", hm_last_error());
          continue;
        }
        cmp_ids(p, name, r.tokens, r.n_tokens, ref, NULL);
        hm_whisper_window_result_free(&r);
      }
    }
    free(w);
    free(lpcm);
    json_decref(lw);
  } else if (parity_selected(p, "whisper_long")) {
    parity_skip(p, "whisper_long", "no long_windows.json");
  }
  hm_whisper_state_free(s);
  hm_whisper_free(m);
  return 0;
}
