/* heartmula bench --mode transcribe: Whisper encoder seconds per 30 s window
 * and decoder ms per token, on a model folder or on a random one made here
 * (--make DIR --flavor large-v3). */
#include "cli.h"
#include "testkit.h"
#include "io/fs.h"
#include "transcriptor/whisper.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(f,
    "usage: heartmula bench --mode transcribe (--model DIR | --make DIR [--flavor tiny|large-v3]) [options]\n"
    "\n"
    "  --model DIR           Whisper model folder (HF layout)\n"
    "  --make DIR            first write a random checkpoint there (skipped if DIR/model.safetensors exists)\n"
    "  --flavor F            tiny or large-v3 (default large-v3) for --make\n"
    "  --tokenizer FILE      tokenizer.json to copy into --make's folder (default: a stand-in)\n"
    "  --windows N           encoder runs to time (default 1)\n"
    "  --encoder-layers N    time only N encoder layers and extrapolate to all (default: all)\n"
    "  --tokens N            decoder steps to time (default 32)\n"
    "  -t, --threads N       threads (default: all cores)\n"
    "  --json                one JSON line instead of text\n");
}

int bench_transcribe(int argc, char **argv) {
  const char *model = NULL, *make = NULL, *flavor = "large-v3", *tok = NULL;
  int64_t windows = 1, enc_layers = -1, tokens = 32, threads = 0;
  bool json = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (cli_flag(argv[i], "--help", "-h")) { usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--mode", NULL, &v)) { /* dispatched already */ }
    else if (cli_opt(argc, argv, &i, "--model", "-m", &v) || cli_opt(argc, argv, &i, "--model-path", NULL, &v)) model = v;
    else if (cli_opt(argc, argv, &i, "--make", NULL, &v)) make = v;
    else if (cli_opt(argc, argv, &i, "--flavor", NULL, &v)) flavor = v;
    else if (cli_opt(argc, argv, &i, "--tokenizer", NULL, &v)) tok = v;
    else if (cli_opt(argc, argv, &i, "--windows", NULL, &v)) { if (!cli_int("--windows", v, &windows)) return 2; }
    else if (cli_opt(argc, argv, &i, "--encoder-layers", NULL, &v)) { if (!cli_int("--encoder-layers", v, &enc_layers)) return 2; }
    else if (cli_opt(argc, argv, &i, "--tokens", NULL, &v)) { if (!cli_int("--tokens", v, &tokens)) return 2; }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!cli_int("--threads", v, &threads)) return 2; }
    else if (cli_flag(argv[i], "--json", NULL)) json = true;
    else { fprintf(stderr, "heartmula bench: error: unknown option '%s' for --mode transcribe\n\n", argv[i]); usage(stderr); return 2; }
  }
  if (make) {
    char p[4096];
    if (hm_path_join(p, sizeof p, make, "model.safetensors") != HM_OK) return cli_fail("bench", make);
    if (!hm_file_exists(p)) {
      fprintf(stderr, "heartmula bench: writing a random %s Whisper checkpoint to %s ...\n", flavor, make);
      double t0 = hm_time_s();
      if (hm_whisper_make_checkpoint_ex(make, flavor, 1234, tok) != HM_OK) return cli_fail("bench", "making the checkpoint");
      fprintf(stderr, "heartmula bench: written in %.1f s\n", hm_time_s() - t0);
    }
    if (!model) model = make;
  }
  if (!model) { fprintf(stderr, "heartmula bench: error: --mode transcribe needs --model DIR or --make DIR\n\n"); usage(stderr); return 2; }
  if (windows < 1 || tokens < 1 || threads < 0) { fprintf(stderr, "heartmula bench: error: --windows, --tokens must be >= 1\n"); return 2; }

  double t_load = hm_time_s();
  hm_whisper_model *m = NULL;
  if (hm_whisper_load(model, &m) != HM_OK) return cli_fail("bench", "loading the model");
  t_load = hm_time_s() - t_load;
  const hm_whisper_config *c = &m->cfg;
  hm_whisper_state *s = NULL;
  if (hm_whisper_state_create(m, (int)threads, &s) != HM_OK) { hm_whisper_free(m); return cli_fail("bench", "state"); }
  int nl = c->enc_layers;
  if (enc_layers < 0 || enc_layers > nl) enc_layers = nl;
  if (tokens > c->n_text_ctx - 4) tokens = c->n_text_ctx - 4;

  /* a deterministic test signal: chirp plus noise, 30 s */
  int64_t n = c->n_samples;
  float *pcm = malloc(sizeof(float) * (size_t)n);
  if (!pcm) { hm_whisper_state_free(s); hm_whisper_free(m); return 1; }
  hm_rng rng;
  hm_rng_seed(&rng, 42, 0);
  for (int64_t i = 0; i < n; i++) {
    double t = (double)i / c->sample_rate_hz;
    pcm[i] = 0.3f * (float)__builtin_sin(6.283185307 * (200.0 + 50.0 * t) * t) + 0.01f * hm_rng_normal(&rng);
  }
  double t_mel = hm_time_s();
  hm_mel_compute(s->mel_ctx, pcm, n, s->mel);
  t_mel = hm_time_s() - t_mel;

  /* encoder: stem alone (0 layers), then with enc_layers layers */
  double t_stem = hm_time_s();
  hm_whisper_encode(s, s->mel, 0);
  t_stem = hm_time_s() - t_stem;
  double t_enc = 0;
  for (int64_t w = 0; w < windows; w++) {
    double t0 = hm_time_s();
    hm_whisper_encode(s, s->mel, (int)enc_layers);
    t_enc += hm_time_s() - t0;
  }
  t_enc /= (double)windows;
  double per_layer = enc_layers > 0 ? (t_enc - t_stem) / (double)enc_layers : 0;
  double enc_full = enc_layers == nl ? t_enc : t_stem + per_layer * nl;

  double t_xkv = hm_time_s();
  hm_whisper_cross_kv(s);
  t_xkv = hm_time_s() - t_xkv;
  int32_t prompt[4] = {c->sot, c->lang_first >= 0 ? c->lang_first : c->sot, c->transcribe, c->no_timestamps};
  for (int i = 0; i < 4; i++) hm_whisper_decoder_step(s, prompt[i]);
  double t_dec = hm_time_s();
  for (int64_t k = 0; k < tokens; k++) {
    int32_t best = 0;
    for (int32_t v = 1; v < c->eot; v++) if (s->logits[v] > s->logits[best]) best = v;
    if (hm_whisper_decoder_step(s, best) != HM_OK) { tokens = k; break; }
  }
  t_dec = hm_time_s() - t_dec;
  double ms_tok = tokens > 0 ? 1000.0 * t_dec / (double)tokens : 0;
  int nth = hm_pool_size(s->pool);
  if (json) {
    printf("{\"model\": \"%s\", \"d_model\": %d, \"encoder_layers\": %d, \"decoder_layers\": %d, \"threads\": %d, "
           "\"load_s\": %.3f, \"mel_s\": %.4f, \"encoder_stem_s\": %.3f, \"encoder_layer_s\": %.4f, "
           "\"encoder_layers_timed\": %lld, \"encoder_s_per_window\": %.3f, \"cross_kv_s\": %.4f, "
           "\"decoder_ms_per_token\": %.3f, \"tokens\": %lld}\n",
           model, c->d_model, nl, c->dec_layers, nth, t_load, t_mel, t_stem, per_layer, (long long)enc_layers, enc_full,
           t_xkv, ms_tok, (long long)tokens);
  } else {
    printf("model %s: d_model %d, %d+%d layers, %d mels, vocab %d; %d threads\n", model, c->d_model, nl, c->dec_layers,
           c->n_mels, c->n_vocab, nth);
    printf("load                %.3f s\n", t_load);
    printf("log-mel (30 s)      %.4f s\n", t_mel);
    printf("encoder conv stem   %.3f s\n", t_stem);
    printf("encoder per layer   %.4f s\n", per_layer);
    printf("encoder s/window    %.3f s%s\n", enc_full,
           enc_layers == nl ? "" : " (extrapolated from the timed layers)");
    if (enc_layers != nl) printf("  (timed %lld of %d layers)\n", (long long)enc_layers, nl);
    printf("cross K/V per window %.4f s\n", t_xkv);
    printf("decoder ms/token    %.3f ms (%lld tokens after a 4-token prompt)\n", ms_tok, (long long)tokens);
  }
  free(pcm);
  hm_whisper_state_free(s);
  hm_whisper_free(m);
  return 0;
}
