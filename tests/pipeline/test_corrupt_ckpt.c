/* Truncated and corrupted checkpoints: a safetensors file cut at every byte
 * (inside the 8-byte header length, inside the JSON header, inside the tensor
 * data) and with every header byte garbled; then the real loaders on damaged
 * copies in a temporary folder: a sharded HeartMuLa checkpoint whose second
 * shard is cut in each region, replaced by a directory, a symlink loop or
 * missing, and whose index or config is cut; a HeartCodec folder whose
 * model.safetensors is cut, a directory or a symlink loop. Each gives an error
 * naming the file (and the tensor where one is at fault), never a crash. */
#include "harness.h"
#include "testkit.h"
#include "heartmula.h"
#include "io/fs.h"
#include "io/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
  if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) { free(b); b = NULL; }
  fclose(f);
  *n = (size_t)sz;
  return b;
}

static bool write_all(const char *path, const void *b, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return false;
  bool ok = fwrite(b, 1, n, f) == n;
  return fclose(f) == 0 && ok;
}

static uint64_t header_len(const unsigned char *b) {
  uint64_t h = 0;
  for (int i = 7; i >= 0; i--) h = h << 8 | b[i];
  return h;
}

static bool has(const char *needle) { return strstr(hm_last_error(), needle) != NULL; }

/* hm_st_open on the first `len` bytes of a small shard, for every len. */
static void cut_everywhere(const char *tmp) {
  float a[16], b[8];
  uint16_t c[3] = {0x3f80, 0x4000, 0x4040};
  for (int i = 0; i < 16; i++) a[i] = (float)i;
  for (int i = 0; i < 8; i++) b[i] = (float)-i;
  hm_st_entry e[3] = {{"t.a", HM_DT_F32, 2, {4, 4}, a}, {"t.b", HM_DT_F32, 1, {8}, b}, {"t.c", HM_DT_BF16, 1, {3}, c}};
  char whole[1024], cut[1024];
  snprintf(whole, sizeof whole, "%s/whole.safetensors", tmp);
  snprintf(cut, sizeof cut, "%s/cut.safetensors", tmp);
  CHECK_OK(hm_st_write(whole, e, 3, NULL));
  size_t n = 0;
  unsigned char *buf = read_all(whole, &n);
  CHECK(buf && n > 8);
  if (!buf || n <= 8) { free(buf); return; }
  const size_t data0 = 8 + (size_t)header_len(buf);
  CHECK(data0 + sizeof a + sizeof b + sizeof c == n); /* the tensors end the file */
  int bad_len = 0, bad_hdr = 0, bad_data = 0, bad_name = 0;
  for (size_t len = 0; len < n; len++) {
    if (!write_all(cut, buf, len)) { CHECK_MSG(0, "cannot write %s", cut); break; }
    hm_st *st = NULL;
    hm_status s = hm_st_open(cut, &st);
    if (s == HM_OK) {
      CHECK_MSG(0, "a file cut at %zu of %zu bytes opened", len, n);
      hm_st_close(st);
      continue;
    }
    bad_name += !has(cut);
    if (len < 8) bad_len += !has("truncated safetensors file");
    else if (len < data0) bad_hdr += !has("header length");
    else bad_data += !(has("tensor 't.") && has("truncated file?"));
  }
  CHECK_MSG(bad_name == 0, "%d cut files gave an error not naming the file", bad_name);
  CHECK_MSG(bad_len == 0, "%d cuts inside the header length: not reported as truncated", bad_len);
  CHECK_MSG(bad_hdr == 0, "%d cuts inside the JSON header: not reported as a header longer than the file", bad_hdr);
  CHECK_MSG(bad_data == 0, "%d cuts inside the tensor data: the tensor is not named", bad_data);

  /* every header byte garbled: opens, or fails naming the file; never a crash */
  int unnamed = 0;
  for (size_t i = 0; i < data0; i++) {
    unsigned char keep = buf[i];
    buf[i] ^= (unsigned char)(i < 8 ? 0x40 : 0x5a);
    if (!write_all(cut, buf, n)) break;
    hm_st *st = NULL;
    if (hm_st_open(cut, &st) == HM_OK) hm_st_close(st);
    else unnamed += !has(cut);
    buf[i] = keep;
  }
  CHECK_MSG(unnamed == 0, "%d garbled headers gave an error not naming the file", unnamed);
  free(buf);
}

/* Copies src into dst, keeping only the first len bytes (len > size: all). */
static bool copy_prefix(const char *src, const char *dst, size_t len) {
  size_t n = 0;
  unsigned char *b = read_all(src, &n);
  if (!b) return false;
  bool ok = write_all(dst, b, len < n ? len : n);
  free(b);
  return ok;
}

static hm_status load_mula(const char *dir) {
  hm_mula_model *m = NULL;
  hm_mula_params p = hm_mula_default_params();
  p.weights = HM_MULA_WEIGHTS_F32;
  p.n_threads = 1;
  hm_status s = hm_mula_load(dir, &p, &m);
  hm_mula_free(m);
  return s;
}

static hm_status load_codec(const char *dir) {
  hm_codec_model *m = NULL;
  hm_codec_params p = hm_codec_default_params();
  p.n_threads = 1;
  hm_status s = hm_codec_load(dir, &p, &m);
  hm_codec_free(m);
  return s;
}

/* expects the status to fail with every needle in the message */
#define CHECK_ERR2(expr, n1, n2) do { hm_status s2_ = (expr); const char *e2_ = hm_last_error(); \
  CHECK_MSG(s2_ != HM_OK && strstr(e2_, (n1)) && strstr(e2_, (n2)), "%s: status %d, '%s' (want '%s' and '%s')", \
            #expr, (int)s2_, e2_, (n1), (n2)); } while (0)

static void sharded_lm(const char *tmp) {
  char root[1024], dir[1100], shard[1200], aside[1200], index[1200], cfg[1200], tensor[256];
  snprintf(root, sizeof root, "%s/ck", tmp);
  CHECK_OK(hm_mula_make_checkpoint(root, "tiny", 5, 2));
  snprintf(dir, sizeof dir, "%s/HeartMuLa-oss-tiny", root);
  snprintf(shard, sizeof shard, "%s/model-00002-of-00002.safetensors", dir);
  snprintf(aside, sizeof aside, "%s/shard2.orig", tmp);
  snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
  snprintf(cfg, sizeof cfg, "%s/config.json", dir);
  CHECK_OK(load_mula(dir));
  if (rename(shard, aside) != 0) { CHECK_MSG(0, "cannot move %s aside", shard); return; }

  /* the name of a tensor of shard 2 (the last one written in the file, cut below) */
  hm_st *st = NULL;
  CHECK_OK(hm_st_open(aside, &st));
  if (!st) return;
  size_t n = 0;
  unsigned char *buf = read_all(aside, &n);
  const size_t data0 = buf ? 8 + (size_t)header_len(buf) : 0;
  free(buf);
  tensor[0] = 0;
  const unsigned char *last = NULL;
  for (int i = 0; i < hm_st_count(st); i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    if (!last || (const unsigned char *)t->data > last) {
      last = t->data;
      snprintf(tensor, sizeof tensor, "'%s'", t->name);
    }
  }
  hm_st_close(st);
  CHECK(tensor[0] && n > data0 + 8);

  /* cut inside the header length, inside the JSON header, inside the tensor data */
  CHECK(copy_prefix(aside, shard, 5));
  CHECK_ERR2(load_mula(dir), shard, "truncated safetensors file");
  CHECK(copy_prefix(aside, shard, data0 / 2));
  CHECK_ERR2(load_mula(dir), shard, "header length");
  CHECK(copy_prefix(aside, shard, data0));
  CHECK_ERR2(load_mula(dir), shard, "truncated file?");
  CHECK(copy_prefix(aside, shard, n - 1));
  CHECK_ERR2(load_mula(dir), shard, tensor);
  CHECK(copy_prefix(aside, shard, 0));
  CHECK_ERR2(load_mula(dir), shard, "0 bytes");
  unlink(shard);

  /* a directory, a symlink loop, missing: the shard, the index and a tensor named */
  CHECK(mkdir(shard, 0755) == 0);
  CHECK_ERR2(load_mula(dir), shard, "is a directory");
  rmdir(shard);
  CHECK(symlink("model-00002-of-00002.safetensors", shard) == 0);
  CHECK_ERR2(load_mula(dir), shard, "symbolic links");
  CHECK_ERR2(load_mula(dir), index, "for tensor '");
  unlink(shard);
  CHECK_ERR2(load_mula(dir), shard, "No such file");
  CHECK_ERR2(load_mula(dir), index, "for tensor '");
  CHECK(rename(aside, shard) == 0);
  CHECK_OK(load_mula(dir));

  /* the index, then the config, cut in half */
  snprintf(aside, sizeof aside, "%s/index.orig", tmp);
  CHECK(rename(index, aside) == 0);
  CHECK(copy_prefix(aside, index, 100));
  CHECK_ERR2(load_mula(dir), index, "malformed JSON");
  unlink(index);
  CHECK(mkdir(index, 0755) == 0);
  CHECK_ERR2(load_mula(dir), index, "is a directory");
  rmdir(index);
  CHECK(symlink("model.safetensors.index.json", index) == 0);
  CHECK_ERR2(load_mula(dir), index, "symbolic links");
  unlink(index);
  CHECK(rename(aside, index) == 0);
  snprintf(aside, sizeof aside, "%s/config.orig", tmp);
  CHECK(rename(cfg, aside) == 0);
  CHECK(copy_prefix(aside, cfg, 60));
  CHECK_ERR2(load_mula(dir), cfg, "malformed JSON");
  CHECK(rename(aside, cfg) == 0);
  CHECK_OK(load_mula(dir));
}

static void codec_folder(const char *tmp) {
  char src[1024], dir[1100], file[1200], aside[1200], path[1200];
  hm_test_path(src, sizeof src, "fixtures/heartcodec");
  snprintf(dir, sizeof dir, "%s/codec", tmp);
  CHECK_OK(hm_mkdir_p(dir));
  snprintf(path, sizeof path, "%s/config.json", src);
  snprintf(file, sizeof file, "%s/config.json", dir);
  CHECK(copy_prefix(path, file, (size_t)-1));
  snprintf(path, sizeof path, "%s/model.safetensors", src);
  snprintf(file, sizeof file, "%s/model.safetensors", dir);
  snprintf(aside, sizeof aside, "%s/codec.orig", tmp);
  CHECK(copy_prefix(path, aside, (size_t)-1));
  CHECK(copy_prefix(aside, file, (size_t)-1));
  CHECK_OK(load_codec(dir));
  size_t n = 0;
  unsigned char *buf = read_all(aside, &n);
  const size_t data0 = buf ? 8 + (size_t)header_len(buf) : 0;
  free(buf);
  CHECK(n > data0 + 1000);
  CHECK(copy_prefix(aside, file, 3));
  CHECK_ERR2(load_codec(dir), file, "truncated safetensors file");
  CHECK(copy_prefix(aside, file, data0 - 1));
  CHECK_ERR2(load_codec(dir), file, "header length");
  CHECK(copy_prefix(aside, file, (data0 + n) / 2));
  CHECK_ERR2(load_codec(dir), file, "tensor '");
  unlink(file);
  CHECK(mkdir(file, 0755) == 0);
  CHECK_ERR2(load_codec(dir), file, "is a directory");
  rmdir(file);
  CHECK(symlink("model.safetensors", file) == 0);
  CHECK_ERR2(load_codec(dir), file, "symbolic links");
  unlink(file);
  CHECK(symlink("no-such-file.safetensors", file) == 0); /* a dangling link */
  CHECK_ERR2(load_codec(dir), file, "No such file");
  unlink(file);
}

void hm_test_main(void) {
  const char *tmp = hm_test_tmpdir();
  cut_everywhere(tmp);
  sharded_lm(tmp);
  codec_folder(tmp);
}
