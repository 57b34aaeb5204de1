/* model.safetensors.index.json next to two small valid shards: weight_map
 * names, shard names (no paths), tensors missing or misplaced. */
#include "fuzz_common.h"
#include "io/safetensors.h"

#include <string.h>

static void write_shard(const char *name, const char *t0, const char *t1) {
  static const float v[6] = {1, 2, 3, 4, 5, 6};
  hm_st_entry e[2] = {
    {t0, HM_DT_F32, 2, {2, 3}, v},
    {t1, HM_DT_F32, 1, {4}, v},
  };
  char p[700];
  snprintf(p, sizeof p, "%s/%s", fuzz_dir(), name);
  if (hm_st_write(p, e, 2, NULL) != HM_OK) { fprintf(stderr, "%s\n", hm_last_error()); abort(); }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  write_shard("model-00001-of-00002.safetensors", "a.weight", "a.bias");
  write_shard("model-00002-of-00002.safetensors", "b.weight", "b.bias");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("model.safetensors.index.json", data, size);
  hm_st *st = NULL;
  if (hm_st_open(path, &st) != HM_OK) { FUZZ_ASSERT(st == NULL && hm_last_error()[0]); return 0; }
  FUZZ_ASSERT(hm_st_count(st) <= 4);
  for (int i = 0; i < hm_st_count(st); i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    FUZZ_ASSERT(t->n_elems == 6 || t->n_elems == 4);
    FUZZ_ASSERT(((const float *)t->data)[0] == 1.0f);
  }
  hm_st_close(st);
  return 0;
}
