/* Runs one mula_* case of a reference fixture folder (the layout of
 * ../shared/fixtures: manifest.json, heartmula/, gen_config.json, *.npy) and
 * compares every per-call array and the frames. Used by `heartmula parity`
 * (tools/parity_mula.c) and the tests; shapes, call counts, cfg and
 * thresholds come from the files and the manifest, never from constants. */
#include "mula_fixture.h"
#include "io/fs.h"
#include "io/json.h"
#include "io/npy.h"
#include <math.h>
#include "tensor/ops.h"
#include <stdio.h>
#include <stdlib.h>


typedef struct arrays {
  hm_npy tokens, mask, last_h, c0, ci, sampled, samples, frames;
} arrays;

static void free_arrays(arrays *a) {
  hm_npy *all[] = {&a->tokens, &a->mask, &a->last_h, &a->c0, &a->ci, &a->sampled, &a->samples, &a->frames};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) hm_npy_free(all[i]);
}

/* Reads dir/<prefix><suffix> if it exists (optional) or fails (required). */
static hm_status read_arr(const char *dir, const char *prefix, const char *suffix, bool is_int, bool required,
                          hm_npy *out, hm_mula_case_report *rep) {
  char name[256], path[4096];
  snprintf(name, sizeof name, "%s%s", prefix, suffix);
  HM_TRY(hm_path_join(path, sizeof path, dir, name));
  memset(out, 0, sizeof *out);
  if (!hm_file_exists(path)) {
    if (required) return hm_error(HM_ERR_IO, "%s: missing (needed by case %s)", path, prefix);
    return HM_OK;
  }
  if (rep->n_used < HM_MULA_CASE_MAX_FILES) snprintf(rep->used[rep->n_used++], sizeof rep->used[0], "%.95s", name);
  return is_int ? hm_npy_read_i32(path, out) : hm_npy_read_f32(path, out);
}

static const json_t *file_entry(const json_t *manifest, const char *name) {
  const json_t *files = json_object_get(manifest, "files");
  return files ? json_object_get(files, name) : NULL;
}

/* "cfg_scale=1.5" or "cfg 1.5" in a manifest description; false if absent. */
static bool desc_cfg(const json_t *e, float *cfg) {
  const char *d = e ? json_string_value(json_object_get(e, "desc")) : NULL;
  if (!d) return false;
  const char *keys[] = {"cfg_scale=", "cfg "};
  for (int k = 0; k < 2; k++) {
    const char *p = strstr(d, keys[k]);
    if (p) {
      char *end;
      double v = strtod(p + strlen(keys[k]), &end);
      if (end != p + strlen(keys[k])) { *cfg = (float)v; return true; }
    }
  }
  return false;
}

/* cfg from the guided logits of call 0: s = u + (c - u) * cfg at the entry with the largest |c - u|. */
static float derive_cfg(const float *c0 /* [2, V] */, const float *s /* [V] */, int64_t V) {
  int64_t best = 0;
  for (int64_t i = 1; i < V; i++)
    if (fabsf(c0[i] - c0[V + i]) > fabsf(c0[best] - c0[V + best])) best = i;
  float d = c0[best] - c0[V + best];
  float cfg = d != 0 ? (s[best] - c0[V + best]) / d : 1.0f;
  return roundf(cfg * 1000.0f) / 1000.0f;
}

static int64_t manifest_muq_idx(const json_t *manifest, const char *name) {
  const json_t *e = file_entry(manifest, name);
  const json_t *m = e ? json_object_get(e, "muq_idx") : NULL;
  if (json_is_array(m) && json_array_size(m) > 0) return json_integer_value(json_array_get(m, 0));
  if (json_is_integer(m)) return json_integer_value(m);
  return -1;
}

/* History cases carry no muq_idx: take it from a prompt file of the manifest whose rows
 * equal the first P rows. */
static int64_t find_muq_idx(const char *dir, const json_t *manifest, const int32_t *rows, int64_t P, int64_t C) {
  const json_t *files = json_object_get(manifest, "files");
  const char *key;
  const json_t *val;
  int64_t found = -1;
  json_object_foreach((json_t *)files, key, val) {
    if (found >= 0) break;
    const json_t *m = json_object_get(val, "muq_idx");
    if (!m) continue;
    char path[4096];
    if (hm_path_join(path, sizeof path, dir, key) != HM_OK || !hm_file_exists(path)) continue;
    hm_npy a;
    if (hm_npy_read_i32(path, &a) != HM_OK) continue;
    if (a.n_dims == 3 && a.shape[1] == P && a.shape[2] == C &&
        !memcmp(a.data, rows, (size_t)(P * C) * sizeof(int32_t)))
      found = manifest_muq_idx(manifest, key);
    hm_npy_free(&a);
  }
  return found;
}

static hm_status run_case(hm_mula_model *model, const char *dir, const json_t *manifest, const char *cname,
                          int n_threads, hm_mula_case_report *rep) {
  char prefix[160], name[256];
  snprintf(prefix, sizeof prefix, "mula_%s", cname);
  arrays A;
  memset(&A, 0, sizeof A);
  hm_status st = HM_OK;
  hm_mula_context *ctx = NULL;
  int32_t *codes = NULL;
  hm_mula_info info;
  hm_mula_get_info(model, &info);
  const int64_t ncb = info.n_codebooks, C = ncb + 1, V = info.audio_vocab_size, D = info.backbone_dim;

  /* inputs: a prompt case (_prompt_tokens) or a history case (_tokens) */
  bool hist = false;
  snprintf(name, sizeof name, "%s_prompt_tokens.npy", prefix);
  char path[4096];
  HM_TRY(hm_path_join(path, sizeof path, dir, name));
  if (!hm_file_exists(path)) hist = true;
  const char *tk = hist ? "_tokens.npy" : "_prompt_tokens.npy", *mk = hist ? "_tokens_mask.npy" : "_prompt_tokens_mask.npy";
#define GO(x) do { if ((st = (x)) != HM_OK) goto done; } while (0)
  GO(read_arr(dir, prefix, tk, true, true, &A.tokens, rep));
  GO(read_arr(dir, prefix, mk, true, true, &A.mask, rep));
  GO(read_arr(dir, prefix, "_backbone_last_h.npy", false, true, &A.last_h, rep));
  GO(read_arr(dir, prefix, "_c0_logits_raw.npy", false, true, &A.c0, rep));
  GO(read_arr(dir, prefix, "_ci_logits_raw.npy", false, false, &A.ci, rep));
  GO(read_arr(dir, prefix, "_sampled_logits.npy", false, true, &A.sampled, rep));
  GO(read_arr(dir, prefix, "_samples.npy", true, false, &A.samples, rep));
  GO(read_arr(dir, prefix, "_frames.npy", true, true, &A.frames, rep));
  {
    /* the positions file is only checked to be arange */
    hm_npy pos;
    memset(&pos, 0, sizeof pos);
    GO(read_arr(dir, prefix, hist ? "_pos.npy" : "_prompt_pos.npy", true, false, &pos, rep));
    bool ok = true;
    if (pos.data)
      for (int64_t i = 0; i < pos.n_elems && pos.n_dims == 2; i++)
        ok &= ((int32_t *)pos.data)[i] == (int32_t)(i % pos.shape[1]);
    hm_npy_free(&pos);
    if (!ok) GO(hm_error(HM_ERR_UNSUPPORTED, "%s: positions are not arange(rows)", prefix));
  }
  if (A.tokens.n_dims != 3 || A.tokens.shape[2] != C || A.mask.n_elems != A.tokens.n_elems)
    GO(hm_error(HM_ERR_FORMAT, "%s: tokens must be [B, rows, %lld] with a mask of the same shape", prefix, (long long)C));
  const int64_t B = A.tokens.shape[0], N = A.tokens.shape[1];
  const int64_t calls = A.last_h.shape[0];
  if (B < 1 || B > 2 || A.last_h.n_dims != 3 || A.last_h.shape[1] != B || A.last_h.shape[2] != D ||
      A.c0.n_elems != calls * B * V || A.sampled.n_elems != calls * ncb * V ||
      (A.ci.data && A.ci.n_elems != calls * (ncb - 1) * B * V) || (A.samples.data && A.samples.n_elems < calls * ncb) ||
      A.frames.n_dims != 2 || A.frames.shape[0] != ncb)
    GO(hm_error(HM_ERR_FORMAT, "%s: array shapes do not fit the model (B %lld, D %lld, V %lld, %lld codebooks)", prefix,
                (long long)B, (long long)D, (long long)V, (long long)ncb));
  const int32_t *tok = A.tokens.data, *msk = A.mask.data;
  if (B == 2 && memcmp(tok, tok + N * C, (size_t)(N * C) * sizeof(int32_t)) != 0)
    GO(hm_error(HM_ERR_UNSUPPORTED, "%s: the two CFG rows differ (the C API takes one row set)", prefix));

  /* history rows: trailing rows with the text column masked out */
  int64_t NH = 0;
  if (hist)
    while (NH < N && msk[(N - 1 - NH) * C + ncb] == 0) NH++;
  const int64_t P = N - NH;
  int64_t muq = hist ? find_muq_idx(dir, manifest, tok, P, C) : manifest_muq_idx(manifest, (snprintf(name, sizeof name, "%s%s", prefix, tk), name));
  if (muq < 0) GO(hm_error(HM_ERR_FORMAT, "%s: cannot tell the muq row (no muq_idx in manifest.json)", prefix));

  hm_mula_gen_params g = hm_mula_default_gen_params();
  g.topk = 1;
  g.temperature = 1.0f;
  g.cfg_scale = 1.0f;
  if (B == 2) {
    snprintf(name, sizeof name, "%s_frames.npy", prefix);
    if (!desc_cfg(file_entry(manifest, name), &g.cfg_scale)) {
      snprintf(name, sizeof name, "%s%s", prefix, tk);
      if (!desc_cfg(file_entry(manifest, name), &g.cfg_scale))
        g.cfg_scale = derive_cfg(A.c0.data, A.sampled.data, V);
    }
    if (!(g.cfg_scale > 1.0f)) GO(hm_error(HM_ERR_FORMAT, "%s: batch 2 but cfg_scale %g", prefix, (double)g.cfg_scale));
  }
  const json_t *notes = json_object_get(manifest, "mula_notes");
  snprintf(name, sizeof name, "%s_audio_eos_id", cname);
  const json_t *eos = notes ? json_object_get(notes, name) : NULL;
  if (json_is_integer(eos)) g.audio_eos_id = (int32_t)json_integer_value(eos);
  rep->cfg_scale = g.cfg_scale;
  rep->audio_eos_id = g.audio_eos_id >= 0 ? g.audio_eos_id : info.audio_eos_id;
  rep->calls = calls;

  hm_mula_context_params cp = hm_mula_context_default_params();
  cp.n_threads = n_threads;
  cp.n_ctx = (int)(N + calls + 1);
  if (cp.n_ctx > info.max_seq_len) cp.n_ctx = info.max_seq_len;
  GO(hm_mula_context_create(model, &cp, &ctx));

  /* per call, through the step API */
  float *got_h = malloc((size_t)(calls * B * D) * sizeof(float));
  float *got_c0 = malloc((size_t)(calls * B * V) * sizeof(float));
  float *got_ci = malloc((size_t)(calls * (ncb - 1) * B * V) * sizeof(float));
  float *got_s = malloc((size_t)(calls * ncb * V) * sizeof(float));
  int32_t frame[HM_MULA_COLS_MAX], prev[HM_MULA_COLS_MAX];
  if (!got_h || !got_c0 || !got_ci || !got_s) st = hm_error(HM_ERR_NOMEM, "out of memory");
  rep->first_bad_call = -1;
  for (int64_t k = 0; k < calls && st == HM_OK; k++) {
    st = k == 0 ? hm_mula_start(ctx, tok, msk, N, muq, &g, frame) : hm_mula_next(ctx, prev, frame);
    if (st != HM_OK) break;
    hm_mula_trace tr;
    hm_mula_get_trace(ctx, &tr);
    memcpy(got_h + k * B * D, tr.last_h, (size_t)(B * D) * sizeof(float));
    memcpy(got_c0 + k * B * V, tr.c0_logits, (size_t)(B * V) * sizeof(float));
    for (int64_t i = 0; i < ncb - 1; i++)
      memcpy(got_ci + ((k * (ncb - 1) + i) * B) * V, tr.ci_logits + i * 2 * V, (size_t)(B * V) * sizeof(float));
    memcpy(got_s + k * ncb * V, tr.sampled, (size_t)(ncb * V) * sizeof(float));
    if (A.samples.data && rep->first_bad_call < 0) {
      const int32_t *ref = (const int32_t *)A.samples.data + k * (A.samples.n_elems / calls);
      for (int64_t i = 0; i < ncb; i++)
        if (frame[i] != ref[i] && rep->first_bad_call < 0) {
          rep->first_bad_call = (int)k;
          snprintf(rep->msg, sizeof rep->msg, "call %lld codebook %lld: sampled %d, expected %d", (long long)k, (long long)i,
                   (int)frame[i], (int)ref[i]);
        }
    }
    memcpy(prev, frame, sizeof frame);
  }
  if (st == HM_OK) {
    rep->err_last_h = hm_max_rel_err(got_h, A.last_h.data, calls * B * D);
    rep->err_c0 = hm_max_rel_err(got_c0, A.c0.data, calls * B * V);
    rep->err_ci = A.ci.data ? hm_max_rel_err(got_ci, A.ci.data, calls * (ncb - 1) * B * V) : -1;
    rep->err_sampled = hm_max_rel_err(got_s, A.sampled.data, calls * ncb * V);
  }
  free(got_h); free(got_c0); free(got_ci); free(got_s);
  if (st != HM_OK) goto done;

  /* frames, through the generation loop (1 + max_audio_ms / 80 calls at most) */
  {
    g.max_audio_ms = (calls - 1) * 80;
    int32_t *hcodes = NULL;
    if (NH > 0) {
      hcodes = malloc((size_t)(NH * ncb) * sizeof(int32_t));
      if (!hcodes) GO(hm_error(HM_ERR_NOMEM, "out of memory"));
      for (int64_t h = 0; h < NH; h++)
        for (int64_t k = 0; k < ncb; k++) hcodes[k * NH + h] = tok[(P + h) * C + k];
    }
    int64_t nf = 0;
    st = hm_mula_generate(ctx, tok, msk, P, muq, &g, hcodes, NH, &codes, &nf);
    free(hcodes);
    if (st != HM_OK) goto done;
    const int64_t T = A.frames.shape[1];
    rep->frames = nf;
    rep->expected_frames = T;
    rep->first_bad_frame = -1;
    const int32_t *ref = A.frames.data;
    for (int64_t f = 0; f < (nf < T ? nf : T) && rep->first_bad_frame < 0; f++)
      for (int64_t k = 0; k < ncb; k++)
        if (codes[k * nf + f] != ref[k * T + f]) { rep->first_bad_frame = (int)f; break; }
    if (rep->first_bad_frame < 0 && nf != T) rep->first_bad_frame = (int)(nf < T ? nf : T);
  }
  rep->pass = rep->first_bad_call < 0 && rep->first_bad_frame < 0 && rep->err_last_h <= rep->tol &&
              rep->err_c0 <= rep->tol && rep->err_ci <= rep->tol && rep->err_sampled <= rep->tol;
  rep->max_err = rep->err_last_h;
  if (rep->err_c0 > rep->max_err) rep->max_err = rep->err_c0;
  if (rep->err_ci > rep->max_err) rep->max_err = rep->err_ci;
  if (rep->err_sampled > rep->max_err) rep->max_err = rep->err_sampled;
  if (!rep->msg[0] && rep->first_bad_frame >= 0)
    snprintf(rep->msg, sizeof rep->msg, "frames differ from frame %d (%lld frames made, %lld expected)",
             rep->first_bad_frame, (long long)rep->frames, (long long)rep->expected_frames);
  if (!rep->msg[0] && !rep->pass)
    snprintf(rep->msg, sizeof rep->msg, "rel err above %g: last_h %.2e c0 %.2e ci %.2e sampled %.2e", rep->tol,
             rep->err_last_h, rep->err_c0, rep->err_ci, rep->err_sampled);
#undef GO
done:
  free(codes);
  hm_mula_context_free(ctx);
  free_arrays(&A);
  return st;
}

hm_status hm_mula_fixture_case(const char *dir, const json_t *manifest, const char *cname, int n_threads,
                               hm_mula_case_report *rep) {
  memset(rep, 0, sizeof *rep);
  rep->tol = 1e-4;
  rep->first_bad_call = rep->first_bad_frame = -1;
  char mdir[4096];
  HM_TRY(hm_path_join(mdir, sizeof mdir, dir, "heartmula"));
  hm_mula_params mp = hm_mula_default_params();
  mp.n_threads = n_threads;
  /* cases named *bf16w* use the bf16-rounded weights, computed in f32 */
  if (strstr(cname, "bf16w")) {
    mp.weights_file = "model_bf16.safetensors";
    mp.weights = HM_MULA_WEIGHTS_F32;
    snprintf(rep->model_file, sizeof rep->model_file, "heartmula/model_bf16.safetensors");
  } else {
    snprintf(rep->model_file, sizeof rep->model_file, "heartmula/model.safetensors");
  }
  hm_mula_model *model = NULL;
  HM_TRY(hm_mula_load(mdir, &mp, &model));
  hm_status st = run_case(model, dir, manifest, cname, n_threads, rep);
  hm_mula_free(model);
  return st;
}

int hm_mula_fixture_cases(const json_t *manifest, char names[][64], int max) {
  const json_t *files = json_object_get(manifest, "files");
  const char *key;
  const json_t *val;
  int n = 0;
  json_object_foreach((json_t *)files, key, val) {
    (void)val;
    if (strncmp(key, "mula_", 5) != 0) continue;
    const char *suf = NULL;
    size_t kl = strlen(key);
    const char *sufs[] = {"_prompt_tokens.npy", "_tokens.npy"};
    for (int s = 0; s < 2 && !suf; s++) {
      size_t sl = strlen(sufs[s]);
      if (kl > sl + 5 && !strcmp(key + kl - sl, sufs[s])) suf = sufs[s];
    }
    if (!suf) continue;
    size_t cl = kl - strlen(suf) - 5;
    if (cl >= 64) continue;
    char c[64];
    memcpy(c, key + 5, cl);
    c[cl] = 0;
    if (!strcmp(suf, "_tokens.npy") && cl > 7 && !strcmp(c + cl - 7, "_prompt")) continue;
    bool dup = false;
    for (int i = 0; i < n; i++) dup |= !strcmp(names[i], c);
    if (!dup && n < max) snprintf(names[n++], 64, "%s", c);
  }
  return n;
}
