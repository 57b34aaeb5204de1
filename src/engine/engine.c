/* The long-lived engine: a checkpoint folder checked once, models loaded once
 * (`keep`) or per job (`staged`), and jobs run as
 *   text -> prompt rows -> LM codes -> codec windows -> file and/or on_audio.
 * A streaming job runs the codec on a worker thread beside the LM: window k
 * is decoded as soon as the LM has made codes [320k, 320k + 372), and its
 * final samples go out at once. A non-streaming job runs the same codec loop
 * on the calling thread after the LM, so both give the same samples.
 * All state lives in the engine or in the job's run record (no globals). */
#include "engine/engine_internal.h"
#include "codec/codec_stream.h"
#include "io/fs.h"
#include "mula/mula.h"
#include "text/prompt.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define HM_JOB_MAX_AUDIO_MS 3600000 /* one hour: far past any checkpoint's context */
#define HM_REF_SECONDS 10.0         /* the reference clip: one MuQ-MuLan clip */
#define HM_REF_MAX_STRENGTH 10.0f   /* the community nodes' range: 0..10 */
#define HM_CLAP_FOLDER "MuQ-MuLan-large" /* beside HeartMuLa-oss-<version>/ and HeartCodec-oss/ */

struct hm_engine {
  char *model_path;
  char mula_dir[4096], codec_dir[4096], tok_path[4096], gen_path[4096], clap_dir[4096];
  char version[128];
  hm_engine_params params;
  bool has_codec;
  int n_codebooks;           /* the LM's (config.json audio_num_codebooks): rows of every codes array */
  int muq_dim;               /* the LM's muq slot (config.json muq_dim) */
  bool has_clap;             /* a MuQ-MuLan folder (or a borrowed model) for reference audio */
  hm_tokenizer *tok;
  hm_prompt_params pp;
  const hm_mula_model *mula; /* loaded here (mula_owned) or borrowed */
  hm_mula_model *mula_owned;
  hm_mula_context *ctx;
  const hm_codec_model *codec; /* loaded here (codec_owned) or borrowed */
  hm_codec_model *codec_owned;
  cx_stream *cs_cache;       /* keep: the codec's pool and window scratch, reused by the next job */
  const hm_clap_model *clap; /* loaded here (clap_owned) or borrowed */
  hm_clap_model *clap_owned;
  hm_engine_stats stats;
};

hm_engine_params hm_engine_default_params(void) {
  return (hm_engine_params){.version = "3B", .memory = HM_ENGINE_KEEP, .mula_weights = HM_MULA_WEIGHTS_BF16,
                            .require_codec = true};
}

hm_job hm_job_default(void) {
  /* upstream's values have one owner each: the LM's and the codec's default params */
  const hm_mula_gen_params g = hm_mula_default_gen_params();
  const hm_codec_params c = hm_codec_default_params();
  return (hm_job){.tags = "", .max_audio_ms = g.max_audio_ms, .topk = g.topk, .temperature = g.temperature,
                  .cfg_scale = g.cfg_scale, .codec_steps = c.steps, .codec_guidance = c.guidance,
                  .ref_strength = 1.0f, .ref_seconds = HM_REF_SECONDS};
}

void hm_generate_result_free(hm_generate_result *r) {
  if (!r) return;
  free(r->codes);
  memset(r, 0, sizeof *r);
}

/* ---- opening ---- */

static hm_status need(const char *path, bool dir, const char *what, const char *model_path) {
  if (dir ? hm_dir_exists(path) : hm_file_exists(path)) return HM_OK;
  return hm_error(HM_ERR_IO,
                  "%s not found at '%s'. Expected layout: %s/{HeartMuLa-oss-<version>/, HeartCodec-oss/, tokenizer.json, "
                  "gen_config.json} (see README: downloading the checkpoints)",
                  what, path, model_path);
}

hm_status hm_engine_open(const char *model_path, const hm_engine_params *params, hm_engine **out) {
  if (out) *out = NULL;
  if (!out) return hm_error(HM_ERR_INVALID_ARG, "hm_engine_open: out must not be NULL");
  if (!model_path || !*model_path) return hm_error(HM_ERR_INVALID_ARG, "model_path is required");
  hm_engine_params p = params ? *params : hm_engine_default_params();
  if (p.memory != HM_ENGINE_KEEP && p.memory != HM_ENGINE_STAGED)
    return hm_error(HM_ERR_INVALID_ARG, "memory = %d: use HM_ENGINE_KEEP or HM_ENGINE_STAGED", (int)p.memory);
  const char *version = p.version && *p.version ? p.version : "3B";
  if (strlen(version) > 100 || strchr(version, '/'))
    return hm_error(HM_ERR_INVALID_ARG, "version '%s' is not a folder suffix", version);
  if (!hm_dir_exists(model_path)) return hm_error(HM_ERR_IO, "model path '%s' is not a folder", model_path);
  hm_engine *e = calloc(1, sizeof *e);
  if (!e) return hm_error(HM_ERR_NOMEM, "out of memory");
  hm_status st = HM_OK;
  char sub[160];
  snprintf(e->version, sizeof e->version, "%s", version);
  snprintf(sub, sizeof sub, "HeartMuLa-oss-%s", version);
  e->model_path = malloc(strlen(model_path) + 1);
  if (!e->model_path) { st = hm_error(HM_ERR_NOMEM, "out of memory"); goto fail; }
  strcpy(e->model_path, model_path);
  e->params = p;
  e->params.version = e->version;
  if ((st = hm_path_join(e->mula_dir, sizeof e->mula_dir, model_path, sub))) goto fail;
  if ((st = hm_path_join(e->codec_dir, sizeof e->codec_dir, model_path, "HeartCodec-oss"))) goto fail;
  if ((st = hm_path_join(e->tok_path, sizeof e->tok_path, model_path, "tokenizer.json"))) goto fail;
  if ((st = hm_path_join(e->gen_path, sizeof e->gen_path, model_path, "gen_config.json"))) goto fail;
  if (!p.mula_model && (st = need(e->mula_dir, true, "the HeartMuLa checkpoint", model_path))) goto fail;
  e->has_codec = p.codec_model || hm_dir_exists(e->codec_dir);
  if (p.require_codec && (st = need(e->codec_dir, true, "the HeartCodec checkpoint", model_path))) goto fail;
  if ((st = need(e->tok_path, false, "tokenizer.json", model_path))) goto fail;
  if ((st = need(e->gen_path, false, "gen_config.json", model_path))) goto fail;
  if (!p.mula_model) {
    char cfg[4200];
    if ((st = hm_path_join(cfg, sizeof cfg, e->mula_dir, "config.json"))) goto fail;
    if ((st = need(cfg, false, "the HeartMuLa config.json", model_path))) goto fail;
    hm_mula_config mc;
    if ((st = hm_mula_config_load(cfg, &mc))) goto fail;
    e->n_codebooks = mc.audio_num_codebooks;
    e->muq_dim = mc.muq_dim;
  } else {
    hm_mula_info mi;
    hm_mula_get_info(p.mula_model, &mi);
    e->n_codebooks = mi.n_codebooks;
    e->muq_dim = mi.muq_dim;
  }
  /* MuQ-MuLan for reference audio: a borrowed model, the folder named, or <model_path>/MuQ-MuLan-large */
  if (p.clap_path && *p.clap_path) {
    if (strlen(p.clap_path) >= sizeof e->clap_dir) { st = hm_error(HM_ERR_INVALID_ARG, "clap_path is too long"); goto fail; }
    snprintf(e->clap_dir, sizeof e->clap_dir, "%s", p.clap_path);
    if (!p.clap_model && !hm_dir_exists(e->clap_dir)) {
      st = hm_error(HM_ERR_IO, "MuQ-MuLan model folder '%s' (clap_path) does not exist", e->clap_dir);
      goto fail;
    }
  } else if ((st = hm_path_join(e->clap_dir, sizeof e->clap_dir, model_path, HM_CLAP_FOLDER))) {
    goto fail;
  }
  e->params.clap_path = e->clap_dir;
  e->has_clap = p.clap_model || hm_dir_exists(e->clap_dir);
  if (p.clap_model && hm_clap_dim(p.clap_model) != e->muq_dim) {
    st = hm_error(HM_ERR_FORMAT, "the MuQ-MuLan model (clap_model) gives %d-d embeddings (hm_clap_dim), the LM's muq slot "
                  "takes %d (config.json muq_dim)", hm_clap_dim(p.clap_model), e->muq_dim);
    goto fail;
  }
  if (e->has_codec && !p.codec_model) {
    char cfg[4200];
    if ((st = hm_path_join(cfg, sizeof cfg, e->codec_dir, "config.json"))) goto fail;
    if ((st = need(cfg, false, "the HeartCodec config.json", model_path))) goto fail;
  }
  e->pp = hm_prompt_default_params();
  if ((st = hm_prompt_params_load(e->gen_path, &e->pp))) goto fail;
  if ((st = hm_tokenizer_load(e->tok_path, &e->tok))) goto fail;
  e->mula = p.mula_model;
  e->codec = p.codec_model;
  e->clap = p.clap_model;
  *out = e;
  return HM_OK;
fail:
  hm_engine_close(e);
  return st;
}

/* Frees what this engine loaded (a borrowed model stays) and the scratch kept with it. */
static void drop_lm(hm_engine *e) {
  hm_mula_context_free(e->ctx);
  e->ctx = NULL;
  if (e->mula_owned) e->mula = NULL;
  hm_mula_free(e->mula_owned);
  e->mula_owned = NULL;
}

static void drop_codec(hm_engine *e) {
  cx_stream_free(e->cs_cache);
  e->cs_cache = NULL;
  if (e->codec_owned) e->codec = NULL;
  hm_codec_free(e->codec_owned);
  e->codec_owned = NULL;
}

static void drop_clap(hm_engine *e) {
  if (e->clap_owned) e->clap = NULL;
  hm_clap_free(e->clap_owned);
  e->clap_owned = NULL;
}

void hm_engine_close(hm_engine *e) {
  if (!e) return;
  drop_clap(e);
  drop_lm(e);
  drop_codec(e); /* frees the cached codec stream too, also a borrowed codec's */
  hm_tokenizer_free(e->tok);
  free(e->model_path);
  free(e);
}

void hm_engine_get_stats(const hm_engine *e, hm_engine_stats *out) {
  if (!out) return;
  memset(out, 0, sizeof *out);
  if (!e) return;
  *out = e->stats;
  out->lm_loaded = e->mula != NULL;
  out->codec_loaded = e->codec != NULL;
  out->clap_loaded = e->clap != NULL;
}

/* ---- loading (counted) ---- */

static void user_progress(eng_codec *c, hm_stage stage, int64_t done, int64_t total);

static hm_status ensure_lm(hm_engine *e, eng_codec *c, hm_generate_result *r) {
  int64_t t0 = hm_time_us();
  if (!e->mula) {
    user_progress(c, HM_STAGE_LOAD, 0, 1);
    hm_mula_params mp = hm_mula_default_params();
    mp.n_threads = e->params.n_threads;
    mp.weights = e->params.mula_weights;
    HM_TRY(hm_mula_load(e->mula_dir, &mp, &e->mula_owned));
    e->mula = e->mula_owned;
    e->stats.n_lm_loads++;
    r->n_lm_loads++;
    user_progress(c, HM_STAGE_LOAD, 1, 1);
  }
  if (!e->ctx) {
    hm_mula_context_params cp = hm_mula_context_default_params();
    cp.n_threads = e->params.n_threads;
    HM_TRY(hm_mula_context_create(e->mula, &cp, &e->ctx));
  }
  r->t_load_lm_s += (double)(hm_time_us() - t0) * 1e-6;
  return HM_OK;
}

static hm_status no_clap(const hm_engine *e) {
  return hm_error(HM_ERR_IO,
                  "reference audio needs a MuQ-MuLan model: none at '%s' (put OpenMuQ/MuQ-MuLan-large there as "
                  "safetensors, or pass clap_path / --clap DIR)", e->clap_dir);
}

static hm_status ensure_clap(hm_engine *e, eng_codec *c, hm_generate_result *r) {
  if (e->clap) return HM_OK;
  if (!e->has_clap) return no_clap(e);
  int64_t t0 = hm_time_us();
  user_progress(c, HM_STAGE_LOAD, 0, 1);
  hm_clap_params cp = hm_clap_default_params();
  cp.n_threads = e->params.n_threads;
  cp.load_text = false; /* the muq slot takes the audio embedding only */
  HM_TRY(hm_clap_load(e->clap_dir, &cp, &e->clap_owned));
  e->clap = e->clap_owned;
  e->stats.n_clap_loads++;
  r->n_clap_loads++;
  if (hm_clap_dim(e->clap) != e->muq_dim) { /* not kept: every job that needs it gets this error */
    hm_status st = hm_error(HM_ERR_FORMAT, "%s: the MuQ-MuLan model gives %d-d embeddings (hm_clap_dim), the LM's muq "
                            "slot takes %d (%s/config.json muq_dim)", e->clap_dir, hm_clap_dim(e->clap), e->muq_dim,
                            e->mula_dir);
    drop_clap(e);
    return st;
  }
  user_progress(c, HM_STAGE_LOAD, 1, 1);
  r->t_load_clap_s += (double)(hm_time_us() - t0) * 1e-6;
  return HM_OK;
}

/* The muq slot's embedding for a job with reference audio or a given embedding (else *out = NULL):
 * ref_strength x the embedding, malloc'ed [muq_dim]. */
static hm_status ref_embedding(hm_engine *e, const hm_job *j, eng_codec *c, hm_generate_result *r, float **out) {
  *out = NULL;
  if (!j->ref_audio_path && !j->ref_embedding) return HM_OK;
  float *v = malloc(sizeof(float) * (size_t)e->muq_dim);
  if (!v) return hm_error(HM_ERR_NOMEM, "out of memory");
  hm_status st = HM_OK;
  if (j->ref_audio_path) {
    st = ensure_clap(e, c, r);
    int64_t t0 = hm_time_us();
    if (st == HM_OK) st = hm_clap_embed_reference_file(e->clap, j->ref_audio_path, j->ref_seconds, v);
    r->t_ref_s += (double)(hm_time_us() - t0) * 1e-6;
    if (e->params.memory == HM_ENGINE_STAGED) drop_clap(e); /* staged: gone before the LM comes */
  } else {
    memcpy(v, j->ref_embedding, sizeof(float) * (size_t)e->muq_dim);
    for (int i = 0; i < e->muq_dim && st == HM_OK; i++)
      if (!isfinite(v[i])) st = hm_error(HM_ERR_INVALID_ARG, "ref_embedding[%d] is not a finite number", i);
  }
  if (st != HM_OK) {
    free(v);
    return st;
  }
  for (int i = 0; i < e->muq_dim; i++) v[i] *= j->ref_strength;
  *out = v;
  return HM_OK;
}

static hm_codec_params codec_params(const hm_engine *e, const hm_job *j) {
  hm_codec_params cp = hm_codec_default_params();
  cp.steps = j ? j->codec_steps : cp.steps;
  cp.guidance = j ? j->codec_guidance : cp.guidance;
  cp.seed = j ? j->seed : 0;
  cp.n_threads = e->params.n_codec_threads > 0 ? e->params.n_codec_threads : e->params.n_threads;
  cp.bf16_weights = e->params.codec_bf16;
  return cp;
}

static hm_status ensure_codec(hm_engine *e, eng_codec *c, hm_generate_result *r) {
  if (e->codec) return HM_OK;
  if (!e->has_codec) return need(e->codec_dir, true, "the HeartCodec checkpoint", e->model_path);
  int64_t t0 = hm_time_us();
  user_progress(c, HM_STAGE_LOAD, 0, 1);
  hm_codec_params cp = codec_params(e, NULL);
  HM_TRY(hm_codec_load(e->codec_dir, &cp, &e->codec_owned));
  e->codec = e->codec_owned;
  if (hm_codec_num_codebooks(e->codec) != e->n_codebooks)
    return hm_error(HM_ERR_FORMAT, "%s: the codec has %d codebooks, the LM makes %d", e->codec_dir,
                    hm_codec_num_codebooks(e->codec), e->n_codebooks);
  e->stats.n_codec_loads++;
  r->n_codec_loads++;
  user_progress(c, HM_STAGE_LOAD, 1, 1);
  r->t_load_codec_s += (double)(hm_time_us() - t0) * 1e-6;
  return HM_OK;
}

/* ---- the codec stage (shared by jobs, streaming or not, and hm_decode_to_file) ---- */

void eng_codec_init(eng_codec *c, const hm_job_callbacks *cb) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  pthread_mutex_init(&c->cb_mu, NULL);
  atomic_init(&c->stop, false);
  if (cb) c->cb = *cb;
  c->t_start = hm_time_us();
}

void eng_codec_destroy(eng_codec *c) {
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->cb_mu);
}

hm_status eng_codec_begin(eng_codec *c, const hm_codec_model *codec, const hm_codec_params *cp, const char *output_path,
                          bool overwrite, bool wav_float, cx_stream **cache) {
  c->codec = codec;
  c->cp = *cp;
  c->cache = cache;
  if (cache && *cache && cx_stream_fits(*cache, codec, cp)) {
    c->cs = *cache;
    *cache = NULL;
    HM_TRY(cx_stream_reset(c->cs, cp));
  } else {
    HM_TRY(cx_stream_create(codec, cp, &c->cs));
  }
  if (output_path) {
    hm_status st = hm_audio_writer_open(output_path, wav_float ? HM_AUDIO_WAV_FLOAT : HM_AUDIO_AUTO, 2,
                                        hm_codec_sample_rate(codec), overwrite, &c->wr);
    if (st) return st;
  }
  return HM_OK;
}

/* Ends the stage: the file moved into place when st is HM_OK, else removed. */
hm_status eng_codec_end(eng_codec *c, hm_status st) {
  if (c->wr) {
    if (st == HM_OK) {
      int64_t t0 = hm_time_us();
      st = hm_audio_writer_close(c->wr);
      c->t_write_us += hm_time_us() - t0;
    } else {
      hm_audio_writer_discard(c->wr);
    }
    c->wr = NULL;
  }
  if (c->cache && c->cs) { /* back to the engine for the next job (reset there) */
    cx_stream_free(*c->cache);
    *c->cache = c->cs;
  } else {
    cx_stream_free(c->cs);
  }
  c->cs = NULL;
  return st;
}

/* The user's callbacks, one at a time whichever thread calls. */
static bool user_abort(eng_codec *c) {
  if (atomic_load(&c->stop)) return true;
  if (!c->cb.abort) return false;
  pthread_mutex_lock(&c->cb_mu);
  bool a = c->cb.abort(c->cb.user_data);
  pthread_mutex_unlock(&c->cb_mu);
  if (a) atomic_store(&c->stop, true);
  return a;
}

static void user_progress(eng_codec *c, hm_stage stage, int64_t done, int64_t total) {
  if (!c->cb.progress) return;
  pthread_mutex_lock(&c->cb_mu);
  c->cb.progress(c->cb.user_data, stage, done, total);
  pthread_mutex_unlock(&c->cb_mu);
}

static bool codec_abort(void *ud) { return user_abort(ud); }

static void codec_step(void *ud) {
  eng_codec *c = ud;
  c->steps_done++;
  int64_t n = c->final_snapshot ? c->n_final_snapshot : c->n_cap;
  int64_t total = cx_stream_windows_for(c->cs, n, true) * (c->cp.steps + 1);
  if (total < c->steps_done) total = c->steps_done;
  user_progress(c, HM_STAGE_CODEC, c->steps_done, total);
}

/* One window (or the last window's rest): decode, then hand the samples to the file and the sink. */
static hm_status codec_one(eng_codec *c, int64_t n_known, bool final) {
  const float *pl;
  int64_t n, first;
  c->final_snapshot = final;
  c->n_final_snapshot = n_known;
  if (final && !c->clamp_checked) { /* the song's codes are all known: one warning for codes == codebook size */
    c->clamp_checked = true;
    hm_status cst = cx_codes_check(c->codec, c->codes, c->stride, n_known);
    if (cst != HM_OK) return cst;
  }
  int64_t t0 = hm_time_us();
  hm_status st = cx_stream_next(c->cs, c->codes, c->stride, n_known, final, codec_abort, c, codec_step, c, &pl, &n,
                                &first);
  int64_t t1 = hm_time_us();
  c->t_codec_us += t1 - t0;
  if (st) return st;
  if (n <= 0) return HM_OK;
  if (!c->t_first_audio_us) c->t_first_audio_us = t1;
  if (c->wr) {
    const float *ch[2] = {pl, pl + n};
    st = hm_audio_writer_write(c->wr, ch, n);
    c->t_write_us += hm_time_us() - t1;
    if (st) return st;
  }
  if (c->cb.on_audio) {
    /* not under cb_mu: a sink that blocks (a pipe to a player) must not stall the LM's callbacks */
    hm_status s2 = c->cb.on_audio(c->cb.user_data, pl, n, first);
    if (s2 != HM_OK)
      return hm_error(s2, "audio sink (on_audio) returned '%s' for samples [%lld, %lld): job stopped",
                      hm_status_str(s2), (long long)first, (long long)(first + n));
  }
  c->n_samples = first + n;
  return HM_OK;
}

/* The codec loop: waits for decodable windows until the song is final and every sample is out.
 * Runs on the worker thread (streaming) or the calling thread (codes all known). */
hm_status eng_codec_run(eng_codec *c) {
  hm_status st = HM_OK;
  for (;;) {
    pthread_mutex_lock(&c->mu);
    while (!atomic_load(&c->stop) && !c->final && !cx_stream_ready(c->cs, c->n_known, false))
      pthread_cond_wait(&c->cv, &c->mu);
    int64_t n = c->n_known;
    bool fin = c->final, stop = atomic_load(&c->stop), lm_failed = c->lm_failed;
    pthread_mutex_unlock(&c->mu);
    if (stop) {
      /* the LM side failed (it reports why) or the job was aborted */
      if (!lm_failed)
        st = hm_error(HM_ERR_ABORTED, "codec: decode aborted after %lld windows",
                      (long long)cx_stream_windows_done(c->cs));
      break;
    }
    if (!cx_stream_ready(c->cs, n, fin)) break; /* final and done */
    if ((st = codec_one(c, n, fin))) break;
  }
  return st;
}

static void *codec_worker(void *arg) {
  eng_codec *c = arg;
  hm_status st = eng_codec_run(c);
  if (st != HM_OK) {
    snprintf(c->worker_msg, sizeof c->worker_msg, "%s", hm_last_error());
    atomic_store(&c->stop, true); /* the LM stops at its next frame */
  }
  c->worker_st = st;
  return NULL;
}

/* ---- jobs ---- */

static bool blank(const char *s) {
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return false;
  return true;
}

/* An output path must have a known extension, an existing folder, and must not
 * exist unless overwrite: checked before any long work starts. */
hm_status eng_check_output(const char *path, bool overwrite, bool wav_float) {
  const char *slash = strrchr(path, '/');
  const hm_audio_format fmt = hm_audio_format_from_path(path);
  if (fmt == HM_AUDIO_AUTO) return hm_error(HM_ERR_INVALID_ARG, "output '%s': unknown extension (" HM_AUDIO_EXTENSIONS ")", path);
  if (wav_float && fmt != HM_AUDIO_WAV16)
    return hm_error(HM_ERR_INVALID_ARG, "output '%s': float WAV needs a .wav file", path);
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

static hm_status check_job(const hm_engine *e, const hm_job *j) {
  if (!j->lyrics) return hm_error(HM_ERR_INVALID_ARG, "lyrics are required");
  if (!j->tags) return hm_error(HM_ERR_INVALID_ARG, "tags are required (\"\" for none)");
  if (blank(j->lyrics)) return hm_error(HM_ERR_INVALID_ARG, "lyrics are empty");
  if (j->max_audio_ms <= 0 || j->max_audio_ms > HM_JOB_MAX_AUDIO_MS)
    return hm_error(HM_ERR_INVALID_ARG, "max_audio_ms must be in (0, %d] (got %lld)", HM_JOB_MAX_AUDIO_MS,
                    (long long)j->max_audio_ms);
  if (j->topk < 1) return hm_error(HM_ERR_INVALID_ARG, "topk must be >= 1 (got %d)", j->topk);
  if (!(j->temperature > 0) || !isfinite(j->temperature))
    return hm_error(HM_ERR_INVALID_ARG, "temperature must be a finite number > 0 (got %g)", (double)j->temperature);
  if (!(j->cfg_scale > 0) || !isfinite(j->cfg_scale))
    return hm_error(HM_ERR_INVALID_ARG, "cfg_scale must be a finite number > 0 (got %g)", (double)j->cfg_scale);
  if (j->codec_steps < 1 || j->codec_steps > 1000)
    return hm_error(HM_ERR_INVALID_ARG, "codec_steps must be in [1, 1000] (got %d)", j->codec_steps);
  if (!(j->codec_guidance >= 0 && j->codec_guidance < 1000))
    return hm_error(HM_ERR_INVALID_ARG, "codec_guidance must be in [0, 1000) (got %g)", (double)j->codec_guidance);
  if (j->n_history < 0 || (j->n_history > 0 && !j->history))
    return hm_error(HM_ERR_INVALID_ARG, "history: %lld frames but no codes", (long long)j->n_history);
  /* HeartCodec's codebooks hold 8192 codes; the LM's audio vocabulary adds its specials above them */
  const int32_t limit = 8192;
  for (int q = 0; q < e->n_codebooks; q++)
    for (int64_t i = 0; i < j->n_history; i++) {
      int32_t v = j->history[q * j->n_history + i];
      if (v < 0 || v > limit) /* limit itself: one past the codebook, decoded as the last code */
        return hm_error(HM_ERR_INVALID_ARG, "history: code %d at codebook %d, frame %lld is outside [0, %d)", v, q,
                        (long long)i, limit);
    }
  if (j->ref_audio_path && j->ref_embedding)
    return hm_error(HM_ERR_INVALID_ARG, "ref_audio_path and ref_embedding: give at most one");
  if (j->ref_audio_path || j->ref_embedding) {
    if (!(j->ref_strength >= 0 && j->ref_strength <= HM_REF_MAX_STRENGTH))
      return hm_error(HM_ERR_INVALID_ARG, "ref_strength must be in [0, %g] (got %g)", (double)HM_REF_MAX_STRENGTH,
                      (double)j->ref_strength);
    if (j->ref_embedding && j->ref_embedding_dim != e->muq_dim)
      return hm_error(HM_ERR_INVALID_ARG, "ref_embedding has %d values, the LM's muq slot takes %d (config.json muq_dim)",
                      j->ref_embedding_dim, e->muq_dim);
    if (j->ref_audio_path && !(j->ref_seconds >= 1 && j->ref_seconds <= 600))
      return hm_error(HM_ERR_INVALID_ARG, "ref_seconds must be in [1, 600] (got %g)", j->ref_seconds);
    if (j->ref_audio_path && !hm_file_exists(j->ref_audio_path))
      return hm_error(HM_ERR_IO, "reference audio '%s' does not exist", j->ref_audio_path);
    if (j->ref_audio_path && !e->has_clap) return no_clap(e);
  }
  if (j->wav_float && !j->output_path) return hm_error(HM_ERR_INVALID_ARG, "wav_float: no output_path to write");
  if (j->output_path) HM_TRY(eng_check_output(j->output_path, j->overwrite, j->wav_float));
  return HM_OK;
}

typedef struct lm_bridge {
  eng_codec *c;
  int64_t base; /* frames before the first generated one in the codec's codes (history in output) */
  bool stream;  /* the codec worker decodes the frames as they come */
} lm_bridge;

static void lm_on_frame(void *ud, const int32_t *frame, int64_t index) {
  lm_bridge *b = ud;
  eng_codec *c = b->c;
  if (c->cb.on_frame) { /* the caller's copy first (the codec worker does not touch it) */
    pthread_mutex_lock(&c->cb_mu);
    c->cb.on_frame(c->cb.user_data, frame, index);
    pthread_mutex_unlock(&c->cb_mu);
  }
  if (!b->stream) return;
  int64_t f = b->base + index;
  if (!c->codes || f >= c->n_cap) return;
  for (int q = 0; q < c->n_cb; q++) c->codes[q * c->stride + f] = frame[q];
  pthread_mutex_lock(&c->mu);
  c->n_known = f + 1;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
}

static void lm_progress(void *ud, int64_t done, int64_t total) {
  lm_bridge *b = ud;
  user_progress(b->c, HM_STAGE_LM, done, total);
}

static bool lm_abort(void *ud) {
  lm_bridge *b = ud;
  return user_abort(b->c);
}

hm_status hm_engine_generate(hm_engine *e, const hm_job *job, const hm_job_callbacks *cb, hm_generate_result *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!e || !job || !out) return hm_error(HM_ERR_INVALID_ARG, "hm_engine_generate: engine, job and out are required");
  hm_generate_result r;
  memset(&r, 0, sizeof r);
  const int64_t t_start = hm_time_us();
  HM_TRY(check_job(e, job));
  const bool audio = job->output_path || (cb && cb->on_audio);
  if (audio && !e->has_codec) return need(e->codec_dir, true, "the HeartCodec checkpoint", e->model_path);
  const bool staged = e->params.memory == HM_ENGINE_STAGED;
  e->stats.n_jobs++;

  /* text -> prompt rows */
  hm_prompt prompt;
  memset(&prompt, 0, sizeof prompt);
  HM_TRY(hm_prompt_build(e->tok, job->tags, job->lyrics, &e->pp, &prompt));

  hm_status st = HM_OK;
  eng_codec c;
  bool codec_begun = false, worker = false;
  pthread_t th;
  int32_t *mask32 = NULL, *gen_codes = NULL;
  float *muq = NULL;
  int64_t n_gen = 0;
  lm_bridge bridge = {&c, job->history_in_output ? job->n_history : 0, false};
  eng_codec_init(&c, cb);
  c.n_cb = e->n_codebooks;

  /* reference audio first: on a staged engine MuQ-MuLan is freed before the LM loads */
  if ((st = ref_embedding(e, job, &c, &r, &muq))) goto done;
  if ((st = ensure_lm(e, &c, &r))) goto done;
  hm_mula_info info;
  hm_mula_get_info(e->mula, &info);
  const int64_t max_new = job->max_audio_ms / 80 + 1 < info.max_seq_len ? job->max_audio_ms / 80 + 1 : info.max_seq_len;
  const int64_t cap = bridge.base + max_new;

  if (audio && job->stream) {
    /* the codec from the start: its worker decodes windows as the frames come */
    if ((st = ensure_codec(e, &c, &r))) goto done;
    hm_codec_params cp = codec_params(e, job);
    codec_begun = true;
    if ((st = eng_codec_begin(&c, e->codec, &cp, job->output_path, job->overwrite, job->wav_float,
                              staged ? NULL : &e->cs_cache)))
      goto done;
    c.stride = cap;
    c.n_cap = cap;
    c.codes = malloc((size_t)(c.n_cb * cap) * sizeof(int32_t));
    if (!c.codes) { st = hm_error(HM_ERR_NOMEM, "out of memory for %lld frames of codes", (long long)cap); goto done; }
    for (int q = 0; q < c.n_cb; q++)
      for (int64_t i = 0; i < bridge.base; i++) c.codes[q * cap + i] = job->history[q * job->n_history + i];
    c.n_known = bridge.base;
    if (pthread_create(&th, NULL, codec_worker, &c) != 0) {
      st = hm_error(HM_ERR_INTERNAL, "cannot start the codec worker thread");
      goto done;
    }
    worker = true;
  }

  /* LM */
  {
    int64_t t0 = hm_time_us();
    hm_mula_gen_params gp = hm_mula_default_gen_params();
    gp.topk = job->topk;
    gp.temperature = job->temperature;
    gp.cfg_scale = job->cfg_scale;
    gp.max_audio_ms = job->max_audio_ms;
    gp.seed = job->seed;
    /* strength 0: the slot exactly as without reference (muq_linear of zeros) */
    gp.muq_embed = muq && job->ref_strength != 0 ? muq : NULL;
    gp.progress = lm_progress;
    gp.abort = lm_abort;
    bridge.stream = worker;
    gp.on_frame = (worker || c.cb.on_frame) ? lm_on_frame : NULL;
    gp.user_data = &bridge;
    mask32 = malloc((size_t)(prompt.n_rows * prompt.n_cols) * sizeof *mask32);
    if (!mask32) st = hm_error(HM_ERR_NOMEM, "out of memory");
    else {
      for (int64_t i = 0; i < prompt.n_rows * prompt.n_cols; i++) mask32[i] = prompt.mask[i];
      st = hm_mula_generate(e->ctx, prompt.tokens, mask32, prompt.n_rows, prompt.muq_idx, &gp, job->history,
                            job->n_history, &gen_codes, &n_gen);
    }
    r.t_lm_s = (double)(hm_time_us() - t0) * 1e-6;
  }
  if (staged) drop_lm(e); /* staged: the LM's memory goes before the codec's comes */
  if (st == HM_OK && audio && n_gen == 0)
    st = hm_error(HM_ERR_INTERNAL, "the model ended the song at its first frame: no audio to write (try another seed)");
  if (worker) {
    pthread_mutex_lock(&c.mu);
    if (st != HM_OK) {
      c.lm_failed = true;
      atomic_store(&c.stop, true);
    } else {
      c.n_known = bridge.base + n_gen;
      c.final = true;
    }
    pthread_cond_signal(&c.cv);
    pthread_mutex_unlock(&c.mu);
    pthread_join(th, NULL);
    worker = false;
    /* a codec failure stops the LM too (which then reports an abort): the codec's error is the cause */
    if (c.worker_st != HM_OK) st = hm_error(c.worker_st, "%s", c.worker_msg);
  }
  if (st != HM_OK) goto done;

  /* the codes: history first when asked */
  r.n_frames = bridge.base + n_gen;
  r.codes = malloc((size_t)(c.n_cb * (r.n_frames ? r.n_frames : 1)) * sizeof(int32_t));
  if (!r.codes) { st = hm_error(HM_ERR_NOMEM, "out of memory"); goto done; }
  for (int q = 0; q < c.n_cb; q++) {
    if (bridge.base)
      memcpy(r.codes + q * r.n_frames, job->history + q * job->n_history, (size_t)bridge.base * sizeof(int32_t));
    memcpy(r.codes + q * r.n_frames + bridge.base, gen_codes + q * n_gen, (size_t)n_gen * sizeof(int32_t));
  }

  if (audio && !job->stream) {
    if ((st = ensure_codec(e, &c, &r))) goto done;
    hm_codec_params cp = codec_params(e, job);
    codec_begun = true;
    if ((st = eng_codec_begin(&c, e->codec, &cp, job->output_path, job->overwrite, job->wav_float,
                              staged ? NULL : &e->cs_cache)))
      goto done;
    c.codes = r.codes;
    c.stride = r.n_frames;
    c.n_cap = r.n_frames;
    c.n_known = r.n_frames;
    c.final = true;
    st = eng_codec_run(&c);
    c.codes = NULL;
  }

done:
  if (worker) { /* failed before the LM ran */
    pthread_mutex_lock(&c.mu);
    c.lm_failed = true;
    atomic_store(&c.stop, true);
    pthread_cond_signal(&c.cv);
    pthread_mutex_unlock(&c.mu);
    pthread_join(th, NULL);
  }
  if (codec_begun) {
    if (audio && job->stream) free(c.codes);
    r.n_samples = c.n_samples;
    r.n_windows = c.cs ? cx_stream_windows_done(c.cs) : 0;
    r.t_codec_s = (double)c.t_codec_us * 1e-6;
    r.t_first_audio_s = c.t_first_audio_us ? (double)(c.t_first_audio_us - t_start) * 1e-6 : 0;
    st = eng_codec_end(&c, st);
    r.t_write_s = (double)c.t_write_us * 1e-6;
    if (st == HM_OK) r.sample_rate_hz = hm_codec_sample_rate(e->codec);
  }
  eng_codec_destroy(&c);
  if (staged) {
    drop_clap(e);
    drop_lm(e);
    drop_codec(e);
  }
  free(mask32);
  free(gen_codes);
  free(muq);
  hm_prompt_free(&prompt);
  if (st != HM_OK) {
    hm_generate_result_free(&r);
    return st;
  }
  r.t_total_s = (double)(hm_time_us() - t_start) * 1e-6;
  r.peak_rss_bytes = (int64_t)hm_peak_rss_bytes();
  *out = r;
  return HM_OK;
}
