/* The main job: lyrics + tags -> prompt rows -> HeartMuLa codes -> HeartCodec
 * waveform -> audio file, as upstream's HeartMuLaGenPipeline with lazy_load:
 * the LM is freed before the codec is loaded, so peak memory is the larger of
 * the two, not their sum. */
#include "base/base.h"
#include "io/audio.h"
#include "io/json.h"
#include "text/prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

hm_generate_params hm_generate_default_params(void) {
  hm_generate_params p;
  memset(&p, 0, sizeof p);
  p.version = "3B";
  p.max_audio_ms = 240000;
  p.topk = 50;
  p.temperature = 1.0f;
  p.cfg_scale = 1.5f;
  p.codec_steps = 10;
  p.codec_guidance = 1.25f;
  p.mula_weights = HM_MULA_WEIGHTS_BF16;
  return p;
}

void hm_generate_result_free(hm_generate_result *r) {
  if (!r) return;
  free(r->codes);
  memset(r, 0, sizeof *r);
}

/* An output path must have a known extension, an existing folder, and must not
 * exist unless overwrite: checked before any long work starts. */
static hm_status check_output(const char *path, bool overwrite) {
  const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
  static const char *const exts[] = {".wav", ".flac", ".mp3", ".ogg", ".oga"};
  bool known = false;
  for (size_t i = 0; dot && (!slash || dot > slash) && i < sizeof exts / sizeof exts[0]; i++)
    known = known || !strcasecmp(dot, exts[i]);
  if (!known) return hm_error(HM_ERR_INVALID_ARG, "output '%s': unknown extension (use .wav, .flac, .mp3 or .ogg)", path);
  if (slash) {
    char dir[4096];
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) return hm_error(HM_ERR_INVALID_ARG, "output path too long");
    memcpy(dir, path, n);
    dir[n ? n : 1] = 0;
    if (n == 0) dir[0] = '/';
    if (!hm_dir_exists(dir)) return hm_error(HM_ERR_IO, "output '%s': folder '%s' does not exist", path, dir);
  }
  if (!overwrite && hm_file_exists(path))
    return hm_error(HM_ERR_IO, "output '%s' already exists (pass overwrite / --overwrite to replace it)", path);
  return HM_OK;
}

typedef struct progress_bridge {
  const hm_generate_params *p;
  hm_stage stage;
} progress_bridge;

static void bridge_progress(void *ud, int64_t done, int64_t total) {
  progress_bridge *b = ud;
  if (b->p->progress) b->p->progress(b->p->user_data, b->stage, done, total);
}

static bool bridge_abort(void *ud) {
  progress_bridge *b = ud;
  return b->p->abort && b->p->abort(b->p->user_data);
}

/* The codec stage: load, decode, free, write (temporary name, then renamed). */
static hm_status decode_and_write(const char *codec_dir, const int32_t *codes, int64_t n_frames, const hm_codec_params *cp,
                                  const char *out_path, bool overwrite, hm_audio_format fmt, progress_bridge *bridge,
                                  hm_decode_result *r) {
  int64_t t0 = hm_time_us();
  hm_codec_model *codec = NULL;
  HM_TRY(hm_codec_load(codec_dir, cp, &codec));
  int64_t t1 = hm_time_us();
  float *wav = NULL;
  int64_t ns = 0;
  bridge->stage = HM_STAGE_CODEC;
  hm_status st = hm_codec_decode(codec, codes, n_frames, cp, bridge_progress, bridge_abort, bridge, &wav, &ns);
  int rate = hm_codec_sample_rate(codec);
  hm_codec_free(codec);
  int64_t t2 = hm_time_us();
  if (st == HM_OK) {
    bridge->stage = HM_STAGE_WRITE;
    const float *ch[2] = {wav, wav + ns};
    st = hm_audio_write(out_path, fmt, ch, 2, ns, rate, overwrite);
  }
  free(wav);
  r->t_load_s = (double)(t1 - t0) * 1e-6;
  r->t_decode_s = (double)(t2 - t1) * 1e-6;
  r->t_write_s = (double)(hm_time_us() - t2) * 1e-6;
  r->sample_rate_hz = rate;
  if (st == HM_OK) r->n_samples = ns;
  return st;
}

hm_status hm_decode_to_file(const char *codec_dir, const int32_t *codes, int64_t n_frames, const hm_codec_params *params,
                            const char *output_path, bool overwrite, bool wav_float, hm_stage_progress_callback progress,
                            hm_abort_callback abort_cb, void *user_data, hm_decode_result *out) {
  hm_decode_result r;
  memset(&r, 0, sizeof r);
  if (out) *out = r;
  if (!codec_dir || !codes || !output_path)
    return hm_error(HM_ERR_INVALID_ARG, "hm_decode_to_file: codec_dir, codes and output_path are required");
  if (n_frames <= 0) return hm_error(HM_ERR_INVALID_ARG, "codes: no frames to decode");
  HM_TRY(check_output(output_path, overwrite));
  const char *dot = strrchr(output_path, '.');
  if (wav_float && strcasecmp(dot, ".wav") != 0)
    return hm_error(HM_ERR_INVALID_ARG, "output '%s': float WAV needs a .wav file", output_path);
  hm_codec_params cp = params ? *params : hm_codec_default_params();
  hm_generate_params gp = hm_generate_default_params();
  gp.progress = progress;
  gp.abort = abort_cb;
  gp.user_data = user_data;
  progress_bridge bridge = {&gp, HM_STAGE_CODEC};
  hm_status st = decode_and_write(codec_dir, codes, n_frames, &cp, output_path, overwrite,
                                  wav_float ? HM_AUDIO_WAV_FLOAT : HM_AUDIO_AUTO, &bridge, &r);
  if (out) *out = r;
  return st;
}

static hm_status need(const char *path, bool dir, const char *what, const char *model_path) {
  if (dir ? hm_dir_exists(path) : hm_file_exists(path)) return HM_OK;
  return hm_error(HM_ERR_IO,
                  "%s not found at '%s'. Expected layout: %s/{HeartMuLa-oss-<version>/, HeartCodec-oss/, tokenizer.json, "
                  "gen_config.json} (see README: downloading the checkpoints)",
                  what, path, model_path);
}

static bool blank(const char *s) {
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
  return true;
}

hm_status hm_generate(const hm_generate_params *p, hm_generate_result *out) {
  memset(out, 0, sizeof *out);
  int64_t t_start = hm_time_us();
  if (!p || !p->model_path) return hm_error(HM_ERR_INVALID_ARG, "model_path is required");
  if (!p->lyrics || !p->tags) return hm_error(HM_ERR_INVALID_ARG, "lyrics and tags are required");
  if (blank(p->lyrics)) return hm_error(HM_ERR_INVALID_ARG, "lyrics are empty");
  if (p->max_audio_ms <= 0) return hm_error(HM_ERR_INVALID_ARG, "max_audio_ms must be positive (got %lld)", (long long)p->max_audio_ms);
  if (p->topk < 1) return hm_error(HM_ERR_INVALID_ARG, "topk must be >= 1 (got %d)", p->topk);
  if (!(p->temperature > 0)) return hm_error(HM_ERR_INVALID_ARG, "temperature must be > 0 (got %g)", p->temperature);
  if (!(p->cfg_scale > 0)) return hm_error(HM_ERR_INVALID_ARG, "cfg_scale must be > 0 (got %g)", p->cfg_scale);
  if (p->output_path && p->codec_steps < 1) return hm_error(HM_ERR_INVALID_ARG, "codec_steps must be >= 1 (got %d)", p->codec_steps);
  if (p->n_history < 0 || (p->n_history > 0 && !p->history)) return hm_error(HM_ERR_INVALID_ARG, "history: %lld frames but no codes", (long long)p->n_history);
  if (p->output_path) HM_TRY(check_output(p->output_path, p->overwrite));

  const char *version = p->version && *p->version ? p->version : "3B";
  char mula_dir[4096], codec_dir[4096], tok_path[4096], gen_path[4096], sub[256];
  snprintf(sub, sizeof sub, "HeartMuLa-oss-%s", version);
  HM_TRY(hm_path_join(mula_dir, sizeof mula_dir, p->model_path, sub));
  HM_TRY(hm_path_join(codec_dir, sizeof codec_dir, p->model_path, "HeartCodec-oss"));
  HM_TRY(hm_path_join(tok_path, sizeof tok_path, p->model_path, "tokenizer.json"));
  HM_TRY(hm_path_join(gen_path, sizeof gen_path, p->model_path, "gen_config.json"));
  if (!hm_dir_exists(p->model_path)) return hm_error(HM_ERR_IO, "model path '%s' is not a folder", p->model_path);
  HM_TRY(need(mula_dir, true, "the HeartMuLa checkpoint", p->model_path));
  if (p->output_path) HM_TRY(need(codec_dir, true, "the HeartCodec checkpoint", p->model_path));
  HM_TRY(need(tok_path, false, "tokenizer.json", p->model_path));
  HM_TRY(need(gen_path, false, "gen_config.json", p->model_path));

  progress_bridge bridge = {p, HM_STAGE_LOAD};
  hm_status st;
  /* text -> prompt rows */
  hm_prompt_params pp = hm_prompt_default_params();
  HM_TRY(hm_prompt_params_load(gen_path, &pp));
  hm_tokenizer *tok = NULL;
  HM_TRY(hm_tokenizer_load(tok_path, &tok));
  hm_prompt prompt;
  memset(&prompt, 0, sizeof prompt);
  st = hm_prompt_build(tok, p->tags, p->lyrics, &pp, &prompt);
  hm_tokenizer_free(tok);
  if (st != HM_OK) return st;

  /* LM */
  int64_t t0 = hm_time_us();
  hm_mula_params mp = hm_mula_default_params();
  mp.n_threads = p->n_threads;
  mp.weights = p->mula_weights;
  hm_mula_model *mula = NULL;
  hm_mula_context *ctx = NULL;
  int32_t *codes = NULL;
  int64_t n_frames = 0;
  st = hm_mula_load(mula_dir, &mp, &mula);
  if (st == HM_OK) {
    hm_mula_context_params cp = hm_mula_context_default_params();
    cp.n_threads = p->n_threads;
    st = hm_mula_context_create(mula, &cp, &ctx);
  }
  int64_t t1 = hm_time_us();
  if (st == HM_OK) {
    hm_mula_gen_params gp = hm_mula_default_gen_params();
    gp.topk = p->topk;
    gp.temperature = p->temperature;
    gp.cfg_scale = p->cfg_scale;
    gp.max_audio_ms = p->max_audio_ms;
    gp.seed = p->seed;
    gp.progress = bridge_progress;
    gp.abort = bridge_abort;
    gp.user_data = &bridge;
    bridge.stage = HM_STAGE_LM;
    const int32_t *mask = NULL;
    int32_t *mask32 = malloc((size_t)(prompt.n_rows * prompt.n_cols) * sizeof *mask32);
    if (!mask32) st = hm_error(HM_ERR_NOMEM, "out of memory");
    else {
      for (int64_t i = 0; i < prompt.n_rows * prompt.n_cols; i++) mask32[i] = prompt.mask[i];
      mask = mask32;
      st = hm_mula_generate(ctx, prompt.tokens, mask, prompt.n_rows, prompt.muq_idx, &gp, p->history, p->n_history,
                            &codes, &n_frames);
    }
    free(mask32);
  }
  hm_mula_context_free(ctx);
  hm_mula_free(mula); /* staged: the LM's memory goes before the codec's comes */
  hm_prompt_free(&prompt);
  int64_t t2 = hm_time_us();
  out->t_load_lm_s = (double)(t1 - t0) * 1e-6;
  out->t_lm_s = (double)(t2 - t1) * 1e-6;
  if (st != HM_OK) { free(codes); return st; }

  /* history first, when asked */
  if (p->history_in_output && p->n_history > 0) {
    int64_t n = p->n_history + n_frames;
    int32_t *all = malloc((size_t)(8 * (n ? n : 1)) * sizeof *all);
    if (!all) { free(codes); return hm_error(HM_ERR_NOMEM, "out of memory"); }
    for (int q = 0; q < 8; q++) {
      memcpy(all + q * n, p->history + q * p->n_history, (size_t)p->n_history * sizeof *all);
      if (n_frames) memcpy(all + q * n + p->n_history, codes + q * n_frames, (size_t)n_frames * sizeof *all);
    }
    free(codes);
    codes = all;
    n_frames = n;
  }
  out->codes = codes;
  out->n_frames = n_frames;

  if (p->output_path) {
    if (n_frames == 0) {
      hm_generate_result_free(out);
      return hm_error(HM_ERR_INTERNAL, "the model ended the song at its first frame: no audio to write (try another seed)");
    }
    hm_codec_params cp = hm_codec_default_params();
    cp.steps = p->codec_steps;
    cp.guidance = p->codec_guidance;
    cp.seed = p->seed;
    cp.n_threads = p->n_threads;
    cp.bf16_weights = p->codec_bf16;
    hm_decode_result dr;
    memset(&dr, 0, sizeof dr);
    st = decode_and_write(codec_dir, out->codes, n_frames, &cp, p->output_path, p->overwrite, HM_AUDIO_AUTO, &bridge, &dr);
    out->t_load_codec_s = dr.t_load_s;
    out->t_codec_s = dr.t_decode_s;
    out->t_write_s = dr.t_write_s;
    out->n_samples = dr.n_samples;
    if (st != HM_OK) { hm_generate_result_free(out); return st; }
  }
  out->t_total_s = (double)(hm_time_us() - t_start) * 1e-6;
  out->peak_rss_bytes = (int64_t)hm_peak_rss_bytes();
  return HM_OK;
}
