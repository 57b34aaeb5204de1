/* HeartMuLa generation on the fixture model: same seed = same codes with top-k 50,
 * another seed differs, history continuation = the plain run, bf16 conversion at
 * load stays close, the sampler's rule, argument errors, abort and progress. */
#include "harness.h"
#include "mula/mula.h"
#include "tensor/ops.h"
#include "io/npy.h"
#include <math.h>
#include <stdlib.h>

static hm_mula_model *load(hm_mula_weights w) {
  char d[1024];
  hm_test_path(d, sizeof d, "fixtures/heartmula");
  hm_mula_params p = hm_mula_default_params();
  p.weights = w;
  hm_mula_model *m = NULL;
  CHECK_OK(hm_mula_load(d, &p, &m));
  return m;
}

static hm_npy prompt(void) {
  char p[1024];
  hm_npy a;
  memset(&a, 0, sizeof a);
  CHECK_OK(hm_npy_read_i32(hm_test_path(p, sizeof p, "fixtures/mula_cfg15_prompt_tokens.npy"), &a));
  return a;
}

static int n_progress;
static void on_progress(void *ud, int64_t done, int64_t total) { (void)ud; (void)total; n_progress = (int)done; }
static bool abort_after_3(void *ud) { (void)ud; return n_progress >= 3; }

static void test_sampler(void) {
  float l[6] = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f}, s[6];
  hm_rng r;
  hm_rng_seed(&r, 1, 0);
  /* top-1 with a tie keeps both maxima; never anything else */
  int hit1 = 0, hit3 = 0;
  for (int i = 0; i < 200; i++) {
    int32_t t = hm_mula_sample_topk(l, 6, 1, 1.0f, &r, s);
    CHECK(t == 1 || t == 3);
    hit1 += t == 1;
    hit3 += t == 3;
  }
  CHECK(hit1 > 50 && hit3 > 50);
  /* top-3: only {1, 3, 2}; frequencies follow softmax([3, 3, 2]) */
  int cnt[6] = {0};
  for (int i = 0; i < 20000; i++) cnt[hm_mula_sample_topk(l, 6, 3, 1.0f, &r, s)]++;
  CHECK(cnt[0] == 0 && cnt[4] == 0 && cnt[5] == 0);
  double p2 = exp(2.0) / (2 * exp(3.0) + exp(2.0));
  CHECK_NEAR(cnt[2] / 20000.0, p2, 0.02);
  /* temperature: a high one flattens, a low one sharpens */
  memset(cnt, 0, sizeof cnt);
  for (int i = 0; i < 20000; i++) cnt[hm_mula_sample_topk(l, 6, 6, 0.05f, &r, s)]++;
  CHECK(cnt[0] + cnt[2] + cnt[4] + cnt[5] < 20);
}

static void test_determinism(hm_mula_model *m) {
  hm_npy a = prompt();
  if (!a.data) return;
  const int64_t P = a.shape[1];
  hm_mula_context *ctx = NULL;
  CHECK_OK(hm_mula_context_create(m, NULL, &ctx));
  if (!ctx) return;
  hm_mula_gen_params g = hm_mula_default_gen_params();
  g.topk = 50;
  g.seed = 1234;
  g.max_audio_ms = 40 * 80;
  g.audio_eos_id = 100000; /* never stop early: compare 41 frames */
  int32_t *c1 = NULL, *c2 = NULL, *c3 = NULL;
  int64_t n1 = 0, n2 = 0, n3 = 0;
  CHECK_OK(hm_mula_generate(ctx, a.data, NULL, P, 7, &g, NULL, 0, &c1, &n1));
  CHECK_OK(hm_mula_generate(ctx, a.data, NULL, P, 7, &g, NULL, 0, &c2, &n2));
  g.seed = 1235;
  CHECK_OK(hm_mula_generate(ctx, a.data, NULL, P, 7, &g, NULL, 0, &c3, &n3));
  CHECK(n1 == 41 && n2 == 41 && n3 == 41);
  if (c1 && c2 && c3 && n1 == n2 && n1 == n3) {
    CHECK(memcmp(c1, c2, (size_t)(8 * n1) * sizeof(int32_t)) == 0);
    CHECK(memcmp(c1, c3, (size_t)(8 * n1) * sizeof(int32_t)) != 0);
    /* top-k 50 really samples: not the greedy codes */
    int distinct = 0;
    for (int64_t f = 1; f < n1; f++) distinct += c1[f] != c1[f - 1];
    CHECK(distinct > 5);
    /* continuation: feeding frames 0..9 as history and sampling on = frames 10.. of a greedy run */
  }
  free(c2); free(c3);
  /* greedy: history continuation equals the plain run */
  g.topk = 1;
  g.seed = 0;
  int32_t *hist = NULL, *cont = NULL;
  int64_t nh = 0, nc = 0;
  g.max_audio_ms = 15 * 80;
  CHECK_OK(hm_mula_generate(ctx, a.data, NULL, P, 7, &g, NULL, 0, &hist, &nh));
  CHECK(nh == 16);
  if (hist && nh == 16) {
    int32_t h10[8 * 10];
    for (int k = 0; k < 8; k++) for (int f = 0; f < 10; f++) h10[k * 10 + f] = hist[k * nh + f];
    g.max_audio_ms = 5 * 80;
    CHECK_OK(hm_mula_generate(ctx, a.data, NULL, P, 7, &g, h10, 10, &cont, &nc));
    CHECK(nc == 6);
    int bad = 0;
    for (int k = 0; k < 8 && nc == 6; k++) for (int f = 0; f < 6; f++) bad += cont[k * nc + f] != hist[k * nh + 10 + f];
    CHECK_MSG(bad == 0, "%d codes differ between the continuation and the plain run", bad);
  }
  free(hist); free(cont); free(c1);

  /* progress + abort */
  n_progress = 0;
  g.max_audio_ms = 20 * 80;
  g.progress = on_progress;
  g.abort = abort_after_3;
  int32_t *c = NULL;
  int64_t nf = 0;
  CHECK(hm_mula_generate(ctx, a.data, NULL, P, 7, &g, NULL, 0, &c, &nf) == HM_ERR_ABORTED);
  CHECK(nf == 3 && c != NULL);
  free(c);
  g.progress = NULL;
  g.abort = NULL;

  /* argument errors */
  int32_t *bad_tok = malloc((size_t)a.n_elems * sizeof(int32_t));
  memcpy(bad_tok, a.data, (size_t)a.n_elems * sizeof(int32_t));
  bad_tok[3 * 9 + 8] = 5000; /* text id beyond text_vocab_size 1024 */
  CHECK_ERR(hm_mula_generate(ctx, bad_tok, NULL, P, 7, &g, NULL, 0, &c, &nf), "row 3 column 8");
  CHECK_ERR(hm_mula_generate(ctx, a.data, NULL, P, P, &g, NULL, 0, &c, &nf), "muq_idx");
  CHECK_ERR(hm_mula_generate(ctx, a.data, NULL, 0, -1, &g, NULL, 0, &c, &nf), "n_rows");
  g.temperature = 0.0f;
  CHECK_ERR(hm_mula_generate(ctx, a.data, NULL, P, 7, &g, NULL, 0, &c, &nf), "temperature");
  g.temperature = 1.0f;
  g.topk = 0;
  CHECK_ERR(hm_mula_generate(ctx, a.data, NULL, P, 7, &g, NULL, 0, &c, &nf), "topk");
  g.topk = 1;
  int32_t hbad[8] = {600, 0, 0, 0, 0, 0, 0, 0};
  CHECK_ERR(hm_mula_generate(ctx, a.data, NULL, P, 7, &g, hbad, 1, &c, &nf), "audio id 600");
  int32_t frame[8];
  hm_mula_context *fresh = NULL;
  CHECK_OK(hm_mula_context_create(m, NULL, &fresh));
  CHECK_ERR(hm_mula_next(fresh, frame, frame), "hm_mula_start");
  hm_mula_context_free(fresh);
  /* a context too small for the prompt */
  hm_mula_context_params cp = hm_mula_context_default_params();
  cp.n_ctx = 4;
  CHECK_OK(hm_mula_context_create(m, &cp, &fresh));
  CHECK_ERR(hm_mula_generate(fresh, a.data, NULL, P, 7, &g, NULL, 0, &c, &nf), "n_ctx 4");
  hm_mula_context_free(fresh);
  free(bad_tok);
  hm_mula_context_free(ctx);
  hm_npy_free(&a);
}

/* BF16 conversion at load: call-0 codebook0 logits within 1e-2 of the f32 reference. */
static void test_bf16(void) {
  hm_mula_model *m = load(HM_MULA_WEIGHTS_BF16);
  if (!m) return;
  hm_mula_info info;
  hm_mula_get_info(m, &info);
  hm_mula_model *mf = load(HM_MULA_WEIGHTS_AS_STORED);
  hm_mula_info inf32;
  hm_mula_get_info(mf, &inf32);
  CHECK(info.weight_bytes_per_frame * 2 == inf32.weight_bytes_per_frame);
  hm_mula_free(mf);
  hm_npy a = prompt(), ref;
  char p[1024];
  CHECK_OK(hm_npy_read_f32(hm_test_path(p, sizeof p, "fixtures/mula_cfg15_c0_logits_raw.npy"), &ref));
  hm_mula_context *ctx = NULL;
  CHECK_OK(hm_mula_context_create(m, NULL, &ctx));
  if (ctx && a.data && ref.data) {
    hm_mula_gen_params g = hm_mula_default_gen_params();
    g.topk = 1;
    int32_t frame[8];
    CHECK_OK(hm_mula_start(ctx, a.data, NULL, a.shape[1], 7, &g, frame));
    hm_mula_trace tr;
    hm_mula_get_trace(ctx, &tr);
    const double rel = hm_max_rel_err(tr.c0_logits, (const float *)ref.data, 2 * info.audio_vocab_size);
    CHECK_MSG(rel < 1e-2, "bf16 rel err %g", rel);
    CHECK_MSG(rel > 1e-7, "bf16 rel err %g: weights were not converted?", rel);
  }
  hm_mula_context_free(ctx);
  hm_npy_free(&a);
  hm_npy_free(&ref);
  hm_mula_free(m);
}

/* Prefill in chunks (n_batch 3: 14 prompt rows in 5 chunks) gives the reference frames. */
static void test_chunked_prefill(hm_mula_model *m) {
  hm_npy a = prompt(), ref, fr;
  char p[1024];
  CHECK_OK(hm_npy_read_f32(hm_test_path(p, sizeof p, "fixtures/mula_cfg15_c0_logits_raw.npy"), &ref));
  CHECK_OK(hm_npy_read_i32(hm_test_path(p, sizeof p, "fixtures/mula_cfg15_frames.npy"), &fr));
  hm_mula_context_params cp = hm_mula_context_default_params();
  cp.n_batch = 3;
  cp.n_ctx = 40;
  hm_mula_context *ctx = NULL;
  CHECK_OK(hm_mula_context_create(m, &cp, &ctx));
  if (ctx && a.data && ref.data && fr.data) {
    hm_mula_gen_params g = hm_mula_default_gen_params();
    g.topk = 1;
    int32_t frame[8];
    CHECK_OK(hm_mula_start(ctx, a.data, NULL, a.shape[1], 7, &g, frame));
    CHECK(hm_mula_n_past(ctx) == a.shape[1]);
    hm_mula_trace tr;
    hm_mula_get_trace(ctx, &tr);
    const double rel = hm_max_rel_err(tr.c0_logits, (const float *)ref.data, 2 * tr.V);
    CHECK_MSG(rel < 1e-4, "chunked prefill rel err %g", rel);
    int32_t *codes = NULL;
    int64_t nf = 0;
    g.max_audio_ms = (fr.shape[1] - 1) * 80;
    CHECK_OK(hm_mula_generate(ctx, a.data, NULL, a.shape[1], 7, &g, NULL, 0, &codes, &nf));
    CHECK(nf == fr.shape[1]);
    if (codes && nf == fr.shape[1]) CHECK(memcmp(codes, fr.data, (size_t)(8 * nf) * sizeof(int32_t)) == 0);
    free(codes);
  }
  hm_mula_context_free(ctx);
  hm_npy_free(&a);
  hm_npy_free(&ref);
  hm_npy_free(&fr);
}

void hm_test_main(void) {
  test_sampler();
  hm_mula_model *m = load(HM_MULA_WEIGHTS_AS_STORED);
  if (m) test_determinism(m);
  if (m) test_chunked_prefill(m);
  hm_mula_free(m);
  test_bf16();
}
