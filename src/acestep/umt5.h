/* src/acestep: the UMT5 encoder of ACE-Step v1's prompt path (transformers'
 * UMT5EncoderModel as ACEStepPipeline.get_text_embeddings runs it), with the
 * umt5-base folder's tokenizer.
 *
 * Math (fixtures-acestep/text/README.md): h = embed[ids] (no sqrt(d) scaling); per layer
 * RMSNorm -> q, k, v (no bias) -> scores = q k^T (NO 1/sqrt(d_kv)) + the layer's OWN
 * relative position bias + the key mask (finfo(f32).min) -> softmax (f32) -> o; RMSNorm ->
 * gelu_new(x Wi0^T) * (x Wi1^T) -> wo; final RMSNorm. T5 RMSNorm: no mean, no bias.
 * ERG-tag null variant: the q projection of layers [8, 10) multiplied by tau = 0.01.
 *
 * The model is immutable after loading (threads may share it); every call allocates its
 * own scratch. */
#ifndef HM_ACESTEP_UMT5_H
#define HM_ACESTEP_UMT5_H
#include "base/base.h"
#include "io/weights.h"
#include "text/unigram.h"

typedef struct hm_umt5_config {
  int d_model, d_kv, n_heads, n_layers, d_ff, vocab_size;
  int n_buckets, max_distance;
  float eps;
} hm_umt5_config;

typedef struct hm_umt5_layer {
  hm_mat q, k, v, o, wi0, wi1, wo; /* [out, in], used in place (F32 / BF16 / F16) */
  float *rel_bias;                 /* [n_buckets, n_heads] */
  float *ln_attn, *ln_ff;          /* [d_model] */
} hm_umt5_layer;

typedef struct hm_umt5 {
  hm_umt5_config cfg;
  hm_weights *w;
  hm_unigram *tok;
  hm_mat embed;   /* [vocab, d_model]: shared.weight or encoder.embed_tokens.weight */
  hm_umt5_layer *layers;
  float *ln_final;
} hm_umt5;

/* upstream's constants: tokenizer max_length, and get_text_embeddings_null's defaults */
#define HM_UMT5_MAX_LENGTH 256
#define HM_UMT5_ERG_TAU 0.01f
#define HM_UMT5_ERG_L_MIN 8
#define HM_UMT5_ERG_L_MAX 10

/* Loads an umt5-base folder: config.json, model.safetensors (F32 / BF16 / F16; the
 * embedding named shared.weight or encoder.embed_tokens.weight; decoder.* and lm_head
 * never read) and tokenizer.json. Errors name the folder, file, field or tensor. */
hm_status hm_umt5_load(const char *dir, hm_umt5 **out);
void hm_umt5_free(hm_umt5 *m);

/* Optional probe of intermediate stages (for parity): called with stage names
 * "embeddings" [L, d], "pos_bias" [H, L, L] (per layer), "ln_attn", "q", "k", "v" [L, H*d_kv],
 * "attn_weights" [H, L, L], "attn_out", "h_attn", "ln_ff" [L, d], "wi_0", "wi_1", "gelu"
 * [L, d_ff], "ff_out", "block_out" [L, d]; layer = -1 for "embeddings". */
typedef void (*hm_umt5_tap)(void *user_data, const char *stage, int layer, const float *data, int64_t n);

typedef struct hm_umt5_run {
  bool null_variant;     /* ERG-tag: q * tau in layers [l_min, l_max) */
  float tau;             /* 0: HM_UMT5_ERG_TAU */
  int l_min, l_max;      /* both 0: upstream's 8, 10 */
  hm_pool *pool;         /* NULL: the calling thread */
  hm_umt5_tap tap;
  void *tap_user_data;
} hm_umt5_run;

/* One sequence of L ids with its attention mask (1 token, 0 padding; NULL: all ones) ->
 * last_hidden_state [L, d_model] into out. Ids must be < vocab_size. */
hm_status hm_umt5_encode_ids(const hm_umt5 *m, const int32_t *ids, const int32_t *mask, int64_t L,
                             const hm_umt5_run *run, float *out);

/* Bucket of relative position r = key - query (bidirectional, as transformers'
 * _relative_position_bucket in float32). */
int hm_umt5_bucket(int64_t r, int n_buckets, int max_distance);

/* ACEStepPipeline.get_text_embeddings for one prompt: tokenises (max_length 256, </s>
 * appended), encodes; *hidden [L, d_model] and *ids / *L malloc'ed (free()). An empty or
 * all-whitespace prompt is an error naming 'prompt' (upstream accepts it; we ask for tags). */
hm_status hm_umt5_embed_prompt(const hm_umt5 *m, const char *prompt, bool null_variant, hm_pool *pool,
                               float **hidden, int32_t **ids, int64_t *L);

#endif
