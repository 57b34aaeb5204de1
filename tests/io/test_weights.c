/* hm_weights (the one weight loader) and the typed JSON config readers. */
#include "io/json.h"
#include "io/weights.h"
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>

static void test_weights(void) {
  char path[1024];
  const char *tmp = hm_test_tmpdir();
  float a[6] = {1, 2, 3, 4, 5, 6};
  uint16_t b[6] = {0x3f80, 0x4000, 0x4040, 0x4080, 0x40a0, 0x40c0}; /* 1..6 in BF16 */
  float v[4] = {0.5f, -1, 2, 3};
  hm_st_entry e[3] = {{"a.weight", HM_DT_F32, 2, {2, 3}, a},
                      {"b.weight", HM_DT_BF16, 2, {2, 3}, b},
                      {"v.bias", HM_DT_F32, 1, {4}, v}};
  snprintf(path, sizeof path, "%s/w.safetensors", tmp);
  CHECK_OK(hm_st_write(path, e, 3, NULL));
  hm_weights *w = NULL;
  CHECK_OK(hm_weights_open(path, &w));
  if (!w) return;
  hm_mat m;
  CHECK_OK(hm_weights_mat(w, "a.weight", 2, 3, HM_DTMASK_FLOAT, &m));
  CHECK(m.type == HM_DT_F32 && ((const float *)m.data)[5] == 6); /* in place */
  CHECK_ERR(hm_weights_mat(w, "a.weight", 3, 2, HM_DTMASK_FLOAT, &m), "w.safetensors: tensor 'a.weight' has shape [2, 3], expected [3, 2]");
  CHECK_ERR(hm_weights_mat(w, "nope", 2, 3, HM_DTMASK_FLOAT, &m), "tensor 'nope' is missing");
  CHECK_ERR(hm_weights_mat(w, "b.weight", 2, 3, HM_DTMASK(HM_DT_F32), &m), "tensor 'b.weight' has unsupported dtype BF16");
  /* converted at load: an owned F32 copy of the BF16 tensor */
  CHECK_OK(hm_weights_mat_as(w, "b.weight", 2, 3, HM_DTMASK_FLOAT, HM_DT_F32, &m));
  CHECK(m.type == HM_DT_F32 && ((const float *)m.data)[0] == 1 && ((const float *)m.data)[5] == 6);
  /* F32 -> BF16 through the converter */
  CHECK_OK(hm_weights_mat_as(w, "a.weight", 2, 3, HM_DTMASK_FLOAT, HM_DT_BF16, &m));
  CHECK(m.type == HM_DT_BF16 && ((const uint16_t *)m.data)[3] == 0x4080);
  CHECK_ERR(hm_weights_mat_as(w, "a.weight", 2, 3, HM_DTMASK_FLOAT, HM_DT_Q8_0, &m), "3 columns cannot be stored as Q8_0");
  float *vec;
  CHECK_OK(hm_weights_vec(w, "v.bias", 4, &vec));
  CHECK(vec[0] == 0.5f && vec[3] == 3);
  CHECK_ERR(hm_weights_vec(w, "v.bias", 5, &vec), "tensor 'v.bias' has shape [4], expected [5]");
  /* packed for hm_gemm, and buffers dropped before close */
  hm_pmat *pm = NULL;
  CHECK_OK(hm_weights_mat(w, "a.weight", 2, 3, HM_DTMASK_FLOAT, &m));
  CHECK_OK(hm_weights_pack(w, &m, HM_DT_F32, &pm));
  CHECK(pm != NULL);
  void *buf;
  CHECK_OK(hm_weights_alloc(w, 100, &buf));
  hm_weights_drop(w, buf);
  hm_weights_drop(w, a); /* not owned: nothing */
  hm_weights_release(w, a, sizeof a); /* not mapped: nothing */
  hm_weights_close(w); /* frees the copies, the packed matrix (ASan checks) */
  CHECK_ERR(hm_weights_open("/nonexistent/w.safetensors", &w), "/nonexistent/w.safetensors");
}

static void test_config_readers(void) {
  json_t *j = json_loads("{\"n\": 5, \"big\": 70000, \"r\": 2.0, \"s\": \"x\", \"l\": [1, 2, 3], \"bad\": [1, \"a\"]}", 0, NULL);
  CHECK(j != NULL);
  int n = 0;
  CHECK_OK(hm_json_int_in(j, "n", "c.json", true, 1, 10, &n));
  CHECK(n == 5);
  CHECK_OK(hm_json_int_in(j, "r", "c.json", true, 1, 10, &n));
  CHECK(n == 2);
  n = 7;
  CHECK_OK(hm_json_int_in(j, "absent", "c.json", false, 1, 10, &n));
  CHECK(n == 7);
  CHECK_ERR(hm_json_int_in(j, "absent", "c.json", true, 1, 10, &n), "c.json: missing field 'absent'");
  CHECK_ERR(hm_json_int_in(j, "big", "c.json", false, 1, 65536, &n), "c.json: field 'big' = 70000 is out of range [1, 65536]");
  CHECK_ERR(hm_json_int_in(j, "s", "c.json", false, 1, 10, &n), "c.json: field 's' must be an integer");
  int32_t *l = NULL;
  int nl = 0;
  CHECK_OK(hm_json_int_list(j, "l", "c.json", 1, 8, 0, 10, &l, &nl));
  CHECK(nl == 3 && l && l[2] == 3);
  CHECK_ERR(hm_json_int_list(j, "l", "c.json", 1, 2, 0, 10, &l, &nl), "c.json: field 'l' must be a list of 1..2 integers");
  CHECK_ERR(hm_json_int_list(j, "l", "c.json", 1, 8, 0, 2, &l, &nl), "c.json: field 'l'[2] must be an integer in [0, 2]");
  CHECK_ERR(hm_json_int_list(j, "bad", "c.json", 1, 8, 0, 2, &l, &nl), "field 'bad'[1]");
  CHECK(nl == 3); /* failures leave the list as it was */
  free(l);
  json_decref(j);
}

void hm_test_main(void) {
  test_weights();
  test_config_readers();
}
