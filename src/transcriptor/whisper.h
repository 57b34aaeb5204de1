/* src/transcriptor: Whisper (HeartTranscriptor) internals shared by the
 * module's files, its tests, the parity runner and the benchmark.
 * The public surface is the HeartTranscriptor section of heartmula.h. */
#ifndef HM_WHISPER_H
#define HM_WHISPER_H
#include "heartmula.h"
#include "base/base.h"
#include "io/weights.h"
#include "tensor/ops.h"
#include "text/tokenizer.h"

/* ---- log-mel (Whisper's audio.py) ---- */
typedef struct hm_mel_ctx hm_mel_ctx;
/* Slaney mel filterbank as librosa.filters.mel(sr, n_fft, n_mels) computes it:
 * out = [n_mels, n_fft/2 + 1], row-major. */
hm_status hm_whisper_mel_filters(int sample_rate_hz, int n_fft, int n_mels, float *out);
/* Plans the FFT and computes the filterbank once. n_samples: window length
 * (480000), n_frames = n_samples / hop (3000). */
hm_status hm_mel_ctx_create(int sample_rate_hz, int n_fft, int hop, int n_mels, int64_t n_samples,
                            hm_mel_ctx **out);
void hm_mel_ctx_free(hm_mel_ctx *m);
int64_t hm_mel_ctx_frames(const hm_mel_ctx *m);
/* log_mel_spectrogram(pad_or_trim(pcm)): pcm of n samples is zero-padded or
 * trimmed to n_samples; out = [n_mels, n_frames]. Not thread-safe per ctx. */
hm_status hm_mel_compute(hm_mel_ctx *m, const float *pcm, int64_t n, float *out);
/* The same STFT for other front-ends (HeartCLAP's HTK mels): replaces the
 * filterbank ([n_mels, n_fft/2 + 1]); hm_mel_power stops at the mel power
 * filters @ |X|^2 (no log, no Whisper scaling). */
hm_status hm_mel_ctx_set_filters(hm_mel_ctx *m, const float *filters);
hm_status hm_mel_power(hm_mel_ctx *m, const float *pcm, int64_t n, float *out);

/* ---- model ---- */
typedef struct hm_wattn {
  hm_mat q, k, v, o;
  const float *qb, *vb, *ob; /* f32 copies (k has no bias) */
} hm_wattn;

typedef struct hm_wlayer {
  const float *ln1_w, *ln1_b; /* self_attn_layer_norm */
  hm_wattn attn;
  const float *lnx_w, *lnx_b; /* encoder_attn_layer_norm (decoder only) */
  hm_wattn xattn;
  const float *ln2_w, *ln2_b; /* final_layer_norm */
  hm_mat fc1, fc2;
  const float *fc1_b, *fc2_b;
} hm_wlayer;

typedef struct hm_whisper_config {
  int n_mels, d_model, n_audio_ctx, n_text_ctx, n_vocab;
  int enc_layers, enc_heads, enc_ffn;
  int dec_layers, dec_heads, dec_ffn;
  /* preprocessor */
  int sample_rate_hz, n_fft, hop, n_samples;
  /* special ids */
  int32_t sot, eot, transcribe, translate, no_timestamps, no_speech, timestamp_begin;
  int32_t lang_first, n_langs; /* language tokens: [lang_first, lang_first + n_langs) */
  int max_initial_timestamp_index;
  int32_t *suppress; int n_suppress;
  int32_t *begin_suppress; int n_begin_suppress;
  bool multilingual;
} hm_whisper_config;

struct hm_whisper_model {
  hm_whisper_config cfg;
  hm_weights *w;   /* the checkpoint; owns the f32 copies of biases, norms, positions, conv weights */
  hm_tokenizer *tok;
  /* encoder */
  const float *conv1_w, *conv1_b, *conv2_w, *conv2_b; /* [d, n_mels, 3], [d, d, 3] */
  const float *enc_pos; /* [n_audio_ctx, d] */
  hm_wlayer *enc;
  const float *enc_ln_w, *enc_ln_b;
  /* decoder */
  hm_mat tok_emb; /* [vocab, d]; also the tied proj_out */
  hm_mat proj_out; /* only when the checkpoint stores an untied proj_out.weight */
  bool has_proj_out;
  const float *dec_pos; /* [n_text_ctx, d] */
  hm_wlayer *dec;
  const float *dec_ln_w, *dec_ln_b;
  char *dir;
};

/* Per-run state: scratch, KV caches, cross K/V, the mel context. */
typedef struct hm_whisper_state {
  const hm_whisper_model *m;
  hm_pool *pool;
  hm_mel_ctx *mel_ctx;
  float *mel;      /* [n_mels, 2*n_audio_ctx] */
  float *enc_out;  /* [n_audio_ctx, d] */
  float *enc_buf;  /* encoder scratch */
  size_t enc_buf_n;
  float *xk, *xv;  /* cross K/V per decoder layer: K as [H][n_audio_ctx][hd], V as [H][hd][n_audio_ctx] */
  float *kc, *vc;  /* per decoder layer [n_text_ctx, d] */
  int n_past;
  float *x, *h, *q, *att, *ffn; /* decoder step scratch */
  float *logits;   /* [vocab] */
  float *scores;   /* [n_audio_ctx] cross-attention scores */
  double *work;    /* [vocab] scratch for the filters */
} hm_whisper_state;

hm_status hm_whisper_state_create(const hm_whisper_model *m, int n_threads, hm_whisper_state **out);
void hm_whisper_state_free(hm_whisper_state *s);

/* mel [n_mels, 2*n_audio_ctx] -> s->enc_out [n_audio_ctx, d]; layers < 0: all
 * encoder layers (a smaller count is for benchmarks only). */
hm_status hm_whisper_encode(hm_whisper_state *s, const float *mel, int layers);
/* Cross-attention K/V of every decoder layer from s->enc_out; resets the self-attention cache. */
void hm_whisper_cross_kv(hm_whisper_state *s);
/* One decoder step at position s->n_past: writes logits [vocab] to s->logits. */
hm_status hm_whisper_decoder_step(hm_whisper_state *s, int32_t token);

/* Greedy decode result of one window. */
typedef struct hm_whisper_window_result {
  int32_t *tokens; /* sampled tokens, without the prompt and EOT (malloc) */
  int n_tokens;
  bool ended_with_eot;
  double sum_logprob, avg_logprob, no_speech_prob; /* avg_logprob = sum / (n_tokens + 1), as openai */
  double sum_logprob_sampled; /* over the sampled tokens only (whisper.cpp's avg is this / n_tokens) */
  float temperature;          /* the temperature the kept decode ran at */
  int32_t language; /* the language token used */
} hm_whisper_window_result;

/* Greedy decoding of the window whose encoder output is in s->enc_out (the
 * cross K/V are computed here). language_token < 0: detect. */
hm_status hm_whisper_decode_window(hm_whisper_state *s, int32_t language_token, bool translate,
                                   bool timestamps, int max_new_tokens, hm_abort_callback abort_cb,
                                   void *user_data, hm_whisper_window_result *res);
/* The same at a sampling temperature (> 0: sample from softmax(filtered / T)
 * with rng; 0: greedy, exactly hm_whisper_decode_window). */
hm_status hm_whisper_decode_window_t(hm_whisper_state *s, int32_t language_token, bool translate,
                                     bool timestamps, int max_new_tokens, float temperature, hm_rng *rng,
                                     hm_abort_callback abort_cb, void *user_data, hm_whisper_window_result *res);
void hm_whisper_window_result_free(hm_whisper_window_result *r);
/* whisper.cpp's fallback measures: entropy of the last 32 tokens' histogram,
 * mean log-probability per sampled token. */
double hm_whisper_tokens_entropy(const int32_t *tokens, int n);

/* Applies Whisper's logit filters in place (openai decoding.py order).
 * sampled: tokens sampled so far in this window (after the prompt). */
void hm_whisper_apply_filters(const hm_whisper_config *c, float *logits, const int32_t *sampled,
                              int n_sampled, bool timestamps, double *work);

/* HF pipeline window layout: chunk_len / stride samples. Returns the number of
 * windows (<= max), filling start[], len[], stride_left[], stride_right[]. */
typedef struct hm_whisper_window {
  int64_t start, len, stride_left, stride_right;
  bool is_last;
} hm_whisper_window;
int64_t hm_whisper_windows(int64_t n_samples, int64_t chunk_len, int64_t stride_left,
                           int64_t stride_right, hm_whisper_window *out, int64_t max);

#endif
