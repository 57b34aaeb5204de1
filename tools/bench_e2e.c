/* heartmula bench --mode e2e --model-path DIR [--version 3B] [--seconds 10] [-t N] [--mula-dtype bf16] [--json]
 *                 [--stream] [--memory staged|keep] [--jobs N]
 * Whole jobs through the engine: load, LM frames/s, codec seconds, time to the first audio, total and
 * peak RSS, on a checkpoint folder (e.g. a full-size random one from make-checkpoint --flavor 3B).
 * --jobs N runs N jobs (seeds 1..N) on one engine and prints the resident memory after each. */
#include "cli.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void usage(void) {
  fprintf(stderr,
          "usage: heartmula bench --mode e2e --model-path DIR [--version 3B] [--seconds S] [-t N]\n"
          "                       [--mula-dtype bf16|f32|q8_0|q4_0] [--codec-steps N] [--json]\n"
          "                       [--stream] [--memory staged|keep] [--jobs N]\n"
          "  Generates S seconds (default 10) of audio end to end (top-k 50, CFG 1.5, codec 10 steps) and\n"
          "  prints load time, LM frames/s, codec seconds, time to the first audio, total and peak RSS. The EOS\n"
          "  rule is kept, so a random checkpoint may stop early: the frame count is printed.\n"
          "  --stream          decode codec windows beside the LM (time to first audio drops)\n"
          "  --memory M        staged (default: load and free per job) or keep (models stay loaded)\n"
          "  --jobs N          N jobs on one engine (seeds 1..N); prints resident memory after each\n");
}

int bench_e2e(int argc, char **argv) {
  hm_generate_params p = hm_generate_default_params();
  double seconds = 10;
  bool json = false, stream = false;
  int64_t jobs = 1;
  hm_engine_memory memory = HM_ENGINE_STAGED;
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
    else if (cli_flag(argv[i], "--stream", NULL)) stream = true;
    else if (cli_opt(argc, argv, &i, "--jobs", NULL, &v)) { if (!cli_int("--jobs", v, &jobs) || jobs < 1) return 2; }
    else if (cli_opt(argc, argv, &i, "--memory", NULL, &v)) {
      if (!strcasecmp(v, "keep")) memory = HM_ENGINE_KEEP;
      else if (!strcasecmp(v, "staged")) memory = HM_ENGINE_STAGED;
      else { fprintf(stderr, "heartmula bench: unknown --memory '%s' (staged, keep)\n", v); return 2; }
    }
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
  hm_engine_params ep = hm_engine_default_params();
  ep.version = p.version;
  ep.memory = memory;
  ep.n_threads = p.n_threads;
  ep.mula_weights = p.mula_weights;
  hm_engine *engine = NULL;
  if (hm_engine_open(p.model_path, &ep, &engine) != HM_OK) return cli_fail("bench", "e2e");
  hm_job job = hm_job_default();
  job.lyrics = p.lyrics;
  job.tags = p.tags;
  job.max_audio_ms = p.max_audio_ms;
  job.codec_steps = p.codec_steps;
  job.output_path = out;
  job.overwrite = true;
  job.stream = stream;
  hm_generate_result r;
  memset(&r, 0, sizeof r);
  int64_t rss_first = 0, rss_last = 0;
  for (int64_t k = 0; k < jobs; k++) {
    hm_generate_result_free(&r);
    job.seed = (uint64_t)(k + 1);
    hm_status st = hm_engine_generate(engine, &job, NULL, &r);
    remove(out);
    if (st != HM_OK) { hm_engine_close(engine); return cli_fail("bench", "e2e"); }
    rss_last = cli_rss_now();
    if (k == 0) rss_first = rss_last;
    if (jobs > 1 && !json)
      printf("job %lld: %lld frames, total %.2f s, first audio %.2f s, RSS now %.1f MiB\n", (long long)(k + 1),
             (long long)r.n_frames, r.t_total_s, r.t_first_audio_s, (double)rss_last / 1048576.0);
  }
  hm_engine_close(engine);
  double audio_s = (double)r.n_frames * 0.08, fps = r.t_lm_s > 0 ? (double)r.n_frames / r.t_lm_s : 0;
  const char *mem = memory == HM_ENGINE_KEEP ? "keep" : "staged";
  if (json)
    printf("{\"mode\":\"e2e\",\"memory\":\"%s\",\"stream\":%s,\"jobs\":%lld,\"frames\":%lld,\"audio_s\":%.2f,"
           "\"load_lm_s\":%.3f,\"lm_s\":%.3f,\"lm_frames_per_s\":%.3f,\"load_codec_s\":%.3f,\"codec_s\":%.3f,"
           "\"first_audio_s\":%.3f,\"total_s\":%.3f,\"peak_rss_mb\":%.1f,\"rss_first_job_mb\":%.1f,"
           "\"rss_last_job_mb\":%.1f}\n",
           mem, stream ? "true" : "false", (long long)jobs, (long long)r.n_frames, audio_s, r.t_load_lm_s, r.t_lm_s, fps,
           r.t_load_codec_s, r.t_codec_s, r.t_first_audio_s, r.t_total_s, (double)r.peak_rss_bytes / 1048576.0,
           (double)rss_first / 1048576.0, (double)rss_last / 1048576.0);
  else
    printf("e2e (%s%s): %lld frames (%.2f s of audio)\n  load LM    %8.2f s\n  LM         %8.2f s  (%.2f frames/s, %.2fx real time)\n"
           "  load codec %8.2f s\n  codec      %8.2f s\n  first audio %7.2f s\n  total      %8.2f s\n  peak RSS   %8.1f MiB\n",
           mem, stream ? ", streaming" : "", (long long)r.n_frames, audio_s, r.t_load_lm_s, r.t_lm_s, fps, fps * 0.08,
           r.t_load_codec_s, r.t_codec_s, r.t_first_audio_s, r.t_total_s, (double)r.peak_rss_bytes / 1048576.0);
  hm_generate_result_free(&r);
  return 0;
}
