/* `heartmula tag`'s built-in vocabulary (tools/clap_tags.c). */
#ifndef HM_CLAP_TAGS_H
#define HM_CLAP_TAGS_H
typedef struct clap_tag {
  const char *tag, *kind;
} clap_tag;
extern const clap_tag clap_builtin_tags[];
extern const int clap_n_builtin_tags;
#endif
