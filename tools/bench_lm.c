/* heartmula bench --mode lm --model-path DIR [--format as-stored|f32|bf16|q8_0|q4_0] [--frames N]
 *                 [--threads N] [--prompt-rows N] [--no-probe] [--json]
 * The HeartMuLa frame step with CFG (batch 2): ms/frame, weight bytes streamed per frame,
 * the GB/s that makes, and the machine's read bandwidth (probe) for comparison. */
#include "cli.h"
#include "io/fs.h"
#include "mula/mula.h"
#include "tensor/probe.h"
#include <stdlib.h>
#include <string.h>

static void usage(void) {
  fprintf(stderr,
          "usage: heartmula bench --mode lm --model-path DIR [--format as-stored|f32|bf16|q8_0|q4_0]\n"
          "                       [--frames N] [--threads N] [--prompt-rows N] [--no-probe] [--json]\n"
          "  DIR: a HeartMuLa-oss-<ver> folder (or a folder holding HeartMuLa-oss-3B).\n"
          "  Runs the prompt prefill, then N frame steps (CFG 1.5, top-k 50), and prints ms/frame,\n"
          "  the weight GB streamed per frame and GB/s, the backbone step alone, and the read bandwidth\n"
          "  (probe: one 1 GiB streaming pass right before each frame and one after the last) with the ratio\n"
          "  time / (bytes / bandwidth), per frame against the larger of its two neighbouring probes (the\n"
          "  bandwidth drifts on shared machines); the medians over the frames are reported.\n"
          "  Default: every format (bf16, q8_0, q4_0) in turn, 16 frames, all cores. --json: one object per\n"
          "  format with the keys format, ms_per_frame, gb_per_frame, bandwidth_gbs, ratio, backbone_ms_batch2.\n");
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int run_format(const char *dir, const char *format, int64_t frames, int64_t threads, int64_t prompt_rows,
                      bool json, bool probe) {
  hm_mula_params mp = hm_mula_default_params();
  mp.n_threads = (int)threads;
  if (!strcmp(format, "as-stored") || !strcmp(format, "as_stored")) mp.weights = HM_MULA_WEIGHTS_AS_STORED;
  else if (!strcmp(format, "f32")) mp.weights = HM_MULA_WEIGHTS_F32;
  else if (!strcmp(format, "bf16")) mp.weights = HM_MULA_WEIGHTS_BF16;
  else if (!strcmp(format, "q8_0")) mp.weights = HM_MULA_WEIGHTS_Q8_0;
  else if (!strcmp(format, "q4_0")) mp.weights = HM_MULA_WEIGHTS_Q4_0;
  else { fprintf(stderr, "heartmula bench: unknown --format '%s' (as-stored, f32, bf16, q8_0, q4_0)\n", format); return 2; }
  double t0 = hm_time_s();
  hm_mula_model *model = NULL;
  if (hm_mula_load(dir, &mp, &model) != HM_OK) return cli_fail("bench", dir);
  const double load_s = hm_time_s() - t0;
  hm_mula_info info;
  hm_mula_get_info(model, &info);

  hm_mula_context_params cp = hm_mula_context_default_params();
  cp.n_threads = (int)threads;
  cp.n_ctx = (int)(prompt_rows + frames + 1);
  hm_mula_context *ctx = NULL;
  if (hm_mula_context_create(model, &cp, &ctx) != HM_OK) { hm_mula_free(model); return cli_fail("bench", "context"); }

  /* a synthetic prompt: text rows with ids from a fixed pattern, muq slot at row 1 */
  const int C = info.n_codebooks + 1;
  int32_t *tok = calloc((size_t)(prompt_rows * C), sizeof *tok);
  int32_t *frame = calloc((size_t)C, sizeof *frame), *next = calloc((size_t)C, sizeof *next);
  double *ms = calloc((size_t)frames, sizeof *ms), *bms = calloc((size_t)frames, sizeof *bms);
  double *bw = calloc((size_t)frames + 1, sizeof *bw), *ratio = calloc((size_t)frames, sizeof *ratio);
  hm_bw_probe *prb = NULL;
  if (!tok || !frame || !next || !ms || !bms || !bw || !ratio) { fprintf(stderr, "heartmula bench: out of memory\n"); return 1; }
  for (int64_t r = 0; r < prompt_rows; r++) tok[r * C + C - 1] = (int32_t)((r * 7919 + 13) % info.text_vocab_size);
  hm_mula_gen_params g = hm_mula_default_gen_params();
  g.seed = 1;
  int rc = 0;
  double t1 = hm_time_s();
  if (hm_mula_start(ctx, tok, NULL, prompt_rows, 1, &g, frame) != HM_OK) { rc = cli_fail("bench", "prefill"); goto out; }
  const double prefill_ms = (hm_time_s() - t1) * 1e3;
  if (probe) {
    prb = hm_bw_probe_create(hm_mula_context_pool(ctx), (size_t)1 << 30);
    if (!prb) { rc = cli_fail("bench", "bandwidth probe"); goto out; }
  }
  for (int64_t f = 0; f < frames; f++) {
    if (prb) bw[f] = hm_bw_probe_run(prb, 1);
    for (int k = 0; k < info.n_codebooks; k++)
      if (frame[k] >= info.audio_eos_id) frame[k] = 0; /* keep going past an end-of-audio code */
    double ts = hm_time_s();
    if (hm_mula_next(ctx, frame, next) != HM_OK) { rc = cli_fail("bench", "frame step"); goto out; }
    ms[f] = (hm_time_s() - ts) * 1e3;
    hm_mula_trace tr;
    hm_mula_get_trace(ctx, &tr);
    bms[f] = tr.backbone_ms;
    memcpy(frame, next, (size_t)C * sizeof *frame);
  }
  if (prb) bw[frames] = hm_bw_probe_run(prb, 1);
  {
    const double gb = (double)info.weight_bytes_per_frame / 1e9;
    /* per frame: time over the floor at the larger neighbouring probe */
    for (int64_t f = 0; f < frames && prb; f++) {
      const double b = bw[f] > bw[f + 1] ? bw[f] : bw[f + 1];
      ratio[f] = (ms[f] / 1e3) / (gb / b);
    }
    double sum = 0;
    for (int64_t f = 0; f < frames; f++) sum += ms[f];
    const double mean = sum / (double)frames;
    qsort(ms, (size_t)frames, sizeof *ms, cmp_d);
    const double median = ms[frames / 2], best = ms[0];
    qsort(bms, (size_t)frames, sizeof *bms, cmp_d);
    const double bb_median = bms[frames / 2];
    const double gbs = gb / (median / 1e3);
    double probe_gbs = 0, r_med = 0, bw_min = 0, bw_max = 0;
    if (prb) {
      qsort(ratio, (size_t)frames, sizeof *ratio, cmp_d);
      r_med = ratio[frames / 2];
      qsort(bw, (size_t)frames + 1, sizeof *bw, cmp_d);
      probe_gbs = bw[(frames + 1) / 2];
      bw_min = bw[0];
      bw_max = bw[frames];
    }
    const int nthreads = threads > 0 ? (int)threads : hm_num_cores();
    if (json) {
      printf("{\"mode\": \"lm\", \"model\": \"%s\", \"format\": \"%s\", \"threads\": %d, \"frames\": %lld, "
             "\"prompt_rows\": %lld, \"load_s\": %.3f, \"prefill_ms\": %.2f, \"ms_per_frame_median\": %.2f, "
             "\"ms_per_frame_mean\": %.2f, \"ms_per_frame_best\": %.2f, \"gb_per_frame\": %.4f, \"gb_per_s\": %.2f, "
             "\"probe_gb_per_s\": %.2f, \"ratio_time_over_floor\": %.3f, \"backbone_ms_batch2\": %.2f, "
             "\"ms_per_frame\": %.2f, \"bandwidth_gbs\": %.2f, \"ratio\": %.3f}\n",
             dir, format, nthreads, (long long)frames, (long long)prompt_rows, load_s, prefill_ms, median, mean, best, gb,
             gbs, probe_gbs, r_med, bb_median, median, probe_gbs, r_med);
    } else {
      printf("HeartMuLa LM bench: %s\n", dir);
      printf("  format %s, %d threads, backbone %d x %d, decoder %d x %d, CFG batch 2\n", format, nthreads,
             info.backbone_layers, info.backbone_dim, info.decoder_layers, info.decoder_dim);
      printf("  load %.2f s, prefill %lld rows %.1f ms\n", load_s, (long long)prompt_rows, prefill_ms);
      printf("  frame step: median %.2f ms, mean %.2f ms, best %.2f ms over %lld frames\n", median, mean, best,
             (long long)frames);
      printf("  backbone step (both CFG rows): median %.2f ms\n", bb_median);
      printf("  weights streamed per frame: %.3f GB -> %.2f GB/s\n", gb, gbs);
      if (prb)
        printf("  memory read bandwidth (probe before each frame): median %.2f GB/s (%.2f .. %.2f)\n"
               "  time / floor, per frame: median %.3f (%.3f .. %.3f)\n",
               probe_gbs, bw_min, bw_max, r_med, ratio[0], ratio[frames - 1]);
    }
  }
out:
  free(tok); free(frame); free(next); free(ms); free(bms); free(bw); free(ratio);
  hm_bw_probe_free(prb);
  hm_mula_context_free(ctx);
  hm_mula_free(model);
  return rc;
}

int bench_lm(int argc, char **argv) {
  const char *path = NULL, *format = NULL;
  int64_t frames = 16, threads = 0, prompt_rows = 64;
  bool json = false, probe = true;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_flag(argv[i], "--help", "-h")) { usage(); return 0; }
    else if (cli_opt(argc, argv, &i, "--mode", NULL, &v)) continue;
    else if (cli_opt(argc, argv, &i, "--model-path", "-m", &v)) path = v;
    else if (cli_opt(argc, argv, &i, "--format", NULL, &v)) format = v;
    else if (cli_opt(argc, argv, &i, "--frames", "-n", &v)) { if (!cli_int("--frames", v, &frames)) return 2; }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &threads)) return 2; }
    else if (cli_opt(argc, argv, &i, "--prompt-rows", NULL, &v)) { if (!cli_int("--prompt-rows", v, &prompt_rows)) return 2; }
    else if (cli_flag(argv[i], "--json", NULL)) json = true;
    else if (cli_flag(argv[i], "--no-probe", NULL)) probe = false;
    else { fprintf(stderr, "heartmula bench: unknown argument '%s'\n", argv[i]); usage(); return 2; }
  }
  if (!path) { usage(); return 2; }
  if (frames < 1 || prompt_rows < 2) { fprintf(stderr, "heartmula bench: --frames >= 1 and --prompt-rows >= 2\n"); return 2; }
  char dir[4096], cfg[4096];
  snprintf(dir, sizeof dir, "%s", path);
  if (hm_path_join(cfg, sizeof cfg, path, "config.json") == HM_OK && !hm_file_exists(cfg)) {
    char alt[4096];
    if (hm_path_join(alt, sizeof alt, path, "HeartMuLa-oss-3B") == HM_OK && hm_dir_exists(alt))
      snprintf(dir, sizeof dir, "%s", alt);
  }
  /* no --format: every format of the issue, each measured next to its own probe */
  static const char *const all[] = {"bf16", "q8_0", "q4_0"};
  int rc = 0;
  for (size_t k = 0; k < (format ? 1 : sizeof all / sizeof all[0]) && rc == 0; k++)
    rc = run_format(dir, format ? format : all[k], frames, threads, prompt_rows, json, probe);
  return rc;
}
