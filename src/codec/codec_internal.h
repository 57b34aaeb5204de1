/* HeartCodec internals: model layout, workspaces and the stages of
 * detokenize, exposed for the unit tests and the parity runner.
 * Port of heartlib's heartcodec (flow_matching.py, transformer.py,
 * sq_codec.py, modeling_heartcodec.py) and vector-quantize-pytorch's
 * ResidualVQ.get_output_from_indices. */
#ifndef HM_CODEC_INTERNAL_H
#define HM_CODEC_INTERNAL_H
#include "base/base.h"
#include "io/weights.h"
#include "tensor/ops.h"
#include "tensor/gemm.h"
#include "tensor/gemm_amx.h"

#define CX_MAX_UP 8
#define CX_RES_UNITS 5

typedef struct cx_config {
  int dim, codebook_size, codebook_dim, num_quantizers;
  int head_dim, n_heads, n_layers, n_layers_2, in_channels, out_channels;
  int sample_rate, num_samples, n_up;
  int up_factors[CX_MAX_UP], up_kernels[CX_MAX_UP];
  int latent_hidden_dim, default_kernel, delay_kernel, init_channel, res_kernel;
  bool causal;
} cx_config;

/* A Linear: pm (packed for hm_gemm) when packed at load, else w through
 * hm_linear; bm (BF16 AMX tiles) instead on the AMX path. */
typedef struct cx_linear { hm_mat w; const float *b; hm_bmat *bm; hm_pmat *pm; } cx_linear;

/* Conv1d on time-major rows [T][c_in] (ProjectLayer.ffn_1), padding k/2:
 * w[j] = weight[:, :, j] as [c_out][c_in]. */
typedef struct cx_conv_tm {
  int c_in, c_out, k;
  float *w;
  const float *b;
  hm_bmat *bm;   /* [c_out][k*c_in] AMX tiles */
  hm_pmat *pm;   /* [c_out][k*c_in] packed for hm_gemm: one GEMM over overlapping time-major rows */
} cx_conv_tm;
typedef struct cx_project { cx_conv_tm conv; cx_linear lin; } cx_project;

typedef struct cx_block {
  cx_linear q, k, v, o, gate, up, down;
  const float *attn_norm, *mlp_norm, *sst; /* sst: scale_shift_table [6][D] */
} cx_block;

typedef struct cx_adaln { cx_linear l1, l2, lin; } cx_adaln; /* 512 -> D -> D; D -> 6D */

typedef struct cx_stack {
  int D, n_heads, head_dim, ffn, n_blocks;
  cx_block *blocks;
  cx_adaln ada;
  const float *sst; /* final [2][D]: shift, scale */
} cx_stack;

/* Channel-first conv [C][T] for the waveform decoder: w = [c_out][k][c_in]
 * (weight[o, i, j] at (o*k + j)*c_in + i); left = zeros before t = 0
 * (causal: dil*(k-1)), right = after. */
typedef struct cx_conv_cf { int c_in, c_out, k, dil, left, right; float *w; const float *b; uint16_t *wb; /* BF16 w (AMX) */ } cx_conv_cf;
/* Causal ConvTranspose1d, kernel 2*stride: w = [k*c_out][c_in] (row j*c_out + o). */
typedef struct cx_convT { int c_in, c_out, k, s; float *w; const float *b; uint16_t *wb; /* BF16 w (AMX) */ } cx_convT;
typedef struct cx_resunit { cx_conv_cf c1, c2; float a1, a2; } cx_resunit;
typedef struct cx_decblock { cx_convT up; cx_resunit ru[CX_RES_UNITS]; } cx_decblock;

typedef struct cx_sq {
  cx_conv_cf in;                /* decoder.0 (look-ahead, not causal) */
  cx_decblock blocks[CX_MAX_UP];
  bool has_post;
  cx_conv_cf post; float post_a; /* PostProcessor: repeat x num_samples, conv, PReLU */
  cx_conv_cf out;               /* last conv -> num_bands (1) */
  int hop;                      /* samples per latent frame (1920) */
  int rf_frames;                /* left receptive field of the causal part, latent frames */
} cx_sq;

struct hm_codec_model {
  cx_config cfg;
  hm_weights *w;          /* the checkpoint; owns every copy and packed matrix made at load */
  const float *codebooks; /* [n_q][codebook_size][codebook_dim] (owned copy) */
  cx_linear project_out;  /* codebook_dim -> dim */
  cx_linear cond_emb;     /* dim -> dim */
  cx_project proj_in, connection_proj, proj_out;
  cx_stack s1, s2;
  cx_sq sq;
  bool amx;              /* DiT GEMMs in BF16 on AMX tiles */
};

/* Estimator scratch for batch B and T frames (allocated once, reused every step). */
typedef struct cx_work {
  int B, T, Cin, D, D2, Cout, ffn;
  float *in_pad;   /* [B][T+2][Cin] estimator input, zero rows at both ends */
  float *cat_pad;  /* [B][T+2][Cin+D] connection_proj input */
  float *s, *x, *nrm, *q, *k, *v, *att, *h, *g, *u, *conv, *out;
  float *temb, *mod, *tproj, *tmp;
  float *cos1, *sin1, *cos2, *sin2;
  float *scores;   /* [T][T] attention scores of one head */
  uint16_t *xb;    /* BF16 copy of a GEMM input (AMX path) */
  /* AMX attention: T padded to Tp (multiple of 32); Q, K, V of one head, P */
  int Tp;
  uint16_t *qb, *kpk, *vpk, *pb;
  float *kf, *zrow;
  const float **rowp;
} cx_work;

hm_status cx_work_init(cx_work *w, const hm_codec_model *m, int B, int T);
void cx_work_free(cx_work *w);
/* Row t of batch b of the estimator input (Cin floats: x, incontext_x, mu). */
static inline float *cx_in_row(cx_work *w, int b, int t) {
  return w->in_pad + ((int64_t)b * (w->T + 2) + 1 + t) * w->Cin;
}
/* LlamaTransformer.forward on w->in_pad with timesteps t[B]; result in w->out [B][T][Cout]. */
void cx_estimator(const hm_codec_model *m, hm_pool *pool, cx_work *w, const float *t);

/* ResidualVQ.get_output_from_indices: codes [n_q][stride] columns 0..n-1 -> out [n][dim]. */
hm_status cx_rvq(const hm_codec_model *m, const int32_t *codes, int64_t stride, int64_t n, float *out);

/* solve_euler on x [T][256] (noise, modified into the result), incontext [T][256]
 * (zero past incontext_len), mu [T][dim]; w sized for B = guidance > 1 ? 2 : 1. */
hm_status cx_solve_euler(const hm_codec_model *m, hm_pool *pool, cx_work *w, float *x, const float *incontext,
                         int incontext_len, const float *mu, int steps, float guidance,
                         hm_abort_callback abort_cb, void *user_data,
                         void (*on_step)(void *ctx), void *step_ctx);

/* ScalarModel.decode of one channel: latent [c][T] rows with stride ld (latent_hidden_dim
 * rows), output T*hop samples. Processes chunk_frames latent frames at a time (<= 0: all). */
typedef struct cx_sq_work cx_sq_work;
hm_status cx_sq_work_create(const hm_codec_model *m, int T, int chunk_frames, cx_sq_work **out);
void cx_sq_work_free(cx_sq_work *sw);
void cx_sq_decode(const hm_codec_model *m, hm_pool *pool, cx_sq_work *sw, const float *latent, int64_t ld,
                  float *out);

/* The reach of one latent frame through ScalarModel.decode: a change of latent
 * frame f (one round(9x) level flipped, say) can change output samples
 * [*s0, *s1) of the window and no other (the look-ahead conv reads `in.right`
 * frames ahead; every later layer is causal, with rf_frames of left receptive
 * field in all). Bounds are not clipped to the window. */
void cx_sq_flip_reach(const hm_codec_model *m, int64_t f, int64_t *s0, int64_t *s1);

/* torch.linspace(0, 1, n) in float32, as torch computes it. */
void cx_linspace01(float *out, int n);

/* detokenize's segment plan for n_frames codes. */
typedef struct cx_plan {
  int64_t n_frames, padded_len, n_windows, target_samples, out_samples;
  int win_frames, hop_frames, ovlp_frames, latent_frames, incontext_frames;
  int64_t win_samples, hop_samples, ovlp_samples;
} cx_plan;
void cx_make_plan(const hm_codec_model *m, int64_t n_frames, cx_plan *p);
/* Padded code at position i (periodic repetition as upstream's doubling). */
int32_t cx_padded_code(const int32_t *codes, int64_t n_frames, int q, int64_t i);

/* hm_codec_decode with a hook that sees each window's latents [T][C]
 * (flow_matching.inference_codes output) before the waveform decoder. */
typedef void (*cx_latents_fn)(void *ud, int64_t window, const float *latents, int T, int C);
hm_status cx_detokenize(const hm_codec_model *m, const int32_t *codes, int64_t n_frames, const hm_codec_params *params,
                        hm_progress_callback progress, hm_abort_callback abort_cb, void *user_data,
                        cx_latents_fn on_latents, void *latents_ud, float **wav, int64_t *n_samples);

#endif
