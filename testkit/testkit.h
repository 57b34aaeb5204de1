/* The test kit: what the tests, the demo, `heartmula make-checkpoint` and
 * `heartmula parity` need but an integrator does not. Random checkpoints in the
 * published layouts, the demo tokenizer, the HeartMuLa fixture runner. Built as
 * the internal static library heartmula_testkit: not installed, not in
 * libheartmula, not in the public header. */
#ifndef HM_TESTKIT_H
#define HM_TESTKIT_H
#include "heartmula.h"

/* Writes a random checkpoint in the published layout under root: root/HeartMuLa-oss-<ver>/
 * (config.json, sharded F32 model-0000k-of-0000n.safetensors + model.safetensors.index.json;
 * n_shards <= 1: one model.safetensors) and root/gen_config.json (<ver> = flavor). flavor: "tiny"
 * (the fixture's shapes), "demo" (tiny shapes, 2048 rows of context, end-of-audio logits damped)
 * or "3B" (HeartMuLa-oss-3B: backbone llama-3B, decoder llama-300M). */
hm_status hm_mula_make_checkpoint(const char *root, const char *flavor, uint64_t seed, int n_shards);

/* Writes a random checkpoint in the published HeartCodec-oss layout (config.json +
 * model.safetensors, sharded when large) into dir (created if missing).
 * flavor "tiny" = the fixture sizes, "full" = HeartCodecConfig defaults. */
hm_status hm_codec_make_checkpoint(const char *dir, const char *flavor, uint64_t seed);

/* Writes a random MuQ-MuLan folder in the published layout (config.json, muq_config.json, xlmr_config.json,
 * model.safetensors or shards + index; no tokenizer) into dir (created if missing): flavor "tiny" (the
 * fixture's shapes) or "large" (OpenMuQ/MuQ-MuLan-large's shapes, ~2.6 GB F32). Refuses a folder that
 * already holds a model. */
hm_status hm_clap_make_checkpoint(const char *dir, const char *flavor, uint64_t seed);

/* Writes a random model folder in the published layout: flavor "tiny" (d 64,
 * 2+2 layers, 128 mels, vocab 51866) or "large-v3" (full size, F16).
 * tokenizer_json: a Whisper tokenizer.json to copy (NULL: a tokenizer with
 * byte tokens and Whisper's special tokens only). Refuses an existing model.safetensors. */
hm_status hm_whisper_make_checkpoint(const char *dir, const char *flavor, uint64_t seed);
hm_status hm_whisper_make_checkpoint_ex(const char *dir, const char *flavor, uint64_t seed,
                                        const char *tokenizer_json);

/* Writes a small demo tokenizer.json (same structure as Llama 3's: Split regex
 * + ByteLevel, ignore_merges, TemplateProcessing with bos): ids 0..255 the bytes,
 * then merges learned from built-in English text up to the first special id,
 * <|begin_of_text|> at bos_id, <|end_of_text|> at eos_id, and every other id
 * below vocab_size a <|reserved_special_token_k|>. Needs 256 < bos_id, eos_id <
 * vocab_size. Written to a temporary name, then renamed; an existing file is an
 * error unless overwrite. */
hm_status hm_tokenizer_write_demo(const char *path, int vocab_size, int32_t bos_id, int32_t eos_id, bool overwrite);

#endif
