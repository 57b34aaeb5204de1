/* JSON config reading (jansson) with errors that name the file and the field. File-system
 * helpers are in io/fs.h. */
#ifndef HM_JSON_H
#define HM_JSON_H
#include "base/base.h"
#include <jansson.h>

/* Loads a JSON file; error "file:line:col: text" on failure. Caller json_decref()s. */
hm_status hm_json_load(const char *path, json_t **out);
/* Field getters: obj[key] must exist with the right type (error names file and key).
 * The _opt variants leave *out untouched when the key is absent (or null). */
hm_status hm_json_int(const json_t *obj, const char *key, const char *file, int64_t *out);
hm_status hm_json_int_opt(const json_t *obj, const char *key, const char *file, int64_t *out);
hm_status hm_json_num(const json_t *obj, const char *key, const char *file, double *out);
hm_status hm_json_num_opt(const json_t *obj, const char *key, const char *file, double *out);
hm_status hm_json_bool_opt(const json_t *obj, const char *key, const char *file, bool *out);
hm_status hm_json_str(const json_t *obj, const char *key, const char *file, const char **out);
hm_status hm_json_str_opt(const json_t *obj, const char *key, const char *file, const char **out);
/* Typed config readers (one set for every model's config.json): an int in [lo, hi], a list of
 * ints. Each error names the file and the field ("file: field 'key' = 0 is out of range [1, 64]").
 * required = false: an absent (or null) field leaves *out as it is. */
hm_status hm_json_int_in(const json_t *obj, const char *key, const char *file, bool required, int64_t lo,
                         int64_t hi, int *out);
/* obj[key] as n_min..n_max ints, each in [lo, hi]: *out is replaced by a malloc'ed copy (the old one
 * freed) and *n_out set; an absent (or null) field leaves both as they are. */
hm_status hm_json_int_list(const json_t *obj, const char *key, const char *file, int n_min, int n_max, int64_t lo,
                           int64_t hi, int32_t **out, int *n_out);
/* Writes j to path (jansson dump flags) through a temporary name, renamed when complete. */
hm_status hm_json_write(const char *path, const json_t *j, size_t flags);

#endif
