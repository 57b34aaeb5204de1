/* Random safetensors checkpoints from a list of tensor specs (see st_make.h). */
#include "st_make.h"
#include "io/fs.h"
#include "io/json.h"
#include "io/safetensors.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tk_add(tk_specs *s, tk_kind kind, float v, int n_dims, const int64_t *shape, const char *fmt, ...) {
  if (s->oom) return;
  if (s->n == s->cap) {
    int cap = s->cap ? s->cap * 2 : 512;
    tk_spec *a = realloc(s->a, (size_t)cap * sizeof *a);
    if (!a) { s->oom = true; return; }
    s->a = a;
    s->cap = cap;
  }
  tk_spec *e = &s->a[s->n++];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->name, sizeof e->name, fmt, ap);
  va_end(ap);
  e->n_dims = n_dims;
  for (int i = 0; i < n_dims; i++) e->shape[i] = shape[i];
  e->kind = kind;
  e->v = v;
}

int64_t tk_elems(const tk_spec *e) {
  int64_t n = 1;
  for (int i = 0; i < e->n_dims; i++) n *= e->shape[i];
  return n;
}

int64_t tk_bytes(const tk_spec *e) {
  return e->kind == TK_BOOL ? tk_elems(e) : e->kind == TK_I64 ? 8 * tk_elems(e) : 4 * tk_elems(e);
}

/* Fills specs [a, b) into one buffer and writes one safetensors file. */
static hm_status write_shard(const char *path, const tk_spec *sp, int a, int b, hm_rng *rng) {
  int64_t bytes = 0;
  for (int i = a; i < b; i++) bytes += tk_bytes(&sp[i]);
  uint8_t *buf = malloc((size_t)(bytes > 0 ? bytes : 1));
  hm_st_entry *ent = calloc((size_t)(b - a > 0 ? b - a : 1), sizeof *ent);
  if (!buf || !ent) {
    free(buf);
    free(ent);
    return hm_error(HM_ERR_NOMEM, "%s: out of memory for %lld bytes", path, (long long)bytes);
  }
  int64_t off = 0;
  for (int i = a; i < b; i++) {
    const tk_spec *e = &sp[i];
    hm_st_entry *t = &ent[i - a];
    const int64_t n = tk_elems(e);
    t->name = e->name;
    t->n_dims = e->n_dims;
    for (int d = 0; d < e->n_dims; d++) t->shape[d] = e->shape[d];
    t->data = buf + off;
    switch (e->kind) {
    case TK_BOOL:
      t->dtype = HM_DT_BOOL;
      memset(buf + off, 1, (size_t)n);
      break;
    case TK_I64: {
      t->dtype = HM_DT_I64;
      int64_t v = (int64_t)e->v;
      for (int64_t k = 0; k < n; k++) memcpy(buf + off + 8 * k, &v, 8);
      break;
    }
    case TK_ROPE: {
      t->dtype = HM_DT_F32;
      float *p = (float *)(void *)(buf + off);
      for (int64_t k = 0; k < n; k++) p[k] = (float)(1.0 / pow((double)e->v, (double)k / (double)n));
      break;
    }
    case TK_CONST:
    case TK_NORMAL: {
      t->dtype = HM_DT_F32;
      float *p = (float *)(void *)(buf + off);
      if (e->kind == TK_CONST) for (int64_t k = 0; k < n; k++) p[k] = e->v;
      else for (int64_t k = 0; k < n; k++) p[k] = e->v * hm_rng_normal(rng);
      break;
    }
    }
    off += tk_bytes(e);
  }
  static const char *const meta[] = {"format", "pt", NULL};
  hm_status st = hm_st_write(path, ent, b - a, meta);
  free(buf);
  free(ent);
  return st;
}

hm_status tk_write(const char *dir, tk_specs *s, uint64_t seed, uint64_t stream, int64_t shard_bytes, int *n_files,
                   int64_t *total_bytes) {
  hm_status st = HM_OK;
  int *starts = NULL;
  json_t *wm = NULL;
  if (s->oom) { st = hm_error(HM_ERR_NOMEM, "%s: out of memory for the tensor list", dir); goto done; }
  if ((st = hm_mkdir_p(dir))) goto done;
  if (!hm_dir_exists(dir)) { st = hm_error(HM_ERR_IO, "'%s' is not a folder", dir); goto done; }
  /* F32 first, then the byte-sized and 8-byte scalars: F32 data stays aligned */
  {
    tk_spec *tmp = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *tmp);
    if (!tmp) { st = hm_error(HM_ERR_NOMEM, "out of memory"); goto done; }
    int k = 0;
    for (int pass = 0; pass < 3; pass++)
      for (int i = 0; i < s->n; i++) {
        tk_kind kd = s->a[i].kind;
        int p = kd == TK_I64 ? 1 : kd == TK_BOOL ? 2 : 0;
        if (p == pass) tmp[k++] = s->a[i];
      }
    memcpy(s->a, tmp, (size_t)s->n * sizeof *tmp);
    free(tmp);
  }
  starts = malloc(sizeof(int) * (size_t)(s->n + 2));
  if (!starts) { st = hm_error(HM_ERR_NOMEM, "out of memory"); goto done; }
  int n_shards = 0;
  int64_t total = 0, acc = 0;
  starts[n_shards++] = 0;
  for (int i = 0; i < s->n; i++) {
    int64_t b = tk_bytes(&s->a[i]);
    if (acc > 0 && acc + b > shard_bytes && s->a[i].kind == TK_NORMAL) { starts[n_shards++] = i; acc = 0; }
    acc += b;
    total += b;
  }
  starts[n_shards] = s->n;
  hm_rng rng;
  hm_rng_seed(&rng, seed, stream);
  char path[4200], fname[64];
  wm = n_shards > 1 ? json_object() : NULL;
  for (int k = 0; k < n_shards && !st; k++) {
    if (n_shards == 1) snprintf(fname, sizeof fname, "model.safetensors");
    else snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors", k + 1, n_shards);
    st = hm_path_join(path, sizeof path, dir, fname);
    if (!st) st = write_shard(path, s->a, starts[k], starts[k + 1], &rng);
    if (!st && wm)
      for (int i = starts[k]; i < starts[k + 1]; i++) json_object_set_new(wm, s->a[i].name, json_string(fname));
  }
  if (!st && wm) {
    json_t *idx = json_object(), *meta = json_object();
    json_object_set_new(meta, "total_size", json_integer(total));
    json_object_set_new(idx, "metadata", meta);
    json_object_set(idx, "weight_map", wm);
    st = hm_path_join(path, sizeof path, dir, "model.safetensors.index.json");
    if (!st) st = hm_json_write(path, idx, JSON_INDENT(2));
    json_decref(idx);
  }
  if (n_files) *n_files = n_shards;
  if (total_bytes) *total_bytes = total;
done:
  if (wm) json_decref(wm);
  free(starts);
  free(s->a);
  s->a = NULL;
  s->n = s->cap = 0;
  return st;
}
