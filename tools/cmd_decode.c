/* heartmula decode: audio codes (.npy [8, frames]) -> audio file through HeartCodec. */
#include "cli.h"
#include "io/npy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void usage(FILE *f) {
  fprintf(f,
    "usage: heartmula decode --codec DIR --codes codes.npy -o song.wav [options]\n"
    "\n"
    "  --codec DIR          HeartCodec-oss folder (config.json + safetensors)\n"
    "  --codes FILE.npy     audio codes [8, frames] (int), 12.5 frames per second\n"
    "  -o, --output FILE    .wav (16-bit), .flac, .mp3 or .ogg\n"
    "  --wav-float          write 32-bit float WAV instead of 16-bit\n"
    "  --steps N            Euler steps per window (default 10)\n"
    "  --guidance X         classifier-free guidance scale (default 1.25; <= 1: off)\n"
    "  --seed N             noise seed (default 0)\n"
    "  --codec-dtype T      DiT weights in memory: f32 (default) or bf16\n"
    "  -t, --threads N      threads (default: all cores)\n"
    "  --overwrite          replace an existing output file\n"
    "  -q, --quiet          no progress bar or summary\n");
}

typedef struct ui { cli_progress bar; } ui;

static void on_progress(void *ud, hm_stage stage, int64_t done, int64_t total) {
  ui *u = ud;
  if (stage == HM_STAGE_CODEC) cli_progress_update(&u->bar, done, total);
}

int cmd_decode(int argc, char **argv) {
  hm_codec_params p = hm_codec_default_params();
  const char *codec = NULL, *codes_path = NULL, *output = NULL;
  bool quiet = false, overwrite = false, wav_float = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int64_t n;
    double x;
    if (cli_flag(argv[i], "--help", "-h")) { usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--codec", "--codec-path", &v)) codec = v;
    else if (cli_opt(argc, argv, &i, "--codes", NULL, &v)) codes_path = v;
    else if (cli_opt(argc, argv, &i, "--output", "-o", &v)) output = v;
    else if (cli_opt(argc, argv, &i, "--steps", NULL, &v)) { if (!cli_int("--steps", v, &n)) return 2; p.steps = (int)n; }
    else if (cli_opt(argc, argv, &i, "--guidance", NULL, &v)) { if (!cli_float("--guidance", v, &x)) return 2; p.guidance = (float)x; }
    else if (cli_opt(argc, argv, &i, "--seed", NULL, &v)) {
      char *end;
      p.seed = strtoull(v, &end, 10);
      if (!*v || *end || *v == '-') { fprintf(stderr, "heartmula decode: error: --seed expects a non-negative integer, got '%s'\n", v); return 2; }
    }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &n)) return 2; p.n_threads = (int)n; }
    else if (cli_opt(argc, argv, &i, "--codec-dtype", NULL, &v)) {
      if (!strcasecmp(v, "bf16") || !strcasecmp(v, "bfloat16")) p.bf16_weights = true;
      else if (!strcasecmp(v, "f32") || !strcasecmp(v, "fp32") || !strcasecmp(v, "float32")) p.bf16_weights = false;
      else { fprintf(stderr, "heartmula decode: error: --codec-dtype: unknown '%s' (f32, bf16)\n", v); return 2; }
    }
    else if (cli_flag(argv[i], "--wav-float", NULL)) wav_float = true;
    else if (cli_flag(argv[i], "--overwrite", NULL)) overwrite = true;
    else if (cli_flag(argv[i], "--quiet", "-q")) quiet = true;
    else { fprintf(stderr, "heartmula decode: error: unknown option '%s'\n\n", argv[i]); usage(stderr); return 2; }
  }
  if (!codec || !codes_path || !output) {
    fprintf(stderr, "heartmula decode: error: --codec, --codes and -o are required\n\n");
    usage(stderr);
    return 2;
  }
  if (p.steps < 1 || p.steps > 1000) { fprintf(stderr, "heartmula decode: error: --steps %d is out of range (1..1000)\n", p.steps); return 2; }
  if (p.n_threads < 0) { fprintf(stderr, "heartmula decode: error: --threads must be >= 0\n"); return 2; }
  hm_npy codes;
  if (hm_npy_read_i32(codes_path, &codes) != HM_OK) return cli_fail("decode", "--codes");
  if (codes.n_dims != 2 || codes.shape[0] != 8 || codes.shape[1] < 1) {
    fprintf(stderr, "heartmula decode: error: --codes '%s': expected shape [8, frames], got [", codes_path);
    for (int d = 0; d < codes.n_dims; d++) fprintf(stderr, "%s%lld", d ? ", " : "", (long long)codes.shape[d]);
    fprintf(stderr, "]\n");
    hm_npy_free(&codes);
    return 1;
  }
  const int64_t n_frames = codes.shape[1];
  ui u;
  cli_progress_init(&u.bar, "codec", "steps", 0, quiet);
  /* the output is checked before the decode starts; no partial file on failure */
  hm_decode_result r;
  hm_status st = hm_decode_to_file(codec, (const int32_t *)codes.data, n_frames, &p, output, overwrite, wav_float,
                                   on_progress, cli_abort_requested, &u, &r);
  cli_progress_end(&u.bar);
  hm_npy_free(&codes);
  if (st != HM_OK) return cli_fail("decode", NULL);
  if (!quiet) {
    double audio_s = (double)r.n_samples / r.sample_rate_hz;
    fprintf(stderr, "heartmula decode: %lld frames -> %s (%.2f s, %d Hz stereo)\n", (long long)n_frames, output, audio_s,
            r.sample_rate_hz);
    fprintf(stderr, "heartmula decode:   load %.2f s, decode %.2f s (%.2fx real time), write %.2f s\n", r.t_load_s,
            r.t_decode_s, r.t_decode_s > 0 ? audio_s / r.t_decode_s : 0, r.t_write_s);
  }
  return 0;
}
