/* heartmula generate: lyrics + tags -> song file, with upstream's flags
 * (examples/run_music_generation.py; underscore spellings accepted too). */
#include "cli.h"
#include "io/json.h"
#include "io/npy.h"
#include "text/prompt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void usage(FILE *f) {
  fprintf(f,
    "usage: heartmula generate --model-path DIR --lyrics FILE|TEXT --tags FILE|TEXT [-o song.mp3] [options]\n"
    "\n"
    "  --model-path DIR          checkpoint folder: HeartMuLa-oss-<version>/, HeartCodec-oss/, tokenizer.json, gen_config.json\n"
    "  --version V               HeartMuLa version folder suffix (default 3B)\n"
    "  --lyrics FILE|TEXT        lyrics, or a file holding them\n"
    "  --tags FILE|TEXT          comma-separated style tags, or a file holding them\n"
    "  -o, --save-path FILE      output audio: .wav .flac .mp3 .ogg (default output.mp3)\n"
    "  --max-audio-length-ms N   longest song (default 240000)\n"
    "  --topk N                  top-k sampling (default 50)\n"
    "  --temperature X           sampling temperature (default 1.0)\n"
    "  --cfg-scale X             classifier-free guidance (default 1.5; 1.0 = off)\n"
    "  --codec-steps N           codec flow-matching Euler steps (default 10)\n"
    "  --codec-guidance X        codec guidance scale (default 1.25)\n"
    "  --seed N                  random seed (default: a fresh one, printed)\n"
    "  -t, --threads N           threads (default: all cores)\n"
    "  --mula-dtype T            LM weights in memory: bf16 (default), f32, q8_0, q4_0\n"
    "                            (--quant q8_0|q4_0 is the same; a quantized model folder loads as stored)\n"
    "  --codec-dtype T           codec weights: f32 (default), bf16\n"
    "  --save-codes FILE.npy     also save the audio codes [8, frames] (int32)\n"
    "  --continue-from FILE.npy  continue a song from earlier codes [8, frames]\n"
    "  --codes-only              stop after the LM (with --save-codes); no codec, no audio\n"
    "  --overwrite               replace existing output files\n"
    "  -q, --quiet               no progress bar or summary\n"
    "Accepted and ignored for compatibility with the Python script: --mula-device, --codec-device, --lazy-load\n"
    "(this engine always frees the LM before loading the codec).\n");
}

typedef struct gen_ui {
  cli_progress lm, codec;
  bool lm_started, codec_started, quiet;
} gen_ui;

static void on_progress(void *ud, hm_stage stage, int64_t done, int64_t total) {
  gen_ui *ui = ud;
  if (stage == HM_STAGE_LM) {
    if (!ui->lm_started) { cli_progress_init(&ui->lm, "LM", "frames", 0.08, ui->quiet); ui->lm_started = true; }
    cli_progress_update(&ui->lm, done, total);
  } else if (stage == HM_STAGE_CODEC) {
    if (ui->lm_started) { cli_progress_end(&ui->lm); ui->lm_started = false; }
    if (!ui->codec_started) { cli_progress_init(&ui->codec, "codec", "steps", 0, ui->quiet); ui->codec_started = true; }
    cli_progress_update(&ui->codec, done, total);
  }
}

static bool parse_mula_dtype(const char *s, hm_mula_weights *w) {
  if (!strcasecmp(s, "bf16") || !strcasecmp(s, "bfloat16")) *w = HM_MULA_WEIGHTS_BF16;
  else if (!strcasecmp(s, "f32") || !strcasecmp(s, "fp32") || !strcasecmp(s, "float32")) *w = HM_MULA_WEIGHTS_F32;
  else if (!strcasecmp(s, "q8_0")) *w = HM_MULA_WEIGHTS_Q8_0;
  else if (!strcasecmp(s, "q4_0")) *w = HM_MULA_WEIGHTS_Q4_0;
  else return false;
  return true;
}

static uint64_t fresh_seed(void) {
  uint64_t s = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (f) {
    if (fread(&s, sizeof s, 1, f) != 1) s = 0;
    fclose(f);
  }
  if (!s) s = (uint64_t)hm_time_us();
  return s & 0xffffffffffffull; /* short enough to type back */
}

int cmd_generate(int argc, char **argv) {
  hm_generate_params p = hm_generate_default_params();
  const char *save_codes = NULL, *continue_from = NULL, *output = "output.mp3";
  bool codes_only = false, quiet = false, have_seed = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int64_t n;
    double x;
    if (cli_flag(argv[i], "--help", "-h")) { usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--model-path", NULL, &v)) p.model_path = v;
    else if (cli_opt(argc, argv, &i, "--version", NULL, &v)) p.version = v;
    else if (cli_opt(argc, argv, &i, "--lyrics", NULL, &v)) p.lyrics = v;
    else if (cli_opt(argc, argv, &i, "--tags", NULL, &v)) p.tags = v;
    else if (cli_opt(argc, argv, &i, "--save-path", "-o", &v) || cli_opt(argc, argv, &i, "--output", NULL, &v)) output = v;
    else if (cli_opt(argc, argv, &i, "--max-audio-length-ms", NULL, &v)) { if (!cli_int(argv[i - 1], v, &n)) return 2; p.max_audio_ms = n; }
    else if (cli_opt(argc, argv, &i, "--topk", NULL, &v)) { if (!cli_int("--topk", v, &n)) return 2; p.topk = (int)n; }
    else if (cli_opt(argc, argv, &i, "--temperature", NULL, &v)) { if (!cli_float("--temperature", v, &x)) return 2; p.temperature = (float)x; }
    else if (cli_opt(argc, argv, &i, "--cfg-scale", NULL, &v)) { if (!cli_float("--cfg-scale", v, &x)) return 2; p.cfg_scale = (float)x; }
    else if (cli_opt(argc, argv, &i, "--codec-steps", NULL, &v)) { if (!cli_int("--codec-steps", v, &n)) return 2; p.codec_steps = (int)n; }
    else if (cli_opt(argc, argv, &i, "--codec-guidance", NULL, &v)) { if (!cli_float("--codec-guidance", v, &x)) return 2; p.codec_guidance = (float)x; }
    else if (cli_opt(argc, argv, &i, "--seed", NULL, &v)) {
      char *end;
      p.seed = strtoull(v, &end, 10);
      if (!*v || *end) { fprintf(stderr, "heartmula generate: error: --seed expects a non-negative integer, got '%s'\n", v); return 2; }
      have_seed = true;
    }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &n)) return 2; p.n_threads = (int)n; }
    else if (cli_opt(argc, argv, &i, "--mula-dtype", "--quant", &v)) {
      if (!parse_mula_dtype(v, &p.mula_weights)) { fprintf(stderr, "heartmula generate: error: --mula-dtype: unknown '%s' (bf16, f32, q8_0, q4_0)\n", v); return 2; }
    }
    else if (cli_opt(argc, argv, &i, "--codec-dtype", NULL, &v)) {
      if (!strcasecmp(v, "bf16") || !strcasecmp(v, "bfloat16")) p.codec_bf16 = true;
      else if (!strcasecmp(v, "f32") || !strcasecmp(v, "fp32") || !strcasecmp(v, "float32")) p.codec_bf16 = false;
      else { fprintf(stderr, "heartmula generate: error: --codec-dtype: unknown '%s' (f32, bf16)\n", v); return 2; }
    }
    else if (cli_opt(argc, argv, &i, "--save-codes", NULL, &v)) save_codes = v;
    else if (cli_opt(argc, argv, &i, "--continue-from", NULL, &v)) continue_from = v;
    else if (cli_flag(argv[i], "--codes-only", NULL)) codes_only = true;
    else if (cli_flag(argv[i], "--overwrite", NULL)) p.overwrite = true;
    else if (cli_flag(argv[i], "--quiet", "-q")) quiet = true;
    else if (cli_opt(argc, argv, &i, "--mula-device", NULL, &v) || cli_opt(argc, argv, &i, "--codec-device", NULL, &v) ||
             cli_opt(argc, argv, &i, "--lazy-load", NULL, &v)) { /* compatibility: ignored */ }
    else { fprintf(stderr, "heartmula generate: error: unknown option '%s'\n\n", argv[i]); usage(stderr); return 2; }
  }
  if (!p.model_path || !p.lyrics || !p.tags) {
    fprintf(stderr, "heartmula generate: error: --model-path, --lyrics and --tags are required\n\n");
    usage(stderr);
    return 2;
  }
  if (codes_only && !save_codes) { fprintf(stderr, "heartmula generate: error: --codes-only needs --save-codes FILE.npy\n"); return 2; }
  if (save_codes && !p.overwrite && hm_file_exists(save_codes)) {
    fprintf(stderr, "heartmula generate: error: '%s' already exists (use --overwrite)\n", save_codes);
    return 1;
  }
  p.output_path = codes_only ? NULL : output;
  if (!have_seed) p.seed = fresh_seed();
  if (!quiet) fprintf(stderr, "heartmula: seed %llu\n", (unsigned long long)p.seed);

  hm_npy hist;
  memset(&hist, 0, sizeof hist);
  if (continue_from) {
    if (hm_npy_read_i32(continue_from, &hist) != HM_OK) return cli_fail("generate", "--continue-from");
    if (hist.n_dims != 2 || hist.shape[0] != 8 || hist.shape[1] < 1) {
      fprintf(stderr, "heartmula generate: error: --continue-from '%s': expected codes of shape [8, frames]\n", continue_from);
      hm_npy_free(&hist);
      return 1;
    }
    p.history = hist.data;
    p.n_history = hist.shape[1];
    p.history_in_output = true;
  }

  /* upstream's --lyrics / --tags: a value naming an existing file means its
   * content (the library itself takes text only) */
  char *lyrics_buf = NULL, *tags_buf = NULL;
  size_t text_len;
  if (hm_file_exists(p.lyrics)) {
    if (hm_text_file_read(p.lyrics, "lyrics", &lyrics_buf, &text_len) != HM_OK) { hm_npy_free(&hist); return cli_fail("generate", "--lyrics"); }
    p.lyrics = lyrics_buf;
  }
  if (hm_file_exists(p.tags)) {
    if (hm_text_file_read(p.tags, "tags", &tags_buf, &text_len) != HM_OK) {
      free(lyrics_buf);
      hm_npy_free(&hist);
      return cli_fail("generate", "--tags");
    }
    p.tags = tags_buf;
  }

  gen_ui ui;
  memset(&ui, 0, sizeof ui);
  ui.quiet = quiet;
  p.progress = on_progress;
  p.abort = cli_abort_requested; /* SIGINT / SIGTERM (tools/main.c) */
  p.user_data = &ui;
  hm_generate_result r;
  hm_status st = hm_generate(&p, &r);
  if (ui.lm_started) cli_progress_end(&ui.lm);
  if (ui.codec_started) cli_progress_end(&ui.codec);
  hm_npy_free(&hist);
  free(lyrics_buf);
  free(tags_buf);
  if (st != HM_OK) return cli_fail("generate", NULL);
  if (save_codes) {
    int64_t shape[2] = {8, r.n_frames};
    if (hm_npy_write(save_codes, HM_DT_I32, 2, shape, r.codes) != HM_OK) { hm_generate_result_free(&r); return cli_fail("generate", "--save-codes"); }
  }
  if (!quiet) {
    double audio_s = (double)r.n_frames * 0.08;
    fprintf(stderr, "\nheartmula: %lld frames (%.2f s of audio)%s%s\n", (long long)r.n_frames, audio_s,
            p.output_path ? " -> " : "", p.output_path ? p.output_path : "");
    fprintf(stderr, "heartmula:   load LM    = %8.2f s\n", r.t_load_lm_s);
    fprintf(stderr, "heartmula:   LM         = %8.2f s (%.2f frames/s, %.2fx real time)\n", r.t_lm_s,
            r.t_lm_s > 0 ? (double)r.n_frames / r.t_lm_s : 0, r.t_lm_s > 0 ? audio_s / r.t_lm_s : 0);
    if (p.output_path) {
      fprintf(stderr, "heartmula:   load codec = %8.2f s\n", r.t_load_codec_s);
      fprintf(stderr, "heartmula:   codec      = %8.2f s\n", r.t_codec_s);
      fprintf(stderr, "heartmula:   write      = %8.2f s\n", r.t_write_s);
    }
    fprintf(stderr, "heartmula:   total      = %8.2f s, peak memory %.1f MiB\n", r.t_total_s,
            (double)r.peak_rss_bytes / (1024.0 * 1024.0));
  }
  hm_generate_result_free(&r);
  return 0;
}
