/* hm_generate and hm_decode_to_file: thin users of the engine. hm_generate is
 * one job on a `staged` engine (as upstream's HeartMuLaGenPipeline with
 * lazy_load: the LM is freed before the codec is loaded, so peak memory is the
 * larger of the two, not their sum); hm_decode_to_file is a job's codec stage
 * on codes that are all known. */
#include "engine/engine_internal.h"

#include <stdlib.h>

hm_generate_params hm_generate_default_params(void) {
  /* the job's defaults are the engine's (hm_job_default): one place for upstream's values */
  const hm_job j = hm_job_default();
  const hm_engine_params e = hm_engine_default_params();
  return (hm_generate_params){.version = e.version, .max_audio_ms = j.max_audio_ms, .topk = j.topk,
                              .temperature = j.temperature, .cfg_scale = j.cfg_scale, .codec_steps = j.codec_steps,
                              .codec_guidance = j.codec_guidance, .mula_weights = e.mula_weights,
                              .ref_strength = j.ref_strength, .ref_seconds = j.ref_seconds};
}

hm_status hm_generate(const hm_generate_params *p, hm_generate_result *out) {
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_generate: out must not be NULL");
  memset(out, 0, sizeof *out);
  int64_t t_start = hm_time_us();
  if (!p || !p->model_path) return hm_error(HM_ERR_INVALID_ARG, "model_path is required");
  if (!p->lyrics || !p->tags) return hm_error(HM_ERR_INVALID_ARG, "lyrics and tags are required");
  /* every field of the engine's params and of the job comes from p (or is the default, zero) */
  const hm_engine_params ep = {.version = p->version, .memory = HM_ENGINE_STAGED, .n_threads = p->n_threads,
                               .mula_weights = p->mula_weights, .codec_bf16 = p->codec_bf16,
                               .require_codec = p->output_path != NULL, .clap_path = p->clap_path};
  const hm_job j = {.lyrics = p->lyrics, .tags = p->tags, .max_audio_ms = p->max_audio_ms, .topk = p->topk,
                    .temperature = p->temperature, .cfg_scale = p->cfg_scale, .codec_steps = p->codec_steps,
                    .codec_guidance = p->codec_guidance, .seed = p->seed, .history = p->history,
                    .n_history = p->n_history, .history_in_output = p->history_in_output,
                    .output_path = p->output_path, .overwrite = p->overwrite,
                    .ref_audio_path = p->ref_audio_path, .ref_strength = p->ref_strength,
                    .ref_seconds = p->ref_seconds};
  hm_job_callbacks cb = {.progress = p->progress, .abort = p->abort, .user_data = p->user_data};
  hm_engine *e = NULL;
  HM_TRY(hm_engine_open(p->model_path, &ep, &e));
  hm_status st = hm_engine_generate(e, &j, &cb, out);
  hm_engine_close(e);
  if (st == HM_OK) out->t_total_s = (double)(hm_time_us() - t_start) * 1e-6;
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
  HM_TRY(eng_check_output(output_path, overwrite, wav_float));
  hm_codec_params cp = params ? *params : hm_codec_default_params();
  int64_t t0 = hm_time_us();
  hm_codec_model *codec = NULL;
  HM_TRY(hm_codec_load(codec_dir, &cp, &codec));
  int64_t t1 = hm_time_us();
  hm_status st = cx_codes_check(codec, codes, n_frames, n_frames);
  hm_job_callbacks cb = {progress, abort_cb, NULL, user_data, NULL};
  eng_codec c;
  eng_codec_init(&c, &cb);
  if (st == HM_OK) {
    st = eng_codec_begin(&c, codec, &cp, output_path, overwrite, wav_float, NULL);
    c.codes = (int32_t *)codes; /* read only */
    c.stride = c.n_cap = c.n_known = n_frames;
    c.final = true;
    c.clamp_checked = true; /* checked (and warned about) above */
    if (st == HM_OK) st = eng_codec_run(&c);
    st = eng_codec_end(&c, st);
  }
  eng_codec_destroy(&c);
  r.sample_rate_hz = hm_codec_sample_rate(codec);
  hm_codec_free(codec);
  r.t_load_s = (double)(t1 - t0) * 1e-6;
  r.t_write_s = (double)c.t_write_us * 1e-6;
  r.t_decode_s = (double)c.t_codec_us * 1e-6;
  if (st == HM_OK) r.n_samples = c.n_samples;
  if (out) *out = r;
  return st;
}
