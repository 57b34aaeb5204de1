/* File-system helpers: whole-file reads, mkdir -p, existence tests, path joins. */
#ifndef HM_FS_H
#define HM_FS_H
#include "base/base.h"
#include <stddef.h>

/* Reads a whole file into a NUL-terminated buffer (malloc); *len without the NUL. */
hm_status hm_read_file(const char *path, char **out, size_t *len);
/* Creates a folder and its missing parents (mkdir -p); an existing folder is fine. */
hm_status hm_mkdir_p(const char *path);
/* Path helpers. */
bool hm_file_exists(const char *path);
bool hm_dir_exists(const char *path);
/* Joins a and b with '/' into buf (error if it does not fit). */
hm_status hm_path_join(char *buf, size_t n, const char *a, const char *b);

#endif
