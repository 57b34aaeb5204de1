/* HeartCLAP (MuQ-MuLan) fixture cases for `heartmula parity`: every stage of
 * the audio tower (filters, clips, mel dB / normalised, conv subsampling, every
 * conformer hidden state, the MuLan transformer, pooling, clip latents, the
 * audio embedding), the tokenizer, XLM-R, the text head, batched and single
 * text embeddings and the similarities. Each stage runs on the fixture's own
 * input to it (so an error is that stage's), and the embeddings also end to
 * end. Recognised by a manifest whose state_dict holds mulan.audio_to_latents.
 * Tolerances: max-abs error / max-abs reference <= 1e-4 (README), mel dB
 * within 0.05 dB absolute (torch's f32 STFT vs ours differ in near-silent bins). */
#include "parity.h"
#include "clap/clap.h"
#include "io/audio.h"
#include "io/npy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REL_TOL 1e-4

static double max_abs_diff(const float *a, const float *b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= m)) m = isnan(d) ? INFINITY : d;
  }
  return m;
}

static bool load_ref(parity_ctx *p, const char *name, const char *file, int64_t n, hm_npy *ref) {
  char path[4096];
  if (hm_npy_read_f32(parity_file(p, file, path, sizeof path), ref) != HM_OK) {
    parity_fail(p, name, "%s", hm_last_error());
    return false;
  }
  if (n >= 0 && ref->n_elems != n) {
    parity_fail(p, name, "%s has %lld values, expected %lld", file, (long long)ref->n_elems, (long long)n);
    hm_npy_free(ref);
    return false;
  }
  return true;
}

/* got vs ref (n values): relative tolerance, or absolute when abs_tol > 0. */
static void check(parity_ctx *p, const char *name, const float *got, const float *ref, int64_t n, double abs_tol) {
  double d = max_abs_diff(got, ref, n), rel = parity_rel_err(got, ref, n);
  bool ok = abs_tol > 0 ? d <= abs_tol : rel <= REL_TOL;
  if (ok) parity_pass(p, name, rel, "max_abs %.3g (tol %s %g)", d, abs_tol > 0 ? "abs" : "rel", abs_tol > 0 ? abs_tol : REL_TOL);
  else parity_fail(p, name, "max_abs %.3g rel %.3g > tol %s %g", d, rel, abs_tol > 0 ? "abs" : "rel",
                   abs_tol > 0 ? abs_tol : REL_TOL);
}

static void cmp_file(parity_ctx *p, const char *name, const char *file, const float *got, int64_t n, double abs_tol) {
  hm_npy ref;
  if (!parity_selected(p, name) || !load_ref(p, name, file, n, &ref)) return;
  check(p, name, got, ref.data, n, abs_tol);
  hm_npy_free(&ref);
}

typedef struct audio_refs {
  hm_npy wav, mel_norm, conv, hidden, sel, tfo;
} audio_refs;

static void audio_cases(parity_ctx *p, const hm_clap_model *m, hm_pool *pool) {
  const hm_clap_config *c = &m->cfg;
  if (parity_selected(p, "clap_mel_filters")) {
    int64_t n = (int64_t)c->n_mels * (c->n_fft / 2 + 1);
    cmp_file(p, "clap_mel_filters", "mel_filters.npy", m->mel_filters, n, 0);
  }
  char path[4096];
  hm_npy wav;
  if (hm_npy_read_f32(parity_file(p, "audio_wav24k.npy", path, sizeof path), &wav) != HM_OK) {
    parity_fail(p, "clap_audio", "%s", hm_last_error());
    return;
  }
  float *clips = NULL;
  int nc = 0;
  int64_t len = 0;
  if (hm_clap_clips(m, wav.data, wav.n_elems, &clips, &nc, &len) != HM_OK) {
    parity_fail(p, "clap_clips", "%s", hm_last_error());
    hm_npy_free(&wav);
    return;
  }
  cmp_file(p, "clap_clips", "audio_clips.npy", clips, (int64_t)nc * len, 1e-9);
  const int64_t nf = len / c->hop, T = ((nf - 1) / 2) / 2 + 1, D = c->enc_dim, nh = c->enc_depth + 1;
  const int64_t mel_n = nf * c->n_mels;
  float *db = hm_malloc_aligned(sizeof(float) * (size_t)(mel_n * nc));
  float *norm = hm_malloc_aligned(sizeof(float) * (size_t)(mel_n * nc));
  float *conv = hm_malloc_aligned(sizeof(float) * (size_t)(T * D * nc));
  float *hid = hm_malloc_aligned(sizeof(float) * (size_t)(T * D * nh * nc));
  float *sel = hm_malloc_aligned(sizeof(float) * (size_t)(T * D * nc));
  float *tfo = hm_malloc_aligned(sizeof(float) * (size_t)(T * c->a_dim * nc));
  float *pooled = malloc(sizeof(float) * (size_t)(c->a_dim * nc));
  float *lat = malloc(sizeof(float) * (size_t)(c->dim_latent * nc));
  float *emb = malloc(sizeof(float) * (size_t)c->dim_latent);
  hm_npy r_norm = {0}, r_conv = {0}, r_sel = {0}, r_tfo = {0};
  bool have = db && norm && conv && hid && sel && tfo && pooled && lat && emb;
  if (!have) { parity_fail(p, "clap_audio", "out of memory"); goto done; }
  /* stage by stage, each on the reference's input */
  for (int i = 0; i < nc; i++)
    if (hm_clap_mel(m, clips + i * len, len, db + i * mel_n, norm + i * mel_n) != HM_OK) {
      parity_fail(p, "clap_mel_db", "%s", hm_last_error());
      goto done;
    }
  cmp_file(p, "clap_mel_db", "audio_mel_db.npy", db, mel_n * nc, 0.05);
  cmp_file(p, "clap_mel_norm", "audio_mel_norm.npy", norm, mel_n * nc, 0.05 / c->stat_std);
  const int sel_i = c->use_layer_idx < 0 ? (int)nh + c->use_layer_idx : c->use_layer_idx;
  if (!load_ref(p, "clap_conv", "audio_mel_norm.npy", mel_n * nc, &r_norm) ||
      !load_ref(p, "clap_conformer", "audio_conv_out.npy", T * D * nc, &r_conv) ||
      !load_ref(p, "clap_audio_transformer", "audio_selected_layer.npy", T * D * nc, &r_sel) ||
      !load_ref(p, "clap_audio_pooled", "audio_transformer_out.npy", T * c->a_dim * nc, &r_tfo))
    goto done;
  for (int i = 0; i < nc; i++) {
    hm_status st = hm_clap_conv(m, pool, (float *)r_norm.data + i * mel_n, nf, conv + i * T * D);
    if (st == HM_OK) st = hm_clap_conformer(m, pool, (float *)r_conv.data + i * T * D, T, hid + i * T * D * nh);
    if (st == HM_OK) memcpy(sel + i * T * D, hid + (i * nh + sel_i) * T * D, sizeof(float) * (size_t)(T * D));
    if (st == HM_OK) st = hm_clap_audio_head(m, pool, (float *)r_sel.data + i * T * D, T, tfo + i * T * c->a_dim);
    if (st == HM_OK)
      hm_clap_pool_latent(&m->a_lat, m->a_lat_b, pool, (float *)r_tfo.data + i * T * c->a_dim, T, c->a_dim,
                          pooled + i * c->a_dim, lat + i * c->dim_latent);
    if (st != HM_OK) { parity_fail(p, "clap_audio", "%s", hm_last_error()); goto done; }
  }
  cmp_file(p, "clap_conv", "audio_conv_out.npy", conv, T * D * nc, 0);
  /* the hidden states, one case each */
  {
    hm_npy r_hid;
    if (parity_selected(p, "clap_conformer") && load_ref(p, "clap_conformer", "audio_conformer_hidden_states.npy", T * D * nh * nc, &r_hid)) {
      for (int64_t h = 0; h < nh; h++) {
        char name[64];
        snprintf(name, sizeof name, "clap_conformer_hidden_%lld", (long long)h);
        float *g = malloc(sizeof(float) * (size_t)(T * D * nc)), *r = malloc(sizeof(float) * (size_t)(T * D * nc));
        if (!g || !r) { free(g); free(r); parity_fail(p, name, "out of memory"); continue; }
        for (int i = 0; i < nc; i++) {
          memcpy(g + i * T * D, hid + (i * nh + h) * T * D, sizeof(float) * (size_t)(T * D));
          memcpy(r + i * T * D, (float *)r_hid.data + (i * nh + h) * T * D, sizeof(float) * (size_t)(T * D));
        }
        check(p, name, g, r, T * D * nc, 0);
        free(g);
        free(r);
      }
      hm_npy_free(&r_hid);
    }
  }
  cmp_file(p, "clap_selected_layer", "audio_selected_layer.npy", sel, T * D * nc, 0);
  cmp_file(p, "clap_audio_transformer", "audio_transformer_out.npy", tfo, T * c->a_dim * nc, 0);
  cmp_file(p, "clap_audio_pooled", "audio_pooled.npy", pooled, c->a_dim * nc, 0);
  cmp_file(p, "clap_audio_clip_latents", "audio_clip_latents.npy", lat, c->dim_latent * nc, 0);
  /* end to end: waveform -> embedding through the public call */
  if (parity_selected(p, "clap_audio_embedding")) {
    if (hm_clap_embed_audio(m, wav.data, wav.n_elems, emb) != HM_OK) parity_fail(p, "clap_audio_embedding", "%s", hm_last_error());
    else cmp_file(p, "clap_audio_embedding", "audio_embedding.npy", emb, c->dim_latent, 0);
  }
done:
  hm_npy_free(&r_norm);
  hm_npy_free(&r_conv);
  hm_npy_free(&r_sel);
  hm_npy_free(&r_tfo);
  hm_free_aligned(db);
  hm_free_aligned(norm);
  hm_free_aligned(conv);
  hm_free_aligned(hid);
  hm_free_aligned(sel);
  hm_free_aligned(tfo);
  free(pooled);
  free(lat);
  free(emb);
  free(clips);
  hm_npy_free(&wav);
}

static void text_cases(parity_ctx *p, const hm_clap_model *m, hm_pool *pool) {
  const hm_clap_config *c = &m->cfg;
  char path[4096];
  json_t *j = NULL;
  if (hm_json_load(parity_file(p, "text_cases.json", path, sizeof path), &j) != HM_OK) {
    parity_fail(p, "clap_text", "%s", hm_last_error());
    return;
  }
  const json_t *texts = json_object_get(j, "texts");
  int nt = (int)json_array_size(texts);
  hm_npy ids = {0}, mask = {0}, r_xh = {0};
  float *xh = NULL, *tfo = NULL, *pooled = NULL, *lat = NULL, *emb = NULL, *single = NULL;
  const char **tv = calloc((size_t)(nt > 0 ? nt : 1), sizeof *tv);
  for (int i = 0; tv && i < nt; i++) tv[i] = json_string_value(json_array_get(texts, (size_t)i));
  char *ip = NULL, *mp = NULL;
  ip = strdup(parity_file(p, "text_input_ids.npy", path, sizeof path));
  mp = strdup(parity_file(p, "text_attention_mask.npy", path, sizeof path));
  if (!tv || nt < 1 || !ip || !mp || hm_npy_read_i32(ip, &ids) != HM_OK || hm_npy_read_i32(mp, &mask) != HM_OK ||
      ids.n_dims != 2 || ids.shape[0] != nt || mask.n_elems != ids.n_elems) {
    parity_fail(p, "clap_text", "text_cases.json / text_input_ids.npy / text_attention_mask.npy: %s",
                nt < 1 ? "no texts" : hm_last_error());
    goto done;
  }
  const int64_t L = ids.shape[1];
  const int32_t *idv = ids.data, *mv = mask.data;
  /* tokenizer: unpadded ids and pieces */
  if (parity_selected(p, "clap_tokenizer")) {
    int bad = 0;
    for (int i = 0; i < nt; i++) {
      int32_t *got = NULL;
      int64_t n = 0;
      if (hm_clap_tokenize(m, tv[i] ? tv[i] : "", &got, &n) != HM_OK) {
        parity_fail(p, "clap_tokenizer", "%s", hm_last_error());
        bad = -1;
        break;
      }
      const json_t *ref = json_array_get(json_object_get(j, "unpadded"), (size_t)i);
      bool same = (int64_t)json_array_size(ref) == n;
      for (int64_t k = 0; same && k < n; k++) same = json_integer_value(json_array_get(ref, (size_t)k)) == got[k];
      char *pieces = NULL;
      int np = 0;
      if (same && hm_clap_spm_pieces(m->spm, tv[i], &pieces, &np) == HM_OK) {
        const json_t *rp = json_array_get(json_object_get(j, "pieces"), (size_t)i);
        same = (int)json_array_size(rp) == np;
        const char *s = pieces;
        for (int k = 0; same && k < np; k++, s += strlen(s) + 1)
          same = !strcmp(s, json_string_value(json_array_get(rp, (size_t)k)) ? json_string_value(json_array_get(rp, (size_t)k)) : "");
      }
      free(pieces);
      if (!same) {
        bad++;
        printf("      text %d: ids or pieces differ\n", i);
      }
      free(got);
    }
    if (bad == 0) parity_pass(p, "clap_tokenizer", -1, "%d texts: ids and pieces equal", nt);
    else if (bad > 0) parity_fail(p, "clap_tokenizer", "%d of %d texts differ", bad, nt);
  }
  xh = hm_malloc_aligned(sizeof(float) * (size_t)(nt * L * c->x_hidden));
  tfo = hm_malloc_aligned(sizeof(float) * (size_t)(nt * L * c->t_dim));
  pooled = malloc(sizeof(float) * (size_t)(nt * c->t_dim));
  lat = malloc(sizeof(float) * (size_t)(nt * c->dim_latent));
  emb = malloc(sizeof(float) * (size_t)(nt * c->dim_latent));
  single = malloc(sizeof(float) * (size_t)(nt * c->dim_latent));
  if (!xh || !tfo || !pooled || !lat || !emb || !single) { parity_fail(p, "clap_text", "out of memory"); goto done; }
  if (!load_ref(p, "clap_text_head", "text_xlmr_hidden.npy", nt * L * c->x_hidden, &r_xh)) goto done;
  hm_npy r_tfo;
  if (!load_ref(p, "clap_text_pooled", "text_transformer_out.npy", nt * L * c->t_dim, &r_tfo)) goto done;
  for (int i = 0; i < nt; i++) {
    int64_t nv = 0;
    while (nv < L && mv[i * L + nv]) nv++;
    hm_status st = hm_clap_xlmr(m, pool, idv + i * L, L, nv, xh + i * L * c->x_hidden);
    if (st == HM_OK) st = hm_clap_text_head(m, pool, (float *)r_xh.data + i * L * c->x_hidden, L, tfo + i * L * c->t_dim);
    if (st == HM_OK)
      hm_clap_pool_latent(&m->t_lat, m->t_lat_b, pool, (float *)r_tfo.data + i * L * c->t_dim, L, c->t_dim,
                          pooled + i * c->t_dim, lat + i * c->dim_latent);
    if (st != HM_OK) { parity_fail(p, "clap_text", "%s", hm_last_error()); hm_npy_free(&r_tfo); goto done; }
  }
  hm_npy_free(&r_tfo);
  cmp_file(p, "clap_text_xlmr", "text_xlmr_hidden.npy", xh, nt * L * c->x_hidden, 0);
  cmp_file(p, "clap_text_transformer", "text_transformer_out.npy", tfo, nt * L * c->t_dim, 0);
  cmp_file(p, "clap_text_pooled", "text_pooled.npy", pooled, nt * c->t_dim, 0);
  cmp_file(p, "clap_text_latents", "text_embedding.npy", lat, nt * c->dim_latent, 0);
  /* end to end through the public calls */
  if (hm_clap_embed_texts_batched(m, tv, nt, emb) != HM_OK) parity_fail(p, "clap_text_embedding", "%s", hm_last_error());
  else cmp_file(p, "clap_text_embedding", "text_embedding.npy", emb, nt * c->dim_latent, 0);
  for (int i = 0; i < nt; i++)
    if (hm_clap_embed_text(m, tv[i], single + i * c->dim_latent) != HM_OK) {
      parity_fail(p, "clap_text_embedding_single", "%s", hm_last_error());
      goto done;
    }
  cmp_file(p, "clap_text_embedding_single", "text_embedding_single.npy", single, nt * c->dim_latent, 0);
  /* similarities: our audio embedding against our batched text embeddings */
  if (parity_selected(p, "clap_similarity")) {
    float *a = malloc(sizeof(float) * (size_t)c->dim_latent), *sim = malloc(sizeof(float) * (size_t)nt * 2);
    hm_npy wav;
    if (a && sim && hm_npy_read_f32(parity_file(p, "audio_wav24k.npy", path, sizeof path), &wav) == HM_OK) {
      if (hm_clap_embed_audio(m, wav.data, wav.n_elems, a) == HM_OK) {
        for (int i = 0; i < nt; i++) {
          sim[i] = hm_clap_similarity(a, emb + i * c->dim_latent, c->dim_latent);
          sim[nt + i] = sim[i] * m->temperature;
        }
        cmp_file(p, "clap_similarity", "similarity.npy", sim, nt, 0);
        cmp_file(p, "clap_similarity_scaled", "similarity_scaled.npy", sim + nt, nt, 0);
      } else parity_fail(p, "clap_similarity", "%s", hm_last_error());
      hm_npy_free(&wav);
    } else parity_fail(p, "clap_similarity", "%s", hm_last_error());
    free(a);
    free(sim);
  }
done:
  hm_npy_free(&ids);
  hm_npy_free(&mask);
  hm_npy_free(&r_xh);
  hm_free_aligned(xh);
  hm_free_aligned(tfo);
  free(pooled);
  free(lat);
  free(emb);
  free(single);
  free(tv);
  free(ip);
  free(mp);
  json_decref(j);
}

int parity_clap(parity_ctx *p) {
  const json_t *sd = json_object_get(parity_manifest(p), "state_dict");
  if (!json_is_object(sd) || !json_object_get(sd, "mulan.audio_to_latents.weight")) return -1;
  char mdir[4096];
  if (hm_path_join(mdir, sizeof mdir, parity_dir(p), "muq_mulan") != HM_OK) return 0;
  hm_clap_params prm = hm_clap_default_params();
  prm.n_threads = parity_threads(p);
  hm_clap_model *m = NULL;
  if (hm_clap_load(mdir, &prm, &m) != HM_OK) {
    parity_fail(p, "clap_load", "%s", hm_last_error());
    return 0;
  }
  audio_cases(p, m, m->pool);
  text_cases(p, m, m->pool);
  hm_clap_free(m);
  return 0;
}
