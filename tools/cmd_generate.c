/* heartmula generate: lyrics + tags -> song file, with upstream's flags
 * (examples/run_music_generation.py; underscore spellings accepted too). */
#include "cli.h"
#include "io/fs.h"
#include "io/npy.h"
#include "text/prompt.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void usage(FILE *f) {
  fprintf(f,
    "usage: heartmula generate --model-path DIR --lyrics FILE|TEXT --tags FILE|TEXT [-o song.mp3] [options]\n"
    "\n"
    "  --model-path DIR          checkpoint folder: HeartMuLa-oss-<version>/, HeartCodec-oss/, tokenizer.json, gen_config.json\n"
    "  --version V               HeartMuLa version folder suffix (default 3B)\n"
    "  --lyrics FILE|TEXT        lyrics, or a file holding them\n"
    "  --tags FILE|TEXT          comma-separated style tags, or a file holding them\n"
    "  -o, --save-path FILE      output audio: .wav .flac .mp3 .ogg (default output.mp3); '-' = a 16-bit WAV\n"
    "                            stream on stdout (open length: pipe it to aplay, ffplay -, ...)\n"
    "  --stream                  decode each 29.76 s codec window as soon as the LM has made its codes, beside\n"
    "                            the LM: audio comes out while the song is generated (the same samples)\n"
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
    "  --ref-audio FILE          reference audio (style): the MuQ-MuLan embedding of its centre --ref-seconds\n"
    "                            (zero-padded when shorter) fills the LM's muq prompt slot\n"
    "  --ref-strength X          scale of the reference embedding, 0..10 (default 1; 0 = exactly no reference)\n"
    "  --ref-seconds X           length of the reference clip (default 10: one MuQ-MuLan clip)\n"
    "  --ref-embedding FILE.npy  a ready 512-d embedding instead (float32 .npy, [512] or [1, 512])\n"
    "  --clap DIR                MuQ-MuLan folder (default MODEL_PATH/MuQ-MuLan-large)\n"
    "  --codes-only              stop after the LM (with --save-codes); no codec, no audio\n"
    "  --overwrite               replace existing output files\n"
    "  -q, --quiet               no progress bar or summary\n"
    "Accepted and ignored for compatibility with the Python script: --mula-device, --codec-device, --lazy-load\n"
    "(the LM is freed before the codec loads, except with --stream, which needs both at once).\n");
}

typedef struct gen_ui {
  cli_progress lm, codec;
  bool lm_started, codec_started, quiet, stream;
  /* --stream: one status line (frames/s, windows done, audio seconds ready) */
  int64_t t0_us, t_last_us, frames, max_frames, steps, codec_steps, samples;
  int steps_per_window;
  FILE *wav_out; /* -o -: the WAV stream */
  pthread_mutex_t mu; /* on_audio (codec worker) may overlap on_progress (LM thread) */
  /* --save-codes: every frame as the LM makes it (frame-major, 8 codes each), so a job
   * stopped by SIGINT / SIGTERM (or failing later) still leaves the frames made so far */
  int32_t *kept;
  int64_t n_kept, cap_kept;
  bool kept_oom;
} gen_ui;

static void on_frame(void *ud, const int32_t *frame, int64_t index) {
  gen_ui *ui = ud;
  (void)index;
  if (ui->kept_oom) return;
  if (ui->n_kept == ui->cap_kept) {
    int64_t nc = ui->cap_kept ? ui->cap_kept * 2 : 256;
    int32_t *nk = realloc(ui->kept, (size_t)nc * 8 * sizeof *nk);
    if (!nk) { ui->kept_oom = true; return; }
    ui->kept = nk;
    ui->cap_kept = nc;
  }
  memcpy(ui->kept + ui->n_kept * 8, frame, 8 * sizeof *frame);
  ui->n_kept++;
}

/* After a stopped or failed job: the history (--continue-from) and the frames made so far,
 * [8, frames] codebook-major as a finished job's --save-codes (written to a temporary name and
 * renamed, so no partial file). Returns false on a write error. */
static bool save_kept_codes(const char *path, const gen_ui *ui, const hm_npy *hist, bool quiet) {
  const int64_t nh = hist->data ? hist->shape[1] : 0, n = nh + ui->n_kept;
  if (ui->kept_oom || n == 0) return true;
  int32_t *codes = malloc((size_t)(8 * n) * sizeof *codes);
  if (!codes) { fprintf(stderr, "heartmula generate: error: --save-codes: out of memory\n"); return false; }
  for (int q = 0; q < 8; q++) {
    for (int64_t i = 0; i < nh; i++) codes[q * n + i] = ((const int32_t *)hist->data)[q * nh + i];
    for (int64_t i = 0; i < ui->n_kept; i++) codes[q * n + nh + i] = ui->kept[i * 8 + q];
  }
  int64_t shape[2] = {8, n};
  hm_status st = hm_npy_write(path, HM_DT_I32, 2, shape, codes);
  free(codes);
  if (st != HM_OK) { fprintf(stderr, "heartmula generate: error: --save-codes: %s\n", hm_last_error()); return false; }
  if (!quiet) fprintf(stderr, "heartmula: --save-codes: the %lld frames made before the stop are in %s\n", (long long)ui->n_kept, path);
  return true;
}

static void stream_line(gen_ui *ui, bool force) {
  if (ui->quiet || !isatty(2)) return;
  int64_t now = hm_time_us();
  if (!force && now - ui->t_last_us < 200000) return;
  ui->t_last_us = now;
  double el = (double)(now - ui->t0_us) * 1e-6;
  int64_t windows = ui->steps_per_window > 0 ? ui->steps / ui->steps_per_window : 0;
  fprintf(stderr, "\rLM %lld/%lld frames %.1f frames/s | codec %lld windows | audio ready %.1f s | %.0f s   ",
          (long long)ui->frames, (long long)ui->max_frames, el > 0 ? (double)ui->frames / el : 0.0, (long long)windows,
          (double)ui->samples / 48000.0, el);
  fflush(stderr);
}

static void on_progress(void *ud, hm_stage stage, int64_t done, int64_t total) {
  gen_ui *ui = ud;
  if (ui->stream) {
    pthread_mutex_lock(&ui->mu);
    if (stage == HM_STAGE_LM) { ui->frames = done; ui->max_frames = total; }
    else if (stage == HM_STAGE_CODEC) { ui->steps = done; ui->codec_steps = total; }
    stream_line(ui, false);
    pthread_mutex_unlock(&ui->mu);
    return;
  }
  if (stage == HM_STAGE_LM) {
    if (!ui->lm_started) { cli_progress_init(&ui->lm, "LM", "frames", 0.08, ui->quiet); ui->lm_started = true; }
    cli_progress_update(&ui->lm, done, total);
  } else if (stage == HM_STAGE_CODEC) {
    if (ui->lm_started) { cli_progress_end(&ui->lm); ui->lm_started = false; }
    if (!ui->codec_started) { cli_progress_init(&ui->codec, "codec", "steps", 0, ui->quiet); ui->codec_started = true; }
    cli_progress_update(&ui->codec, done, total);
  }
}

static void put_u32(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24); }

/* A 16-bit stereo WAV header whose lengths are left open (0xFFFFFFFF): players read to the end of the stream. */
static bool wav_stream_header(FILE *f, int rate) {
  unsigned char h[44];
  memcpy(h, "RIFF", 4); put_u32(h + 4, 0xFFFFFFFFu); memcpy(h + 8, "WAVEfmt ", 8);
  put_u32(h + 16, 16); h[20] = 1; h[21] = 0; h[22] = 2; h[23] = 0; /* PCM, 2 channels */
  put_u32(h + 24, (uint32_t)rate); put_u32(h + 28, (uint32_t)rate * 4); h[32] = 4; h[33] = 0; h[34] = 16; h[35] = 0;
  memcpy(h + 36, "data", 4); put_u32(h + 40, 0xFFFFFFFFu);
  return fwrite(h, 1, sizeof h, f) == sizeof h && fflush(f) == 0;
}

/* on_audio: samples as 16-bit PCM, converted as libsndfile 1.2 writes a 16-bit WAV with clipping on
 * (floor of x * 32768, clipped), so the stream's data equals the file's. */
static hm_status on_audio(void *ud, const float *planar, int64_t n, int64_t first) {
  gen_ui *ui = ud;
  (void)first;
  pthread_mutex_lock(&ui->mu);
  ui->samples += n;
  if (ui->stream) stream_line(ui, false);
  pthread_mutex_unlock(&ui->mu);
  if (!ui->wav_out) return HM_OK;
  unsigned char buf[4096 * 4];
  for (int64_t i0 = 0; i0 < n; i0 += 4096) {
    int64_t m = n - i0 < 4096 ? n - i0 : 4096;
    for (int64_t i = 0; i < m; i++)
      for (int c = 0; c < 2; c++) {
        float x = planar[c * n + i0 + i] * 32768.0f;
        long v = x != x ? 0 : x >= 32767.0f ? 32767 : x <= -32768.0f ? -32768 : (long)floorf(x);
        buf[4 * i + 2 * c] = (unsigned char)(v & 0xff);
        buf[4 * i + 2 * c + 1] = (unsigned char)((v >> 8) & 0xff);
      }
    if (fwrite(buf, 4, (size_t)m, ui->wav_out) != (size_t)m) return HM_ERR_IO;
  }
  if (fflush(ui->wav_out) != 0) return HM_ERR_IO;
  return HM_OK;
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
  const char *ref_audio = NULL, *ref_npy = NULL, *clap_dir = NULL;
  double ref_strength = 1.0, ref_seconds = 10.0;
  bool have_strength = false, have_seconds = false;
  bool codes_only = false, quiet = false, have_seed = false, stream = false;
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
    else if (cli_opt(argc, argv, &i, "--ref-audio", NULL, &v)) ref_audio = v;
    else if (cli_opt(argc, argv, &i, "--ref-embedding", NULL, &v)) ref_npy = v;
    else if (cli_opt(argc, argv, &i, "--ref-strength", NULL, &v)) {
      if (!cli_float("--ref-strength", v, &ref_strength)) return 2;
      have_strength = true;
    }
    else if (cli_opt(argc, argv, &i, "--ref-seconds", NULL, &v)) {
      if (!cli_float("--ref-seconds", v, &ref_seconds)) return 2;
      have_seconds = true;
    }
    else if (cli_opt(argc, argv, &i, "--clap", NULL, &v)) clap_dir = v;
    else if (cli_opt(argc, argv, &i, "--save-codes", NULL, &v)) save_codes = v;
    else if (cli_opt(argc, argv, &i, "--continue-from", NULL, &v)) continue_from = v;
    else if (cli_flag(argv[i], "--codes-only", NULL)) codes_only = true;
    else if (cli_flag(argv[i], "--stream", NULL)) stream = true;
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
  if (ref_audio && ref_npy) {
    fprintf(stderr, "heartmula generate: error: --ref-audio and --ref-embedding: give at most one\n");
    return 2;
  }
  if (!ref_audio && !ref_npy && (have_strength || have_seconds || clap_dir)) {
    fprintf(stderr, "heartmula generate: error: --ref-strength, --ref-seconds and --clap need --ref-audio FILE%s\n",
            have_strength ? " or --ref-embedding FILE.npy" : "");
    return 2;
  }
  if (ref_npy && have_seconds) {
    fprintf(stderr, "heartmula generate: error: --ref-seconds applies to --ref-audio, not --ref-embedding\n");
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

  hm_npy hist, ref;
  memset(&hist, 0, sizeof hist);
  memset(&ref, 0, sizeof ref);
  if (ref_npy) {
    if (hm_npy_read_f32(ref_npy, &ref) != HM_OK) return cli_fail("generate", "--ref-embedding");
    int64_t n = 1;
    for (int d = 0; d < ref.n_dims; d++) n *= ref.shape[d];
    if (n < 1 || (ref.n_dims == 2 && ref.shape[0] != 1) || ref.n_dims > 2) {
      fprintf(stderr, "heartmula generate: error: --ref-embedding '%s': expected one embedding ([512] or [1, 512])\n",
              ref_npy);
      hm_npy_free(&ref);
      return 1;
    }
  }
  if (continue_from) {
    if (hm_npy_read_i32(continue_from, &hist) != HM_OK) { hm_npy_free(&ref); return cli_fail("generate", "--continue-from"); }
    if (hist.n_dims != 2 || hist.shape[0] != 8 || hist.shape[1] < 1) {
      fprintf(stderr, "heartmula generate: error: --continue-from '%s': expected codes of shape [8, frames]\n", continue_from);
      hm_npy_free(&hist); hm_npy_free(&ref);
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
    if (hm_text_file_read(p.lyrics, "lyrics", &lyrics_buf, &text_len) != HM_OK) { hm_npy_free(&hist); hm_npy_free(&ref); return cli_fail("generate", "--lyrics"); }
    p.lyrics = lyrics_buf;
  }
  if (hm_file_exists(p.tags)) {
    if (hm_text_file_read(p.tags, "tags", &tags_buf, &text_len) != HM_OK) {
      free(lyrics_buf);
      hm_npy_free(&hist); hm_npy_free(&ref);
      return cli_fail("generate", "--tags");
    }
    p.tags = tags_buf;
  }

  /* one job on a staged engine (the LM freed before the codec loads unless streaming) */
  const bool to_stdout = !codes_only && !strcmp(output, "-");
  hm_engine_params ep = hm_engine_default_params();
  ep.version = p.version;
  ep.memory = HM_ENGINE_STAGED;
  ep.n_threads = p.n_threads;
  ep.mula_weights = p.mula_weights;
  ep.codec_bf16 = p.codec_bf16;
  ep.require_codec = !codes_only;
  ep.clap_path = clap_dir;
  hm_job job = hm_job_default();
  job.lyrics = p.lyrics;
  job.tags = p.tags;
  job.max_audio_ms = p.max_audio_ms;
  job.topk = p.topk;
  job.temperature = p.temperature;
  job.cfg_scale = p.cfg_scale;
  job.codec_steps = p.codec_steps;
  job.codec_guidance = p.codec_guidance;
  job.seed = p.seed;
  job.history = p.history;
  job.n_history = p.n_history;
  job.history_in_output = p.history_in_output;
  job.output_path = to_stdout ? NULL : p.output_path;
  job.overwrite = p.overwrite;
  job.stream = stream;
  job.ref_audio_path = ref_audio;
  job.ref_embedding = ref_npy ? (const float *)ref.data : NULL;
  job.ref_embedding_dim = (int)ref.n_elems;
  job.ref_strength = (float)ref_strength;
  job.ref_seconds = ref_seconds;

  gen_ui ui;
  memset(&ui, 0, sizeof ui);
  ui.quiet = quiet;
  ui.stream = stream;
  ui.t0_us = hm_time_us();
  ui.steps_per_window = p.codec_steps + 1;
  pthread_mutex_init(&ui.mu, NULL);
  /* SIGINT / SIGTERM (tools/main.c) stop the job through its abort path */
  hm_job_callbacks cb = {on_progress, cli_abort_requested, (stream || to_stdout) ? on_audio : NULL, &ui,
                         save_codes ? on_frame : NULL};
  hm_generate_result r;
  memset(&r, 0, sizeof r);
  hm_engine *engine = NULL;
  hm_status st = hm_engine_open(p.model_path, &ep, &engine);
  if (st == HM_OK && to_stdout) {
    signal(SIGPIPE, SIG_IGN); /* a closed pipe is a write error, not a kill */
    ui.wav_out = stdout;
    if (!wav_stream_header(stdout, 48000)) {
      fprintf(stderr, "heartmula generate: error: cannot write to stdout\n");
      hm_engine_close(engine);
      hm_npy_free(&hist); hm_npy_free(&ref);
      pthread_mutex_destroy(&ui.mu);
      return 1;
    }
  }
  if (st == HM_OK) st = hm_engine_generate(engine, &job, &cb, &r);
  hm_engine_close(engine);
  if (ui.lm_started) cli_progress_end(&ui.lm);
  if (ui.codec_started) cli_progress_end(&ui.codec);
  if (stream) { stream_line(&ui, true); if (!quiet && isatty(2)) fputc('\n', stderr); }
  pthread_mutex_destroy(&ui.mu);
  hm_npy_free(&ref); /* hist: still needed by save_kept_codes, freed below */
  free(lyrics_buf);
  free(tags_buf);
  if (st != HM_OK) {
    int rc = cli_fail("generate", NULL);
    if (save_codes) save_kept_codes(save_codes, &ui, &hist, quiet);
    free(ui.kept);
    hm_npy_free(&hist);
    return rc;
  }
  free(ui.kept);
  hm_npy_free(&hist);
  if (save_codes) {
    int64_t shape[2] = {8, r.n_frames};
    if (hm_npy_write(save_codes, HM_DT_I32, 2, shape, r.codes) != HM_OK) { hm_generate_result_free(&r); return cli_fail("generate", "--save-codes"); }
  }
  if (!quiet) {
    double audio_s = (double)r.n_frames * 0.08;
    fprintf(stderr, "\nheartmula: %lld frames (%.2f s of audio)%s%s\n", (long long)r.n_frames, audio_s,
            p.output_path ? " -> " : "", p.output_path ? (to_stdout ? "stdout" : p.output_path) : "");
    if (ref_audio)
      fprintf(stderr, "heartmula:   reference  = %8.2f s (MuQ-MuLan load %.2f s; strength %g)\n", r.t_ref_s,
              r.t_load_clap_s, ref_strength);
    fprintf(stderr, "heartmula:   load LM    = %8.2f s\n", r.t_load_lm_s);
    fprintf(stderr, "heartmula:   LM         = %8.2f s (%.2f frames/s, %.2fx real time)\n", r.t_lm_s,
            r.t_lm_s > 0 ? (double)r.n_frames / r.t_lm_s : 0, r.t_lm_s > 0 ? audio_s / r.t_lm_s : 0);
    if (p.output_path) {
      fprintf(stderr, "heartmula:   load codec = %8.2f s\n", r.t_load_codec_s);
      fprintf(stderr, "heartmula:   codec      = %8.2f s\n", r.t_codec_s);
      fprintf(stderr, "heartmula:   write      = %8.2f s\n", r.t_write_s);
      fprintf(stderr, "heartmula:   first audio after %.2f s (%lld codec windows%s)\n", r.t_first_audio_s,
              (long long)r.n_windows, stream ? ", streamed" : "");
    }
    fprintf(stderr, "heartmula:   total      = %8.2f s, peak memory %.1f MiB\n", r.t_total_s,
            (double)r.peak_rss_bytes / (1024.0 * 1024.0));
  }
  hm_generate_result_free(&r);
  return 0;
}
