/* src/clap: HeartCLAP = MuQ-MuLan (tencent-ailab/MuQ, src/muq/muq_mulan and
 * src/muq/muq) audio and text towers. Internals shared by the module's files,
 * its tests and the parity runner; the public surface is the HeartCLAP
 * section of heartmula.h.
 *
 * Audio: mono 24 kHz -> 10 s clips (_get_all_clips) -> log-mel (torchaudio
 * MelSpectrogram, HTK, power 2, AmplitudeToDB, last frame dropped) -> stat
 * normalisation -> Conv2dSubsampling (2 residual conv blocks, eval BatchNorm)
 * -> Wav2Vec2-Conformer (rotary) -> hidden_states[use_layer_idx] -> proj ->
 * MuLan Transformer -> mean over time -> audio_to_latents -> l2norm; the
 * clips' latents are averaged (not re-normalised).
 * Text: XLM-R ids -> XLM-RoBERTa encoder -> proj -> MuLan Transformer (no
 * mask) -> mean over every position -> text_to_latents -> l2norm. */
#ifndef HM_CLAP_H
#define HM_CLAP_H
#include "heartmula.h"
#include "base/base.h"
#include "io/weights.h"
#include "tensor/ops.h"
#include <pthread.h>

typedef struct hm_clap_config {
  /* MuLan */
  int sample_rate_hz;  /* 24000 */
  double clip_secs;    /* 10 */
  int dim_latent;      /* 512 */
  /* MuQ front-end + conv */
  int n_fft, hop, n_mels, conv_dim, enc_dim, enc_depth;
  double stat_mean, stat_std;
  /* Wav2Vec2-Conformer */
  int enc_heads, enc_ffn, dw_kernel;
  float enc_ln_eps, rope_base;
  int use_layer_idx; /* into hidden_states[0..enc_depth]; negative counts from the end */
  /* MuLan audio transformer */
  int a_in, a_dim, a_depth, a_heads, a_dim_head, a_ff_hidden;
  /* XLM-RoBERTa */
  int x_vocab, x_hidden, x_layers, x_heads, x_ffn, x_max_pos, x_type_vocab, x_pad;
  float x_ln_eps;
  /* MuLan text transformer */
  int t_in, t_dim, t_depth, t_heads, t_dim_head, t_ff_hidden;
  bool t_has_proj;
} hm_clap_config;

/* torch Conv2d 3x3 (padding 1) followed by an eval BatchNorm2d, folded into a
 * per-channel scale and shift applied after the product. */
typedef struct hm_clap_conv2d {
  hm_mat w;          /* [c_out, c_in * 9] */
  int c_in, c_out, stride_f, stride_t;
  float *scale, *shift; /* [c_out]: bn(conv + bias) = conv * scale + shift */
} hm_clap_conv2d;

typedef struct hm_clap_res2d {
  hm_clap_conv2d c1, c2, c3; /* c3: the residual branch */
} hm_clap_res2d;

typedef struct hm_clap_conformer_layer {
  const float *ffn1_ln_w, *ffn1_ln_b, *ffn1_b1, *ffn1_b2;
  hm_mat ffn1_w1, ffn1_w2;
  const float *attn_ln_w, *attn_ln_b, *qb, *kb, *vb, *ob;
  hm_mat q, k, v, o;
  const float *conv_ln_w, *conv_ln_b;
  hm_mat pw1, pw2;          /* [2D, D], [D, D] */
  const float *dw;          /* [D, 1, k] */
  float *bn_scale, *bn_shift; /* eval BatchNorm1d folded */
  const float *ffn2_ln_w, *ffn2_ln_b, *ffn2_b1, *ffn2_b2;
  hm_mat ffn2_w1, ffn2_w2;
  const float *final_ln_w, *final_ln_b;
} hm_clap_conformer_layer;

/* lucidrains-style MuLan Transformer block (no biases, gamma-only LayerNorm). */
typedef struct hm_clap_tf_layer {
  const float *attn_gamma, *q_scale, *k_scale;
  hm_mat to_q, to_kv, to_out;
  const float *ff_gamma;
  hm_mat ff_w1, ff_w2; /* [2 * hidden, dim], [dim, hidden] */
} hm_clap_tf_layer;

typedef struct hm_clap_tf {
  int dim, depth, heads, dim_head, ff_hidden;
  hm_clap_tf_layer *layers;
} hm_clap_tf;

typedef struct hm_clap_xlmr_layer {
  hm_mat q, k, v, o, fc1, fc2;
  const float *qb, *kb, *vb, *ob, *fc1_b, *fc2_b;
  const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
} hm_clap_xlmr_layer;

typedef struct hm_clap_spm hm_clap_spm; /* sentencepiece (clap_spm.cc) */

struct hm_clap_model {
  hm_clap_config cfg;
  hm_weights *w;
  char *dir;
  /* audio */
  float *mel_filters; /* [n_mels, n_fft/2 + 1] HTK */
  hm_clap_res2d conv[2];
  hm_mat conv_lin; const float *conv_lin_b; /* [enc_dim, conv_dim * n_mels / 4] */
  float *rope_inv_freq; /* [head_dim / 2] */
  hm_clap_conformer_layer *enc;
  const float *enc_ln_w, *enc_ln_b;
  hm_mat a_proj; const float *a_proj_b;
  hm_clap_tf a_tf;
  hm_mat a_lat; const float *a_lat_b;
  /* text */
  hm_mat x_word; const float *x_pos, *x_type, *x_emb_ln_w, *x_emb_ln_b;
  hm_clap_xlmr_layer *xl;
  hm_mat t_proj; const float *t_proj_b;
  hm_clap_tf t_tf;
  hm_mat t_lat; const float *t_lat_b;
  float temperature; /* exp(contrast.temperatures) when present, else 0 */
  hm_clap_spm *spm;  /* NULL when no tokenizer was found (text calls fail) */
  char *spm_path;
  /* runtime */
  int n_threads;
  hm_pool *pool;
  pthread_mutex_t lock;
};

/* ---- stages (each usable alone by the parity runner and tests) ---- */
/* torchaudio melscale_fbanks(n_fft/2+1, 0, sr/2, n_mels, sr, norm=None, mel_scale="htk"): [n_mels, n_bins]. */
hm_status hm_clap_mel_filters(int sample_rate_hz, int n_fft, int n_mels, float *out);
/* The clips _get_all_clips cuts: *n_clips rows of *clip_len samples (malloc'ed into *out). */
hm_status hm_clap_clips(const hm_clap_model *m, const float *pcm, int64_t n, float **out, int *n_clips,
                        int64_t *clip_len);
/* One clip -> mel dB [n_mels, n/hop] (and, when norm != NULL, the normalised one). */
hm_status hm_clap_mel(const hm_clap_model *m, const float *clip, int64_t n, float *mel_db, float *norm);
/* normalised mel [n_mels, n_frames] -> conformer input [n_frames / 4, enc_dim]. */
hm_status hm_clap_conv(const hm_clap_model *m, hm_pool *pool, const float *mel, int64_t n_frames, float *out);
/* conformer input [T, D] -> hidden states [(depth + 1), T, D] (hidden[depth] after the final LayerNorm). */
hm_status hm_clap_conformer(const hm_clap_model *m, hm_pool *pool, const float *x, int64_t T, float *hidden);
/* MuLan transformer in place over x [T, dim]. */
hm_status hm_clap_transformer(const hm_clap_tf *tf, hm_pool *pool, float *x, int64_t T);
/* latent head: mean over T of x [T, dim], Linear, l2norm -> out [dim_latent] (pooled [dim] when not NULL). */
hm_status hm_clap_pool_latent(const hm_mat *W, const float *b, hm_pool *pool, const float *x, int64_t T, int dim,
                         float *pooled, float *out);
/* selected hidden state [T, enc_dim] -> transformer output [T, a_dim] (proj + transformer). */
hm_status hm_clap_audio_head(const hm_clap_model *m, hm_pool *pool, const float *sel, int64_t T, float *out);
/* One clip -> l2-normalised latent [dim_latent]. */
hm_status hm_clap_clip_latent(const hm_clap_model *m, hm_pool *pool, const float *clip, int64_t n, float *out);
/* XLM-R: ids [L] (the first n_valid real, the rest padding) -> last hidden state [L, x_hidden]. */
hm_status hm_clap_xlmr(const hm_clap_model *m, hm_pool *pool, const int32_t *ids, int64_t L, int64_t n_valid,
                       float *out);
/* XLM-R hidden [L, x_hidden] -> transformer output [L, t_dim] (proj + transformer, no mask). */
hm_status hm_clap_text_head(const hm_clap_model *m, hm_pool *pool, const float *xh, int64_t L, float *out);
/* ids -> l2-normalised latent [dim_latent]. */
hm_status hm_clap_text_latent(const hm_clap_model *m, hm_pool *pool, const int32_t *ids, int64_t L, int64_t n_valid,
                              float *out);

/* FLOPs of one clip of n samples (a multiply-add = 2) per stage: mel, conv subsampling, conformer,
 * MuLan head (proj + transformer + latent). Element-wise work is not counted. */
#define HM_CLAP_N_STAGES 4
void hm_clap_clip_flops(const hm_clap_model *m, int64_t n, double out[HM_CLAP_N_STAGES]);
/* hm_clap_clip_latent with each stage's wall time in stage_s (may be NULL). */
hm_status hm_clap_clip_latent_timed(const hm_clap_model *m, hm_pool *pool, const float *clip, int64_t n, float *out,
                                    double stage_s[HM_CLAP_N_STAGES]);

/* ---- tokenizer (XLM-R's sentencepiece mapping: <s>=0 <pad>=1 </s>=2 <unk>=3, piece i -> i + 1) ---- */
hm_status hm_clap_spm_load(const char *path, hm_clap_spm **out);
void hm_clap_spm_free(hm_clap_spm *s);
/* text -> "<s> pieces </s>" ids (malloc'ed). */
hm_status hm_clap_spm_encode(const hm_clap_spm *s, const char *text, int32_t **ids, int64_t *n);
/* text -> pieces as one malloc'ed buffer of NUL-separated strings (for tests). */
hm_status hm_clap_spm_pieces(const hm_clap_spm *s, const char *text, char **pieces, int *n);
#endif
