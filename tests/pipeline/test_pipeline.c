/* End to end on a tiny random checkpoint made by the project's generator, and
 * the fixture's frames reproduced through the public API. */
#include "heartmula.h"
#include "harness.h"
#include "demo_ckpt.h"
#include "io/audio.h"
#include "io/fs.h"
#include "io/json.h"
#include "io/npy.h"
#include "text/tokenizer.h"

#include <stdlib.h>
#include <unistd.h>

static char ckpt[512];

static hm_status make_ckpt(void) { return hm_test_demo_ckpt(ckpt, sizeof ckpt, 2); }

static hm_generate_params base_params(const char *out) {
  hm_generate_params p = hm_generate_default_params();
  p.model_path = ckpt;
  p.version = "demo";
  p.lyrics = "[verse]\nla la la, a little song\n";
  p.tags = "pop,piano";
  p.max_audio_ms = 1600; /* 20 frames */
  p.seed = 5;
  p.n_threads = 2;
  p.output_path = out;
  p.overwrite = true;
  return p;
}

static bool same_file(const char *a, const char *b) { return hm_test_same_file(a, b); }

typedef struct { int frames_seen; int abort_after; } abort_state;
static void count_progress(void *ud, hm_stage stage, int64_t done, int64_t total) {
  (void)total;
  abort_state *s = ud;
  if (stage == HM_STAGE_LM) s->frames_seen = (int)done;
}
static bool abort_now(void *ud) {
  abort_state *s = ud;
  return s->frames_seen >= s->abort_after;
}

static void fixture_frames_through_public_api(void) {
  char dir[1024], path[1024];
  hm_test_path(dir, sizeof dir, "fixtures/heartmula");
  hm_mula_params mp = hm_mula_default_params();
  hm_mula_model *m = NULL;
  CHECK_OK(hm_mula_load(dir, &mp, &m));
  if (!m) return;
  hm_mula_context *ctx = NULL;
  CHECK_OK(hm_mula_context_create(m, NULL, &ctx));
  hm_npy tok, mask, frames;
  CHECK_OK(hm_npy_read_i32(hm_test_path(path, sizeof path, "fixtures/mula_cfg15_prompt_tokens.npy"), &tok));
  CHECK_OK(hm_npy_read_i32(hm_test_path(path, sizeof path, "fixtures/mula_cfg15_prompt_tokens_mask.npy"), &mask));
  CHECK_OK(hm_npy_read_i32(hm_test_path(path, sizeof path, "fixtures/mula_cfg15_frames.npy"), &frames));
  json_t *man = NULL;
  CHECK_OK(hm_json_load(hm_test_path(path, sizeof path, "fixtures/manifest.json"), &man));
  int64_t muq_idx = json_integer_value(json_array_get(
      json_object_get(json_object_get(json_object_get(man, "files"), "mula_cfg15_prompt_tokens.npy"), "muq_idx"), 0));
  json_decref(man);
  hm_mula_gen_params gp = hm_mula_default_gen_params();
  gp.topk = 1;
  gp.cfg_scale = 1.5f;
  gp.max_audio_ms = 880;
  int32_t *codes = NULL;
  int64_t n = 0;
  /* row 0 of the [2, rows, 9] prompt is the conditional one */
  CHECK_OK(hm_mula_generate(ctx, tok.data, mask.data, tok.shape[1], muq_idx, &gp, NULL, 0, &codes, &n));
  CHECK_MSG(n == frames.shape[1], "frames %lld vs fixture %lld", (long long)n, (long long)frames.shape[1]);
  if (n == frames.shape[1]) CHECK(memcmp(codes, frames.data, (size_t)(8 * n) * sizeof(int32_t)) == 0);
  free(codes);
  hm_npy_free(&tok);
  hm_npy_free(&mask);
  hm_npy_free(&frames);
  hm_mula_context_free(ctx);
  hm_mula_free(m);
}

void hm_test_main(void) {
  fixture_frames_through_public_api();

  CHECK_OK(make_ckpt());
  const char *tmp = hm_test_tmpdir();
  char a[1024], b[1024], c[1024], npy[1024];
  snprintf(a, sizeof a, "%s/a.wav", tmp);
  snprintf(b, sizeof b, "%s/b.wav", tmp);
  snprintf(c, sizeof c, "%s/c.wav", tmp);
  snprintf(npy, sizeof npy, "%s/codes.npy", tmp);

  /* same seed twice: identical codes and identical audio */
  hm_generate_params p = base_params(a);
  hm_generate_result r1, r2;
  CHECK_OK(hm_generate(&p, &r1));
  p.output_path = b;
  CHECK_OK(hm_generate(&p, &r2));
  CHECK(r1.n_frames > 0 && r1.n_frames == r2.n_frames);
  CHECK(r1.codes && r2.codes && memcmp(r1.codes, r2.codes, (size_t)(8 * r1.n_frames) * 4) == 0);
  CHECK(r1.n_samples == r1.n_frames * 3840);
  CHECK(same_file(a, b));
  hm_audio au;
  CHECK_OK(hm_audio_read(a, &au));
  CHECK(au.n_channels == 2 && au.sample_rate_hz == 48000 && au.n_frames == r1.n_samples);
  hm_audio_free(&au);

  /* another seed gives other codes */
  p.seed = 6;
  p.output_path = NULL;
  hm_generate_result r3;
  CHECK_OK(hm_generate(&p, &r3));
  CHECK(r3.n_frames != r1.n_frames || memcmp(r3.codes, r1.codes, (size_t)(8 * r1.n_frames) * 4) != 0);
  hm_generate_result_free(&r3);

  /* codes saved, then decoded alone with the same seed: the same audio as generate */
  int64_t shape[2] = {8, r1.n_frames};
  CHECK_OK(hm_npy_write(npy, HM_DT_I32, 2, shape, r1.codes));
  hm_npy saved;
  CHECK_OK(hm_npy_read_i32(npy, &saved));
  char codec_dir[1024];
  hm_path_join(codec_dir, sizeof codec_dir, ckpt, "HeartCodec-oss");
  hm_codec_params cp = hm_codec_default_params();
  cp.seed = 5;
  cp.n_threads = 2;
  hm_decode_result dr;
  CHECK_OK(hm_decode_to_file(codec_dir, saved.data, saved.shape[1], &cp, c, true, false, NULL, NULL, NULL, &dr));
  CHECK(dr.n_samples == r1.n_samples && dr.sample_rate_hz == 48000);
  CHECK(same_file(a, c));

  /* continuation: the history comes first and the song grows */
  p = base_params(NULL);
  p.history = saved.data;
  p.n_history = saved.shape[1];
  p.history_in_output = true;
  hm_generate_result r4;
  CHECK_OK(hm_generate(&p, &r4));
  CHECK(r4.n_frames > saved.shape[1]);
  bool prefix = r4.n_frames > saved.shape[1];
  for (int q = 0; prefix && q < 8; q++)
    prefix = memcmp(r4.codes + q * r4.n_frames, (int32_t *)saved.data + q * saved.shape[1], (size_t)saved.shape[1] * 4) == 0;
  CHECK(prefix);
  hm_generate_result_free(&r4);
  hm_npy_free(&saved);

  /* abort from the progress callback: stops within one frame, no output file */
  char d[1024];
  snprintf(d, sizeof d, "%s/aborted.wav", tmp);
  p = base_params(d);
  abort_state as = {0, 3};
  p.progress = count_progress;
  p.abort = abort_now;
  p.user_data = &as;
  hm_generate_result r5;
  CHECK(hm_generate(&p, &r5) == HM_ERR_ABORTED);
  CHECK(as.frames_seen <= 4);
  CHECK(!hm_file_exists(d));

  /* bad input: clear errors, nothing clobbered */
  p = base_params(a);
  p.overwrite = false;
  CHECK_ERR(hm_generate(&p, &r5), "already exists");
  CHECK(same_file(a, b));
  p = base_params(a);
  p.lyrics = "  \n";
  CHECK_ERR(hm_generate(&p, &r5), "lyrics are empty");
  p = base_params(a);
  p.max_audio_ms = 0;
  CHECK_ERR(hm_generate(&p, &r5), "max_audio_ms");
  p.max_audio_ms = -5;
  CHECK_ERR(hm_generate(&p, &r5), "max_audio_ms");
  p = base_params(a);
  p.tags = "\xff\xfe binary";
  CHECK_ERR(hm_generate(&p, &r5), "tags");
  p = base_params(a);
  p.version = "7B";
  CHECK_ERR(hm_generate(&p, &r5), "HeartMuLa-oss-7B");
  p = base_params(a);
  p.model_path = "/nonexistent/ckpt";
  CHECK_ERR(hm_generate(&p, &r5), "/nonexistent/ckpt");
  snprintf(d, sizeof d, "%s/nofolder/x.wav", tmp);
  p = base_params(d);
  CHECK_ERR(hm_generate(&p, &r5), "does not exist");
  snprintf(d, sizeof d, "%s/x.xyz", tmp);
  p = base_params(d);
  CHECK_ERR(hm_generate(&p, &r5), "unknown extension");
  hm_generate_result_free(&r1);
  hm_generate_result_free(&r2);
}
