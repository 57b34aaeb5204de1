/* Quantized LM weights on the fixture (issue 6): BF16, Q8_0 and Q4_0, each
 * converted at load and from a quantized file (hm_st_write round trip, loaded
 * by mmap), teacher-forced through mula_cfg15_long. Prints each format's drift:
 * codebook 0's logits' relative error and the fraction of greedy codes that
 * differ from the f32 reference. Gates are loose bounds, the numbers are the report. */
#include "harness.h"
#include "io/fs.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "mula/mula.h"
#include "tensor/ops.h"

#include <stdlib.h>

typedef struct drift { double max_rel; int64_t codes, changed; } drift;

static hm_npy tok, mask, samples, c0, frames;
static int64_t muq_idx;

/* Feeds the fixture's frames (teacher forcing) and compares every call's sampled
 * logits and argmax codes with the reference. */
static hm_status run(const char *dir, hm_mula_weights w, const char *file, drift *d) {
  hm_mula_params mp = hm_mula_default_params();
  mp.weights = w;
  mp.weights_file = file;
  hm_mula_model *m = NULL;
  HM_TRY(hm_mula_load(dir, &mp, &m));
  hm_mula_context *ctx = NULL;
  hm_status st = hm_mula_context_create(m, NULL, &ctx);
  hm_mula_gen_params gp = hm_mula_default_gen_params();
  gp.topk = 1;
  gp.cfg_scale = 1.5f;
  const int64_t calls = samples.shape[0], V = c0.shape[2], T = frames.shape[1];
  memset(d, 0, sizeof *d);
  int32_t out[8], in[8];
  for (int64_t c = 0; c < calls && st == HM_OK; c++) {
    if (c == 0) st = hm_mula_start(ctx, tok.data, mask.data, tok.shape[1], muq_idx, &gp, out);
    else {
      for (int q = 0; q < 8; q++) in[q] = ((int32_t *)frames.data)[q * T + (c - 1)];
      st = hm_mula_next(ctx, in, out);
    }
    if (st != HM_OK) break;
    hm_mula_trace tr;
    hm_mula_get_trace(ctx, &tr);
    /* codebook 0's logits of both CFG rows: the first output of each frame step, before any
     * code of the frame is sampled (later codebooks follow the frame's own earlier codes) */
    const double rel = hm_max_rel_err(tr.c0_logits, (const float *)c0.data + c * 2 * V, 2 * V);
    if (rel > d->max_rel) d->max_rel = rel;
    for (int q = 0; q < 8; q++) {
      d->codes++;
      d->changed += out[q] != ((int32_t *)samples.data)[c * 8 + q];
    }
  }
  hm_mula_context_free(ctx);
  hm_mula_free(m);
  return st;
}

/* Writes the fixture's weights with the matrices the loader converts (layers,
 * projection, codebook0_head) stored as `to`; embeddings, muq_linear, audio_head
 * and 1-D tensors kept, as the loader keeps them. */
static hm_status write_quantized(const char *src, const char *dst, hm_dtype to) {
  hm_st *st;
  HM_TRY(hm_st_open(src, &st));
  int n = hm_st_count(st);
  hm_st_entry *e = calloc((size_t)n, sizeof *e);
  hm_mat *owned = calloc((size_t)n, sizeof *owned);
  float *tmp = NULL;
  hm_status s = e && owned ? HM_OK : hm_error(HM_ERR_NOMEM, "oom");
  for (int i = 0; i < n && s == HM_OK; i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    e[i] = hm_st_entry_of(t);
    if (t->n_dims == 2 && t->shape[1] % HM_QBLOCK == 0 && !strstr(t->name, "embedding") && !strstr(t->name, "muq")) {
      hm_mat W = {t->dtype, t->shape[0], t->shape[1], t->data};
      s = hm_mat_convert(&W, to, &owned[i]);
      e[i].dtype = to;
      e[i].data = owned[i].data;
    }
  }
  const char *meta[] = {HM_QUANT_LAYOUT_KEY, HM_QUANT_LAYOUT, NULL};
  if (s == HM_OK) s = hm_st_write(dst, e, n, meta);
  for (int i = 0; i < n; i++) if (owned[i].data) hm_mat_free_owned(&owned[i]);
  free(tmp);
  free(e);
  free(owned);
  hm_st_close(st);
  return s;
}

void hm_test_main(void) {
  char dir[1024], p[1024];
  hm_test_path(dir, sizeof dir, "fixtures/heartmula");
  CHECK_OK(hm_npy_read_i32(hm_test_path(p, sizeof p, "fixtures/mula_cfg15_long_prompt_tokens.npy"), &tok));
  CHECK_OK(hm_npy_read_i32(hm_test_path(p, sizeof p, "fixtures/mula_cfg15_long_prompt_tokens_mask.npy"), &mask));
  CHECK_OK(hm_npy_read_i32(hm_test_path(p, sizeof p, "fixtures/mula_cfg15_long_samples.npy"), &samples));
  CHECK_OK(hm_npy_read_f32(hm_test_path(p, sizeof p, "fixtures/mula_cfg15_long_c0_logits_raw.npy"), &c0));
  CHECK_OK(hm_npy_read_i32(hm_test_path(p, sizeof p, "fixtures/mula_cfg15_long_frames.npy"), &frames));
  json_t *man = NULL;
  CHECK_OK(hm_json_load(hm_test_path(p, sizeof p, "fixtures/manifest.json"), &man));
  muq_idx = json_integer_value(json_array_get(json_object_get(json_object_get(json_object_get(man, "files"),
                                 "mula_cfg15_long_prompt_tokens.npy"), "muq_idx"), 0));
  json_decref(man);
  if (!tok.data || !samples.data || !c0.data || !frames.data) return;

  drift ref;
  CHECK_OK(run(dir, HM_MULA_WEIGHTS_F32, NULL, &ref));
  CHECK_MSG(ref.max_rel < 1e-4 && ref.changed == 0, "f32: rel %.3g, %lld codes changed", ref.max_rel, (long long)ref.changed);

  static const struct { const char *name; hm_mula_weights w; hm_dtype t; double max_rel, max_changed; } fmts[] = {
    {"bf16", HM_MULA_WEIGHTS_BF16, HM_DT_BF16, 0.02, 0.05},
    {"q8_0", HM_MULA_WEIGHTS_Q8_0, HM_DT_Q8_0, 0.05, 0.20},
    {"q4_0", HM_MULA_WEIGHTS_Q4_0, HM_DT_Q4_0, 0.30, 0.80},
  };
  for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
    drift a, f;
    CHECK_OK(run(dir, fmts[i].w, NULL, &a));
    snprintf(p, sizeof p, "%s/model_%s.safetensors", hm_test_tmpdir(), fmts[i].name);
    char src[1024];
    hm_path_join(src, sizeof src, dir, "model.safetensors");
    CHECK_OK(write_quantized(src, p, fmts[i].t));
    CHECK_OK(run(dir, fmts[i].w, p, &f)); /* the quantized file: its matrices used as stored */
    printf("%s: codebook-0 logits rel err %.3g, greedy codes changed %lld/%lld (%.1f%%), teacher-forced, mula_cfg15_long\n",
           fmts[i].name, a.max_rel, (long long)a.changed, (long long)a.codes, 100.0 * (double)a.changed / (double)a.codes);
    /* converted at load or read from the quantized file: the same weights, the same numbers */
    CHECK_MSG(a.max_rel == f.max_rel && a.changed == f.changed, "%s: load-time %.6g/%lld vs file %.6g/%lld",
              fmts[i].name, a.max_rel, (long long)a.changed, f.max_rel, (long long)f.changed);
    CHECK_MSG(a.max_rel < fmts[i].max_rel, "%s: rel err %.3g", fmts[i].name, a.max_rel);
    CHECK_MSG((double)a.changed <= fmts[i].max_changed * (double)a.codes, "%s: %lld codes changed", fmts[i].name,
              (long long)a.changed);
  }
  hm_npy_free(&tok);
  hm_npy_free(&mask);
  hm_npy_free(&samples);
  hm_npy_free(&c0);
  hm_npy_free(&frames);
}
