/* heartmula bench --mode clap: one clip's MuQ-MuLan audio embedding (the reference-audio path of generate),
 * per stage, as a ratio to the f32 FMA peak probed in the same run, and the resident memory of the loaded
 * model; on a model folder or a random one made here (--make DIR --flavor large). */
#include "cli.h"
#include "testkit.h"
#include "clap/clap.h"
#include "io/fs.h"
#include "tensor/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(f,
    "usage: heartmula bench --mode clap (--clap DIR | --make DIR [--flavor large|tiny]) [options]\n"
    "\n"
    "  --clap DIR        MuQ-MuLan folder\n"
    "  --make DIR        first write a random MuQ-MuLan there (skipped when DIR holds a model); default flavor large\n"
    "  --seconds S       clip length (default 10: one MuQ-MuLan clip)\n"
    "  --text            load the text tower too (default: audio only, as generate --ref-audio does)\n"
    "  -t, --threads N   threads (default: all cores)\n"
    "  --json            one JSON line instead of text\n");
}

static double mib(int64_t b) { return (double)b / (1024.0 * 1024.0); }

int bench_clap(int argc, char **argv) {
  const char *dir = NULL, *make = NULL, *flavor = "large";
  double seconds = 10;
  int64_t threads = 0;
  bool json = false, text = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_flag(argv[i], "--help", "-h")) { usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--mode", NULL, &v)) { /* dispatched already */ }
    else if (cli_opt(argc, argv, &i, "--clap", NULL, &v)) dir = v;
    else if (cli_opt(argc, argv, &i, "--make", NULL, &v)) make = v;
    else if (cli_opt(argc, argv, &i, "--flavor", NULL, &v)) flavor = v;
    else if (cli_opt(argc, argv, &i, "--seconds", NULL, &v)) { if (!cli_float("--seconds", v, &seconds)) return 2; }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &threads)) return 2; }
    else if (cli_flag(argv[i], "--text", NULL)) text = true;
    else if (cli_flag(argv[i], "--json", NULL)) json = true;
    else { fprintf(stderr, "heartmula bench: error: unknown option '%s' for --mode clap\n\n", argv[i]); usage(stderr); return 2; }
  }
  if (make) {
    char p[4096], q[4096];
    if (hm_path_join(p, sizeof p, make, "model.safetensors") != HM_OK ||
        hm_path_join(q, sizeof q, make, "model.safetensors.index.json") != HM_OK)
      return cli_fail("bench", make);
    if (!hm_file_exists(p) && !hm_file_exists(q)) {
      fprintf(stderr, "heartmula bench: writing a random %s MuQ-MuLan to %s ...\n", flavor, make);
      double t0 = hm_time_s();
      if (hm_clap_make_checkpoint(make, flavor, 1234) != HM_OK) return cli_fail("bench", "making the checkpoint");
      fprintf(stderr, "heartmula bench: written in %.1f s\n", hm_time_s() - t0);
    }
    if (!dir) dir = make;
  }
  if (!dir) { fprintf(stderr, "heartmula bench: error: --mode clap needs --clap DIR or --make DIR\n\n"); usage(stderr); return 2; }
  if (!(seconds >= 1 && seconds <= 600) || threads < 0) {
    fprintf(stderr, "heartmula bench: error: --seconds must be in [1, 600] and --threads >= 0\n");
    return 2;
  }

  const int64_t rss0 = cli_rss_now();
  hm_clap_params cp = hm_clap_default_params();
  cp.n_threads = (int)threads;
  cp.load_text = text;
  double t_load = hm_time_s();
  hm_clap_model *m = NULL;
  if (hm_clap_load(dir, &cp, &m) != HM_OK) return cli_fail("bench", "loading the model");
  t_load = hm_time_s() - t_load;
  const int64_t rss_load = cli_rss_now();
  const hm_clap_config *c = &m->cfg;

  /* a deterministic clip: chirp plus noise */
  const int64_t n = (int64_t)llround(seconds * c->sample_rate_hz);
  float *pcm = malloc(sizeof(float) * (size_t)n), *out = malloc(sizeof(float) * (size_t)c->dim_latent);
  if (!pcm || !out) { free(pcm); free(out); hm_clap_free(m); fprintf(stderr, "heartmula bench: out of memory\n"); return 1; }
  hm_rng rng;
  hm_rng_seed(&rng, 42, 0);
  for (int64_t i = 0; i < n; i++) {
    double t = (double)i / c->sample_rate_hz;
    pcm[i] = 0.3f * (float)sin(6.283185307 * (220.0 + 40.0 * t) * t) + 0.01f * hm_rng_normal(&rng);
  }
  const int nth = hm_pool_size(m->pool);
  const double peak = hm_fma_peak_gflops(m->pool, 0.2, 5);
  double st_s[HM_CLAP_N_STAGES], fl[HM_CLAP_N_STAGES];
  hm_clap_clip_flops(m, n, fl);
  double t_clip = hm_time_s();
  hm_status st = hm_clap_clip_latent_timed(m, m->pool, pcm, n, out, st_s);
  t_clip = hm_time_s() - t_clip;
  const int64_t rss_run = cli_rss_now();
  free(pcm);
  free(out);
  if (st != HM_OK) { hm_clap_free(m); return cli_fail("bench", "embedding the clip"); }
  double flops = 0;
  for (int i = 0; i < HM_CLAP_N_STAGES; i++) flops += fl[i];
  const double gfs = flops / t_clip * 1e-9;
  const double ideal = flops / (peak * 1e9);
  static const char *const names[HM_CLAP_N_STAGES] = {"mel", "conv", "conformer", "mulan_head"};
  if (json) {
    printf("{\"model\": \"%s\", \"conv_dim\": %d, \"encoder\": [%d, %d], \"threads\": %d, \"seconds\": %g, "
           "\"load_s\": %.3f, \"clip_s\": %.3f, \"gflop\": %.2f, \"gflops\": %.2f, \"peak_gflops\": %.2f, "
           "\"ratio_to_peak\": %.4f, \"ideal_s\": %.3f", dir, c->conv_dim, c->enc_depth, c->enc_dim, nth, seconds,
           t_load, t_clip, flops * 1e-9, gfs, peak, gfs / peak, ideal);
    for (int i = 0; i < HM_CLAP_N_STAGES; i++)
      printf(", \"%s_s\": %.4f, \"%s_gflop\": %.3f", names[i], st_s[i], names[i], fl[i] * 1e-9);
    printf(", \"rss_loaded_mib\": %.1f, \"rss_after_clip_mib\": %.1f, \"peak_rss_mib\": %.1f}\n", mib(rss_load - rss0),
           mib(rss_run - rss0), mib((int64_t)hm_peak_rss_bytes()));
  } else {
    printf("MuQ-MuLan %s: conv %d, conformer %d x %d (%d heads, ffn %d), MuLan %d x %d%s; %d threads, f32 FMA peak "
           "%.1f GFLOP/s (probed now)\n", dir, c->conv_dim, c->enc_depth, c->enc_dim, c->enc_heads, c->enc_ffn,
           c->a_depth, c->a_dim, text ? ", text tower loaded" : "", nth, peak);
    printf("load                 %8.3f s\n", t_load);
    for (int i = 0; i < HM_CLAP_N_STAGES; i++)
      printf("  %-18s %8.3f s  %8.2f GFLOP  %7.2f GFLOP/s  %5.1f%% of peak\n", names[i], st_s[i], fl[i] * 1e-9,
             st_s[i] > 0 ? fl[i] / st_s[i] * 1e-9 : 0, st_s[i] > 0 ? 100.0 * fl[i] / st_s[i] * 1e-9 / peak : 0);
    printf("one %.0f s clip        %8.3f s  %8.2f GFLOP  %7.2f GFLOP/s  %5.1f%% of peak (%.3f s at peak)\n", seconds,
           t_clip, flops * 1e-9, gfs, 100.0 * gfs / peak, ideal);
    printf("RSS: model loaded %.1f MiB, after the clip %.1f MiB (process peak %.1f MiB)\n", mib(rss_load - rss0),
           mib(rss_run - rss0), mib((int64_t)hm_peak_rss_bytes()));
  }
  hm_clap_free(m);
  return 0;
}
