/* Reference-audio conditioning through the engine (hm_job.ref_*): a demo checkpoint (random LM,
 * codes only) and the tiny MuQ-MuLan fixture. Strength 0 gives exactly the codes of a job without
 * reference; strength 1 changes them; a path and the same embedding given directly give the same
 * codes; a `keep` engine loads MuQ-MuLan once for several jobs (staged: once per job, freed); the
 * default folder <model_path>/MuQ-MuLan-large; bad jobs and a muq_dim / hm_clap_dim mismatch fail
 * with a message naming the problem. */
#include "harness.h"
#include "demo_ckpt.h"
#include "heartmula.h"
#include "io/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char ckpt[512], clap_dir[1024], ref_wav[1024];

static hm_job base_job(void) {
  hm_job j = hm_job_default();
  j.lyrics = "[verse]\nla la la, a little song\n";
  j.tags = "pop,piano";
  j.max_audio_ms = 2400; /* 31 frames: codes only */
  j.seed = 7;
  return j;
}

static hm_engine *open_engine(hm_engine_memory mem, const char *clap) {
  hm_engine_params ep = hm_engine_default_params();
  ep.version = "demo";
  ep.memory = mem;
  ep.n_threads = 2;
  ep.require_codec = false;
  ep.clap_path = clap;
  hm_engine *e = NULL;
  CHECK_OK(hm_engine_open(ckpt, &ep, &e));
  return e;
}

static bool same_codes(const hm_generate_result *a, const hm_generate_result *b) {
  return a->n_frames > 0 && a->n_frames == b->n_frames && a->codes && b->codes &&
         memcmp(a->codes, b->codes, (size_t)(8 * a->n_frames) * sizeof(int32_t)) == 0;
}

static void strengths(void) {
  hm_engine *e = open_engine(HM_ENGINE_KEEP, clap_dir);
  if (!e) return;
  hm_generate_result none, zero, one, emb, two;
  hm_job j = base_job();
  CHECK_OK(hm_engine_generate(e, &j, NULL, &none));
  CHECK(none.n_clap_loads == 0);
  hm_engine_stats s;
  hm_engine_get_stats(e, &s);
  CHECK(!s.clap_loaded && s.n_clap_loads == 0); /* loaded at the first job that needs it, not before */

  j.ref_audio_path = ref_wav;
  j.ref_strength = 0.0f;
  CHECK_OK(hm_engine_generate(e, &j, NULL, &zero));
  CHECK_MSG(same_codes(&none, &zero), "strength 0 must give exactly the codes without reference");
  CHECK(zero.n_clap_loads == 1);

  j.ref_strength = 1.0f;
  CHECK_OK(hm_engine_generate(e, &j, NULL, &one));
  CHECK_MSG(!same_codes(&none, &one), "strength 1 must change the codes");
  CHECK(one.n_clap_loads == 0 && one.t_ref_s > 0);
  hm_engine_get_stats(e, &s);
  CHECK(s.clap_loaded && s.n_clap_loads == 1); /* kept and reused */

  /* the same embedding given directly (hm_clap_embed_reference_file) */
  hm_clap_model *m = NULL;
  CHECK_OK(hm_clap_load(clap_dir, NULL, &m));
  float v[512];
  if (m) {
    CHECK_OK(hm_clap_embed_reference_file(m, ref_wav, 10.0, v));
    hm_job je = base_job();
    je.ref_embedding = v;
    je.ref_embedding_dim = 512;
    CHECK_OK(hm_engine_generate(e, &je, NULL, &emb));
    CHECK_MSG(same_codes(&one, &emb), "an embedding given directly must give the codes of its audio");
    /* strength scales: 2 x embedding at strength 1 == embedding at strength 2 */
    float v2[512];
    for (int i = 0; i < 512; i++) v2[i] = 2.0f * v[i];
    je.ref_embedding = v2;
    hm_generate_result two_b;
    je.ref_strength = 1.0f;
    CHECK_OK(hm_engine_generate(e, &je, NULL, &two_b));
    je.ref_embedding = v;
    je.ref_strength = 2.0f;
    CHECK_OK(hm_engine_generate(e, &je, NULL, &two));
    CHECK(same_codes(&two, &two_b));
    /* (strength 2 vs 1 may give the same codes here: the demo's muq_linear bias is zero and the backbone's
     * first RMSNorm removes a pure scale, so only later layers see it) */
    hm_generate_result_free(&two_b);
    /* a borrowed model: no load */
    hm_engine_params ep = hm_engine_default_params();
    ep.version = "demo";
    ep.require_codec = false;
    ep.n_threads = 2;
    ep.clap_model = m;
    hm_engine *e2 = NULL;
    CHECK_OK(hm_engine_open(ckpt, &ep, &e2));
    if (e2) {
      hm_generate_result r;
      CHECK_OK(hm_engine_generate(e2, &j, NULL, &r));
      CHECK(r.n_clap_loads == 0 && same_codes(&r, &one));
      hm_generate_result_free(&r);
      hm_engine_close(e2);
    }
    hm_clap_free(m);
  }
  hm_generate_result_free(&emb);
  hm_generate_result_free(&two);
  hm_generate_result_free(&none);
  hm_generate_result_free(&zero);
  /* hm_generate (one staged job) with the same reference */
  hm_generate_params gp = hm_generate_default_params();
  gp.model_path = ckpt;
  gp.version = "demo";
  gp.lyrics = j.lyrics;
  gp.tags = j.tags;
  gp.max_audio_ms = j.max_audio_ms;
  gp.seed = j.seed;
  gp.n_threads = 2;
  gp.ref_audio_path = ref_wav;
  gp.clap_path = clap_dir;
  CHECK(gp.ref_strength == 1.0f && gp.ref_seconds == 10.0);
  hm_generate_result g;
  CHECK_OK(hm_generate(&gp, &g));
  CHECK_MSG(same_codes(&g, &one), "hm_generate with ref_audio_path must give the engine's codes");
  CHECK(g.n_clap_loads == 1);
  hm_generate_result_free(&g);
  hm_generate_result_free(&one);
  hm_engine_close(e);

  /* staged: loaded for the job and freed with it; the same codes */
  e = open_engine(HM_ENGINE_STAGED, clap_dir);
  if (!e) return;
  hm_generate_result st1;
  CHECK_OK(hm_engine_generate(e, &j, NULL, &st1));
  hm_engine_get_stats(e, &s);
  CHECK(st1.n_clap_loads == 1 && !s.clap_loaded);
  hm_generate_result_free(&st1);
  hm_engine_close(e);
}

/* <model_path>/MuQ-MuLan-large is found without clap_path. */
static void default_folder(void) {
  char link[1100];
  snprintf(link, sizeof link, "%s/MuQ-MuLan-large", ckpt);
  if (symlink(clap_dir, link) != 0) { CHECK_MSG(false, "cannot link %s", link); return; }
  hm_engine *e = open_engine(HM_ENGINE_KEEP, NULL);
  if (e) {
    hm_job j = base_job();
    j.ref_audio_path = ref_wav;
    hm_generate_result r;
    CHECK_OK(hm_engine_generate(e, &j, NULL, &r));
    CHECK(r.n_clap_loads == 1);
    hm_generate_result_free(&r);
    hm_engine_close(e);
  }
  unlink(link);
}

static void bad_jobs(void) {
  hm_engine *e = open_engine(HM_ENGINE_KEEP, NULL); /* no MuQ-MuLan folder */
  if (!e) return;
  hm_generate_result r;
  hm_job j = base_job();
  j.ref_audio_path = ref_wav;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "reference audio needs a MuQ-MuLan model: none at");
  CHECK(r.codes == NULL);
  hm_engine_close(e);

  e = open_engine(HM_ENGINE_KEEP, clap_dir);
  if (!e) return;
  float v[512] = {0};
  j = base_job();
  j.ref_audio_path = ref_wav;
  j.ref_embedding = v;
  j.ref_embedding_dim = 512;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "give at most one");
  j.ref_embedding = NULL;
  j.ref_strength = 11.0f;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "ref_strength must be in [0, 10]");
  j.ref_strength = -0.5f;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "ref_strength must be in [0, 10]");
  j.ref_strength = 1.0f;
  j.ref_seconds = 0.5;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "ref_seconds must be in [1, 600]");
  j.ref_seconds = 10;
  j.ref_audio_path = "/nonexistent/ref.wav";
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "reference audio '/nonexistent/ref.wav' does not exist");
  char notaudio[1024];
  j.ref_audio_path = hm_test_path(notaudio, sizeof notaudio, "fixtures-clap/text_cases.json");
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "text_cases.json");
  /* a reference shorter than 1 s */
  char shortwav[1024];
  snprintf(shortwav, sizeof shortwav, "%s/short.wav", hm_test_tmpdir());
  float pcm[12000];
  for (int i = 0; i < 12000; i++) pcm[i] = 0.1f * (float)((i * 37) % 101 - 50) / 50.0f;
  FILE *f = fopen(shortwav, "wb");
  if (f) { /* a 16-bit mono WAV of 0.5 s at 24 kHz */
    unsigned char h[44] = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ', 16, 0, 0, 0, 1, 0, 1, 0,
                           0xC0, 0x5D, 0, 0, 0x80, 0xBB, 0, 0, 2, 0, 16, 0, 'd', 'a', 't', 'a', 0, 0, 0, 0};
    uint32_t data = 12000 * 2, riff = 36 + data;
    memcpy(h + 4, &riff, 4);
    memcpy(h + 40, &data, 4);
    fwrite(h, 1, sizeof h, f);
    for (int i = 0; i < 12000; i++) {
      int16_t s = (int16_t)(pcm[i] * 32767);
      fwrite(&s, 2, 1, f);
    }
    fclose(f);
    j.ref_audio_path = shortwav;
    CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "shorter than 1 s");
  }
  /* an embedding of the wrong size, a NaN one */
  j = base_job();
  j.ref_embedding = v;
  j.ref_embedding_dim = 256;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "ref_embedding has 256 values, the LM's muq slot takes 512");
  v[3] = 0.0f / 0.0f;
  j.ref_embedding_dim = 512;
  CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "ref_embedding[3] is not a finite number");
  hm_engine_close(e);

  /* a folder that does not exist */
  hm_engine_params ep = hm_engine_default_params();
  ep.version = "demo";
  ep.require_codec = false;
  ep.clap_path = "/nonexistent/MuQ-MuLan";
  hm_engine *bad = NULL;
  CHECK_ERR(hm_engine_open(ckpt, &ep, &bad), "MuQ-MuLan model folder '/nonexistent/MuQ-MuLan' (clap_path) does not exist");
  CHECK(bad == NULL);
}

/* The LM's muq slot must match the MuQ-MuLan embedding size: a checkpoint whose config says 256. */
static void dim_mismatch(void) {
  char dir[1024], *text = NULL;
  size_t n = 0;
  snprintf(dir, sizeof dir, "%s/HeartMuLa-oss-demo/config.json", ckpt);
  if (hm_read_file(dir, &text, &n) != HM_OK) { CHECK_OK(HM_ERR_IO); return; }
  char *p = strstr(text, "\"muq_dim\": 512");
  CHECK(p != NULL);
  if (!p) { free(text); return; }
  memcpy(p, "\"muq_dim\": 256", 14);
  FILE *f = fopen(dir, "wb");
  if (!f) { free(text); CHECK(false); return; }
  fwrite(text, 1, n, f);
  fclose(f);
  hm_engine *e = open_engine(HM_ENGINE_KEEP, clap_dir);
  if (e) {
    hm_job j = base_job();
    j.ref_audio_path = ref_wav;
    hm_generate_result r;
    CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "gives 512-d embeddings (hm_clap_dim), the LM's muq slot takes 256");
    CHECK_ERR(hm_engine_generate(e, &j, NULL, &r), "gives 512-d embeddings (hm_clap_dim), the LM's muq slot takes 256");
    hm_engine_stats s;
    hm_engine_get_stats(e, &s);
    CHECK(!s.clap_loaded); /* a model that does not fit is not kept */
    hm_engine_close(e);
  }
  memcpy(p, "\"muq_dim\": 512", 14); /* restored for anything after */
  f = fopen(dir, "wb");
  if (f) { fwrite(text, 1, n, f); fclose(f); }
  free(text);
}

void hm_test_main(void) {
  hm_test_path(clap_dir, sizeof clap_dir, "fixtures-clap/muq_mulan");
  hm_test_path(ref_wav, sizeof ref_wav, "fixtures-whisper/jfk.wav");
  if (!hm_dir_exists(clap_dir) || !hm_file_exists(ref_wav)) hm_test_skip("no fixtures-clap / fixtures-whisper");
  snprintf(ckpt, sizeof ckpt, "%s/ckpt", hm_test_tmpdir());
  CHECK_OK(hm_mula_make_checkpoint(ckpt, "demo", 11, 1));
  char p[1024];
  snprintf(p, sizeof p, "%s/tokenizer.json", ckpt);
  CHECK_OK(hm_tokenizer_write_demo(p, 1024, 1000, 1001, true));
  strengths();
  default_folder();
  bad_jobs();
  dim_mismatch();
}
