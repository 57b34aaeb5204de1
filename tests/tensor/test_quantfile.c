/* `heartmula quantize` output (written by the tensor.quantize_cli_* cases) loads
 * back through hm_st_open with the block dtypes, and its values match the source
 * checkpoint within each format's error; plus a Q8_0 file whose data is one
 * block short is refused with an error naming the tensor. */
#include "harness.h"
#include "io/safetensors.h"
#include "tensor/kernels.h"
#include <stdio.h>
#include <stdlib.h>

#ifndef HM_TEST_QUANT_DIR
#define HM_TEST_QUANT_DIR "."
#endif

static void check_file(const char *src_dir, const char *type, hm_dtype qt, double tol) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tensor_quant_%s.safetensors", HM_TEST_QUANT_DIR, type);
  hm_st *src = NULL, *q = NULL;
  CHECK_OK(hm_st_open(src_dir, &src));
  CHECK_OK(hm_st_open(path, &q));
  if (!src || !q) { hm_st_close(src); hm_st_close(q); return; }
  CHECK(hm_st_count(src) == hm_st_count(q));
  int n_quant = 0;
  for (int i = 0; i < hm_st_count(src); i++) {
    const hm_tensor_view *a = hm_st_at(src, i), *b = hm_st_find(q, a->name);
    CHECK_MSG(b != NULL, "%s missing from %s", a->name, path);
    if (!b) continue;
    CHECK(a->n_dims == b->n_dims && a->n_elems == b->n_elems);
    for (int d = 0; d < a->n_dims; d++) CHECK(a->shape[d] == b->shape[d]);
    if (a->n_dims == 1) CHECK_MSG(b->dtype == HM_DT_F32, "%s: 1-D tensor not F32", a->name);
    if (!strcmp(a->name, "audio_head"))
      CHECK_MSG(b->dtype == (qt == HM_DT_BF16 ? HM_DT_BF16 : a->dtype), "audio_head dtype %s", hm_dtype_name(b->dtype));
    const bool want_q = a->n_dims == 2 && strstr(a->name, ".weight") && (qt == HM_DT_BF16 || a->shape[1] % 32 == 0);
    if (want_q) {
      CHECK_MSG(b->dtype == qt, "%s: dtype %s, expected %s", a->name, hm_dtype_name(b->dtype), hm_dtype_name(qt));
      CHECK(b->nbytes == hm_dtype_bytes(qt, a->shape[1]) * (size_t)a->shape[0]);
      n_quant++;
    }
    if (a->n_dims == 2 && (b->dtype == qt || b->dtype == a->dtype)) {
      hm_mat ma = { a->dtype, a->shape[0], a->shape[1], a->data }, mb = { b->dtype, b->shape[0], b->shape[1], b->data };
      float *ra = malloc(sizeof(float) * a->shape[1]), *rb = malloc(sizeof(float) * a->shape[1]);
      double err = 0, mx = 0;
      for (int64_t r = 0; r < a->shape[0]; r++) {
        hm_mat_row_f32(&ma, r, ra);
        hm_mat_row_f32(&mb, r, rb);
        for (int64_t c = 0; c < a->shape[1]; c++) { err = fmax(err, fabs(ra[c] - rb[c])); mx = fmax(mx, fabs(ra[c])); }
      }
      CHECK_MSG(err <= tol * mx, "%s (%s): max err %g of max %g", a->name, hm_dtype_name(b->dtype), err, mx);
      free(ra); free(rb);
    }
  }
  CHECK_MSG(n_quant >= 10, "only %d tensors converted to %s", n_quant, type);
  hm_st_close(src);
  hm_st_close(q);
}

static void check_truncated(void) {
  /* a valid Q8_0 tensor, then the same bytes declared one block larger */
  float w[64];
  for (int i = 0; i < 64; i++) w[i] = (float)i - 31.5f;
  uint8_t blocks[2 * HM_Q8_0_BYTES];
  hm_quantize_row_q8_0(w, blocks, 64);
  char path[1024];
  snprintf(path, sizeof path, "%s/q8_ok.safetensors", hm_test_tmpdir());
  hm_st_entry e = { "m.weight", HM_DT_Q8_0, 2, { 2, 32 }, blocks };
  CHECK_OK(hm_st_write(path, &e, 1, NULL));
  hm_st *st = NULL;
  CHECK_OK(hm_st_open(path, &st));
  if (st) {
    const hm_tensor_view *t = hm_st_find(st, "m.weight");
    CHECK(t && t->dtype == HM_DT_Q8_0 && t->nbytes == sizeof blocks);
    if (t) {
      hm_mat m = { t->dtype, 2, 32, t->data };
      float row[32];
      hm_mat_row_f32(&m, 1, row);
      CHECK_NEAR(row[31], 31.5, 0.3);
    }
    hm_st_close(st);
  }
  /* rewrite the header so the shape claims 3 rows: the data is a block short */
  FILE *f = fopen(path, "rb");
  uint64_t hl = 0;
  char *buf = NULL;
  size_t n = 0;
  if (f) {
    fseek(f, 0, SEEK_END);
    n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(n + 16);
    CHECK(fread(buf, 1, n, f) == n);
    fclose(f);
    memcpy(&hl, buf, 8);
  }
  char *shape = buf ? strstr(buf + 8, "[2,32]") : NULL;
  if (!shape && buf) shape = strstr(buf + 8, "[2, 32]");
  CHECK(shape != NULL);
  if (shape) {
    shape[1] = '3';
    snprintf(path, sizeof path, "%s/q8_bad.safetensors", hm_test_tmpdir());
    f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, n, f) == n);
    if (f) fclose(f);
    st = NULL;
    CHECK_ERR(hm_st_open(path, &st), "m.weight");
    hm_st_close(st);
  }
  free(buf);
}

void hm_test_main(void) {
  char src[1024];
  hm_test_path(src, sizeof src, "fixtures/heartmula/model.safetensors");
  check_file(src, "q8_0", HM_DT_Q8_0, 1.0 / 127 * 0.51 * 1.01);
  /* Q4_0: half a step (d/2 = max/16), except a value opposite the extreme, clamped at 7d: up to max/8 */
  check_file(src, "q4_0", HM_DT_Q4_0, 1.0 / 8 * 1.01);
  check_file(src, "bf16", HM_DT_BF16, 1.0 / 256);
  check_truncated();
}
