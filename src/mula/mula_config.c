/* HeartMuLa config.json / gen_config.json, the llama3_2 flavors of heartlib's
 * modeling_heartmula.py, and torchtune's Llama3ScaledRoPE tables. */
#include "mula/mula.h"
#include "io/json.h"
#include <math.h>
#include <stdio.h>

typedef struct flavor {
  const char *name;
  int num_layers, num_heads, num_kv_heads, embed_dim, max_seq_len, intermediate_dim;
} flavor;

/* heartlib FLAVORS (all: norm_eps 1e-5, rope_base 500000, scale_factor 32). */
static const flavor k_flavors[] = {
  {"llama-3B", 28, 24, 8, 3072, 8192, 8192},
  {"llama-300M", 3, 8, 4, 3072, 2048, 8192},
  {"llama-7B", 32, 32, 8, 4096, 8192, 14336},
  {"llama-400M", 4, 8, 4, 3072, 2048, 8192},
};

hm_status hm_llama_flavor(const char *name, hm_llama_config *cfg) {
  for (size_t i = 0; i < sizeof k_flavors / sizeof k_flavors[0]; i++) {
    const flavor *f = &k_flavors[i];
    if (strcmp(f->name, name) != 0) continue;
    memset(cfg, 0, sizeof *cfg);
    cfg->num_layers = f->num_layers;
    cfg->num_heads = f->num_heads;
    cfg->num_kv_heads = f->num_kv_heads;
    cfg->embed_dim = f->embed_dim;
    cfg->max_seq_len = f->max_seq_len;
    cfg->intermediate_dim = f->intermediate_dim;
    cfg->head_dim = f->embed_dim / f->num_heads;
    cfg->norm_eps = 1e-5f;
    cfg->rope_base = 500000.0;
    cfg->scale_factor = 32.0;
    return HM_OK;
  }
  return hm_error(HM_ERR_FORMAT, "unknown flavor '%s' (known: llama-3B, llama-300M, llama-7B, llama-400M)", name);
}

/* torchtune llama3 scale_hidden_dim_for_mlp(dim, multiple_of=256). */
static int scale_hidden_dim(int dim) {
  int h = 4 * dim;
  h = (int)(2 * h / 3);
  return 256 * ((h + 255) / 256);
}

/* An int >= lo of the object `where` (backbone_config, ...). */
static hm_status get_int_field(const json_t *o, const char *key, const char *file, const char *where,
                               bool required, int lo, int *out) {
  hm_status st = hm_json_int_in(o, key, file, required, lo, (int64_t)1 << 30, out);
  return st != HM_OK ? hm_error_context(st, "%s", where) : HM_OK;
}

static hm_status parse_llama(const json_t *o, const char *file, const char *where, hm_llama_config *c) {
  memset(c, 0, sizeof *c);
  if (!json_is_object(o)) return hm_error(HM_ERR_FORMAT, "%s: '%s' must be an object", file, where);
  HM_TRY(get_int_field(o, "num_layers", file, where, true, 1, &c->num_layers));
  HM_TRY(get_int_field(o, "num_heads", file, where, true, 1, &c->num_heads));
  HM_TRY(get_int_field(o, "embed_dim", file, where, true, 1, &c->embed_dim));
  HM_TRY(get_int_field(o, "max_seq_len", file, where, true, 1, &c->max_seq_len));
  c->num_kv_heads = 0;
  HM_TRY(get_int_field(o, "num_kv_heads", file, where, false, 0, &c->num_kv_heads));
  if (c->num_kv_heads == 0) c->num_kv_heads = c->num_heads;
  c->intermediate_dim = 0;
  HM_TRY(get_int_field(o, "intermediate_dim", file, where, false, 0, &c->intermediate_dim));
  if (c->intermediate_dim == 0) c->intermediate_dim = scale_hidden_dim(c->embed_dim);
  double eps = 1e-5, base = 500000.0, sf = 32.0;
  HM_TRY(hm_json_num_opt(o, "norm_eps", file, &eps));
  HM_TRY(hm_json_num_opt(o, "rope_base", file, &base));
  HM_TRY(hm_json_num_opt(o, "scale_factor", file, &sf));
  if (!(eps > 0)) return hm_error(HM_ERR_FORMAT, "%s: %s.norm_eps must be > 0", file, where);
  if (!(base > 1)) return hm_error(HM_ERR_FORMAT, "%s: %s.rope_base must be > 1", file, where);
  if (!(sf > 0)) return hm_error(HM_ERR_FORMAT, "%s: %s.scale_factor must be > 0", file, where);
  c->norm_eps = (float)eps;
  c->rope_base = base;
  c->scale_factor = sf;
  c->head_dim = c->embed_dim / c->num_heads;
  return HM_OK;
}

static hm_status check_llama(const hm_llama_config *c, const char *file, const char *where) {
  if (c->embed_dim % c->num_heads != 0)
    return hm_error(HM_ERR_FORMAT, "%s: %s: embed_dim %d is not a multiple of num_heads %d", file, where,
                    c->embed_dim, c->num_heads);
  if (c->num_heads % c->num_kv_heads != 0)
    return hm_error(HM_ERR_FORMAT, "%s: %s: num_heads %d is not a multiple of num_kv_heads %d", file, where,
                    c->num_heads, c->num_kv_heads);
  if (c->head_dim % 2 != 0)
    return hm_error(HM_ERR_FORMAT, "%s: %s: head_dim %d (embed_dim / num_heads) must be even for RoPE", file,
                    where, c->head_dim);
  return HM_OK;
}

hm_status hm_mula_config_check(const hm_mula_config *cfg, const char *file) {
  HM_TRY(check_llama(&cfg->backbone, file, "backbone"));
  HM_TRY(check_llama(&cfg->decoder, file, "decoder"));
  if (cfg->audio_num_codebooks < 2 || cfg->audio_num_codebooks + 1 > HM_MULA_COLS_MAX)
    return hm_error(HM_ERR_FORMAT, "%s: audio_num_codebooks = %d is out of range (2..%d)", file,
                    cfg->audio_num_codebooks, HM_MULA_COLS_MAX - 1);
  if (cfg->decoder.max_seq_len < cfg->audio_num_codebooks)
    return hm_error(HM_ERR_FORMAT, "%s: decoder max_seq_len %d < audio_num_codebooks %d", file,
                    cfg->decoder.max_seq_len, cfg->audio_num_codebooks);
  if (cfg->text_vocab_size < 1 || cfg->audio_vocab_size < 1 || cfg->muq_dim < 1)
    return hm_error(HM_ERR_FORMAT, "%s: text_vocab_size, audio_vocab_size and muq_dim must be >= 1", file);
  return HM_OK;
}

hm_status hm_mula_config_load(const char *path, hm_mula_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  json_t *root = NULL;
  HM_TRY(hm_json_load(path, &root));
  hm_status st = HM_OK;
  if (!json_is_object(root)) {
    st = hm_error(HM_ERR_FORMAT, "%s: top level must be a JSON object", path);
    goto done;
  }
  const char *bf = "llama-3B", *df = "llama-300M";
  if ((st = hm_json_str_opt(root, "backbone_flavor", path, &bf)) != HM_OK) goto done;
  if ((st = hm_json_str_opt(root, "decoder_flavor", path, &df)) != HM_OK) goto done;
  snprintf(cfg->backbone_flavor, sizeof cfg->backbone_flavor, "%s", bf);
  snprintf(cfg->decoder_flavor, sizeof cfg->decoder_flavor, "%s", df);
  cfg->text_vocab_size = 128256;
  cfg->audio_vocab_size = 8197;
  cfg->audio_num_codebooks = 8;
  cfg->muq_dim = 512;
  if ((st = get_int_field(root, "text_vocab_size", path, "config", false, 1, &cfg->text_vocab_size))) goto done;
  if ((st = get_int_field(root, "audio_vocab_size", path, "config", false, 1, &cfg->audio_vocab_size))) goto done;
  if ((st = get_int_field(root, "audio_num_codebooks", path, "config", false, 2, &cfg->audio_num_codebooks))) goto done;
  if ((st = get_int_field(root, "muq_dim", path, "config", false, 1, &cfg->muq_dim))) goto done;
  const json_t *bc = json_object_get(root, "backbone_config");
  const json_t *dc = json_object_get(root, "decoder_config");
  if (bc && !json_is_null(bc)) st = parse_llama(bc, path, "backbone_config", &cfg->backbone);
  else if ((st = hm_llama_flavor(bf, &cfg->backbone)) != HM_OK)
    st = hm_error_context(st, "%s: backbone_flavor", path);
  if (st != HM_OK) goto done;
  if (dc && !json_is_null(dc)) st = parse_llama(dc, path, "decoder_config", &cfg->decoder);
  else if ((st = hm_llama_flavor(df, &cfg->decoder)) != HM_OK)
    st = hm_error_context(st, "%s: decoder_flavor", path);
  if (st != HM_OK) goto done;
  st = hm_mula_config_check(cfg, path);
  /* gen_config defaults until hm_mula_gen_config_load runs */
  cfg->text_bos_id = 128000;
  cfg->text_eos_id = 128001;
  cfg->audio_eos_id = cfg->audio_vocab_size - 4;
  cfg->empty_id = 0;
done:
  json_decref(root);
  return st;
}

static hm_status get_id(const json_t *o, const char *key, const char *file, int32_t *out) {
  int v = *out;
  HM_TRY(hm_json_int_in(o, key, file, false, INT32_MIN, INT32_MAX, &v));
  *out = v;
  return HM_OK;
}

hm_status hm_mula_gen_config_load(const char *path, hm_mula_config *cfg) {
  /* Upstream HeartMuLaGenConfig defaults: 128000 / 128001 / 8193 / 0. audio_eos_id = codes + 1
   * = audio_vocab_size - 4, which is 8193 for the published vocab. */
  cfg->text_bos_id = 128000;
  cfg->text_eos_id = 128001;
  cfg->audio_eos_id = cfg->audio_vocab_size - 4;
  cfg->empty_id = 0;
  if (!path) {
    hm_log(HM_LOG_WARN, "no gen_config.json: using defaults (audio_eos_id %d)", (int)cfg->audio_eos_id);
    return HM_OK;
  }
  json_t *root = NULL;
  HM_TRY(hm_json_load(path, &root));
  hm_status st = HM_OK;
  if (!json_is_object(root)) st = hm_error(HM_ERR_FORMAT, "%s: top level must be a JSON object", path);
  if (!st) st = get_id(root, "text_bos_id", path, &cfg->text_bos_id);
  if (!st) st = get_id(root, "text_eos_id", path, &cfg->text_eos_id);
  if (!st) st = get_id(root, "audio_eos_id", path, &cfg->audio_eos_id);
  if (!st) st = get_id(root, "empty_id", path, &cfg->empty_id);
  if (!st && (cfg->empty_id < 0 || cfg->empty_id >= cfg->audio_vocab_size))
    st = hm_error(HM_ERR_FORMAT, "%s: empty_id %d is not an audio code (audio_vocab_size %d)", path,
                  (int)cfg->empty_id, cfg->audio_vocab_size);
  json_decref(root);
  return st;
}

void hm_llama3_rope_tables(int head_dim, double base, double scale_factor, int len, float *cos_t, float *sin_t) {
  /* torchtune Llama3ScaledRoPE, float32 like the original: freqs = 1 / base^(2i/d);
   * low_freq_factor 1, high_freq_factor 4, old_context_len 8192. */
  const int half = head_dim / 2;
  const float old_ctx = 8192.0f, low = 1.0f, high = 4.0f;
  const double low_wavelen = 8192.0 / 1.0, high_wavelen = 8192.0 / 4.0;
  const float sf = (float)scale_factor;
  const float two_pi = (float)(2.0 * M_PI);
  for (int i = 0; i < half; i++) {
    float e = (float)(2 * i) / (float)head_dim;
    float freq = 1.0f / (float)pow(base, (double)e);
    float wavelen = two_pi / freq;
    float theta;
    if ((double)wavelen < high_wavelen) theta = freq;
    else if ((double)wavelen > low_wavelen) theta = freq / sf;
    else {
      float smooth = (old_ctx / wavelen - low) / (high - low);
      theta = (1.0f - smooth) * freq / sf + smooth * freq;
    }
    for (int p = 0; p < len; p++) {
      float ang = (float)p * theta; /* float32 product, as torch.einsum */
      cos_t[(int64_t)p * half + i] = (float)cos((double)ang);
      sin_t[(int64_t)p * half + i] = (float)sin((double)ang);
    }
  }
}
