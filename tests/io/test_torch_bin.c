/* io/torch_bin: PyTorch zip checkpoints made by hand here (the bytes torch.save writes for a small
 * state_dict: a stored zip with archive/data.pkl, archive/data/<key>, archive/byteorder; the pickle
 * with OrderedDict, _rebuild_tensor_v2, _rebuild_parameter, typed storages, a BUILD of _metadata and a
 * transposed view), converted to safetensors and read back; then hostile or broken files, each failing
 * with a message that names the problem: an unexpected global (os.system), a non-tensor entry, an
 * opcode outside the subset, a missing storage record, a view past its storage, a compressed entry,
 * a truncated pickle, a non-zip file, a pickle that is not a dict. */
#include "harness.h"
#include "io/fs.h"
#include "io/safetensors.h"
#include "io/torch_bin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct buf { uint8_t *p; size_t n, cap; } buf;

static void put(buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void put1(buf *b, uint8_t v) { put(b, &v, 1); }
static void put16(buf *b, uint16_t v) { uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)}; put(b, x, 2); }
static void put32(buf *b, uint32_t v) { put16(b, (uint16_t)v); put16(b, (uint16_t)(v >> 16)); }
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

/* pickle pieces */
static void p_str(buf *b, const char *s) { put1(b, 'X'); put32(b, (uint32_t)strlen(s)); puts_(b, s); }
static void p_int(buf *b, int v) { put1(b, 'K'); put1(b, (uint8_t)v); }
static void p_global(buf *b, const char *mod, const char *name) {
  put1(b, 'c'); puts_(b, mod); put1(b, '\n'); puts_(b, name); put1(b, '\n');
}
static void p_odict(buf *b) { p_global(b, "collections", "OrderedDict"); put1(b, ')'); put1(b, 'R'); }
/* _rebuild_tensor_v2(('storage', torch.<st>, key, 'cpu', numel), off, size, stride, False, OrderedDict()) */
static void p_tensor(buf *b, const char *st, const char *key, int numel, int off, int nd, const int *size,
                     const int *stride) {
  p_global(b, "torch._utils", "_rebuild_tensor_v2");
  put1(b, '(');
  put1(b, '(');
  p_str(b, "storage"); p_global(b, "torch", st); p_str(b, key); p_str(b, "cpu"); p_int(b, numel);
  put1(b, 't');
  put1(b, 'Q');
  p_int(b, off);
  put1(b, '('); for (int i = 0; i < nd; i++) p_int(b, size[i]); put1(b, 't');
  put1(b, '('); for (int i = 0; i < nd; i++) p_int(b, stride[i]); put1(b, 't');
  put1(b, 0x89);
  p_odict(b);
  put1(b, 't');
  put1(b, 'R');
}

typedef struct zfile { const char *name; const void *data; size_t n; uint16_t method; } zfile;

static void zip(buf *z, const zfile *f, int n) {
  uint32_t off[16];
  for (int i = 0; i < n; i++) {
    off[i] = (uint32_t)z->n;
    put32(z, 0x04034b50); put16(z, 20); put16(z, 0); put16(z, f[i].method); put16(z, 0); put16(z, 0);
    put32(z, 0); put32(z, (uint32_t)f[i].n); put32(z, (uint32_t)f[i].n);
    put16(z, (uint16_t)strlen(f[i].name)); put16(z, 0); puts_(z, f[i].name);
    put(z, f[i].data, f[i].n);
  }
  uint32_t cd = (uint32_t)z->n;
  for (int i = 0; i < n; i++) {
    put32(z, 0x02014b50); put16(z, 20); put16(z, 20); put16(z, 0); put16(z, f[i].method); put16(z, 0); put16(z, 0);
    put32(z, 0); put32(z, (uint32_t)f[i].n); put32(z, (uint32_t)f[i].n);
    put16(z, (uint16_t)strlen(f[i].name)); put16(z, 0); put16(z, 0); put16(z, 0); put16(z, 0); put32(z, 0);
    put32(z, off[i]); puts_(z, f[i].name);
  }
  uint32_t cds = (uint32_t)z->n - cd;
  put32(z, 0x06054b50); put16(z, 0); put16(z, 0); put16(z, (uint16_t)n); put16(z, (uint16_t)n);
  put32(z, cds); put32(z, cd); put16(z, 0);
}

static const float A[6] = {1, 2, 3, 4, 5, 6};
static const int64_t L[4] = {10, 20, 30, 40};
static const uint16_t H[3] = {0x3c00, 0x4000, 0x4200}; /* 1, 2, 3 in F16 */

/* A state_dict: a.weight F32 [2,3]; b.idx I64 [2,2] = the transpose of storage 1 (strided);
 * c.param F16 [3] wrapped in _rebuild_parameter; then hook decides the rest. */
typedef void (*pickle_hook)(buf *p);

static char *make_file(const char *stem, pickle_hook extra, bool stop, uint16_t method) {
  buf p = {0};
  put1(&p, 0x80); put1(&p, 2);
  p_odict(&p);
  put1(&p, 'q'); put1(&p, 0);
  put1(&p, '(');
  p_str(&p, "a.weight");
  p_tensor(&p, "FloatStorage", "0", 6, 0, 2, (const int[]){2, 3}, (const int[]){3, 1});
  p_str(&p, "b.idx");
  p_tensor(&p, "LongStorage", "1", 4, 0, 2, (const int[]){2, 2}, (const int[]){1, 2});
  p_str(&p, "c.param");
  p_global(&p, "torch._utils", "_rebuild_parameter");
  put1(&p, '(');
  p_tensor(&p, "HalfStorage", "2", 3, 0, 1, (const int[]){3}, (const int[]){1});
  put1(&p, 0x88);
  p_odict(&p);
  put1(&p, 't');
  put1(&p, 'R');
  if (extra) extra(&p);
  put1(&p, 'u');
  /* state_dict._metadata through BUILD: {'_metadata': OrderedDict({'': {'version': 1}})} */
  put1(&p, '}'); p_str(&p, "_metadata"); p_odict(&p); p_str(&p, ""); put1(&p, '}'); p_str(&p, "version"); p_int(&p, 1);
  put1(&p, 's'); put1(&p, 's'); put1(&p, 's');
  put1(&p, 'b');
  if (stop) put1(&p, '.');
  zfile f[5] = {{"archive/data.pkl", p.p, p.n, method}, {"archive/byteorder", "little", 6, 0},
                {"archive/data/0", A, sizeof A, 0}, {"archive/data/1", L, sizeof L, 0}, {"archive/data/2", H, sizeof H, 0}};
  buf z = {0};
  zip(&z, f, 5);
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s.bin", hm_test_tmpdir(), stem);
  FILE *fp = fopen(path, "wb");
  if (fp) { fwrite(z.p, 1, z.n, fp); fclose(fp); }
  free(p.p);
  free(z.p);
  return path;
}

static void good(void) {
  const char *in = make_file("good", NULL, true, 0);
  hm_torch_bin *b = NULL;
  CHECK_OK(hm_torch_bin_open(in, &b));
  if (!b) return;
  CHECK(hm_torch_bin_count(b) == 3);
  const hm_st_entry *e = hm_torch_bin_entries(b);
  CHECK(!strcmp(e[0].name, "a.weight") && e[0].dtype == HM_DT_F32 && e[0].n_dims == 2 && e[0].shape[1] == 3);
  CHECK(!strcmp(e[1].name, "b.idx") && e[1].dtype == HM_DT_I64);
  const int64_t *bi = e[1].data;
  CHECK(bi[0] == 10 && bi[1] == 30 && bi[2] == 20 && bi[3] == 40); /* the transpose, made contiguous */
  CHECK(!strcmp(e[2].name, "c.param") && e[2].dtype == HM_DT_F16 && e[2].shape[0] == 3);
  hm_torch_bin_free(b);
  char out[1024];
  snprintf(out, sizeof out, "%s/good.safetensors", hm_test_tmpdir());
  int n = 0;
  int64_t bytes = 0;
  CHECK_OK(hm_torch_bin_convert(in, out, &n, &bytes));
  CHECK(n == 3 && bytes == 24 + 32 + 6);
  hm_st *st = NULL;
  CHECK_OK(hm_st_open(out, &st));
  if (st) {
    const hm_tensor_view *t = hm_st_find(st, "a.weight");
    CHECK(t && t->n_elems == 6 && !memcmp(t->data, A, sizeof A));
    t = hm_st_find(st, "c.param");
    float f[3];
    CHECK(t && hm_tensor_to_f32(t, f) == HM_OK && f[0] == 1 && f[1] == 2 && f[2] == 3);
    CHECK(hm_st_metadata(st, "format") && !strcmp(hm_st_metadata(st, "format"), "pt"));
    hm_st_close(st);
  }
}

static void evil_global(buf *p) { p_str(p, "x"); p_global(p, "os", "system"); p_str(p, "echo pwned"); put1(p, 0x85); put1(p, 'R'); }
static void not_tensor(buf *p) { p_str(p, "step"); p_int(p, 7); }
static void bad_opcode(buf *p) { p_str(p, "x"); put1(p, 'i'); puts_(p, "os\nsystem\n"); }
static void no_record(buf *p) { p_str(p, "d"); p_tensor(p, "FloatStorage", "9", 1, 0, 1, (const int[]){1}, (const int[]){1}); }
static void past_end(buf *p) { p_str(p, "d"); p_tensor(p, "FloatStorage", "0", 6, 4, 1, (const int[]){3}, (const int[]){1}); }
static void str_key_int(buf *p) { p_int(p, 3); p_str(p, "x"); }

static void bad(void) {
  hm_torch_bin *b = NULL;
  CHECK_ERR(hm_torch_bin_open(make_file("evil", evil_global, true, 0), &b), "unexpected object 'os.system' in the pickle");
  CHECK(b == NULL);
  CHECK_ERR(hm_torch_bin_open(make_file("nt", not_tensor, true, 0), &b), "entry 'step' is a int, not a tensor");
  CHECK_ERR(hm_torch_bin_open(make_file("op", bad_opcode, true, 0), &b), "pickle opcode not accepted (only plain data and tensors): 0x69");
  CHECK_ERR(hm_torch_bin_open(make_file("rec", no_record, true, 0), &b), "storage record 'archive/data/9' is missing");
  CHECK_ERR(hm_torch_bin_open(make_file("past", past_end, true, 0), &b), "tensor 'd' reaches past its storage");
  CHECK_ERR(hm_torch_bin_open(make_file("key", str_key_int, true, 0), &b), "dict key that is not a string");
  CHECK_ERR(hm_torch_bin_open(make_file("trunc", NULL, false, 0), &b), "truncated pickle");
  CHECK_ERR(hm_torch_bin_open(make_file("deflate", NULL, true, 8), &b), "is compressed (method 8)");
  char path[1024];
  snprintf(path, sizeof path, "%s/plain.bin", hm_test_tmpdir());
  FILE *f = fopen(path, "wb");
  if (f) { fputs("this is not a zip file at all, just text long enough", f); fclose(f); }
  CHECK_ERR(hm_torch_bin_open(path, &b), "no zip end record");
  CHECK_ERR(hm_torch_bin_open("/nonexistent/x.bin", &b), "cannot open '/nonexistent/x.bin'");
  /* a pickle that is a list, not a dict */
  buf p = {0};
  put1(&p, 0x80); put1(&p, 2); put1(&p, ']'); put1(&p, '.');
  zfile zf[1] = {{"m/data.pkl", p.p, p.n, 0}};
  buf z = {0};
  zip(&z, zf, 1);
  CHECK_ERR(hm_torch_bin_parse(z.p, z.n, "list.bin", &b), "the pickle holds a list, not a state_dict");
  /* every truncation of a valid file fails cleanly (no crash, an error) */
  const char *good_path = make_file("good2", NULL, true, 0);
  char *all = NULL;
  size_t n = 0;
  if (hm_read_file(good_path, &all, &n) == HM_OK) {
    int failures = 0;
    for (size_t k = 0; k < n; k++) {
      hm_torch_bin *t = NULL;
      if (hm_torch_bin_parse((const uint8_t *)all, k, "cut", &t) == HM_OK) { failures++; hm_torch_bin_free(t); }
    }
    CHECK(failures == 0);
    free(all);
  }
  free(p.p);
  free(z.p);
}

void hm_test_main(void) {
  good();
  bad();
}
