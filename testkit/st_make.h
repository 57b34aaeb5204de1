/* Random safetensors checkpoints for the test kit's generators: a list of tensor specs (name,
 * shape, how to fill it) written as model.safetensors, or as model-0000k-of-0000n.safetensors +
 * model.safetensors.index.json when larger than one shard. Internal to heartmula_testkit. */
#ifndef HM_TESTKIT_ST_MAKE_H
#define HM_TESTKIT_ST_MAKE_H
#include "base/base.h"

typedef enum tk_kind {
  TK_NORMAL, /* F32, v * N(0, 1) */
  TK_CONST,  /* F32, every value v */
  TK_BOOL,   /* BOOL scalar true (1 byte) */
  TK_I64,    /* I64, every value (int64_t)v (e.g. BatchNorm's num_batches_tracked) */
  TK_ROPE    /* F32 [n], the rotary buffer inv_freq: 1 / v^(i / n), i = 0..n-1 (v = the base) */
} tk_kind;

typedef struct tk_spec {
  char name[128];
  int n_dims;
  int64_t shape[4];
  tk_kind kind;
  float v;
} tk_spec;

typedef struct tk_specs {
  tk_spec *a;
  int n, cap;
  bool oom; /* an add ran out of memory: tk_write reports it */
} tk_specs;

#define TK_SH(...) ((const int64_t[]){__VA_ARGS__})

void tk_add(tk_specs *s, tk_kind kind, float v, int n_dims, const int64_t *shape, const char *fmt, ...) HM_PRINTF(6, 7);
int64_t tk_elems(const tk_spec *e);
int64_t tk_bytes(const tk_spec *e);
/* Writes the specs into dir (created if missing), shards of at most shard_bytes (F32 data first, then the
 * 1- and 8-byte scalars, so every F32 tensor stays 4-byte aligned), values from hm_rng (seed, stream) in
 * spec order. *total_bytes (may be NULL): the tensors' bytes. Frees s->a. */
hm_status tk_write(const char *dir, tk_specs *s, uint64_t seed, uint64_t stream, int64_t shard_bytes, int *n_files,
                   int64_t *total_bytes);
#endif
