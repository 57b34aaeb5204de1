/* The long-lived engine on a demo checkpoint (random weights, the project's
 * generator): keep vs staged, models loaded once, streaming bit-exact with the
 * file path, abort and sink errors mid-stream, bad jobs and bad folders. */
#include "heartmula.h"
#include "harness.h"
#include "demo_ckpt.h"
#include "io/audio.h"
#include "io/fs.h"
#include "text/tokenizer.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char ckpt[512];

static hm_status make_ckpt(void) { return hm_test_demo_ckpt(ckpt, sizeof ckpt, 1); }

static hm_job base_job(int64_t ms, const char *out) {
  hm_job j = hm_job_default();
  j.lyrics = "[verse]\nla la la, a little song\n";
  j.tags = "pop,piano";
  j.max_audio_ms = ms;
  j.seed = 5;
  j.codec_steps = 2;
  j.output_path = out;
  j.overwrite = true;
  j.wav_float = out != NULL;
  return j;
}

static hm_engine *open_engine(hm_engine_memory mem) {
  hm_engine_params ep = hm_engine_default_params();
  ep.version = "demo";
  ep.memory = mem;
  ep.n_threads = 2;
  hm_engine *e = NULL;
  CHECK_OK(hm_engine_open(ckpt, &ep, &e));
  return e;
}

static bool same_file(const char *a, const char *b) { return hm_test_same_file(a, b); }

static bool same_codes(const hm_generate_result *a, const hm_generate_result *b) {
  return a->n_frames > 0 && a->n_frames == b->n_frames && a->codes && b->codes &&
         memcmp(a->codes, b->codes, (size_t)(8 * a->n_frames) * sizeof(int32_t)) == 0;
}

/* No temporary or final file left in dir whose name starts with stem. */
static bool no_file_like(const char *dir, const char *stem) {
  DIR *d = opendir(dir);
  if (!d) return false;
  bool none = true;
  struct dirent *de;
  while ((de = readdir(d)))
    if (!strncmp(de->d_name, stem, strlen(stem))) none = false;
  closedir(d);
  return none;
}

/* ---- a sink that collects the stream, and watches the LM ---- */
typedef struct sink {
  float *l, *r;
  int64_t n, cap;
  _Atomic int64_t calls, lm_frames; /* on_audio may run beside the LM's progress calls */
  bool in_order;
  int64_t lm_frames_at_first_audio, codec_steps_seen, loads_seen;
  int64_t abort_at_codec_step; /* > 0: abort once the codec has made this many steps */
  int64_t fail_at_call;        /* > 0: on_audio returns HM_ERR_IO at this call */
  bool slow_lm;                /* sleep per frame once the first window's codes exist, until audio comes */
} sink;

static hm_status on_audio(void *ud, const float *planar, int64_t n, int64_t first) {
  sink *s = ud;
  s->calls++;
  if (s->fail_at_call > 0 && s->calls == s->fail_at_call) return HM_ERR_IO;
  if (first != s->n) s->in_order = false;
  if (s->calls == 1) s->lm_frames_at_first_audio = s->lm_frames;
  if (s->n + n > s->cap) {
    s->cap = (s->n + n) * 2;
    s->l = realloc(s->l, (size_t)s->cap * sizeof(float));
    s->r = realloc(s->r, (size_t)s->cap * sizeof(float));
  }
  memcpy(s->l + s->n, planar, (size_t)n * sizeof(float));
  memcpy(s->r + s->n, planar + n, (size_t)n * sizeof(float));
  s->n += n;
  return HM_OK;
}

static void on_progress(void *ud, hm_stage stage, int64_t done, int64_t total) {
  (void)total;
  sink *s = ud;
  if (stage == HM_STAGE_LM) {
    s->lm_frames = done;
    /* up to 0.3 s a frame while no audio has come (the codec may be slow: sanitizers, a loaded machine):
       the first window has 320 frames, up to 96 s, to come out before the LM ends */
    if (s->slow_lm && done >= 380 && s->calls == 0) {
      struct timespec ts = {0, 300 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  if (stage == HM_STAGE_CODEC) s->codec_steps_seen = done;
  if (stage == HM_STAGE_LOAD && done == total) s->loads_seen++;
}

static bool on_abort(void *ud) {
  sink *s = ud;
  return s->abort_at_codec_step > 0 && s->codec_steps_seen >= s->abort_at_codec_step;
}

static sink new_sink(void) {
  sink s;
  memset(&s, 0, sizeof s);
  s.in_order = true;
  return s;
}

/* Sink samples == the float WAV's samples, bit for bit. */
static bool sink_equals_file(const sink *s, const char *path) {
  hm_audio au;
  if (hm_audio_read(path, &au) != HM_OK) return false;
  bool eq = au.n_channels == 2 && au.n_frames == s->n;
  for (int64_t i = 0; eq && i < s->n; i++)
    eq = memcmp(&au.data[2 * i], &s->l[i], 4) == 0 && memcmp(&au.data[2 * i + 1], &s->r[i], 4) == 0;
  hm_audio_free(&au);
  return eq;
}

static void keep_and_staged(void) {
  const char *tmp = hm_test_tmpdir();
  char a[1024], b[1024], c[1024];
  snprintf(a, sizeof a, "%s/keep1.wav", tmp);
  snprintf(b, sizeof b, "%s/keep2.wav", tmp);
  snprintf(c, sizeof c, "%s/staged.wav", tmp);
  hm_engine *e = open_engine(HM_ENGINE_KEEP);
  if (!e) return;
  hm_engine_stats es;
  hm_engine_get_stats(e, &es);
  CHECK(es.n_lm_loads == 0 && !es.lm_loaded); /* loaded at first use */

  /* the same job twice on one keep engine: same codes, same bytes, no reload */
  hm_job j = base_job(8000, a);
  hm_generate_result r1, r2, r3;
  CHECK_OK(hm_engine_generate(e, &j, NULL, &r1));
  CHECK(r1.n_lm_loads == 1 && r1.n_codec_loads == 1);
  CHECK(r1.n_samples == r1.n_frames * 3840 && r1.sample_rate_hz == 48000 && r1.n_windows == 1);
  j.output_path = b;
  CHECK_OK(hm_engine_generate(e, &j, NULL, &r2));
  CHECK_MSG(r2.n_lm_loads == 0 && r2.n_codec_loads == 0, "second job loaded %d LM, %d codec", r2.n_lm_loads,
            r2.n_codec_loads);
  CHECK(same_codes(&r1, &r2));
  CHECK(same_file(a, b));
  hm_engine_get_stats(e, &es);
  CHECK(es.n_jobs == 2 && es.n_lm_loads == 1 && es.n_codec_loads == 1 && es.lm_loaded && es.codec_loaded);

  /* staged: loads per job, frees after it; the same bytes as keep */
  hm_engine *s = open_engine(HM_ENGINE_STAGED);
  if (s) {
    j.output_path = c;
    CHECK_OK(hm_engine_generate(s, &j, NULL, &r3));
    CHECK(r3.n_lm_loads == 1 && r3.n_codec_loads == 1);
    CHECK(same_codes(&r1, &r3));
    CHECK(same_file(a, c));
    hm_engine_get_stats(s, &es);
    CHECK(!es.lm_loaded && !es.codec_loaded);
    hm_generate_result_free(&r3);
    /* the old API is one job on a staged engine: the same file again */
    hm_generate_params gp = hm_generate_default_params();
    gp.model_path = ckpt;
    gp.version = "demo";
    gp.lyrics = j.lyrics;
    gp.tags = j.tags;
    gp.max_audio_ms = j.max_audio_ms;
    gp.seed = j.seed;
    gp.codec_steps = j.codec_steps;
    gp.n_threads = 2;
    gp.output_path = NULL;
    CHECK_OK(hm_generate(&gp, &r3));
    CHECK(same_codes(&r1, &r3));
    hm_generate_result_free(&r3);
    hm_engine_close(s);
  }
  hm_generate_result_free(&r1);
  hm_generate_result_free(&r2);
  hm_engine_close(e);
}

static void streaming(void) {
  const char *tmp = hm_test_tmpdir();
  char a[1024], st[1024], ab[1024];
  snprintf(a, sizeof a, "%s/file.wav", tmp);
  snprintf(st, sizeof st, "%s/stream.wav", tmp);
  snprintf(ab, sizeof ab, "%s/aborted.wav", tmp);
  hm_engine *e = open_engine(HM_ENGINE_KEEP);
  if (!e) return;
  /* 56 s: 701 frames, 3 codec windows */
  hm_job j = base_job(56000, a);
  sink s1 = new_sink(), s2 = new_sink();
  hm_job_callbacks cb = {on_progress, NULL, on_audio, &s1, NULL};
  hm_generate_result r1, r2;
  CHECK_OK(hm_engine_generate(e, &j, &cb, &r1));
  CHECK_MSG(r1.n_windows == 3, "%lld windows", (long long)r1.n_windows);
  CHECK(s1.in_order && s1.n == r1.n_samples && s1.calls == r1.n_windows);
  CHECK(s1.lm_frames_at_first_audio == r1.n_frames); /* not streaming: audio after the LM */
  CHECK(s1.loads_seen == 2 && r1.n_lm_loads == 1 && r1.n_codec_loads == 1); /* LOAD progress per model */
  CHECK(sink_equals_file(&s1, a));

  /* streamed: the first window comes out while the LM still runs; same samples, same file */
  j.stream = true;
  j.output_path = st;
  s2.slow_lm = true;
  cb.user_data = &s2;
  CHECK_OK(hm_engine_generate(e, &j, &cb, &r2));
  CHECK(same_codes(&r1, &r2));
  CHECK(s2.loads_seen == 0 && r2.n_lm_loads == 0 && r2.n_codec_loads == 0);
  CHECK(r2.n_windows == 3 && s2.in_order && s2.n == s1.n);
  CHECK_MSG(s2.lm_frames_at_first_audio < r2.n_frames, "first audio at LM frame %lld of %lld",
            (long long)s2.lm_frames_at_first_audio, (long long)r2.n_frames);
  CHECK(r2.t_first_audio_s > 0 && r2.t_first_audio_s < r2.t_total_s);
  CHECK(s2.n == s1.n && memcmp(s1.l, s2.l, (size_t)s1.n * 4) == 0 && memcmp(s1.r, s2.r, (size_t)s1.n * 4) == 0);
  CHECK(sink_equals_file(&s2, a));
  CHECK(same_file(a, st));
  hm_generate_result_free(&r2);

  /* abort during the codec stage of a streaming job: HM_ERR_ABORTED, no file, nothing left behind */
  sink s3 = new_sink();
  s3.abort_at_codec_step = 1;
  s3.slow_lm = true; /* the LM is still running when the codec starts */
  cb.user_data = &s3;
  cb.abort = on_abort;
  j.output_path = ab;
  hm_generate_result r3;
  hm_status ast = hm_engine_generate(e, &j, &cb, &r3);
  CHECK_MSG(ast == HM_ERR_ABORTED && strstr(hm_last_error(), "abort"), "status %d: %s", (int)ast, hm_last_error());
  CHECK_MSG(s3.codec_steps_seen >= 1 && s3.lm_frames < r1.n_frames, "codec step %lld, LM frame %lld",
            (long long)s3.codec_steps_seen, (long long)s3.lm_frames); /* stopped the LM too */
  CHECK(r3.codes == NULL && r3.n_frames == 0);
  CHECK(no_file_like(tmp, "aborted.wav"));

  /* a sink that fails stops the job cleanly: its status, a message, no file */
  sink s4 = new_sink();
  s4.fail_at_call = 1;
  cb.user_data = &s4;
  cb.abort = NULL;
  CHECK_ERR(hm_engine_generate(e, &j, &cb, &r3), "on_audio");
  s4 = new_sink();
  s4.fail_at_call = 1;
  CHECK(hm_engine_generate(e, &j, &cb, &r3) == HM_ERR_IO);
  CHECK(s4.n == 0 && r3.codes == NULL);
  CHECK(no_file_like(tmp, "aborted.wav"));
  /* non-streaming too */
  j.stream = false;
  s4 = new_sink();
  s4.fail_at_call = 2;
  CHECK_ERR(hm_engine_generate(e, &j, &cb, &r3), "on_audio");
  CHECK(no_file_like(tmp, "aborted.wav"));

  /* continuation with the history in the output: 380 frames of history (window 0 can be decoded before
     the LM's first frame), streamed == not streamed */
  {
    enum { NH = 380 };
    int32_t *hist = malloc(8 * NH * sizeof(int32_t));
    for (int q = 0; q < 8; q++) memcpy(hist + q * NH, r1.codes + q * r1.n_frames, NH * sizeof(int32_t));
    hm_job jc = base_job(8000, NULL);
    jc.history = hist;
    jc.n_history = NH;
    jc.history_in_output = true;
    sink c1 = new_sink(), c2 = new_sink();
    hm_job_callbacks ccb = {NULL, NULL, on_audio, &c1, NULL};
    hm_generate_result q1, q2;
    CHECK_OK(hm_engine_generate(e, &jc, &ccb, &q1));
    jc.stream = true;
    ccb.user_data = &c2;
    CHECK_OK(hm_engine_generate(e, &jc, &ccb, &q2));
    CHECK(q1.n_frames > NH && q1.n_windows == 2 && same_codes(&q1, &q2));
    CHECK(memcmp(q1.codes, hist, NH * sizeof(int32_t)) == 0);
    CHECK(c1.n == q1.n_samples && c1.n == c2.n && c2.in_order && memcmp(c1.l, c2.l, (size_t)c1.n * 4) == 0 &&
          memcmp(c1.r, c2.r, (size_t)c1.n * 4) == 0);
    hm_generate_result_free(&q1);
    hm_generate_result_free(&q2);
    free(c1.l); free(c1.r); free(c2.l); free(c2.r);
    free(hist);
  }

  /* and the engine goes on: the same song again, streamed to the sink only */
  sink s5 = new_sink();
  cb.user_data = &s5;
  j.stream = true;
  j.output_path = NULL;
  j.wav_float = false;
  CHECK_OK(hm_engine_generate(e, &j, &cb, &r2));
  CHECK(same_codes(&r1, &r2) && r2.n_lm_loads == 0 && r2.n_codec_loads == 0);
  CHECK(s5.n == s1.n && memcmp(s1.l, s5.l, (size_t)s1.n * 4) == 0 && memcmp(s1.r, s5.r, (size_t)s1.n * 4) == 0);
  hm_generate_result_free(&r2);

  hm_generate_result_free(&r1);
  free(s1.l); free(s1.r); free(s2.l); free(s2.r); free(s3.l); free(s3.r); free(s4.l); free(s4.r);
  free(s5.l); free(s5.r);
  hm_engine_close(e);
}

static void bad_input(void) {
  const char *tmp = hm_test_tmpdir();
  char out[1024], d[1024];
  snprintf(out, sizeof out, "%s/bad.wav", tmp);
  hm_engine *e = open_engine(HM_ENGINE_KEEP);
  if (!e) return;
  hm_generate_result r, good;
  hm_job j = base_job(800, NULL);
  CHECK_OK(hm_engine_generate(e, &j, NULL, &good));

  j = base_job(800, out);
  j.lyrics = " \n ";
  j.tags = "";
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "lyrics are empty");
  j = base_job(800, out);
  j.lyrics = NULL;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "lyrics");
  j = base_job(800, out);
  j.max_audio_ms = -80;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "max_audio_ms");
  j.max_audio_ms = INT64_MAX;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "max_audio_ms");
  j = base_job(800, out);
  j.temperature = NAN;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "temperature");
  j = base_job(800, out);
  j.cfg_scale = NAN;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "cfg_scale");
  j = base_job(800, out);
  j.cfg_scale = INFINITY;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "cfg_scale");
  j = base_job(800, out);
  j.codec_guidance = NAN;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "codec_guidance");
  j = base_job(800, out);
  j.topk = 0;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "topk");
  j = base_job(800, out);
  j.codec_steps = 0;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "codec_steps");
  int32_t hist[8 * 3];
  for (int i = 0; i < 24; i++) hist[i] = i;
  hist[8 * 3 - 1] = 9000;
  j = base_job(800, out);
  j.history = hist;
  j.n_history = 3;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "history: code 9000 at codebook 7, frame 2");
  hist[8 * 3 - 1] = -1;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "history");
  j.history = NULL;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "history");
  j = base_job(800, out);
  j.tags = "\xff\xfe binary";
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "tags");
  snprintf(d, sizeof d, "%s/x.xyz", tmp);
  j = base_job(800, d);
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "unknown extension");
  snprintf(d, sizeof d, "%s/x.flac", tmp);
  j = base_job(800, d);
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "float WAV");
  snprintf(d, sizeof d, "%s/nofolder/x.wav", tmp);
  j = base_job(800, d);
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "does not exist");
  CHECK(!hm_file_exists(out));
  CHECK_ERR(hm_engine_generate(e, NULL, NULL, &r), "job");

  /* still usable: the same codes as before the failures */
  j = base_job(800, NULL);
  CHECK_OK(hm_engine_generate(e, &j, NULL, &r));
  CHECK(same_codes(&good, &r) && r.n_lm_loads == 0);
  hm_generate_result_free(&r);
  hm_generate_result_free(&good);
  hm_engine_close(e);

  /* folders missing a part: the error names it */
  hm_engine_params ep = hm_engine_default_params();
  ep.version = "demo";
  hm_engine *x = NULL;
  CHECK_ERR(hm_engine_open("/nonexistent/ckpt", &ep, &x), "/nonexistent/ckpt");
  CHECK(x == NULL);
  ep.version = "7B";
  CHECK_ERR(hm_engine_open(ckpt, &ep, &x), "HeartMuLa-oss-7B");
  ep.version = "demo";
  char part[1024], cmd[4096];
  snprintf(part, sizeof part, "%s/partial", tmp);
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/HeartMuLa-oss-demo' && cp '%s/HeartMuLa-oss-demo/config.json' '%s/HeartMuLa-oss-demo/'", part, ckpt, part);
  CHECK(system(cmd) == 0);
  CHECK_ERR(hm_engine_open(part, &ep, &x), "HeartCodec");
  ep.require_codec = false;
  CHECK_ERR(hm_engine_open(part, &ep, &x), "tokenizer.json");
  snprintf(cmd, sizeof cmd, "cp '%s/tokenizer.json' '%s/'", ckpt, part);
  CHECK(system(cmd) == 0);
  CHECK_ERR(hm_engine_open(part, &ep, &x), "gen_config.json");
  ep.memory = (hm_engine_memory)7;
  CHECK_ERR(hm_engine_open(ckpt, &ep, &x), "memory");
  /* a codes-only engine asked for audio */
  snprintf(cmd, sizeof cmd, "cp '%s/gen_config.json' '%s/'", ckpt, part);
  CHECK(system(cmd) == 0);
  ep.memory = HM_ENGINE_KEEP;
  CHECK_OK(hm_engine_open(part, &ep, &x));
  if (x) {
    j = base_job(800, out);
    CHECK_ERR(hm_engine_generate(x, &j, NULL, &r), "HeartCodec");
    hm_engine_close(x);
  }
}

void hm_test_main(void) {
  CHECK_OK(make_ckpt());
  keep_and_staged();
  streaming();
  bad_input();
}
