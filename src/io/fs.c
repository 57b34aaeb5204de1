/* File-system helpers. */
#include "io/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

hm_status hm_read_file(const char *path, char **out, size_t *len) {
  *out = NULL;
  if (len) *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return hm_error(HM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return hm_error(HM_ERR_IO, "cannot read '%s'", path); }
  long n = ftell(f);
  if (n < 0) { fclose(f); return hm_error(HM_ERR_IO, "cannot read '%s' (not a regular file?)", path); }
  rewind(f);
  char *buf = malloc((size_t)n + 1);
  if (!buf) { fclose(f); return hm_error(HM_ERR_NOMEM, "out of memory reading '%s' (%ld bytes)", path, n); }
  size_t got = fread(buf, 1, (size_t)n, f);
  fclose(f);
  if (got != (size_t)n) { free(buf); return hm_error(HM_ERR_IO, "short read on '%s'", path); }
  buf[n] = 0;
  *out = buf;
  if (len) *len = (size_t)n;
  return HM_OK;
}

bool hm_file_exists(const char *path) {
  struct stat st;
  return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool hm_dir_exists(const char *path) {
  struct stat st;
  return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

hm_status hm_path_join(char *buf, size_t n, const char *a, const char *b) {
  size_t la = strlen(a);
  int w = (la && a[la - 1] == '/') ? snprintf(buf, n, "%s%s", a, b) : snprintf(buf, n, "%s/%s", a, b);
  if (w < 0 || (size_t)w >= n) return hm_error(HM_ERR_INVALID_ARG, "path too long: '%s/%s'", a, b);
  return HM_OK;
}

hm_status hm_mkdir_p(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) return hm_error(HM_ERR_INVALID_ARG, "bad folder path '%s'", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != 0) continue;
    char c = buf[i];
    buf[i] = 0;
    if (!hm_dir_exists(buf) && mkdir(buf, 0777) != 0 && errno != EEXIST)
      return hm_error(HM_ERR_IO, "cannot create folder '%s': %s", buf, strerror(errno));
    buf[i] = c;
  }
  return HM_OK;
}
