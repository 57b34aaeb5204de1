/* heartmula bench --mode e2e --model-path DIR [--version 3B] [--seconds 10] [-t N] [--mula-dtype bf16] [--json]
 * The whole job (hm_generate): load, LM frames/s, codec seconds, total and peak RSS,
 * on a checkpoint folder (e.g. a full-size random one from make-checkpoint --flavor 3B). */
#include "cli.h"
#include "io/json.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void usage(void) {
  fprintf(stderr,
          "usage: heartmula bench --mode e2e --model-path DIR [--version 3B] [--seconds S] [-t N]\n"
          "                       [--mula-dtype bf16|f32|q8_0|q4_0] [--codec-steps N] [--json]\n"
          "  Generates S seconds (default 10) of audio end to end (top-k 50, CFG 1.5, codec 10 steps) and\n"
          "  prints load time, LM frames/s, codec seconds, total and peak RSS. The EOS rule is kept, so a\n"
          "  random checkpoint may stop early: the frame count is printed.\n");
}

int bench_e2e(int argc, char **argv) {
  hm_generate_params p = hm_generate_default_params();
  double seconds = 10;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int64_t n;
    if (cli_flag(argv[i], "--help", "-h")) { usage(); return 0; }
    else if (cli_opt(argc, argv, &i, "--mode", NULL, &v)) continue;
    else if (cli_opt(argc, argv, &i, "--model-path", "-m", &v)) p.model_path = v;
    else if (cli_opt(argc, argv, &i, "--version", NULL, &v)) p.version = v;
    else if (cli_opt(argc, argv, &i, "--seconds", NULL, &v)) { if (!cli_float("--seconds", v, &seconds)) return 2; }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &n)) return 2; p.n_threads = (int)n; }
    else if (cli_opt(argc, argv, &i, "--codec-steps", NULL, &v)) { if (!cli_int("--codec-steps", v, &n)) return 2; p.codec_steps = (int)n; }
    else if (cli_opt(argc, argv, &i, "--mula-dtype", "--quant", &v)) {
      if (!strcasecmp(v, "bf16")) p.mula_weights = HM_MULA_WEIGHTS_BF16;
      else if (!strcasecmp(v, "f32")) p.mula_weights = HM_MULA_WEIGHTS_F32;
      else if (!strcasecmp(v, "q8_0")) p.mula_weights = HM_MULA_WEIGHTS_Q8_0;
      else if (!strcasecmp(v, "q4_0")) p.mula_weights = HM_MULA_WEIGHTS_Q4_0;
      else { fprintf(stderr, "heartmula bench: unknown --mula-dtype '%s'\n", v); return 2; }
    }
    else if (cli_flag(argv[i], "--json", NULL)) json = true;
    else { fprintf(stderr, "heartmula bench: unknown argument '%s'\n", argv[i]); usage(); return 2; }
  }
  if (!p.model_path || seconds <= 0) { usage(); return 2; }
  char out[256];
  snprintf(out, sizeof out, "/tmp/heartmula-bench-%d.wav", (int)getpid());
  p.output_path = out;
  p.overwrite = true;
  p.max_audio_ms = (int64_t)(seconds * 1000);
  p.lyrics = "[verse]\nthe night is young and the road is long\nwe sing along to an engine's song\n[chorus]\noh oh oh\n";
  p.tags = "pop,synth,upbeat,female vocals";
  p.seed = 1;
  hm_generate_result r;
  hm_status st = hm_generate(&p, &r);
  remove(out);
  if (st != HM_OK) return cli_fail("bench", "e2e");
  double audio_s = (double)r.n_frames * 0.08, fps = r.t_lm_s > 0 ? (double)r.n_frames / r.t_lm_s : 0;
  if (json)
    printf("{\"mode\":\"e2e\",\"frames\":%lld,\"audio_s\":%.2f,\"load_lm_s\":%.3f,\"lm_s\":%.3f,\"lm_frames_per_s\":%.3f,"
           "\"load_codec_s\":%.3f,\"codec_s\":%.3f,\"total_s\":%.3f,\"peak_rss_mb\":%.1f}\n",
           (long long)r.n_frames, audio_s, r.t_load_lm_s, r.t_lm_s, fps, r.t_load_codec_s, r.t_codec_s, r.t_total_s,
           (double)r.peak_rss_bytes / 1048576.0);
  else
    printf("e2e: %lld frames (%.2f s of audio)\n  load LM    %8.2f s\n  LM         %8.2f s  (%.2f frames/s, %.2fx real time)\n"
           "  load codec %8.2f s\n  codec      %8.2f s\n  total      %8.2f s\n  peak RSS   %8.1f MiB\n",
           (long long)r.n_frames, audio_s, r.t_load_lm_s, r.t_lm_s, fps, fps * 0.08, r.t_load_codec_s, r.t_codec_s,
           r.t_total_s, (double)r.peak_rss_bytes / 1048576.0);
  hm_generate_result_free(&r);
  return 0;
}
