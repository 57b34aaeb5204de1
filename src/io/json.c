/* JSON config reading with errors naming the file and the field. */
#include "io/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

hm_status hm_json_load(const char *path, json_t **out) {
  *out = NULL;
  struct stat sb;
  if (!path || stat(path, &sb) != 0) {
    int e = errno;
    return hm_error(HM_ERR_IO, "cannot open '%s': %s", path ? path : "(null)", e == ENOENT ? "no such file" : strerror(e));
  }
  if (!S_ISREG(sb.st_mode))
    return hm_error(HM_ERR_IO, "'%s' is %s, not a JSON file", path, S_ISDIR(sb.st_mode) ? "a directory" : "not a regular file");
  json_error_t err;
  json_t *root = json_load_file(path, JSON_DECODE_ANY, &err);
  if (!root) return hm_error(HM_ERR_FORMAT, "%s:%d:%d: malformed JSON: %s", path, err.line, err.column, err.text);
  *out = root;
  return HM_OK;
}

static const json_t *field(const json_t *obj, const char *key) {
  if (!json_is_object(obj)) return NULL;
  const json_t *v = json_object_get(obj, key);
  return (v && !json_is_null(v)) ? v : NULL;
}

static hm_status missing(const char *file, const char *key) {
  return hm_error(HM_ERR_FORMAT, "%s: missing field '%s'", file ? file : "(json)", key);
}

static hm_status wrong(const char *file, const char *key, const char *want) {
  return hm_error(HM_ERR_FORMAT, "%s: field '%s' must be %s", file ? file : "(json)", key, want);
}

hm_status hm_json_int_opt(const json_t *obj, const char *key, const char *file, int64_t *out) {
  const json_t *v = field(obj, key);
  if (!v) return HM_OK;
  if (json_is_integer(v)) { *out = (int64_t)json_integer_value(v); return HM_OK; }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    /* 3.0 is 3; a value outside int64_t (1e122) is not converted at all (UB) */
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == (double)(int64_t)d) { *out = (int64_t)d; return HM_OK; }
  }
  return wrong(file, key, "an integer");
}

hm_status hm_json_int(const json_t *obj, const char *key, const char *file, int64_t *out) {
  return field(obj, key) ? hm_json_int_opt(obj, key, file, out) : missing(file, key);
}

hm_status hm_json_num_opt(const json_t *obj, const char *key, const char *file, double *out) {
  const json_t *v = field(obj, key);
  if (!v) return HM_OK;
  if (!json_is_number(v)) return wrong(file, key, "a number");
  *out = json_number_value(v);
  return HM_OK;
}

hm_status hm_json_num(const json_t *obj, const char *key, const char *file, double *out) {
  return field(obj, key) ? hm_json_num_opt(obj, key, file, out) : missing(file, key);
}

hm_status hm_json_bool_opt(const json_t *obj, const char *key, const char *file, bool *out) {
  const json_t *v = field(obj, key);
  if (!v) return HM_OK;
  if (!json_is_boolean(v)) return wrong(file, key, "true or false");
  *out = json_is_true(v);
  return HM_OK;
}

hm_status hm_json_str_opt(const json_t *obj, const char *key, const char *file, const char **out) {
  const json_t *v = field(obj, key);
  if (!v) return HM_OK;
  if (!json_is_string(v)) return wrong(file, key, "a string");
  *out = json_string_value(v);
  return HM_OK;
}

hm_status hm_json_str(const json_t *obj, const char *key, const char *file, const char **out) {
  return field(obj, key) ? hm_json_str_opt(obj, key, file, out) : missing(file, key);
}

hm_status hm_json_int_in(const json_t *obj, const char *key, const char *file, bool required, int64_t lo,
                         int64_t hi, int *out) {
  int64_t v = *out;
  HM_TRY(required ? hm_json_int(obj, key, file, &v) : hm_json_int_opt(obj, key, file, &v));
  if (v < lo || v > hi)
    return hm_error(HM_ERR_FORMAT, "%s: field '%s' = %lld is out of range [%lld, %lld]", file ? file : "(json)", key,
                    (long long)v, (long long)lo, (long long)hi);
  *out = (int)v;
  return HM_OK;
}

hm_status hm_json_int_list(const json_t *obj, const char *key, const char *file, int n_min, int n_max, int64_t lo,
                           int64_t hi, int32_t **out, int *n_out) {
  const json_t *a = field(obj, key);
  if (!a) return HM_OK;
  if (!file) file = "(json)";
  if (!json_is_array(a) || json_array_size(a) < (size_t)n_min || json_array_size(a) > (size_t)n_max)
    return hm_error(HM_ERR_FORMAT, "%s: field '%s' must be a list of %d..%d integers", file, key, n_min, n_max);
  const int n = (int)json_array_size(a);
  int32_t *v = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!v) return hm_error(HM_ERR_NOMEM, "%s: out of memory reading field '%s'", file, key);
  for (int i = 0; i < n; i++) {
    const json_t *e = json_array_get(a, (size_t)i);
    if (!json_is_integer(e) || json_integer_value(e) < lo || json_integer_value(e) > hi) {
      free(v);
      return hm_error(HM_ERR_FORMAT, "%s: field '%s'[%d] must be an integer in [%lld, %lld]", file, key, i,
                      (long long)lo, (long long)hi);
    }
    v[i] = (int32_t)json_integer_value(e);
  }
  free(*out);
  *out = v;
  *n_out = n;
  return HM_OK;
}

hm_status hm_json_write(const char *path, const json_t *j, size_t flags) {
  char tmp[4200];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
    return hm_error(HM_ERR_INVALID_ARG, "path too long: '%s'", path);
  if (json_dump_file(j, tmp, flags) != 0) {
    remove(tmp);
    return hm_error(HM_ERR_IO, "cannot write '%s'", path);
  }
  if (rename(tmp, path) != 0) {
    int e = errno;
    remove(tmp);
    return hm_error(HM_ERR_IO, "cannot write '%s': %s", path, strerror(e));
  }
  return HM_OK;
}

