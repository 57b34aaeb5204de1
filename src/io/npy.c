/* .npy reading and writing (version 1-3 headers, little-endian, C order). */
#include "io/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static bool descr_to_dtype(const char *d, hm_dtype *t) {
  static const struct { const char *d; hm_dtype t; } map[] = {
    {"<f4", HM_DT_F32}, {"<f8", HM_DT_F64}, {"<f2", HM_DT_F16}, {"<i4", HM_DT_I32}, {"<i8", HM_DT_I64},
    {"<i2", HM_DT_I16}, {"|i1", HM_DT_I8},  {"|u1", HM_DT_U8},  {"|b1", HM_DT_BOOL},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(d, map[i].d)) { *t = map[i].t; return true; }
  return false;
}

static const char *dtype_to_descr(hm_dtype t) {
  switch (t) {
  case HM_DT_F32: return "<f4";
  case HM_DT_F64: return "<f8";
  case HM_DT_F16: return "<f2";
  case HM_DT_I32: return "<i4";
  case HM_DT_I64: return "<i8";
  case HM_DT_I16: return "<i2";
  case HM_DT_I8: return "|i1";
  case HM_DT_U8: return "|u1";
  case HM_DT_BOOL: return "|b1";
  default: return NULL;
  }
}

void hm_npy_free(hm_npy *a) {
  if (!a) return;
  hm_free_aligned(a->data);
  memset(a, 0, sizeof *a);
}

hm_status hm_npy_read(const char *path, hm_npy *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return hm_error(HM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  unsigned char pre[12];
  hm_status st = HM_OK;
  char *hdr = NULL;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
    st = hm_error(HM_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
    goto done;
  }
  size_t hlen;
  if (pre[6] == 1) hlen = pre[8] | (size_t)pre[9] << 8;
  else if (pre[6] == 2 || pre[6] == 3) {
    if (fread(pre + 10, 1, 2, f) != 2) { st = hm_error(HM_ERR_FORMAT, "%s: truncated header", path); goto done; }
    hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  } else {
    st = hm_error(HM_ERR_FORMAT, "%s: unsupported .npy version %d", path, pre[6]);
    goto done;
  }
  if (hlen > (1u << 20)) { st = hm_error(HM_ERR_FORMAT, "%s: header too large", path); goto done; }
  hdr = malloc(hlen + 1);
  if (!hdr) { st = hm_error(HM_ERR_NOMEM, "out of memory"); goto done; }
  if (fread(hdr, 1, hlen, f) != hlen) { st = hm_error(HM_ERR_FORMAT, "%s: truncated header", path); goto done; }
  hdr[hlen] = 0;
  /* {'descr': '<f4', 'fortran_order': False, 'shape': (2, 14, 9), } */
  char descr[16] = {0};
  const char *p = strstr(hdr, "'descr'");
  if (!p || sscanf(p, "'descr': '%15[^']'", descr) != 1 || !descr_to_dtype(descr, &out->dtype)) {
    st = hm_error(HM_ERR_FORMAT, "%s: unsupported or missing dtype '%s' (want little-endian f4/f8/f2/i1..i8/u1/b1)", path, descr);
    goto done;
  }
  p = strstr(hdr, "'fortran_order'");
  if (p) {
    p += strlen("'fortran_order'");
    while (*p == ' ' || *p == ':') p++;
  }
  if (!p || strncmp(p, "False", 5) != 0) {
    st = hm_error(HM_ERR_FORMAT, "%s: Fortran-order arrays are not supported (or 'fortran_order' is missing)", path);
    goto done;
  }
  p = strstr(hdr, "'shape'");
  p = p ? strchr(p, '(') : NULL;
  if (!p) { st = hm_error(HM_ERR_FORMAT, "%s: missing shape", path); goto done; }
  p++;
  out->n_elems = 1;
  while (*p && *p != ')') {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 0 || errno || out->n_dims >= 8) { st = hm_error(HM_ERR_FORMAT, "%s: bad shape", path); goto done; }
    if (v && out->n_elems > INT64_MAX / v) { st = hm_error(HM_ERR_FORMAT, "%s: shape overflows", path); goto done; }
    out->shape[out->n_dims++] = v;
    out->n_elems *= v;
    p = end;
  }
  if (*p != ')') { st = hm_error(HM_ERR_FORMAT, "%s: bad shape (no closing parenthesis)", path); goto done; }
  size_t nbytes = hm_dtype_bytes(out->dtype, out->n_elems);
  /* the data must be in the file: checked before allocating for it */
  long here = ftell(f);
  if (here < 0 || fseek(f, 0, SEEK_END) != 0) { st = hm_error(HM_ERR_IO, "%s: cannot seek (not a regular file?)", path); goto done; }
  long end_pos = ftell(f);
  if (end_pos < here || fseek(f, here, SEEK_SET) != 0) { st = hm_error(HM_ERR_IO, "%s: cannot seek", path); goto done; }
  if ((nbytes == 0 && out->n_elems > 0) || nbytes > (size_t)(end_pos - here)) {
    st = hm_error(HM_ERR_FORMAT, "%s: truncated data (shape needs %lld elements of %s, the file holds %ld bytes of data)", path,
                  (long long)out->n_elems, hm_dtype_name(out->dtype), end_pos - here);
    goto done;
  }
  out->data = hm_malloc_aligned(nbytes);
  if (!out->data) { st = hm_error(HM_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, nbytes); goto done; }
  if (fread(out->data, 1, nbytes, f) != nbytes) {
    st = hm_error(HM_ERR_FORMAT, "%s: truncated data (want %zu bytes)", path, nbytes);
    goto done;
  }
done:
  free(hdr);
  fclose(f);
  if (st != HM_OK) hm_npy_free(out);
  return st;
}

static hm_status convert(const char *path, hm_npy *a, hm_dtype to) {
  if (a->dtype == to) return HM_OK;
  size_t n = (size_t)a->n_elems;
  void *dst = hm_malloc_aligned(n * 4);
  if (!dst) return hm_error(HM_ERR_NOMEM, "%s: out of memory", path);
  float *fd = dst;
  int32_t *id = dst;
  const void *s = a->data;
  bool is_float = a->dtype == HM_DT_F32 || a->dtype == HM_DT_F64 || a->dtype == HM_DT_F16;
  if (to == HM_DT_I32 && is_float) {
    hm_free_aligned(dst);
    return hm_error(HM_ERR_FORMAT, "%s: expected an integer array, found %s", path, hm_dtype_name(a->dtype));
  }
  for (size_t i = 0; i < n; i++) {
    double v;
    switch (a->dtype) {
    case HM_DT_F32: v = ((const float *)s)[i]; break;
    case HM_DT_F64: v = ((const double *)s)[i]; break;
    case HM_DT_F16: v = hm_f16_to_f32(((const uint16_t *)s)[i]); break;
    case HM_DT_I32: v = ((const int32_t *)s)[i]; break;
    case HM_DT_I64: v = (double)((const int64_t *)s)[i]; break;
    case HM_DT_I16: v = ((const int16_t *)s)[i]; break;
    case HM_DT_I8: v = ((const int8_t *)s)[i]; break;
    case HM_DT_U8: case HM_DT_BOOL: v = ((const uint8_t *)s)[i]; break;
    default: v = 0;
    }
    if (to == HM_DT_F32) fd[i] = (float)v;
    else {
      if (v > 2147483647.0 || v < -2147483648.0) {
        hm_free_aligned(dst);
        return hm_error(HM_ERR_FORMAT, "%s: value at %zu does not fit int32", path, i);
      }
      id[i] = (int32_t)v;
    }
  }
  hm_free_aligned(a->data);
  a->data = dst;
  a->dtype = to;
  return HM_OK;
}

hm_status hm_npy_read_f32(const char *path, hm_npy *out) {
  HM_TRY(hm_npy_read(path, out));
  hm_status st = convert(path, out, HM_DT_F32);
  if (st != HM_OK) hm_npy_free(out);
  return st;
}

hm_status hm_npy_read_i32(const char *path, hm_npy *out) {
  HM_TRY(hm_npy_read(path, out));
  hm_status st = convert(path, out, HM_DT_I32);
  if (st != HM_OK) hm_npy_free(out);
  return st;
}

hm_status hm_npy_write(const char *path, hm_dtype dtype, int n_dims, const int64_t *shape, const void *data) {
  const char *descr = dtype_to_descr(dtype);
  if (!descr) return hm_error(HM_ERR_INVALID_ARG, "%s: dtype %s cannot be written to .npy", path, hm_dtype_name(dtype));
  if (n_dims < 0 || n_dims > 8) return hm_error(HM_ERR_INVALID_ARG, "%s: bad number of dims %d", path, n_dims);
  char dict[256], shp[160] = "";
  int64_t n = 1;
  size_t off = 0;
  for (int i = 0; i < n_dims; i++) {
    off += (size_t)snprintf(shp + off, sizeof shp - off, "%lld%s", (long long)shape[i],
                            n_dims == 1 ? "," : (i + 1 < n_dims ? ", " : ""));
    n *= shape[i];
  }
  int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shp);
  size_t total = 10 + (size_t)dl + 1;
  size_t pad = (64 - total % 64) % 64;
  size_t hlen = (size_t)dl + pad + 1;
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) return hm_error(HM_ERR_INVALID_ARG, "path too long: %s", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return hm_error(HM_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
  bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)dl, f) == (size_t)dl;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF;
  size_t nbytes = hm_dtype_bytes(dtype, n);
  ok = ok && (nbytes == 0 || fwrite(data, 1, nbytes, f) == nbytes);
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    remove(tmp);
    return hm_error(HM_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
  }
  return HM_OK;
}
