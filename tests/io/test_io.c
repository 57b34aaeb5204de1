#include "io/fs.h"
#include "io/json.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  fwrite(data, 1, n, f);
  fclose(f);
}

static void write_raw_st(const char *path, const char *hdr, size_t data_bytes) {
  size_t hl = strlen(hdr);
  unsigned char len8[8] = {0};
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(hl >> (8 * i));
  FILE *f = fopen(path, "wb");
  fwrite(len8, 1, 8, f);
  fwrite(hdr, 1, hl, f);
  for (size_t i = 0; i < data_bytes; i++) fputc(0, f);
  fclose(f);
}

void hm_test_main(void) {
  char path[1024], p2[1024];
  const char *tmp = hm_test_tmpdir();

  /* the fixture checkpoint */
  hm_st *st = NULL;
  CHECK_OK(hm_st_open(hm_test_path(path, sizeof path, "fixtures/heartmula/model.safetensors"), &st));
  if (st) {
    CHECK(hm_st_count(st) > 10);
    const hm_tensor_view *t;
    int64_t shape[2] = {64, 64};
    CHECK_OK(hm_st_get(st, "backbone.layers.0.attn.q_proj.weight", HM_DTMASK_FLOAT, 2, shape, &t));
    int64_t bad[2] = {64, 65};
    CHECK_ERR(hm_st_get(st, "backbone.layers.0.attn.q_proj.weight", HM_DTMASK_FLOAT, 2, bad, &t), "expected [64, 65]");
    CHECK_ERR(hm_st_get(st, "no.such.tensor", 0, -1, NULL, &t), "'no.such.tensor' is missing");
    CHECK_ERR(hm_st_get(st, "backbone.norm.scale", HM_DTMASK(HM_DT_I32), -1, NULL, &t), "unsupported dtype F32");
    hm_st_close(st);
  }
  /* directory lookup of the codec (model.safetensors) */
  CHECK_OK(hm_st_open(hm_test_path(path, sizeof path, "fixtures/heartcodec"), &st));
  hm_st_close(st);

  /* writer + sharded index round trip */
  float a[6] = {1, 2, 3, 4, 5, 6};
  uint16_t b[4] = {0x3f80, 0x4000, 0x4040, 0x4080};
  hm_st_entry e1[1] = {{"a.weight", HM_DT_F32, 2, {2, 3}, a}};
  hm_st_entry e2[1] = {{"b.bias", HM_DT_BF16, 1, {4}, b}};
  snprintf(path, sizeof path, "%s/m-1.safetensors", tmp);
  CHECK_OK(hm_st_write(path, e1, 1, (const char *const[]){"format", "pt", NULL}));
  snprintf(path, sizeof path, "%s/m-2.safetensors", tmp);
  CHECK_OK(hm_st_write(path, e2, 1, NULL));
  snprintf(path, sizeof path, "%s/model.safetensors.index.json", tmp);
  const char *idx = "{\"metadata\": {}, \"weight_map\": {\"a.weight\": \"m-1.safetensors\", \"b.bias\": \"m-2.safetensors\"}}";
  write_bytes(path, idx, strlen(idx));
  CHECK_OK(hm_st_open(tmp, &st));
  if (st) {
    const hm_tensor_view *t = hm_st_find(st, "b.bias");
    float f[4];
    CHECK(t && t->dtype == HM_DT_BF16 && hm_tensor_to_f32(t, f) == HM_OK && f[3] == 4.0f);
    t = hm_st_find(st, "a.weight");
    CHECK(t && t->shape[0] == 2 && t->shape[1] == 3 && ((const float *)t->data)[5] == 6.0f);
    CHECK(hm_st_count(st) == 2);
    hm_st_close(st);
  }
  snprintf(path, sizeof path, "%s/m-1.safetensors", tmp);
  CHECK_OK(hm_st_open(path, &st));
  CHECK(st && hm_st_metadata(st, "format") && !strcmp(hm_st_metadata(st, "format"), "pt"));
  hm_st_close(st);

  /* a BOOL before an F32 puts the F32 at an odd offset: the view is still aligned */
  {
    snprintf(path, sizeof path, "%s/unaligned.safetensors", tmp);
    const char *hdr = "{\"b\": {\"dtype\": \"BOOL\", \"shape\": [1], \"data_offsets\": [0, 1]},"
                      "\"x\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [1, 9]}}";
    size_t hl = strlen(hdr);
    unsigned char buf[512] = {0};
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    float two[2] = {1.5f, -2.0f};
    buf[8 + hl] = 1;
    memcpy(buf + 8 + hl + 1, two, 8);
    write_bytes(path, buf, 8 + hl + 9);
    CHECK_OK(hm_st_open(path, &st));
    const hm_tensor_view *t = st ? hm_st_find(st, "x") : NULL;
    CHECK(t && ((uintptr_t)t->data % 4) == 0 && ((const float *)t->data)[1] == -2.0f);
    hm_st_close(st);
  }

  /* bad files: each names the file and the problem */
  snprintf(path, sizeof path, "%s/missing.safetensors", tmp);
  CHECK_ERR(hm_st_open(path, &st), "no such file");
  snprintf(path, sizeof path, "%s/short.safetensors", tmp);
  write_bytes(path, "abc", 3);
  CHECK_ERR(hm_st_open(path, &st), "truncated");
  snprintf(path, sizeof path, "%s/json.safetensors", tmp);
  write_raw_st(path, "{\"x\": {\"dtype\": ", 0);
  CHECK_ERR(hm_st_open(path, &st), "malformed safetensors header");
  snprintf(path, sizeof path, "%s/out.safetensors", tmp);
  write_raw_st(path, "{\"x\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 8);
  CHECK_ERR(hm_st_open(path, &st), "'x': data [0, 16) lies outside");
  snprintf(path, sizeof path, "%s/size.safetensors", tmp);
  write_raw_st(path, "{\"x\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 16]}}", 16);
  CHECK_ERR(hm_st_open(path, &st), "'x': 16 data bytes, but dtype F32 x 3 elements needs 12");
  snprintf(path, sizeof path, "%s/overlap.safetensors", tmp);
  write_raw_st(path, "{\"x\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
                     "\"y\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}", 16);
  CHECK_ERR(hm_st_open(path, &st), "overlap");
  snprintf(path, sizeof path, "%s/dtype.safetensors", tmp);
  write_raw_st(path, "{\"x\": {\"dtype\": \"F8_E4M3\", \"shape\": [4], \"data_offsets\": [0, 4]}}", 4);
  CHECK_ERR(hm_st_open(path, &st), "unsupported dtype 'F8_E4M3'");
  /* truncated copy of a real checkpoint */
  {
    char *buf; size_t n;
    CHECK_OK(hm_read_file(hm_test_path(p2, sizeof p2, "fixtures/heartmula/model.safetensors"), &buf, &n));
    snprintf(path, sizeof path, "%s/trunc.safetensors", tmp);
    write_bytes(path, buf, n / 2);
    free(buf);
    CHECK_ERR(hm_st_open(path, &st), "truncated file");
  }
  /* index naming a missing shard */
  snprintf(path, sizeof path, "%s/bad.index.json", tmp);
  idx = "{\"weight_map\": {\"a.weight\": \"nope.safetensors\"}}";
  write_bytes(path, idx, strlen(idx));
  CHECK_ERR(hm_st_open(path, &st), "nope.safetensors");

  /* JSON helpers */
  json_t *root;
  CHECK_OK(hm_json_load(hm_test_path(path, sizeof path, "fixtures/heartmula/config.json"), &root));
  int64_t v = 0;
  CHECK_OK(hm_json_int(root, "text_vocab_size", "config.json", &v));
  CHECK(v == 1024);
  CHECK_ERR(hm_json_int(root, "nope", "config.json", &v), "config.json: missing field 'nope'");
  CHECK_ERR(hm_json_int(root, "backbone_flavor", "config.json", &v), "'backbone_flavor' must be an integer");
  json_decref(root);
  /* integers written as reals: 3.0 is 3; 1e122 and 9.3e18 do not fit int64_t (no UB conversion) */
  root = json_loads("{\"three\": 3.0, \"huge\": 1e122, \"edge\": 9.3e18, \"half\": 2.5}", 0, NULL);
  CHECK(root != NULL);
  v = 0;
  CHECK_OK(hm_json_int(root, "three", "c.json", &v));
  CHECK(v == 3);
  CHECK_ERR(hm_json_int(root, "huge", "c.json", &v), "'huge' must be an integer");
  CHECK_ERR(hm_json_int(root, "edge", "c.json", &v), "'edge' must be an integer");
  CHECK_ERR(hm_json_int(root, "half", "c.json", &v), "'half' must be an integer");
  json_decref(root);
  /* a safetensors index naming no tensor */
  snprintf(path, sizeof path, "%s/empty.index.json", tmp);
  write_bytes(path, "{\"weight_map\": {}}", 18);
  CHECK_ERR(hm_st_open(path, &st), "names no tensor");
  snprintf(path, sizeof path, "%s/bad.json", tmp);
  write_bytes(path, "{\"a\": 1,", 8);
  CHECK_ERR(hm_json_load(path, &root), "malformed JSON");

  /* npy */
  hm_npy arr;
  CHECK_OK(hm_npy_read(hm_test_path(path, sizeof path, "fixtures/mula_cfg15_prompt_tokens.npy"), &arr));
  CHECK(arr.dtype == HM_DT_I32 && arr.n_dims == 3 && arr.shape[0] == 2 && arr.shape[1] == 14 && arr.shape[2] == 9);
  hm_npy_free(&arr);
  int64_t shp[2] = {2, 3};
  snprintf(path, sizeof path, "%s/x.npy", tmp);
  CHECK_OK(hm_npy_write(path, HM_DT_F32, 2, shp, a));
  CHECK_OK(hm_npy_read_f32(path, &arr));
  CHECK(arr.n_elems == 6 && ((float *)arr.data)[4] == 5.0f);
  hm_npy_free(&arr);
  CHECK_ERR(hm_npy_read_i32(path, &arr), "expected an integer array");
  int32_t ci[3] = {7, 8, 9};
  int64_t s1[1] = {3};
  CHECK_OK(hm_npy_write(path, HM_DT_I32, 1, s1, ci));
  CHECK_OK(hm_npy_read_f32(path, &arr));
  CHECK(arr.n_elems == 3 && ((float *)arr.data)[2] == 9.0f);
  hm_npy_free(&arr);
  snprintf(path, sizeof path, "%s/junk.npy", tmp);
  write_bytes(path, "not numpy", 9);
  CHECK_ERR(hm_npy_read(path, &arr), "not a .npy file");
}
