/* src/mula internals: HeartMuLa (heartlib modeling_heartmula.py) on torchtune
 * 0.4.0 llama3_2 blocks. Public API: the HeartMuLa section of heartmula.h. */
#ifndef HM_MULA_H
#define HM_MULA_H
#include "base/base.h"
#include "io/weights.h"
#include "tensor/ops.h"

#define HM_MULA_COLS_MAX 64 /* n_codebooks + 1 columns per row, at most */

/* torchtune llama3_2(...) hyper-parameters of one transformer. */
typedef struct hm_llama_config {
  int num_layers, num_heads, num_kv_heads, embed_dim, intermediate_dim, max_seq_len;
  int head_dim; /* embed_dim / num_heads */
  float norm_eps;
  double rope_base;
  double scale_factor;
} hm_llama_config;

typedef struct hm_mula_config {
  hm_llama_config backbone, decoder;
  char backbone_flavor[64], decoder_flavor[64];
  int text_vocab_size, audio_vocab_size, audio_num_codebooks, muq_dim;
  /* gen_config.json */
  int32_t text_bos_id, text_eos_id, audio_eos_id, empty_id;
} hm_mula_config;

/* Fills cfg from a flavor name ("llama-3B", "llama-300M", "llama-7B", "llama-400M"). */
hm_status hm_llama_flavor(const char *name, hm_llama_config *cfg);
/* Parses dir/config.json (flavors or explicit backbone_config/decoder_config). */
hm_status hm_mula_config_load(const char *config_path, hm_mula_config *cfg);
/* gen_config.json; path NULL or missing file: upstream defaults adapted to the vocab. */
hm_status hm_mula_gen_config_load(const char *path, hm_mula_config *cfg);
/* Checks a config for consistency (dims divisible, ...); names file and field. */
hm_status hm_mula_config_check(const hm_mula_config *cfg, const char *file);

typedef struct hm_llama_layer {
  hm_mat wq, wk, wv, wo, w1, w2, w3;
  float *sa_norm, *mlp_norm; /* owned f32 */
} hm_llama_layer;

typedef struct hm_llama {
  hm_llama_config cfg;
  hm_llama_layer *layers;
  float *norm;               /* owned f32 */
  float *rope_cos, *rope_sin; /* [rope_len, head_dim/2] */
  int rope_len;
} hm_llama;

struct hm_mula_model {
  hm_mula_config cfg;
  hm_weights *w;          /* the checkpoint; owns every converted copy */
  hm_llama backbone, decoder;
  hm_mat text_emb, audio_emb, uncond_emb; /* used in place, row lookups */
  hm_mat projection, codebook0_head;
  hm_mat audio_head_t;    /* [(n_cb-1) * V, decoder_dim]: audio_head transposed, owned */
  hm_mat muq_w;           /* [D, muq_dim] */
  float *muq_b;           /* owned f32 [D] */
  int64_t bytes_per_frame;
  hm_pool *load_pool;     /* during hm_mula_load only */
};

/* Per-call values of the last step, for parity and debugging. B = 1 or 2 rows. */
typedef struct hm_mula_trace {
  int B, V;
  const float *last_h;   /* [B, backbone_dim] final-normed backbone hidden at the last position */
  const float *c0_logits;/* [B, V] */
  const float *ci_logits;/* [n_cb-1, B, V] */
  const float *sampled;  /* [n_cb, V] logits given to the sampler (CFG-guided when B = 2) */
  double backbone_ms;    /* the last hm_mula_next's backbone step (both CFG rows) */
} hm_mula_trace;
void hm_mula_get_trace(const hm_mula_context *ctx, hm_mula_trace *out);
/* The context's compute pool (benches run their probes on it, so that no second
 * set of threads competes for the cores). */
hm_pool *hm_mula_context_pool(hm_mula_context *ctx);

/* Sampler (heartlib sample_topk): logits / temperature, keep values >= the topk-th largest,
 * softmax, then argmax(probs / q) with q ~ Exp(1) drawn for each of the n entries in index
 * order from rng. scratch: n floats. Returns the index. */
int32_t hm_mula_sample_topk(const float *logits, int64_t n, int topk, float temperature,
                            hm_rng *rng, float *scratch);

/* Llama 3 scaled RoPE tables (float32 arithmetic as torchtune). cos/sin: [len, head_dim/2]. */
void hm_llama3_rope_tables(int head_dim, double base, double scale_factor, int len, float *cos_t, float *sin_t);

#endif
