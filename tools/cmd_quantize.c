/* heartmula quantize IN OUT --type q8_0|q4_0|bf16 [--keep-embeddings] [--force] [--threads N]
 *
 * IN: a checkpoint folder, model.safetensors.index.json or .safetensors file
 * (anything hm_st_open takes). OUT: a .safetensors file, or a model folder that
 * gets OUT/model.safetensors and IN's config.json (load it with `generate
 * --version <suffix>`). Written to a temporary name, then renamed.
 *
 * What changes:
 *   - 2-D tensors whose name ends in ".weight" (Linear and embedding matrices,
 *     [rows, cols] with cols a multiple of 32 for q8_0/q4_0) become --type.
 *     Block formats keep the logical element shape in the header, the dtype
 *     string "Q8_0"/"Q4_0", and rows * cols/32 blocks' bytes (34 / 18 each)
 *     in the kernels' R16 layout (src/tensor/kernels.h), marked in the header
 *     metadata as heartmula_quant_layout = r16; loaders refuse unmarked files.
 *     --keep-embeddings leaves "*embedding*" tables (read one row per token,
 *     no per-frame bandwidth) at their source precision.
 *   - "audio_head" [n_cb-1, dim, vocab] contracts over its MIDDLE dim, so its
 *     rows are not dot-product rows: it becomes BF16 with --type bf16 and
 *     otherwise stays at its source precision; the LM loader quantizes its
 *     transposed copy at load when asked.
 *   - 1-D tensors (norms, biases) are written as F32 (exact from any float type);
 *     everything else is copied unchanged. */
#include "cli.h"
#include "io/safetensors.h"
#include "io/fs.h"
#include "io/json.h"
#include "tensor/ops.h"
#include <stdlib.h>
#include <string.h>

static void usage(void) {
  fprintf(stderr,
          "usage: heartmula quantize IN OUT --type q8_0|q4_0|bf16 [--keep-embeddings] [--force]\n"
          "  IN   checkpoint folder, model.safetensors.index.json or .safetensors file\n"
          "  OUT  a .safetensors file to write, or a model folder: OUT/model.safetensors + IN's config.json\n"
          "       (e.g. ckpt/HeartMuLa-oss-3B-q4_0, then: generate --version 3B-q4_0)\n"
          "  2-D '*.weight' matrices become the new type (q8_0/q4_0: column count a multiple of 32,\n"
          "  others are kept); 1-D tensors become F32; audio_head is kept (bf16: cast to BF16).\n"
          "  --keep-embeddings  leave '*embedding*' tables at their source precision\n"
          "  --force            replace OUT if it exists\n"
          "  --threads N        conversion threads (default: all cores)\n");
}

static bool ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && !strcmp(s + n - m, suf);
}

static bool is_float(hm_dtype t) { return t == HM_DT_F32 || t == HM_DT_BF16 || t == HM_DT_F16; }

int cmd_quantize(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *type = NULL;
  bool force = false, keep_emb = false;
  int64_t threads = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_flag(argv[i], "--help", "-h")) { usage(); return 0; }
    else if (cli_opt(argc, argv, &i, "--type", "-t", &v)) type = v;
    else if (cli_flag(argv[i], "--force", NULL)) force = true;
    else if (cli_flag(argv[i], "--keep-embeddings", NULL)) keep_emb = true;
    else if (cli_opt(argc, argv, &i, "--threads", "-j", &v)) { if (!cli_int("--threads", v, &threads)) return 2; }
    else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "heartmula quantize: unknown option '%s'\n", argv[i]);
      usage();
      return 2;
    } else if (!in) in = argv[i];
    else if (!out) out = argv[i];
    else { fprintf(stderr, "heartmula quantize: unexpected argument '%s'\n", argv[i]); usage(); return 2; }
  }
  if (!in || !out || !type) { usage(); return 2; }
  hm_dtype to;
  if (!strcmp(type, "q8_0") || !strcmp(type, "Q8_0")) to = HM_DT_Q8_0;
  else if (!strcmp(type, "q4_0") || !strcmp(type, "Q4_0")) to = HM_DT_Q4_0;
  else if (!strcmp(type, "bf16") || !strcmp(type, "BF16")) to = HM_DT_BF16;
  else {
    fprintf(stderr, "heartmula quantize: error: unknown --type '%s' (q8_0, q4_0, bf16)\n", type);
    return 2;
  }
  /* OUT not naming a .safetensors file is a model folder: OUT/model.safetensors plus
   * IN's config.json, so `generate --version <suffix>` can load it as it is */
  char out_file[4096], cfg_src[4096] = "";
  const char *out_dir = out;
  size_t ol = strlen(out);
  bool folder = !(ol > 12 && !strcmp(out + ol - 12, ".safetensors"));
  if (folder) {
    if (hm_mkdir_p(out) != HM_OK || hm_path_join(out_file, sizeof out_file, out, "model.safetensors") != HM_OK)
      return cli_fail("quantize", out);
    char in_dir[4096];
    snprintf(in_dir, sizeof in_dir, "%s", in);
    if (!hm_dir_exists(in_dir)) {
      char *slash = strrchr(in_dir, '/');
      if (slash) *slash = 0; else snprintf(in_dir, sizeof in_dir, ".");
    }
    if (hm_path_join(cfg_src, sizeof cfg_src, in_dir, "config.json") != HM_OK || !hm_file_exists(cfg_src)) cfg_src[0] = 0;
    out = out_file;
  }
  if (hm_file_exists(out) && !force) {
    fprintf(stderr, "heartmula quantize: error: %s exists (use --force to replace it)\n", out);
    return 1;
  }

  hm_st *st = NULL;
  if (hm_st_open(in, &st) != HM_OK) return cli_fail("quantize", in);
  hm_pool *pool = hm_pool_create((int)threads);
  const int n = hm_st_count(st);
  hm_st_entry *entries = calloc((size_t)(n > 0 ? n : 1), sizeof *entries);
  void **owned = calloc((size_t)(n > 0 ? n : 1), sizeof *owned);
  if (!entries || !owned) {
    free(entries); free(owned); hm_st_close(st);
    fprintf(stderr, "heartmula quantize: error: out of memory\n");
    return 1;
  }
  int rc = 0, n_conv = 0, n_kept = 0, n_odd = 0;
  const char *first_odd = NULL;
  size_t bytes_in = 0, bytes_out = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    const hm_tensor_view *t = hm_st_at(st, i);
    hm_st_entry *e = &entries[i];
    *e = hm_st_entry_of(t);
    bytes_in += t->nbytes;
    hm_dtype want = t->dtype;
    const bool is_head = !strcmp(t->name, "audio_head");
    const bool is_emb = strstr(t->name, "embedding") != NULL;
    if (is_float(t->dtype)) {
      if (t->n_dims == 1) want = HM_DT_F32;
      else if (t->n_dims == 2 && ends_with(t->name, ".weight") && !(keep_emb && is_emb)) {
        if (to == HM_DT_BF16 || t->shape[1] % HM_QBLOCK == 0) want = to;
        else if (n_odd++ == 0) first_odd = t->name;
      } else if (is_head && to == HM_DT_BF16) want = HM_DT_BF16;
    }
    if (want != t->dtype) {
      /* a view of the tensor as rows x cols (1-D and N-D casts: one long row) */
      int64_t rows = 1, cols = t->n_elems;
      if (t->n_dims == 2) { rows = t->shape[0]; cols = t->shape[1]; }
      else if (t->n_dims > 2) { cols = t->shape[t->n_dims - 1]; rows = t->n_elems / (cols ? cols : 1); }
      hm_mat src = { t->dtype, rows, cols, t->data }, dst;
      if (t->n_elems == 0) { e->dtype = want; e->data = t->data; n_conv++; continue; }
      if (hm_mat_convert_pool(pool, &src, want, &dst) != HM_OK) {
        hm_error_context(HM_ERR_INVALID_ARG, "tensor '%s' (%s)", t->name, t->file);
        rc = cli_fail("quantize", in);
        break;
      }
      owned[i] = (void *)dst.data;
      e->dtype = want;
      e->data = dst.data;
      n_conv++;
    } else {
      n_kept++;
    }
    bytes_out += hm_dtype_bytes(e->dtype, t->n_elems);
  }
  if (rc == 0 && n_odd)
    hm_log(HM_LOG_WARN, "quantize: %d matrices (e.g. '%s') have a column count that is not a multiple of %d: "
           "kept at their source precision", n_odd, first_odd, HM_QBLOCK);
  if (rc == 0) {
    const char *meta[] = { "format", "pt", "heartmula_quantized", hm_dtype_name(to), HM_QUANT_LAYOUT_KEY,
                           HM_QUANT_LAYOUT, NULL };
    if (hm_st_write(out, entries, n, meta) != HM_OK) rc = cli_fail("quantize", out);
    if (rc == 0 && folder && cfg_src[0]) {
      char cfg_dst[4096];
      json_t *cfg = NULL;
      if (hm_path_join(cfg_dst, sizeof cfg_dst, out_dir, "config.json") != HM_OK || hm_json_load(cfg_src, &cfg) != HM_OK ||
          hm_json_write(cfg_dst, cfg, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != HM_OK)
        rc = cli_fail("quantize", cfg_src);
      if (cfg) json_decref(cfg);
    }
    else if (rc == 0) /* never after a failed write */
      printf("wrote %s: %d tensors (%d converted to %s or F32, %d unchanged), %.1f MB -> %.1f MB\n", out, n, n_conv,
             hm_dtype_name(to), n_kept, (double)bytes_in / 1e6, (double)bytes_out / 1e6);
  }
  for (int i = 0; i < n; i++) hm_free_aligned(owned[i]);
  free(owned);
  free(entries);
  hm_pool_free(pool);
  hm_st_close(st);
  return rc;
}
