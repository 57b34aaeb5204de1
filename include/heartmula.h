/* heartmula.c — the one public header.
 *
 * Conventions: every function that can fail returns hm_status (HM_OK = 0);
 * hm_last_error() then gives a message naming the file, tensor, field or
 * argument at fault. The library never exits and never prints: messages go to
 * the log hook set with hm_log_set() (none by default).
 *
 * Thread safety. A loaded model (hm_mula_model, hm_codec_model, hm_whisper_model) is
 * immutable: any number of threads may use one at once (contexts created on it, codec decodes
 * and transcriptions, each with its own scratch). Everything else is used by one thread at a
 * time: an hm_mula_context, an hm_engine (one job at a time; one engine per worker thread,
 * engines may borrow one loaded model). hm_last_error() is per thread. hm_log_set() is
 * process-wide and not synchronised: call it before other threads use the library. Each model,
 * context and engine owns its own pool of n_threads worker threads (<= 0: all cores), so two
 * running at once on all cores oversubscribe them: give each a share. Callbacks run on the
 * calling thread, or on an engine's codec worker (see hm_engine_params), never concurrently
 * with themselves.
 */
#ifndef HEARTMULA_H
#define HEARTMULA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version: these macros are the header's, hm_version() the linked library's. */
#define HM_VERSION_MAJOR 0
#define HM_VERSION_MINOR 1
#define HM_VERSION_PATCH 0
#define HM_VERSION_STRING "0.1.0"
#define HM_VERSION_NUMBER (HM_VERSION_MAJOR * 10000 + HM_VERSION_MINOR * 100 + HM_VERSION_PATCH)

/* HM_API marks the functions libheartmula.so exports (everything else is hidden). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define HM_API __attribute__((visibility("default")))
#else
#define HM_API
#endif

typedef enum hm_status {
  HM_OK = 0,
  HM_ERR_INVALID_ARG = 1, /* a bad argument or parameter */
  HM_ERR_IO = 2,          /* a file missing, unreadable or unwritable */
  HM_ERR_FORMAT = 3,      /* malformed file: JSON, safetensors, npy, audio, config */
  HM_ERR_NOMEM = 4,
  HM_ERR_UNSUPPORTED = 5, /* valid but not supported by this build */
  HM_ERR_ABORTED = 6,     /* the abort callback asked to stop */
  HM_ERR_INTERNAL = 7
} hm_status;

/* The linked library's version string ("0.1.0") and number (HM_VERSION_NUMBER's encoding). */
HM_API const char *hm_version(void);
HM_API int hm_version_number(void);

/* Frees a buffer the library allocated and handed over (codes, waveforms, formatted text:
 * what the documentation says to release with free()); free() itself is equally fine from C.
 * For bindings, which cannot reach the C library's free. NULL is fine. */
HM_API void hm_free(void *ptr);

/* A short name for a status ("invalid argument", ...). */
HM_API const char *hm_status_str(hm_status status);
/* The message of the last failing call on this thread ("" if none). */
HM_API const char *hm_last_error(void);

typedef enum hm_log_level { HM_LOG_ERROR = 0, HM_LOG_WARN = 1, HM_LOG_INFO = 2, HM_LOG_DEBUG = 3 } hm_log_level;
/* Callbacks take user_data first, everywhere (log, progress, abort, audio, noise, on_frame). */
typedef void (*hm_log_callback)(void *user_data, hm_log_level level, const char *message);
/* Sets the process-wide log hook; NULL silences the library (the default). */
HM_API void hm_log_set(hm_log_callback callback, void *user_data);

/* Progress of a long call: done out of total units (frames, windows, steps). */
typedef void (*hm_progress_callback)(void *user_data, int64_t done, int64_t total);
/* Polled between units of work; return true to stop the call with HM_ERR_ABORTED. */
typedef bool (*hm_abort_callback)(void *user_data);

/* ---- HeartMuLa language model (src/mula) ---- */
/* (section owned by src/mula; see docs/api.md)
 * Text prompt rows -> audio codes [8 x n_frames]. A model (immutable, shareable
 * between threads) and any number of contexts (KV caches, CFG batch, scratch, RNG). */
typedef struct hm_mula_model hm_mula_model;
typedef struct hm_mula_context hm_mula_context;

/* Weight storage after load. AS_STORED uses the checkpoint's tensors in place (mmapped). */
typedef enum hm_mula_weights {
  HM_MULA_WEIGHTS_AS_STORED = 0,
  HM_MULA_WEIGHTS_F32,
  HM_MULA_WEIGHTS_BF16, /* F32/F16 converted once at load (half the bytes streamed per frame); Q8_0/Q4_0 files kept */
  HM_MULA_WEIGHTS_Q8_0,
  HM_MULA_WEIGHTS_Q4_0
} hm_mula_weights;

typedef struct hm_mula_params {
  int n_threads;                /* threads for loading/conversion; <= 0: all cores (default) */
  hm_mula_weights weights;      /* default AS_STORED */
  const char *weights_file;     /* NULL (default): dir's model.safetensors.index.json or model.safetensors;
                                   else a file name in dir or a path (e.g. "model_bf16.safetensors") */
  const char *gen_config_path;  /* NULL (default): dir/gen_config.json, else dir/../gen_config.json */
} hm_mula_params;
HM_API hm_mula_params hm_mula_default_params(void);

/* dir: a HeartMuLa-oss-<ver> folder (config.json + safetensors). Errors name the file and the
 * tensor or field at fault. */
HM_API hm_status hm_mula_load(const char *dir, const hm_mula_params *params, hm_mula_model **out);
HM_API void hm_mula_free(hm_mula_model *model);

/* Read-only facts about a loaded model. */
typedef struct hm_mula_info {
  int n_codebooks;          /* 8 */
  int audio_vocab_size;     /* 8197 (codes + specials) */
  int text_vocab_size;
  int muq_dim;
  int backbone_dim, decoder_dim, backbone_layers, decoder_layers;
  int max_seq_len;          /* backbone rows (prompt + frames) a context can hold at most */
  int32_t text_bos_id, text_eos_id, audio_eos_id, empty_id; /* gen_config.json */
  int64_t weight_bytes_per_frame; /* weight bytes one frame step streams */
} hm_mula_info;
HM_API void hm_mula_get_info(const hm_mula_model *model, hm_mula_info *out);

typedef struct hm_mula_context_params {
  int n_threads;   /* <= 0: all cores (default) */
  int n_ctx;       /* backbone rows to allocate KV cache for; <= 0: the model's max_seq_len (default).
                      The cache is F16 when the LM weights are quantized (q8_0 / q4_0), else F32;
                      pages become resident only as rows are filled. */
  int n_batch;     /* rows per prompt-prefill chunk; <= 0: 128 (default) */
} hm_mula_context_params;
HM_API hm_mula_context_params hm_mula_context_default_params(void);
HM_API hm_status hm_mula_context_create(const hm_mula_model *model, const hm_mula_context_params *params,
                                 hm_mula_context **out);
HM_API void hm_mula_context_free(hm_mula_context *ctx);

typedef struct hm_mula_gen_params {
  int topk;              /* 50 */
  float temperature;     /* 1.0 (> 0) */
  float cfg_scale;       /* 1.5; > 1 runs the CFG batch (cond + uncond rows), else one row (upstream
                            runs 2 unguided rows for cfg < 1 and keeps row 0: the same distribution) */
  int64_t max_audio_ms;  /* 240000; upstream's loop: 1 + max_audio_ms / 80 frames at most */
  uint64_t seed;         /* sampler RNG (hm_rng stream 0); same seed, same codes */
  int32_t audio_eos_id;  /* < 0 (default): gen_config's; a frame with a code >= this ends generation */
  const float *muq_embed;/* [muq_dim] reference-audio embedding, NULL (default) = zeros as upstream */
  hm_progress_callback progress; /* (user_data, frames done, max frames); may be NULL */
  hm_abort_callback abort;       /* polled once per frame; may be NULL */
  /* called with each kept frame's codes [n_codebooks] (index 0, 1, ... excluding history) as soon as it
     is sampled, before the next one is; may be NULL */
  void (*on_frame)(void *user_data, const int32_t *frame, int64_t index);
  void *user_data;
} hm_mula_gen_params;
HM_API hm_mula_gen_params hm_mula_default_gen_params(void);

/* Generates audio codes, exactly as upstream's HeartMuLaGenPipeline._forward:
 *   prompt_tokens [n_rows x 9]: cols 0..7 audio codes, col 8 text id (one conditional row set;
 *     the unconditional CFG row is derived internally); prompt_mask [n_rows x 9] (0/1), NULL =
 *     only col 8 used (as preprocess builds text rows);
 *   muq_idx: the row replaced by muq_linear(muq_embed) (uncond row: the unconditional
 *     embedding); < 0: none;
 *   history [8 x n_history] (codebook-major, may be NULL): earlier frames fed after the prompt as
 *     audio rows, so generation continues from them (returned codes exclude them).
 * *codes_out: malloc'ed [8 x n_frames] codebook-major int32 (free with free()). On abort returns
 * HM_ERR_ABORTED and the frames made so far. */
HM_API hm_status hm_mula_generate(hm_mula_context *ctx, const int32_t *prompt_tokens, const int32_t *prompt_mask,
                           int64_t n_rows, int64_t muq_idx, const hm_mula_gen_params *gen,
                           const int32_t *history, int64_t n_history,
                           int32_t **codes_out, int64_t *n_frames);

/* Step API (what hm_mula_generate runs): hm_mula_start resets the context, feeds the rows
 * (prefill) and samples the first frame; hm_mula_next feeds a frame's 8 codes as the next row and
 * samples the next one. gen's topk/temperature/cfg_scale/seed/muq_embed are taken at start. */
HM_API hm_status hm_mula_start(hm_mula_context *ctx, const int32_t *tokens, const int32_t *mask, int64_t n_rows,
                        int64_t muq_idx, const hm_mula_gen_params *gen, int32_t *frame_out /* [n_codebooks] */);
HM_API hm_status hm_mula_next(hm_mula_context *ctx, const int32_t *frame_in, int32_t *frame_out);
/* Rows held in the backbone KV cache so far. */
HM_API int64_t hm_mula_n_past(const hm_mula_context *ctx);


/* ---- HeartCodec (src/codec) ---- */
/* Audio tokens [n_codebooks x n_frames] (12.5 frames/s) -> stereo 48 kHz waveform.
 * The model (weights, config) is immutable and may be shared by threads; every
 * decode call allocates its own scratch, bounded by one 29.76 s window. */
typedef struct hm_codec_model hm_codec_model;

/* A noise source: fills dst with n standard-normal draws. Called once per
 * torch.randn call of upstream's detokenize, in the same order and sizes
 * (see docs / the fixture README), so recorded draws can be replayed. */
typedef hm_status (*hm_codec_noise_fn)(void *user_data, float *dst, int64_t n);

typedef struct hm_codec_params {
  int steps;              /* Euler steps per window (10) */
  float guidance;         /* classifier-free guidance scale (1.25); <= 1 runs without CFG */
  uint64_t seed;          /* noise seed (hm_rng stream 1) when noise is NULL */
  int n_threads;          /* 0: all cores */
  bool bf16_weights;      /* at load: keep the DiT matrices in BF16 (default F32) */
  hm_codec_noise_fn noise; /* NULL: seeded RNG; else every draw comes from here */
  void *noise_user_data;
} hm_codec_params;
HM_API hm_codec_params hm_codec_default_params(void);

/* dir: a HeartCodec-oss folder (config.json + model.safetensors or a sharded
 * model.safetensors.index.json). params may be NULL (defaults). */
HM_API hm_status hm_codec_load(const char *dir, const hm_codec_params *params, hm_codec_model **out);
HM_API void hm_codec_free(hm_codec_model *model);
HM_API int hm_codec_sample_rate(const hm_codec_model *model);   /* 48000 */
HM_API int hm_codec_num_codebooks(const hm_codec_model *model); /* 8 */
HM_API int hm_codec_codebook_size(const hm_codec_model *model); /* 8192 */
/* Samples per channel hm_codec_decode returns for n_frames (upstream's
 * detokenize: n_frames * 3840, shorter when n_frames = 104 + 320k, k >= 1). */
HM_API int64_t hm_codec_output_samples(const hm_codec_model *model, int64_t n_frames);
/* Decodes codes (codebook-major: codes[q * n_frames + i], 0 <= code < codebook
 * size) window by window. progress counts Euler steps (+1 per window for the
 * waveform decoder). *wav: planar [2][*n_samples] (left then right), malloc'd:
 * release with free(). params may be NULL (defaults). */
HM_API hm_status hm_codec_decode(const hm_codec_model *model, const int32_t *codes, int64_t n_frames,
                          const hm_codec_params *params, hm_progress_callback progress,
                          hm_abort_callback abort_cb, void *user_data, float **wav, int64_t *n_samples);

/* ---- Engine and pipeline: text -> codes -> audio (src/engine) ---- */
/* The product's main job, as upstream's HeartMuLaGenPipeline: lyrics + tags ->
 * prompt rows -> HeartMuLa codes -> HeartCodec waveform -> file and/or an audio
 * callback. Checkpoint folder layout (as published):
 *   <model_path>/HeartMuLa-oss-<version>/   config.json + safetensors (sharded or single)
 *   <model_path>/HeartCodec-oss/            config.json + safetensors
 *   <model_path>/tokenizer.json, <model_path>/gen_config.json                          */

typedef enum hm_stage { HM_STAGE_LOAD = 0, HM_STAGE_LM = 1, HM_STAGE_CODEC = 2, HM_STAGE_WRITE = 3 } hm_stage;
/* Progress of a job: stage, and done / total units (LM: frames; codec: Euler steps + 1 per window;
 * load: 0 of 1 before each model loads, 1 of 1 after). While a streaming job's LM runs, the codec's total is an upper
 * bound (the song's length is not known yet). */
typedef void (*hm_stage_progress_callback)(void *user_data, hm_stage stage, int64_t done, int64_t total);

/* A job's results (also hm_generate's). */
typedef struct hm_generate_result {
  int32_t *codes;      /* [8 x n_frames] codebook-major (malloc'ed; hm_generate_result_free) */
  int64_t n_frames;
  int64_t n_samples;   /* per channel, written and/or handed to on_audio (0 when codes only) */
  int sample_rate_hz;  /* 48000 (0 when codes only) */
  int64_t n_windows;   /* codec windows decoded */
  int n_lm_loads, n_codec_loads; /* models this job loaded: 0 on a warm `keep` engine */
  double t_load_lm_s, t_lm_s, t_load_codec_s, t_codec_s, t_write_s, t_total_s;
  double t_first_audio_s; /* from the job's start to its first samples out (0 when codes only) */
  int64_t peak_rss_bytes; /* the process's peak so far */
  int n_clap_loads;       /* MuQ-MuLan loads for the reference audio (0 when none or already loaded) */
  double t_load_clap_s, t_ref_s; /* loading MuQ-MuLan; embedding the reference audio */
} hm_generate_result;
HM_API void hm_generate_result_free(hm_generate_result *r);

/* The long-lived engine (whisper.h / llama.h style): hm_engine_open finds and checks the model folder
 * once; hm_engine_generate runs one job. Thread safety: an engine runs one job at a time (calls on one
 * engine must not overlap; use one engine per worker thread); several engines may share loaded models
 * read-only (hm_engine_params.mula_model / codec_model); engines hold no global state. During a job
 * progress and abort run on the calling thread or on the engine's codec worker thread (streaming jobs),
 * one at a time; on_audio runs on the codec worker (streaming) or the calling thread, in order, and may
 * overlap a progress/abort call from the LM (so a sink that blocks, e.g. on a pipe to a player, does
 * not stall the LM). Callbacks must not call into the same engine. */
typedef struct hm_engine hm_engine;
typedef struct hm_clap_model hm_clap_model; /* HeartCLAP (MuQ-MuLan), below */

typedef enum hm_engine_memory {
  HM_ENGINE_KEEP = 0,   /* LM and codec stay loaded between jobs (each loaded at its first use) */
  HM_ENGINE_STAGED = 1  /* each job loads, uses and frees each stage; the LM is freed before the codec
                           loads (lowest peak; a streaming job holds both while the LM runs) */
} hm_engine_memory;

typedef struct hm_engine_params {
  const char *version;          /* "3B": the HeartMuLa-oss-<version> folder */
  hm_engine_memory memory;      /* HM_ENGINE_KEEP */
  int n_threads;                /* LM threads; <= 0: all cores */
  int n_codec_threads;          /* codec threads; <= 0: n_threads. A streaming job's codec worker runs beside
                                   the LM with its own pool of this size (the OS shares the cores) */
  hm_mula_weights mula_weights; /* HM_MULA_WEIGHTS_BF16 (converted once at load) */
  bool codec_bf16;              /* false (upstream warns bf16 degrades the codec) */
  bool require_codec;           /* true: HeartCodec-oss/ must be present at open (false: codes-only engines) */
  const hm_mula_model *mula_model; /* optional, borrowed: a loaded LM used instead of loading one (it must outlive
                                      the engine; mula_weights is then ignored) */
  const hm_codec_model *codec_model; /* optional, borrowed: a loaded codec, likewise */
  const char *clap_path;        /* MuQ-MuLan folder for jobs with reference audio; NULL (default):
                                   <model_path>/MuQ-MuLan-large when present. Loaded (audio tower only) at the first
                                   job that needs it and kept with the LM (`staged`: freed after the embedding) */
  const hm_clap_model *clap_model;       /* optional, borrowed: a loaded MuQ-MuLan used instead (outlives the engine) */
} hm_engine_params;
HM_API hm_engine_params hm_engine_default_params(void);

HM_API hm_status hm_engine_open(const char *model_path, const hm_engine_params *params, hm_engine **out);
HM_API void hm_engine_close(hm_engine *engine);

typedef struct hm_job {
  const char *lyrics;           /* text (required, not blank) */
  const char *tags;             /* comma-separated style tags, text (required, may be empty) */
  int64_t max_audio_ms;         /* 240000, in (0, 3600000] */
  int topk;                     /* 50 */
  float temperature;            /* 1.0 */
  float cfg_scale;              /* 1.5 */
  int codec_steps;              /* 10 */
  float codec_guidance;         /* 1.25 */
  uint64_t seed;                /* LM sampler: stream 0, codec noise: stream 1 of this seed */
  const int32_t *history;       /* earlier codes [8 x n_history] to continue from, or NULL */
  int64_t n_history;
  bool history_in_output;       /* true: the codes and audio start with the history */
  const char *output_path;      /* .wav/.flac/.mp3/.ogg, written while decoded (temporary name, renamed when
                                   complete; removed on failure or abort); NULL: none */
  bool overwrite;               /* false: an existing output_path is an error */
  bool wav_float;               /* 32-bit float WAV (.wav only) instead of 16-bit */
  bool stream;                  /* decode each codec window as soon as the LM has made its codes, beside the
                                   LM; the audio is bit-identical to a non-streaming job's */
  /* Reference audio (style): the LM's muq prompt slot gets ref_strength x the MuQ-MuLan audio embedding of the
   * centre ref_seconds of ref_audio_path (zero-padded when shorter; hm_clap_embed_reference), or of a ready
   * embedding [muq_dim] (hm_clap_embed_*); at most one of the two. The unconditional CFG row keeps the learned
   * unconditional embedding. Neither (default): zeros, as upstream. ref_strength 0 gives exactly the codes of a
   * job without reference. The LM's muq_dim must equal hm_clap_dim (512). */
  const char *ref_audio_path;   /* any audio file the library reads; needs a MuQ-MuLan model (hm_engine_params) */
  const float *ref_embedding;   /* [ref_embedding_dim] */
  int ref_embedding_dim;        /* values in ref_embedding: must equal the LM's muq_dim (512) */
  float ref_strength;           /* 1.0, in [0, 10] */
  double ref_seconds;           /* 10, in [1, 600] */
} hm_job;
HM_API hm_job hm_job_default(void);

/* The final waveform, in order, window by window: planar_stereo = [2][n_samples] (left, then right),
 * first_sample = its position in the song; valid during the call only. Anything but HM_OK stops the job. */
typedef hm_status (*hm_audio_callback)(void *user_data, const float *planar_stereo, int64_t n_samples,
                                       int64_t first_sample);

typedef struct hm_job_callbacks {
  hm_stage_progress_callback progress; /* may be NULL */
  hm_abort_callback abort;      /* polled every frame and every Euler step; abort leaves no output file */
  hm_audio_callback on_audio;   /* may be NULL; with neither on_audio nor output_path the job stops after the LM */
  void *user_data;
  /* may be NULL: each generated frame's codes [8] as soon as the LM samples it (index 0, 1, ...; the
     history not included), on the calling thread; with it a caller keeps the frames of a job that is
     then aborted or fails (`heartmula generate --save-codes` does) */
  void (*on_frame)(void *user_data, const int32_t *frame, int64_t index);
} hm_job_callbacks;

/* Runs one job. callbacks may be NULL. On failure (bad job, abort, sink error) out holds no codes, no output
 * file is left, and the engine is ready for the next job. */
HM_API hm_status hm_engine_generate(hm_engine *engine, const hm_job *job, const hm_job_callbacks *callbacks,
                             hm_generate_result *out);

/* Models loaded by this engine so far (counters for tests and monitoring). */
typedef struct hm_engine_stats {
  int64_t n_jobs, n_lm_loads, n_codec_loads;
  bool lm_loaded, codec_loaded; /* resident now */
  int64_t n_clap_loads;
  bool clap_loaded;
} hm_engine_stats;
HM_API void hm_engine_get_stats(const hm_engine *engine, hm_engine_stats *out);

/* One job on a `staged` engine opened for it: what `heartmula generate` ran before the engine. */
typedef struct hm_generate_params {
  const char *model_path;       /* checkpoint folder (required) */
  const char *version;          /* "3B" */
  const char *lyrics;           /* text, used as given: never opened as a file (the CLI reads --lyrics FILE) */
  const char *tags;             /* comma-separated style tags, text only like lyrics */
  const char *output_path;      /* .wav/.flac/.mp3/.ogg; NULL: codes only (no codec) */
  bool overwrite;               /* false: an existing output_path is an error */
  int64_t max_audio_ms;         /* 240000 */
  int topk;                     /* 50 */
  float temperature;            /* 1.0 */
  float cfg_scale;              /* 1.5 */
  int codec_steps;              /* 10 */
  float codec_guidance;         /* 1.25 */
  uint64_t seed;                /* LM sampler: stream 0, codec noise: stream 1 of this seed */
  int n_threads;                /* <= 0: all cores */
  hm_mula_weights mula_weights; /* HM_MULA_WEIGHTS_BF16 (converted once at load) */
  bool codec_bf16;              /* false (upstream warns bf16 degrades the codec) */
  const int32_t *history;       /* earlier codes [8 x n_history] to continue from, or NULL */
  int64_t n_history;
  bool history_in_output;       /* true: the written audio/codes start with the history */
  hm_stage_progress_callback progress;
  hm_abort_callback abort;      /* polled once per frame / step; abort leaves no output file */
  void *user_data;
  const char *ref_audio_path;   /* reference audio (hm_job.ref_audio_path); NULL: none */
  float ref_strength;           /* 1.0 */
  double ref_seconds;           /* 10 */
  const char *clap_path;        /* MuQ-MuLan folder; NULL: <model_path>/MuQ-MuLan-large */
} hm_generate_params;
HM_API hm_generate_params hm_generate_default_params(void);

HM_API hm_status hm_generate(const hm_generate_params *params, hm_generate_result *out);

/* Codes -> audio file with the codec alone (what `heartmula decode` runs; the same codec stage as a
 * job's): codes [8 x n_frames] codebook-major; params NULL = defaults; the same seed as hm_generate
 * reproduces its audio. The output is checked (extension, folder, existing file) before the decode
 * starts. wav_float: 32-bit float WAV instead of 16-bit (.wav outputs only). */
typedef struct hm_decode_result {
  int64_t n_samples;   /* per channel */
  int sample_rate_hz;
  double t_load_s, t_decode_s, t_write_s;
} hm_decode_result;
HM_API hm_status hm_decode_to_file(const char *codec_dir, const int32_t *codes, int64_t n_frames, const hm_codec_params *params,
                            const char *output_path, bool overwrite, bool wav_float, hm_stage_progress_callback progress,
                            hm_abort_callback abort_cb, void *user_data, hm_decode_result *out);

/* ---- HeartTranscriptor (src/transcriptor) ---- */
/* Whisper-large-v3-style lyrics transcription (Hugging Face layout:
 * config.json, generation_config.json, preprocessor_config.json,
 * model.safetensors in F32/F16/BF16, tokenizer.json). Long audio is cut into
 * 30 s windows with 5 s strides and merged as transformers' ASR pipeline does. */
typedef struct hm_whisper_model hm_whisper_model; /* immutable once loaded; shareable */

typedef struct hm_whisper_params {
  const char *language;   /* "en" (default), any Whisper code ("de", "zh", ...), or "auto"/NULL: detect per window */
  bool translate;         /* task <|translate|> instead of <|transcribe|> (default false) */
  bool timestamps;        /* timestamp tokens -> timed segments (default false, as the HF pipeline) */
  int max_new_tokens;     /* per window; 0 (default) = up to the text context (448 - prompt) */
  double chunk_length_s;  /* 30 */
  double stride_length_s; /* 5 on each side (chunk_length_s / 6, HF's default) */
  int n_threads;          /* 0 (default) = all cores */
  bool temperature_fallback; /* whisper.cpp-style: re-decode a window whose last 32 tokens loop (entropy < 2.4)
                              * or whose mean token log-prob is < -1, sampling at 0.2, 0.4, ... 1.0
                              * (default false: greedy only, as the HF pipeline) */
  uint64_t seed;          /* RNG seed for the fallback's sampling (default 0) */
} hm_whisper_params;
HM_API hm_whisper_params hm_whisper_default_params(void);

typedef struct hm_transcript_segment {
  double start_s, end_s; /* in the input's time */
  char *text;            /* UTF-8 */
  int32_t *tokens;       /* text token ids */
  int n_tokens;
} hm_transcript_segment;

typedef struct hm_transcript {
  char *text;            /* all segments' text, concatenated */
  char language[16];     /* language code used ("en"); "" for English-only models */
  double duration_s;
  hm_transcript_segment *segments;
  int n_segments;        /* without timestamps: one segment covering the whole input */
} hm_transcript;

HM_API hm_status hm_whisper_load(const char *dir, hm_whisper_model **out);
HM_API void hm_whisper_free(hm_whisper_model *model);
/* The rate the model wants (16000): hm_whisper_transcribe takes mono PCM at this rate. */
HM_API int hm_whisper_sample_rate(const hm_whisper_model *model);
/* progress counts windows. params NULL: defaults. Free *out with hm_transcript_free. */
HM_API hm_status hm_whisper_transcribe(const hm_whisper_model *model, const float *pcm16k, int64_t n_samples,
                                const hm_whisper_params *params, hm_progress_callback progress,
                                hm_abort_callback abort_cb, void *user_data, hm_transcript **out);
/* Reads any audio file libsndfile reads, downmixes and resamples it, then transcribes. */
HM_API hm_status hm_whisper_transcribe_file(const hm_whisper_model *model, const char *path,
                                     const hm_whisper_params *params, hm_progress_callback progress,
                                     hm_abort_callback abort_cb, void *user_data, hm_transcript **out);
HM_API void hm_transcript_free(hm_transcript *t);
/* Renders a transcript as "txt", "lrc" ([mm:ss.xx] lines), "srt", "vtt" or "json"
 * ({"text", "segments": [{"start", "end", "text", "tokens"}]}). *out is malloc'ed. */
HM_API hm_status hm_transcript_format(const hm_transcript *t, const char *format, char **out);

/* ---- HeartCLAP (src/clap) ---- */
/* MuQ-MuLan (tencent-ailab/MuQ; Hugging Face OpenMuQ/MuQ-MuLan-large): 512-d
 * joint audio-text embeddings, the space of HeartMuLa's "muq" prompt slot.
 * Folder: config.json (MuQMuLanConfig, possibly under "config"), model.safetensors
 * (MuQMuLan.state_dict() names), optional muq_config.json / xlmr_config.json, and
 * xlm-roberta-base's sentencepiece.bpe.model (in the folder, tokenizer/,
 * ../tokenizer/ or xlm-roberta-base/) for text. Embeddings are l2-normalised
 * (an audio one longer than 10 s is the mean of its clips' unit vectors, as
 * upstream), so a dot product (hm_clap_similarity) is the similarity.
 * Calls on one model serialise on its lock (its thread pool is shared). */
typedef struct hm_clap_model hm_clap_model;

typedef struct hm_clap_params {
  int n_threads;  /* 0 (default) = all cores */
  bool load_text; /* load the text tower (default true) */
} hm_clap_params;
HM_API hm_clap_params hm_clap_default_params(void);

/* params NULL: defaults. */
HM_API hm_status hm_clap_load(const char *dir, const hm_clap_params *params, hm_clap_model **out);
HM_API void hm_clap_free(hm_clap_model *model);
HM_API int hm_clap_dim(const hm_clap_model *model);         /* 512 */
HM_API int hm_clap_sample_rate(const hm_clap_model *model); /* 24000 */
/* Mono PCM at hm_clap_sample_rate (at least 1 s, not silent) -> out[dim]. Cut
 * into 10 s clips, the tail wrapping to the start (upstream's _get_all_clips). */
HM_API hm_status hm_clap_embed_audio(const hm_clap_model *model, const float *pcm, int64_t n_samples, float *out);
/* Any audio file the library reads: downmixed, resampled to 24 kHz, embedded. */
HM_API hm_status hm_clap_embed_audio_file(const hm_clap_model *model, const char *path, float *out);
/* One text alone (no padding) -> out[dim]. */
HM_API hm_status hm_clap_embed_text(const hm_clap_model *model, const char *text, float *out);
/* Upstream's batched semantics: the texts right-padded to the longest one; MuLan's
 * text transformer and mean see the padding, so a text's embedding depends on the
 * batch (hm_clap_embed_text is the batch-independent one). out[n_texts * dim]. */
HM_API hm_status hm_clap_embed_texts_batched(const hm_clap_model *model, const char *const *texts, int n_texts,
                                             float *out);
/* XLM-R ids of a text ("<s> pieces </s>"); *ids malloc'ed (hm_free). */
HM_API hm_status hm_clap_tokenize(const hm_clap_model *model, const char *text, int32_t **ids, int64_t *n_ids);
/* The reference-audio embedding for HeartMuLa's muq slot (what hm_job.ref_audio_path runs): the centre
 * `seconds` of mono PCM at hm_clap_sample_rate (zero-padded at the end when shorter; the input must hold at
 * least 1 s and not be silent) embedded as hm_clap_embed_audio does. seconds <= 0: 10. */
HM_API hm_status hm_clap_embed_reference(const hm_clap_model *model, const float *pcm, int64_t n_samples,
                                         double seconds, float *out);
/* The same from any audio file the library reads (downmixed, resampled to 24 kHz). */
HM_API hm_status hm_clap_embed_reference_file(const hm_clap_model *model, const char *path, double seconds,
                                              float *out);
/* Dot product of two embeddings. */
HM_API float hm_clap_similarity(const float *a, const float *b, int dim);

#ifdef __cplusplus
}
#endif
#endif /* HEARTMULA_H */
