/* The one weight loader: lookups with shape/dtype checks, conversion at load,
 * ownership of every copy and packed matrix it hands out. */
#include "io/weights.h"

#include <stdlib.h>

typedef struct owned {
  void *p;
  void (*free_fn)(void *);
} owned;

struct hm_weights {
  hm_st *st;
  hm_pool *pool; /* borrowed, during load */
  owned *owned;
  int n_owned, cap_owned;
};

hm_status hm_weights_open(const char *path, hm_weights **out) {
  *out = NULL;
  hm_weights *w = calloc(1, sizeof *w);
  if (!w) return hm_error(HM_ERR_NOMEM, "out of memory");
  hm_status st = hm_st_open(path, &w->st);
  if (st != HM_OK) {
    free(w);
    return st;
  }
  *out = w;
  return HM_OK;
}

void hm_weights_close(hm_weights *w) {
  if (!w) return;
  for (int i = w->n_owned - 1; i >= 0; i--) w->owned[i].free_fn(w->owned[i].p);
  free(w->owned);
  hm_st_close(w->st);
  free(w);
}

void hm_weights_set_pool(hm_weights *w, hm_pool *pool) { w->pool = pool; }
const char *hm_weights_path(const hm_weights *w) { return hm_st_path(w ? w->st : NULL); }
const char *hm_weights_metadata(const hm_weights *w, const char *key) { return hm_st_metadata(w->st, key); }
const hm_tensor_view *hm_weights_find(const hm_weights *w, const char *name) { return hm_st_find(w->st, name); }

hm_status hm_weights_get(const hm_weights *w, const char *name, uint32_t allowed_mask, int n_dims,
                         const int64_t *shape, const hm_tensor_view **out) {
  return hm_st_get(w->st, name, allowed_mask, n_dims, shape, out);
}

/* ---- ownership ---- */

hm_status hm_weights_adopt(hm_weights *w, void *p, void (*free_fn)(void *)) {
  if (w->n_owned == w->cap_owned) {
    int cap = w->cap_owned ? w->cap_owned * 2 : 256;
    owned *n = realloc(w->owned, (size_t)cap * sizeof *n);
    if (!n) {
      free_fn(p);
      return hm_error(HM_ERR_NOMEM, "%s: out of memory", hm_weights_path(w));
    }
    w->owned = n;
    w->cap_owned = cap;
  }
  w->owned[w->n_owned++] = (owned){p, free_fn};
  return HM_OK;
}

hm_status hm_weights_alloc(hm_weights *w, size_t bytes, void **out) {
  *out = NULL;
  void *p = hm_malloc_aligned(bytes ? bytes : 1);
  if (!p) return hm_error(HM_ERR_NOMEM, "%s: out of memory (%zu bytes)", hm_weights_path(w), bytes);
  HM_TRY(hm_weights_adopt(w, p, hm_free_aligned));
  *out = p;
  return HM_OK;
}

static int find_owned(const hm_weights *w, const void *p) {
  for (int i = w->n_owned - 1; i >= 0; i--)
    if (w->owned[i].p == p) return i;
  return -1;
}

void hm_weights_drop(hm_weights *w, const void *p) {
  int i = p ? find_owned(w, p) : -1;
  if (i < 0) return;
  w->owned[i].free_fn(w->owned[i].p);
  w->owned[i] = w->owned[--w->n_owned];
}

void hm_weights_release(const hm_weights *w, const void *data, size_t nbytes) {
  if (hm_st_is_mapped(w->st, data, nbytes)) hm_tensor_release(data, nbytes);
}

/* ---- tensors ---- */

hm_status hm_weights_f32(hm_weights *w, const char *name, int n_dims, const int64_t *shape, float **out) {
  const hm_tensor_view *t;
  HM_TRY(hm_st_get(w->st, name, HM_DTMASK_FLOAT, n_dims, shape, &t));
  void *p;
  HM_TRY(hm_weights_alloc(w, (size_t)t->n_elems * sizeof(float), &p));
  HM_TRY(hm_tensor_to_f32(t, p));
  hm_weights_release(w, t->data, t->nbytes);
  *out = p;
  return HM_OK;
}

hm_status hm_weights_vec(hm_weights *w, const char *name, int64_t n, float **out) {
  return hm_weights_f32(w, name, 1, &n, out);
}

hm_status hm_weights_mat(hm_weights *w, const char *name, int64_t rows, int64_t cols, uint32_t allowed_mask,
                         hm_mat *out) {
  const hm_tensor_view *t;
  int64_t shape[2] = {rows, cols};
  HM_TRY(hm_st_get(w->st, name, allowed_mask, 2, shape, &t));
  if (t->dtype == HM_DT_Q8_0 || t->dtype == HM_DT_Q4_0) { /* used in place: must be in the kernels' layout */
    const char *lay = hm_st_metadata(w->st, HM_QUANT_LAYOUT_KEY);
    if (!lay || strcmp(lay, HM_QUANT_LAYOUT))
      return hm_error(HM_ERR_FORMAT, "%s: tensor '%s' is %s in %s%s%s layout, not '%s' (write it with heartmula quantize)",
                      hm_weights_path(w), name, hm_dtype_name(t->dtype), lay ? "the '" : "an unmarked",
                      lay ? lay : "", lay ? "'" : "", HM_QUANT_LAYOUT);
  }
  *out = (hm_mat){t->dtype, rows, cols, t->data};
  return HM_OK;
}

hm_status hm_weights_convert(hm_weights *w, hm_mat *W, hm_dtype to, const char *name) {
  if (W->type == to) return HM_OK;
  if (hm_dtype_bytes(to, W->cols) == 0)
    return hm_error(HM_ERR_INVALID_ARG, "%s: tensor '%s': %lld columns cannot be stored as %s", hm_weights_path(w),
                    name, (long long)W->cols, hm_dtype_name(to));
  hm_mat out;
  hm_status st = hm_mat_convert_pool(w->pool, W, to, &out);
  if (st != HM_OK) return hm_error_context(st, "%s: tensor '%s'", hm_weights_path(w), name);
  HM_TRY(hm_weights_adopt(w, (void *)out.data, hm_free_aligned));
  if (find_owned(w, W->data) >= 0) hm_weights_drop(w, W->data);
  else hm_weights_release(w, W->data, hm_mat_nbytes(W)); /* the source leaves the resident set */
  *W = out;
  return HM_OK;
}

hm_status hm_weights_mat_as(hm_weights *w, const char *name, int64_t rows, int64_t cols, uint32_t allowed_mask,
                            hm_dtype to, hm_mat *out) {
  HM_TRY(hm_weights_mat(w, name, rows, cols, allowed_mask, out));
  if (out->type == to) return HM_OK;
  if (to == HM_DT_F32) { /* a plain element-wise copy, on this thread */
    float *p;
    HM_TRY(hm_weights_f32(w, name, 2, (const int64_t[2]){rows, cols}, &p));
    *out = (hm_mat){HM_DT_F32, rows, cols, p};
    return HM_OK;
  }
  return hm_weights_convert(w, out, to, name);
}

static void pmat_free(void *p) {
  hm_pmat_free(p);
  free(p);
}

static void bmat_free(void *p) {
  hm_bmat_free(p);
  free(p);
}

hm_status hm_weights_pack(hm_weights *w, const hm_mat *W, hm_dtype to, hm_pmat **out) {
  hm_pmat *b = calloc(1, sizeof *b);
  if (!b) return hm_error(HM_ERR_NOMEM, "%s: out of memory", hm_weights_path(w));
  hm_status st = hm_pmat_pack(w->pool, W, to, b);
  if (st != HM_OK) {
    free(b);
    return st;
  }
  HM_TRY(hm_weights_adopt(w, b, pmat_free));
  *out = b;
  return HM_OK;
}

hm_status hm_weights_pack_amx(hm_weights *w, const float *W, int64_t N, int64_t K, hm_bmat **out) {
  hm_bmat *b = calloc(1, sizeof *b);
  if (!b) return hm_error(HM_ERR_NOMEM, "%s: out of memory", hm_weights_path(w));
  hm_status st = hm_bmat_pack(W, N, K, b);
  if (st != HM_OK) {
    free(b);
    return st;
  }
  HM_TRY(hm_weights_adopt(w, b, bmat_free));
  *out = b;
  return HM_OK;
}
