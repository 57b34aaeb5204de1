/* Safetensors: mmap, validate, zero-copy views; sharded checkpoints; writer. */
#include "io/safetensors.h"
#include "io/fs.h"
#include "io/json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct st_file {
  char *path;
  void *map;
  size_t size;
} st_file;

struct hm_st {
  char *path;
  st_file *files;
  int n_files;
  hm_tensor_view *tensors;
  int n_tensors;
  json_t *metadata; /* "__metadata__" of the first file (object) or NULL */
  void **copies;    /* aligned copies of tensors whose file offset breaks their alignment */
  int n_copies;
};

static void st_free_files(hm_st *st) {
  for (int i = 0; i < st->n_files; i++) {
    if (st->files[i].map && st->files[i].map != MAP_FAILED) munmap(st->files[i].map, st->files[i].size);
    free(st->files[i].path);
  }
  free(st->files);
}

void hm_st_close(hm_st *st) {
  if (!st) return;
  for (int i = 0; i < st->n_tensors; i++) free((char *)st->tensors[i].name);
  free(st->tensors);
  st_free_files(st);
  if (st->metadata) json_decref(st->metadata);
  for (int i = 0; i < st->n_copies; i++) hm_free_aligned(st->copies[i]);
  free(st->copies);
  free(st->path);
  free(st);
}

static int cmp_view(const void *a, const void *b) {
  return strcmp(((const hm_tensor_view *)a)->name, ((const hm_tensor_view *)b)->name);
}

typedef struct span { uint64_t b, e; const char *name; } span;
static int cmp_span(const void *a, const void *b) {
  const span *x = a, *y = b;
  return x->b < y->b ? -1 : x->b > y->b ? 1 : (x->e < y->e ? -1 : x->e > y->e);
}

static hm_status grow(hm_st *st, int *cap) {
  if (st->n_tensors < *cap) return HM_OK;
  int nc = *cap ? *cap * 2 : 256;
  hm_tensor_view *t = realloc(st->tensors, (size_t)nc * sizeof *t);
  if (!t) return hm_error(HM_ERR_NOMEM, "out of memory");
  st->tensors = t;
  *cap = nc;
  return HM_OK;
}

/* Maps one file and appends its tensors. */
static hm_status st_add_file(hm_st *st, const char *path, int *cap) {
  st_file *nf = realloc(st->files, (size_t)(st->n_files + 1) * sizeof *nf);
  if (!nf) return hm_error(HM_ERR_NOMEM, "out of memory");
  st->files = nf;
  st_file *f = &st->files[st->n_files];
  memset(f, 0, sizeof *f);
  f->path = strdup(path);
  if (!f->path) return hm_error(HM_ERR_NOMEM, "out of memory");
  st->n_files++;

  int fd = open(path, O_RDONLY);
  if (fd < 0) return hm_error(HM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    bool dir = S_ISDIR(sb.st_mode);
    close(fd);
    return hm_error(HM_ERR_IO, "'%s' is %s, not a safetensors file", path, dir ? "a directory" : "not a regular file");
  }
  f->size = (size_t)sb.st_size;
  if (f->size < 8) { close(fd); return hm_error(HM_ERR_FORMAT, "%s: truncated safetensors file (%zu bytes, no header)", path, f->size); }
  f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (f->map == MAP_FAILED) { f->map = NULL; return hm_error(HM_ERR_IO, "cannot mmap '%s': %s", path, strerror(errno)); }

  const unsigned char *base = f->map;
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | base[i];
  if (hlen > f->size - 8 || hlen > (100u << 20))
    return hm_error(HM_ERR_FORMAT, "%s: header length %llu exceeds the file size %zu (truncated or not a safetensors file)",
                    path, (unsigned long long)hlen, f->size);
  json_error_t jerr;
  json_t *hdr = json_loadb((const char *)base + 8, (size_t)hlen, 0, &jerr);
  if (!hdr || !json_is_object(hdr)) {
    if (hdr) json_decref(hdr);
    return hm_error(HM_ERR_FORMAT, "%s: malformed safetensors header JSON: %s", path, hdr ? "not an object" : jerr.text);
  }
  const unsigned char *data = base + 8 + hlen;
  uint64_t data_size = f->size - 8 - hlen;
  size_t n_entries = json_object_size(hdr);
  span *spans = calloc(n_entries ? n_entries : 1, sizeof *spans);
  if (!spans) { json_decref(hdr); return hm_error(HM_ERR_NOMEM, "out of memory"); }
  size_t n_spans = 0;
  hm_status status = HM_OK;
  const char *key;
  json_t *val;
  json_object_foreach(hdr, key, val) {
    if (!strcmp(key, "__metadata__")) {
      if (st->n_files == 1 && json_is_object(val)) st->metadata = json_incref(val);
      continue;
    }
    json_t *jd = json_object_get(val, "dtype"), *js = json_object_get(val, "shape"), *jo = json_object_get(val, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2) {
      status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s': header entry needs dtype, shape and data_offsets", path, key);
      break;
    }
    hm_tensor_view tv;
    memset(&tv, 0, sizeof tv);
    if (!hm_dtype_from_name(json_string_value(jd), &tv.dtype)) {
      status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s': unsupported dtype '%s'", path, key, json_string_value(jd));
      break;
    }
    if (json_array_size(js) > HM_MAX_DIMS) {
      status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s': too many dimensions", path, key);
      break;
    }
    tv.n_dims = (int)json_array_size(js);
    tv.n_elems = 1;
    for (int d = 0; d < tv.n_dims; d++) {
      json_t *e = json_array_get(js, (size_t)d);
      if (!json_is_integer(e) || json_integer_value(e) < 0) { status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s': bad shape", path, key); break; }
      tv.shape[d] = json_integer_value(e);
      if (tv.shape[d] && tv.n_elems > INT64_MAX / tv.shape[d]) { status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s': shape overflows", path, key); break; }
      tv.n_elems *= tv.shape[d];
    }
    if (status != HM_OK) break;
    json_t *o0 = json_array_get(jo, 0), *o1 = json_array_get(jo, 1);
    if (!json_is_integer(o0) || !json_is_integer(o1) || json_integer_value(o0) < 0 || json_integer_value(o1) < json_integer_value(o0)) {
      status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s': bad data_offsets", path, key);
      break;
    }
    uint64_t b = (uint64_t)json_integer_value(o0), e = (uint64_t)json_integer_value(o1);
    if (e > data_size) {
      status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s': data [%llu, %llu) lies outside the file's %llu data bytes (truncated file?)",
                        path, key, (unsigned long long)b, (unsigned long long)e, (unsigned long long)data_size);
      break;
    }
    size_t want = hm_dtype_bytes(tv.dtype, tv.n_elems);
    if (want != e - b || (want == 0 && tv.n_elems)) {
      status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s': %llu data bytes, but dtype %s x %lld elements needs %zu",
                        path, key, (unsigned long long)(e - b), hm_dtype_name(tv.dtype), (long long)tv.n_elems, want);
      break;
    }
    if ((status = grow(st, cap)) != HM_OK) break;
    tv.name = strdup(key);
    if (!tv.name) { status = hm_error(HM_ERR_NOMEM, "out of memory"); break; }
    tv.data = data + b;
    tv.nbytes = (size_t)(e - b);
    tv.file = f->path;
    st->tensors[st->n_tensors++] = tv;
    spans[n_spans++] = (span){b, e, st->tensors[st->n_tensors - 1].name};
  }
  if (status == HM_OK && n_spans > 1) {
    qsort(spans, n_spans, sizeof *spans, cmp_span);
    for (size_t i = 1; i < n_spans; i++)
      if (spans[i].b < spans[i - 1].e) {
        status = hm_error(HM_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap in the data section", path, spans[i - 1].name, spans[i].name);
        break;
      }
  }
  free(spans);
  json_decref(hdr);
  return status;
}

static char *dir_of(const char *path) {
  char *d = strdup(path);
  if (!d) return NULL;
  char *slash = strrchr(d, '/');
  if (slash) *slash = 0;
  else strcpy(d, ".");
  return d;
}

/* Whether a directory entry of that name exists at all (a dangling or looping
 * symlink, a directory, a file): such an entry is opened, so that the error
 * says what is wrong with it instead of "not found". */
static bool entry_exists(const char *path) {
  struct stat sb;
  return lstat(path, &sb) == 0;
}

static hm_status st_open_index(hm_st *st, const char *index_path, int *cap) {
  json_t *root;
  HM_TRY(hm_json_load(index_path, &root));
  json_t *wm = json_object_get(root, "weight_map");
  if (!json_is_object(wm)) { json_decref(root); return hm_error(HM_ERR_FORMAT, "%s: missing object 'weight_map'", index_path); }
  if (json_object_size(wm) == 0) { json_decref(root); return hm_error(HM_ERR_FORMAT, "%s: 'weight_map' names no tensor", index_path); }
  char *dir = dir_of(index_path);
  hm_status status = dir ? HM_OK : hm_error(HM_ERR_NOMEM, "out of memory");
  const char *key;
  json_t *val;
  /* open each distinct shard once, in order of first appearance */
  json_object_foreach(wm, key, val) {
    if (status != HM_OK) break;
    if (!json_is_string(val)) { status = hm_error(HM_ERR_FORMAT, "%s: weight_map['%s'] must be a file name", index_path, key); break; }
    const char *shard = json_string_value(val);
    if (strchr(shard, '/') || !strcmp(shard, "..")) { status = hm_error(HM_ERR_FORMAT, "%s: shard name '%s' must be a plain file name", index_path, shard); break; }
    char p[4096];
    if ((status = hm_path_join(p, sizeof p, dir, shard)) != HM_OK) break;
    bool seen = false;
    for (int i = 0; i < st->n_files && !seen; i++) seen = !strcmp(st->files[i].path, p);
    if (!seen && (status = st_add_file(st, p, cap)) != HM_OK) {
      char why[1024];
      snprintf(why, sizeof why, "%s", hm_last_error());
      status = hm_error(status, "%s (shard listed in %s for tensor '%s')", why, index_path, key);
      break;
    }
  }
  if (status == HM_OK) {
    if (st->n_tensors > 1) qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_view);
    json_object_foreach(wm, key, val) {
      const hm_tensor_view *t = hm_st_find(st, key);
      if (!t) { status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s' is listed in the index but not in shard '%s'", index_path, key, json_string_value(val)); break; }
      const char *slash = strrchr(t->file, '/');
      if (strcmp(slash ? slash + 1 : t->file, json_string_value(val)) != 0) {
        status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s' is listed in '%s' but found in '%s'", index_path, key, json_string_value(val), t->file);
        break;
      }
    }
  }
  free(dir);
  json_decref(root);
  return status;
}

/* Safetensors does not promise aligned data: a file with 1-byte tensors (BOOL
 * buffers) before F32 ones has F32 data at odd addresses (the HeartCodec
 * fixtures do). Views must be safe to read as their type, so such tensors get
 * an aligned copy (rare: the mapped data is used in place otherwise). */
static hm_status align_views(hm_st *st) {
  int n_bad = 0;
  for (int i = 0; i < st->n_tensors; i++) {
    hm_tensor_view *t = &st->tensors[i];
    size_t a = hm_dtype_bytes(t->dtype, 1);
    if (t->dtype == HM_DT_Q8_0 || t->dtype == HM_DT_Q4_0) a = 2; /* f16 scales */
    if (a > 8) a = 8;
    if (a > 1 && t->nbytes && ((uintptr_t)t->data % a) != 0) n_bad++;
  }
  if (!n_bad) return HM_OK;
  st->copies = calloc((size_t)n_bad, sizeof *st->copies);
  if (!st->copies) return hm_error(HM_ERR_NOMEM, "out of memory");
  for (int i = 0; i < st->n_tensors; i++) {
    hm_tensor_view *t = &st->tensors[i];
    size_t a = hm_dtype_bytes(t->dtype, 1);
    if (t->dtype == HM_DT_Q8_0 || t->dtype == HM_DT_Q4_0) a = 2;
    if (a > 8) a = 8;
    if (a <= 1 || !t->nbytes || ((uintptr_t)t->data % a) == 0) continue;
    void *c = hm_malloc_aligned(t->nbytes);
    if (!c) return hm_error(HM_ERR_NOMEM, "%s: out of memory copying misaligned tensor '%s'", t->file, t->name);
    memcpy(c, t->data, t->nbytes);
    st->copies[st->n_copies++] = c;
    t->data = c;
  }
  hm_log(HM_LOG_DEBUG, "%s: %d tensor(s) stored at unaligned offsets were copied", hm_st_path(st), n_bad);
  return HM_OK;
}

hm_status hm_st_open(const char *path, hm_st **out) {
  *out = NULL;
  if (!path || !*path) return hm_error(HM_ERR_INVALID_ARG, "safetensors path is empty");
  hm_st *st = calloc(1, sizeof *st);
  if (!st) return hm_error(HM_ERR_NOMEM, "out of memory");
  int cap = 0;
  hm_status status;
  char p[4096];
  if (hm_dir_exists(path)) {
    if ((status = hm_path_join(p, sizeof p, path, "model.safetensors.index.json")) == HM_OK && entry_exists(p)) {
      status = st_open_index(st, p, &cap);
    } else if ((status = hm_path_join(p, sizeof p, path, "model.safetensors")) == HM_OK && entry_exists(p)) {
      status = st_add_file(st, p, &cap);
    } else {
      status = hm_error(HM_ERR_IO, "'%s' holds neither model.safetensors.index.json nor model.safetensors", path);
    }
  } else if (!hm_file_exists(path)) {
    status = hm_error(HM_ERR_IO, "cannot open '%s': no such file or directory", path);
  } else {
    size_t n = strlen(path);
    snprintf(p, sizeof p, "%s", path);
    if (n >= 5 && !strcmp(path + n - 5, ".json")) status = st_open_index(st, path, &cap);
    else status = st_add_file(st, path, &cap);
  }
  if (status == HM_OK) {
    if (st->n_tensors > 1) qsort(st->tensors, (size_t)st->n_tensors, sizeof *st->tensors, cmp_view);
    for (int i = 1; i < st->n_tensors; i++)
      if (!strcmp(st->tensors[i].name, st->tensors[i - 1].name)) {
        status = hm_error(HM_ERR_FORMAT, "%s: tensor '%s' appears in more than one file ('%s', '%s')", path,
                          st->tensors[i].name, st->tensors[i - 1].file, st->tensors[i].file);
        break;
      }
  }
  if (status == HM_OK) {
    st->path = strdup(p);
    if (!st->path) status = hm_error(HM_ERR_NOMEM, "out of memory");
  }
  if (status == HM_OK) status = align_views(st);
  if (status != HM_OK) { hm_st_close(st); return status; }
  *out = st;
  return HM_OK;
}

int hm_st_count(const hm_st *st) { return st ? st->n_tensors : 0; }
const hm_tensor_view *hm_st_at(const hm_st *st, int i) { return (st && i >= 0 && i < st->n_tensors) ? &st->tensors[i] : NULL; }
const char *hm_st_path(const hm_st *st) { return st && st->path ? st->path : "(safetensors)"; }

bool hm_st_is_mapped(const hm_st *st, const void *data, size_t nbytes) {
  if (!st || !data) return false;
  const uintptr_t b = (uintptr_t)data, e = b + nbytes;
  for (int i = 0; i < st->n_files; i++) {
    const uintptr_t fb = (uintptr_t)st->files[i].map, fe = fb + st->files[i].size;
    if (st->files[i].map && st->files[i].map != MAP_FAILED && b >= fb && e <= fe) return true;
  }
  return false;
}

const hm_tensor_view *hm_st_find(const hm_st *st, const char *name) {
  if (!st || !st->n_tensors) return NULL;
  hm_tensor_view key;
  key.name = name;
  return bsearch(&key, st->tensors, (size_t)st->n_tensors, sizeof key, cmp_view);
}

hm_st_entry hm_st_entry_of(const hm_tensor_view *t) {
  hm_st_entry e;
  memset(&e, 0, sizeof e);
  e.name = t->name;
  e.dtype = t->dtype;
  e.n_dims = t->n_dims;
  for (int d = 0; d < t->n_dims && d < HM_MAX_DIMS; d++) e.shape[d] = t->shape[d];
  e.data = t->data;
  return e;
}

const char *hm_st_metadata(const hm_st *st, const char *key) {
  if (!st || !st->metadata) return NULL;
  json_t *v = json_object_get(st->metadata, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static void shape_str(char *buf, size_t n, int n_dims, const int64_t *shape) {
  size_t o = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < n_dims && o < n; i++)
    o += (size_t)snprintf(buf + o, n - o, i ? ", %lld" : "%lld", (long long)shape[i]);
  if (o < n) snprintf(buf + o, n - o, "]");
}

hm_status hm_st_get(const hm_st *st, const char *name, uint32_t allowed_mask, int n_dims, const int64_t *shape,
                    const hm_tensor_view **out) {
  *out = NULL;
  const hm_tensor_view *t = hm_st_find(st, name);
  if (!t) return hm_error(HM_ERR_FORMAT, "%s: tensor '%s' is missing", hm_st_path(st), name);
  if (allowed_mask && !(allowed_mask & (1u << t->dtype)))
    return hm_error(HM_ERR_FORMAT, "%s: tensor '%s' has unsupported dtype %s", t->file, name, hm_dtype_name(t->dtype));
  bool ok = n_dims < 0 || t->n_dims == n_dims;
  for (int i = 0; ok && n_dims > 0 && i < n_dims; i++) ok = !shape || shape[i] < 0 || shape[i] == t->shape[i];
  if (!ok) {
    char want[160], got[160];
    shape_str(got, sizeof got, t->n_dims, t->shape);
    if (shape) shape_str(want, sizeof want, n_dims, shape);
    else snprintf(want, sizeof want, "%d dims", n_dims);
    for (char *c = want; *c; c++) if (!strncmp(c, "-1", 2)) { c[0] = ' '; c[1] = '*'; }
    return hm_error(HM_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", t->file, name, got, want);
  }
  *out = t;
  return HM_OK;
}

void hm_tensor_release(const void *data, size_t nbytes) {
  long pg = sysconf(_SC_PAGESIZE);
  if (!data || pg <= 0 || nbytes == 0) return;
  uintptr_t a = ((uintptr_t)data + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
  uintptr_t b = ((uintptr_t)data + nbytes) & ~((uintptr_t)pg - 1);
  if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

hm_status hm_tensor_to_f32(const hm_tensor_view *t, float *dst) {
  int64_t n = t->n_elems;
  switch (t->dtype) {
  case HM_DT_F32: memcpy(dst, t->data, (size_t)n * 4); return HM_OK;
  case HM_DT_BF16: {
    const uint16_t *s = t->data;
    for (int64_t i = 0; i < n; i++) dst[i] = hm_bf16_to_f32(s[i]);
    return HM_OK;
  }
  case HM_DT_F16: {
    const uint16_t *s = t->data;
    for (int64_t i = 0; i < n; i++) dst[i] = hm_f16_to_f32(s[i]);
    return HM_OK;
  }
  default:
    return hm_error(HM_ERR_FORMAT, "%s: tensor '%s' is %s, expected a float tensor (F32, BF16, F16)", t->file, t->name,
                    hm_dtype_name(t->dtype));
  }
}

/* ---- writer ---- */
hm_status hm_st_write(const char *path, const hm_st_entry *entries, int n, const char *const *metadata) {
  json_t *hdr = json_object();
  if (!hdr) return hm_error(HM_ERR_NOMEM, "out of memory");
  if (metadata && metadata[0]) {
    json_t *md = json_object();
    for (int i = 0; metadata[i] && metadata[i + 1]; i += 2) json_object_set_new(md, metadata[i], json_string(metadata[i + 1]));
    json_object_set_new(hdr, "__metadata__", md);
  }
  uint64_t off = 0;
  size_t *sizes = calloc((size_t)(n > 0 ? n : 1), sizeof *sizes);
  if (!sizes) { json_decref(hdr); return hm_error(HM_ERR_NOMEM, "out of memory"); }
  for (int i = 0; i < n; i++) {
    const hm_st_entry *e = &entries[i];
    int64_t ne = 1;
    json_t *shape = json_array();
    for (int d = 0; d < e->n_dims; d++) { ne *= e->shape[d]; json_array_append_new(shape, json_integer(e->shape[d])); }
    sizes[i] = hm_dtype_bytes(e->dtype, ne);
    if (sizes[i] == 0 && ne != 0) {
      json_decref(shape);
      json_decref(hdr);
      free(sizes);
      return hm_error(HM_ERR_INVALID_ARG, "%s: tensor '%s': %lld elements cannot be stored as %s", path, e->name, (long long)ne, hm_dtype_name(e->dtype));
    }
    json_t *t = json_object();
    json_object_set_new(t, "dtype", json_string(hm_dtype_name(e->dtype)));
    json_object_set_new(t, "shape", shape);
    json_t *offs = json_array();
    json_array_append_new(offs, json_integer((json_int_t)off));
    json_array_append_new(offs, json_integer((json_int_t)(off + sizes[i])));
    json_object_set_new(t, "data_offsets", offs);
    json_object_set_new(hdr, e->name, t);
    off += sizes[i];
  }
  char *text = json_dumps(hdr, JSON_COMPACT);
  json_decref(hdr);
  if (!text) { free(sizes); return hm_error(HM_ERR_NOMEM, "out of memory"); }
  size_t tl = strlen(text), padded = (tl + 7) & ~(size_t)7;
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) { free(text); free(sizes); return hm_error(HM_ERR_INVALID_ARG, "path too long"); }
  FILE *f = fopen(tmp, "wb");
  if (!f) { free(text); free(sizes); return hm_error(HM_ERR_IO, "cannot write '%s': %s", path, strerror(errno)); }
  unsigned char len8[8];
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  bool ok = fwrite(len8, 1, 8, f) == 8 && fwrite(text, 1, tl, f) == tl;
  for (size_t i = tl; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
  for (int i = 0; ok && i < n; i++) ok = sizes[i] == 0 || fwrite(entries[i].data, 1, sizes[i], f) == sizes[i];
  ok = (fclose(f) == 0) && ok;
  free(text);
  free(sizes);
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return hm_error(HM_ERR_IO, "cannot write '%s': %s", path, strerror(e));
  }
  return HM_OK;
}
