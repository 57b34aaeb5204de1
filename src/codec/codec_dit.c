/* The flow-matching half of HeartCodec: RVQ lookup, the DiT estimator
 * (heartcodec/models/transformer.py LlamaTransformer) and the Euler solver
 * with classifier-free guidance (flow_matching.py solve_euler).
 * Activations are time-major [B][T][C]; every GEMM goes through hm_gemm (or
 * the AMX tiles of gemm_amx.h on the BF16 AMX path). */
#include "codec/codec_internal.h"

#include <math.h>
#include <stdlib.h>

#define TPROJ 512 /* PixArtAlphaCombinedFlowEmbeddings.flow_t_size */

void cx_work_free(cx_work *w) {
  if (!w) return;
  float **ptrs[] = {&w->in_pad, &w->cat_pad, &w->s, &w->x, &w->nrm, &w->q, &w->k, &w->v, &w->att, &w->h, &w->g,
                    &w->u, &w->conv, &w->out, &w->temb, &w->mod, &w->tproj, &w->tmp, &w->cos1, &w->sin1,
                    &w->cos2, &w->sin2, &w->scores};
  for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) { hm_free_aligned(*ptrs[i]); *ptrs[i] = NULL; }
  hm_free_aligned(w->xb);
  hm_free_aligned(w->qb); hm_free_aligned(w->kpk); hm_free_aligned(w->vpk); hm_free_aligned(w->pb);
  hm_free_aligned(w->kf); hm_free_aligned(w->zrow);
  free(w->rowp);
  w->xb = NULL; w->qb = w->kpk = w->vpk = w->pb = NULL; w->kf = w->zrow = NULL; w->rowp = NULL;
}

/* RotaryEmbedding.get_sin_cos in float32: inv_freq = 1 / base^(arange(0,d,2)/d). */
static void rope_tables(float *cos_t, float *sin_t, int T, int dim) {
  int half = dim / 2;
  for (int i = 0; i < half; i++) {
    float e = (float)(2 * i) / (float)dim;
    float inv = 1.0f / powf(10000.0f, e);
    for (int t = 0; t < T; t++) {
      float f = (float)t * inv;
      cos_t[(int64_t)t * half + i] = cosf(f);
      sin_t[(int64_t)t * half + i] = sinf(f);
    }
  }
}

hm_status cx_work_init(cx_work *w, const hm_codec_model *m, int B, int T) {
  memset(w, 0, sizeof *w);
  const cx_config *c = &m->cfg;
  w->B = B; w->T = T; w->Cin = c->in_channels; w->D = m->s1.D; w->D2 = m->s2.D; w->Cout = c->out_channels;
  w->ffn = m->s1.ffn > m->s2.ffn ? m->s1.ffn : m->s2.ffn;
  int64_t BT = (int64_t)B * T, Dm = w->D2 > w->D ? w->D2 : w->D;
  int64_t convw = Dm > w->Cout ? Dm : w->Cout;
  int64_t gsz = BT * w->ffn; /* g also holds proj_out's padded input [B][T+2][D2] */
  if (gsz < (int64_t)B * (T + 2) * w->D2) gsz = (int64_t)B * (T + 2) * w->D2;
  struct { float **p; int64_t n; } a[] = {
    {&w->in_pad, (int64_t)B * (T + 2) * w->Cin},
    {&w->cat_pad, (int64_t)B * (T + 2) * (w->Cin + w->D)},
    {&w->s, BT * w->D}, {&w->x, BT * w->D2}, {&w->nrm, BT * Dm}, {&w->q, BT * Dm}, {&w->k, BT * Dm},
    {&w->v, BT * Dm}, {&w->att, BT * Dm}, {&w->h, BT * Dm}, {&w->g, gsz}, {&w->u, BT * w->ffn},
    {&w->conv, BT * convw}, {&w->out, BT * w->Cout}, {&w->temb, (int64_t)B * Dm}, {&w->mod, (int64_t)B * 6 * Dm},
    {&w->tproj, (int64_t)B * TPROJ}, {&w->tmp, (int64_t)B * Dm},
    {&w->cos1, (int64_t)T * m->s1.head_dim / 2}, {&w->sin1, (int64_t)T * m->s1.head_dim / 2},
    {&w->cos2, (int64_t)T * m->s2.head_dim / 2}, {&w->sin2, (int64_t)T * m->s2.head_dim / 2},
    {&w->scores, (int64_t)T * ((T + 31) / 32 * 32)},
  };
  for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
    *a[i].p = hm_calloc_aligned((size_t)(a[i].n > 0 ? a[i].n : 1) * sizeof(float));
    if (!*a[i].p) {
      cx_work_free(w);
      return hm_error(HM_ERR_NOMEM, "codec: out of memory for the estimator scratch (B=%d, T=%d)", B, T);
    }
  }
  if (m->amx) {
    /* BF16 GEMM inputs: B*T rows (+32 for the last tile) of the widest input, or
     * one batch row's padded conv input (T+2 rows, +32) */
    int64_t kmax = w->ffn > Dm ? w->ffn : Dm;
    int64_t n1 = (BT + 32) * kmax, cw = w->Cin + w->D > w->D2 ? w->Cin + w->D : w->D2;
    int64_t n2 = ((int64_t)T + 34) * cw;
    w->xb = hm_calloc_aligned((size_t)(n1 > n2 ? n1 : n2) * sizeof(uint16_t));
    int64_t Tp = (T + 31) / 32 * 32, hdm = m->s2.head_dim > m->s1.head_dim ? m->s2.head_dim : m->s1.head_dim;
    w->Tp = (int)Tp;
    w->qb = hm_calloc_aligned((size_t)Tp * hdm * 2);
    w->kpk = hm_calloc_aligned((size_t)Tp * hdm * 2);
    w->vpk = hm_calloc_aligned((size_t)Tp * hdm * 2);
    w->pb = hm_calloc_aligned((size_t)(Tp + 32) * Tp * 2);
    w->kf = hm_calloc_aligned((size_t)Tp * hdm * sizeof(float));
    w->zrow = hm_calloc_aligned((size_t)hdm * sizeof(float) + 64);
    w->rowp = malloc((size_t)Tp * sizeof *w->rowp);
    if (!w->xb || !w->qb || !w->kpk || !w->vpk || !w->pb || !w->kf || !w->zrow || !w->rowp) {
      cx_work_free(w);
      return hm_error(HM_ERR_NOMEM, "codec: out of memory for the BF16 scratch");
    }
  }
  rope_tables(w->cos1, w->sin1, T, m->s1.head_dim);
  rope_tables(w->cos2, w->sin2, T, m->s2.head_dim);
  return HM_OK;
}

/* ---- RVQ ---- */

hm_status cx_rvq(const hm_codec_model *m, const int32_t *codes, int64_t stride, int64_t n, float *out) {
  const cx_config *c = &m->cfg;
  const int cd = c->codebook_dim;
  float *sum = out; /* [n][cd] first (cd <= dim when projected), then project_out */
  bool proj = m->project_out.w.data != NULL;
  /* project_out cannot run in place: the sums need their own buffer */
  float *tmp = proj ? hm_malloc_aligned((size_t)n * cd * sizeof(float)) : sum;
  if (!tmp) return hm_error(HM_ERR_NOMEM, "codec: out of memory for the RVQ sums of %lld frames", (long long)n);
  for (int64_t i = 0; i < n; i++) {
    float *r = tmp + i * cd;
    for (int d = 0; d < cd; d++) r[d] = 0.0f;
    for (int q = 0; q < c->num_quantizers; q++) {
      int32_t v = codes[q * stride + i];
      if (v == c->codebook_size) v = c->codebook_size - 1; /* one past the codebook: cx_codes_check warned */
      const float *e = m->codebooks + ((int64_t)q * c->codebook_size + v) * cd;
      for (int d = 0; d < cd; d++) r[d] += e[d];
    }
  }
  if (proj) {
    hm_linear(NULL, &m->project_out.w, m->project_out.b, n, tmp, out);
    hm_free_aligned(tmp);
  }
  return HM_OK;
}

/* ---- estimator pieces ---- */

/* X [n][K] as BF16 into w->xb (32 zero rows after) for the AMX path; NULL otherwise. */
static const uint16_t *to_b(const hm_codec_model *m, cx_work *w, const float *X, int64_t n, int64_t K) {
  if (!m->amx) return NULL;
  hm_to_bf16(X, w->xb, n * K);
  memset(w->xb + n * K, 0, (size_t)32 * K * sizeof(uint16_t));
  return w->xb;
}

/* Y = X W^T + b: AMX tiles when packed (Xb = to_b(X)), else hm_linear. */
static void lin(hm_pool *pool, const cx_linear *L, int64_t n, const float *X, const uint16_t *Xb, float *Y) {
  if (L->bm && Xb) hm_bgemm(pool, L->bm, Xb, n, L->bm->K, L->b, Y, L->bm->N);
  else if (L->pm) {
    hm_gemm_b b = hm_gemm_b_packed(L->pm);
    hm_gemm(pool, n, X, L->pm->K, &b, L->b, Y, L->pm->N);
  } else hm_linear(pool, &L->w, L->b, n, X, Y);
}

/* ProjectLayer: conv1d(k, pad k/2) on padded time-major input, * k^-0.5, then Linear.
 * xpad: [B][T+2*(k/2)][c_in]; y: [B*T][c_out]. */
static void project(const hm_codec_model *m, hm_pool *pool, cx_work *w, const cx_project *p, int B, int T,
                    const float *xpad, float *conv, float *y) {
  const cx_conv_tm *c = &p->conv;
  int pad = c->k / 2;
  float scale = (float)pow((double)c->k, -0.5);
  for (int b = 0; b < B; b++) {
    const float *xb = xpad + (int64_t)b * (T + 2 * pad) * c->c_in;
    float *yb = conv + (int64_t)b * T * c->c_out;
    if (c->pm) { /* row t of the im2col is rows t..t+k-1 of the padded input: overlapping A rows */
      hm_gemm_b wb = hm_gemm_b_packed(c->pm);
      hm_gemm(pool, T, xb, c->c_in, &wb, NULL, yb, c->c_out);
      continue;
    }
    if (c->bm && m->amx) {
      /* row t of the im2col is rows t..t+k-1 of the padded input: contiguous */
      const uint16_t *xh = to_b(m, w, xb, T + 2 * pad, c->c_in);
      hm_bgemm(pool, c->bm, xh, T, c->c_in, NULL, yb, c->c_out);
      continue;
    }
    for (int j = 0; j < c->k; j++)
      hm_sgemm(false, true, T, c->c_out, c->c_in, 1.0f, xb + (int64_t)j * c->c_in, c->c_in,
               c->w + (int64_t)j * c->c_out * c->c_in, c->c_in, j ? 1.0f : 0.0f, yb, c->c_out);
  }
  for (int64_t r = 0; r < (int64_t)B * T; r++) {
    float *row = conv + r * c->c_out;
    for (int o = 0; o < c->c_out; o++) row[o] = (row[o] + c->b[o]) * scale;
  }
  int64_t n = (int64_t)B * T;
  lin(pool, &p->lin, n, conv, p->lin.bm ? to_b(m, w, conv, n, c->c_out) : NULL, y);
}

/* AdaLayerNormSingleFlow for B timesteps: temb [B][D] (embedded_timestep),
 * mod [B][6D] (linear(silu(temb))). */
static void adaln(const cx_adaln *a, int D, int B, const float *t, float *tproj, float *temb, float *tmp, float *mod) {
  const int half = TPROJ / 2;
  const float neg_log = (float)-log(10000.0);
  for (int b = 0; b < B; b++) {
    float *e = tproj + (int64_t)b * TPROJ;
    for (int i = 0; i < half; i++) {
      float f = expf((neg_log * (float)i) / (float)half);
      float arg = (t[b] * f) * 1000.0f;
      e[i] = cosf(arg);
      e[half + i] = sinf(arg);
    }
  }
  hm_linear(NULL, &a->l1.w, a->l1.b, B, tproj, tmp);
  hm_silu(tmp, (int64_t)B * D);
  hm_linear(NULL, &a->l2.w, a->l2.b, B, tmp, temb);
  for (int64_t i = 0; i < (int64_t)B * D; i++) tmp[i] = temb[i];
  hm_silu(tmp, (int64_t)B * D);
  hm_linear(NULL, &a->lin.w, a->lin.b, B, tmp, mod);
}

typedef struct softmax_task { float *s; int64_t rows, n, ld; } softmax_task;

/* Rows of the score matrix through the tensor layer's softmax (SIMD exp). */
static void softmax_rows(void *arg, int ith, int nth) {
  softmax_task *t = arg;
  int64_t r0, r1;
  hm_split(t->rows, ith, nth, 1, &r0, &r1);
  for (int64_t r = r0; r < r1; r++) hm_softmax(t->s + r * t->ld, t->n);
}

/* Full (unmasked) attention of one batch row through GEMMs: per head
 * S = scale * Q_h K_h^T [T][T], softmax over keys, O_h = S V_h. The DiT's
 * sequences are long (744) and the heads many: hm_attention's per-query
 * loop is built for the decode step, this is the compute-bound form. */
static void attention(hm_pool *pool, cx_work *w, int T, int D, int H, int hd, float scale, const float *q,
                      const float *k, const float *v, float *out) {
  float *S = w->scores;
  softmax_task st = {S, T, T, T};
  if (w->qb && hd % 32 == 0) {
    /* BF16 on AMX tiles: S = (scale Q_h) K_h^T, P = softmax(S) (keys padded to Tp
     * with zero columns), O_h = P V_h */
    const int Tp = w->Tp;
    st.ld = Tp;
    for (int h = 0; h < H; h++) {
      for (int t = 0; t < T; t++) {
        const float *qr = q + (int64_t)t * D + h * hd;
        for (int d = 0; d < hd; d++) w->kf[(int64_t)t * hd + d] = qr[d] * scale;
      }
      hm_to_bf16(w->kf, w->qb, (int64_t)T * hd);
      for (int t = 0; t < T; t++) memcpy(w->kf + (int64_t)t * hd, k + (int64_t)t * D + h * hd, (size_t)hd * sizeof(float));
      memset(w->kf + (int64_t)T * hd, 0, (size_t)(Tp - T) * hd * sizeof(float));
      hm_bmat kp = {Tp, hd, w->kpk};
      hm_bmat_pack_into(w->kf, Tp, hd, w->kpk);
      hm_bgemm_n(pool, &kp, w->qb, T, hd, NULL, S, Tp, T);
      hm_pool_run(pool, softmax_rows, &st);
      for (int t = 0; t < T; t++) hm_to_bf16(S + (int64_t)t * Tp, w->pb + (int64_t)t * Tp, T);
      for (int t = 0; t < Tp; t++) w->rowp[t] = t < T ? v + (int64_t)t * D + h * hd : w->zrow;
      hm_pack_cols_range(w->rowp, Tp, 0, Tp, hd, hd, w->vpk);
      hm_bmat vp = {hd, Tp, w->vpk};
      hm_bgemm_n(pool, &vp, w->pb, T, Tp, NULL, out + h * hd, D, hd);
    }
    return;
  }
  /* F32: the tensor layer's attention (tiled GEMMs, softmax fused per tile) */
  hm_attention(pool, q, T, D, k, v, T, D, H, H, hd, scale, -1, out, D);
}

/* The block's row-wise passes, split over the pool by rows (each row's
 * arithmetic is the same whichever thread does it). */
enum { ROW_NORM_MOD, ROW_ROPE, ROW_GATE_RES, ROW_SWIGLU };
typedef struct rows_task {
  int op, T, D, H, hd;
  int64_t rows;
  const cx_block *bl;
  const float *mod, *cos_t, *sin_t, *norm_w, *h;
  float *x, *nrm, *q, *k, *g, *u;
  int which; /* NORM_MOD: 0 attention (shift/scale rows 0, 1), 1 MLP (3, 4); GATE_RES: gate row 2 or 5 */
  int F;
} rows_task;

static void rows_run(void *arg, int ith, int nth) {
  const rows_task *t = arg;
  int64_t r0, r1;
  hm_split(t->rows, ith, nth, 1, &r0, &r1);
  const int D = t->D;
  for (int64_t r = r0; r < r1; r++) {
    const float *md = t->mod + (r / t->T) * 6 * D;
    switch (t->op) {
    case ROW_NORM_MOD: {
      const int a = t->which ? 3 : 0;
      float *n = t->nrm + r * D;
      hm_rmsnorm(n, t->x + r * D, t->norm_w, D, 1e-6f);
      for (int d = 0; d < D; d++) {
        float shift = t->bl->sst[a * D + d] + md[a * D + d];
        float scale = t->bl->sst[(a + 1) * D + d] + md[(a + 1) * D + d];
        n[d] = n[d] * (1.0f + scale) + shift;
      }
    } break;
    case ROW_ROPE: {
      const int64_t tt = r % t->T;
      hm_rope(t->q + r * D, t->H, t->hd, t->cos_t + tt * t->hd / 2, t->sin_t + tt * t->hd / 2, true);
      hm_rope(t->k + r * D, t->H, t->hd, t->cos_t + tt * t->hd / 2, t->sin_t + tt * t->hd / 2, true);
    } break;
    case ROW_GATE_RES: {
      const int a = t->which;
      float *xr = t->x + r * D;
      const float *hr = t->h + r * D;
      for (int d = 0; d < D; d++) xr[d] = xr[d] + (t->bl->sst[a * D + d] + md[a * D + d]) * hr[d];
    } break;
    case ROW_SWIGLU:
      hm_swiglu(t->g + r * t->F, t->g + r * t->F, t->u + r * t->F, t->F);
      break;
    }
  }
}

static void rows(hm_pool *pool, rows_task *t) {
  if (t->rows * t->D < 32768) rows_run(t, 0, 1);
  else hm_pool_run(pool, rows_run, t);
}

/* x [B*T][D] through one LlamaTransformerBlock with ada_norm_single. */
static void block(const hm_codec_model *m, const cx_block *bl, const cx_stack *s, hm_pool *pool, cx_work *w, int B,
                  int T, float *x, const float *mod, const float *cos_t, const float *sin_t) {
  const int D = s->D, H = s->n_heads, hd = s->head_dim, F = s->ffn;
  const int64_t BT = (int64_t)B * T;
  float *nrm = w->nrm, *h = w->h;
  /* modulation rows (sst + mod): shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp */
  rows_task rt = {ROW_NORM_MOD, T, D, H, hd, BT, bl, mod, cos_t, sin_t, bl->attn_norm, h, x, nrm, w->q, w->k,
                  w->g, w->u, 0, F};
  /* attention */
  rows(pool, &rt);
  const uint16_t *nb = to_b(m, w, nrm, BT, D);
  lin(pool, &bl->q, BT, nrm, nb, w->q);
  lin(pool, &bl->k, BT, nrm, nb, w->k);
  lin(pool, &bl->v, BT, nrm, nb, w->v);
  rt.op = ROW_ROPE;
  rows(pool, &rt);
  float scale = 1.0f / sqrtf((float)hd);
  for (int b = 0; b < B; b++) {
    int64_t off = (int64_t)b * T * D;
    attention(pool, w, T, D, H, hd, scale, w->q + off, w->k + off, w->v + off, w->att + off);
  }
  lin(pool, &bl->o, BT, w->att, to_b(m, w, w->att, BT, D), h);
  rt.op = ROW_GATE_RES;
  rt.which = 2;
  rows(pool, &rt);
  /* MLP */
  rt.op = ROW_NORM_MOD;
  rt.which = 1;
  rt.norm_w = bl->mlp_norm;
  rows(pool, &rt);
  nb = to_b(m, w, nrm, BT, D);
  lin(pool, &bl->gate, BT, nrm, nb, w->g);
  lin(pool, &bl->up, BT, nrm, nb, w->u);
  rt.op = ROW_SWIGLU;
  rows(pool, &rt);
  lin(pool, &bl->down, BT, w->g, to_b(m, w, w->g, BT, F), h);
  rt.op = ROW_GATE_RES;
  rt.which = 5;
  rows(pool, &rt);
}

/* norm_out (LayerNorm, no affine, eps 1e-6) then * (1 + scale) + shift, scale/shift = sst + temb. */
static void final_norm(const cx_stack *s, int B, int T, const float *temb, float *x, float *y, int64_t y_stride) {
  const int D = s->D;
  for (int64_t r = 0; r < (int64_t)B * T; r++) {
    const float *te = temb + (r / T) * D;
    float *yr = y + r * y_stride;
    hm_layernorm(yr, x + r * D, NULL, NULL, D, 1e-6f);
    for (int d = 0; d < D; d++) {
      float shift = s->sst[d] + te[d], scale = s->sst[D + d] + te[d];
      yr[d] = yr[d] * (1.0f + scale) + shift;
    }
  }
}

void cx_estimator(const hm_codec_model *m, hm_pool *pool, cx_work *w, const float *t) {
  const int B = w->B, T = w->T, Cin = w->Cin, D = w->D, D2 = w->D2;
  /* stack 1 */
  project(m, pool, w, &m->proj_in, B, T, w->in_pad, w->conv, w->s);
  adaln(&m->s1.ada, D, B, t, w->tproj, w->temb, w->tmp, w->mod);
  for (int i = 0; i < m->s1.n_blocks; i++) block(m, &m->s1.blocks[i], &m->s1, pool, w, B, T, w->s, w->mod, w->cos1, w->sin1);
  /* connection: cat([hidden_states, norm_out(s)]) with zero rows at both ends */
  const int Cc = Cin + D;
  for (int b = 0; b < B; b++) {
    float *cb = w->cat_pad + (int64_t)b * (T + 2) * Cc;
    memset(cb, 0, (size_t)Cc * sizeof(float));
    memset(cb + (int64_t)(T + 1) * Cc, 0, (size_t)Cc * sizeof(float));
    for (int tt = 0; tt < T; tt++)
      memcpy(cb + (int64_t)(tt + 1) * Cc, w->in_pad + ((int64_t)b * (T + 2) + 1 + tt) * Cin, (size_t)Cin * sizeof(float));
  }
  for (int b = 0; b < B; b++)
    final_norm(&m->s1, 1, T, w->temb + (int64_t)b * D, w->s + (int64_t)b * T * D,
               w->cat_pad + ((int64_t)b * (T + 2) + 1) * Cc + Cin, Cc);
  project(m, pool, w, &m->connection_proj, B, T, w->cat_pad, w->conv, w->x);
  /* stack 2 */
  adaln(&m->s2.ada, D2, B, t, w->tproj, w->temb, w->tmp, w->mod);
  for (int i = 0; i < m->s2.n_blocks; i++) block(m, &m->s2.blocks[i], &m->s2, pool, w, B, T, w->x, w->mod, w->cos2, w->sin2);
  /* norm_out_2 into a padded buffer for proj_out (reuses g: [B][T+2][D2]) */
  float *pad = w->g;
  for (int b = 0; b < B; b++) {
    float *pb = pad + (int64_t)b * (T + 2) * D2;
    memset(pb, 0, (size_t)D2 * sizeof(float));
    memset(pb + (int64_t)(T + 1) * D2, 0, (size_t)D2 * sizeof(float));
    final_norm(&m->s2, 1, T, w->temb + (int64_t)b * D2, w->x + (int64_t)b * T * D2, pb + D2, D2);
  }
  project(m, pool, w, &m->proj_out, B, T, pad, w->conv, w->out);
}

/* ---- Euler solver ---- */

void cx_linspace01(float *out, int n) {
  /* ATen linspace kernel: step = (end - start) / (n - 1) in float; the first
   * half counts up from start, the second half down from end. */
  if (n == 1) { out[0] = 0.0f; return; }
  float step = 1.0f / (float)(n - 1);
  int halfway = n / 2;
  for (int i = 0; i < n; i++) out[i] = i < halfway ? 0.0f + step * (float)i : 1.0f - step * (float)(n - i - 1);
}

hm_status cx_solve_euler(const hm_codec_model *m, hm_pool *pool, cx_work *w, float *x, const float *incontext,
                         int incontext_len, const float *mu, int steps, float guidance,
                         hm_abort_callback abort_cb, void *user_data, void (*on_step)(void *ctx), void *step_ctx) {
  const int T = w->T, C = m->cfg.out_channels, dim = m->cfg.dim;
  const bool cfg = guidance > 1.0f;
  if (w->B != (cfg ? 2 : 1)) return hm_error(HM_ERR_INTERNAL, "codec: estimator scratch has the wrong batch");
  if (steps < 1 || steps > 1000) return hm_error(HM_ERR_INVALID_ARG, "codec: steps = %d must be in [1, 1000]", steps);
  /* noise = x.clone(): only its in-context rows are read again (once per window) */
  float *nz = hm_malloc_aligned((size_t)incontext_len * C * sizeof(float) + 64);
  if (!nz) return hm_error(HM_ERR_NOMEM, "codec: out of memory");
  memcpy(nz, x, (size_t)incontext_len * C * sizeof(float));
  float tspan[1001];
  cx_linspace01(tspan, steps + 1);
  float t = tspan[0], dt = tspan[1] - tspan[0];
  const float keep = (float)(1.0 - 1e-6);
  /* the x / incontext / mu columns of the estimator input: incontext and mu never change */
  for (int b = 0; b < w->B; b++)
    for (int tt = 0; tt < T; tt++) {
      float *row = cx_in_row(w, b, tt);
      memcpy(row + C, incontext + (int64_t)tt * C, (size_t)C * sizeof(float));
      if (cfg && b == 0) memset(row + 2 * C, 0, (size_t)dim * sizeof(float));
      else memcpy(row + 2 * C, mu + (int64_t)tt * dim, (size_t)dim * sizeof(float));
    }
  hm_status st = HM_OK;
  for (int step = 1; step <= steps; step++) {
    if (abort_cb && abort_cb(user_data)) { st = hm_error(HM_ERR_ABORTED, "codec: decode aborted"); break; }
    float a = 1.0f - keep * t;
    for (int64_t i = 0; i < (int64_t)incontext_len * C; i++) x[i] = a * nz[i] + t * incontext[i];
    for (int b = 0; b < w->B; b++)
      for (int tt = 0; tt < T; tt++) memcpy(cx_in_row(w, b, tt), x + (int64_t)tt * C, (size_t)C * sizeof(float));
    float tb[2] = {t, t};
    cx_estimator(m, pool, w, tb);
    const float *o0 = w->out, *o1 = w->out + (int64_t)T * C;
    if (cfg) {
      for (int64_t i = 0; i < (int64_t)T * C; i++) {
        float d = o0[i] + guidance * (o1[i] - o0[i]);
        x[i] = x[i] + dt * d;
      }
    } else {
      for (int64_t i = 0; i < (int64_t)T * C; i++) x[i] = x[i] + dt * o0[i];
    }
    t = t + dt;
    if (step < steps) dt = tspan[step + 1] - t;
    if (on_step) on_step(step_ctx);
  }
  hm_free_aligned(nz);
  return st;
}
