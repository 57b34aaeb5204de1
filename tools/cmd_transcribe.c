/* heartmula transcribe: audio file -> lyrics (HeartTranscriptor / Whisper). */
#include "cli.h"
#include "io/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void usage(FILE *f) {
  fprintf(f,
    "usage: heartmula transcribe --model DIR AUDIO [-o FILE] [options]\n"
    "\n"
    "  --model DIR             HeartTranscriptor-oss folder (config.json, model.safetensors, tokenizer.json, ...)\n"
    "                          (--model-path also accepted; a folder holding HeartTranscriptor-oss/ works too)\n"
    "  AUDIO                   any file libsndfile reads: wav, flac, ogg, mp3 (downmixed, resampled to 16 kHz)\n"
    "  -o, --output FILE       write there instead of stdout (format from the extension unless --format)\n"
    "  --format F              txt, lrc, srt, vtt or json (default: from -o, else txt)\n"
    "  --language L            en (default), another Whisper code, or auto (detect)\n"
    "  --timestamps            timed segments (default for lrc, srt, vtt)\n"
    "  --no-timestamps         one untimed text (default for txt, json)\n"
    "  --translate             translate to English instead of transcribing\n"
    "  --max-new-tokens N      tokens per 30 s window (default: up to the text context)\n"
    "  --temperature-fallback  re-decode looping / unsure windows at temperature 0.2 ... 1.0 (whisper.cpp)\n"
    "  --seed N                seed for the fallback's sampling (default 0)\n"
    "  -t, --threads N         threads (default: all cores)\n"
    "  --overwrite             replace an existing output file\n"
    "  -q, --quiet             no progress bar\n");
}

typedef struct tr_ui { cli_progress bar; } tr_ui;
static void on_progress(void *ud, int64_t done, int64_t total) {
  tr_ui *ui = ud;
  cli_progress_update(&ui->bar, done, total);
}

static const char *format_from_ext(const char *path) {
  const char *dot = path ? strrchr(path, '.') : NULL;
  if (!dot) return NULL;
  static const char *known[] = {"txt", "lrc", "srt", "vtt", "json"};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (!strcasecmp(dot + 1, known[i])) return known[i];
  return NULL;
}

static int write_output(const char *path, const char *text, bool overwrite) {
  if (!overwrite && hm_file_exists(path)) {
    fprintf(stderr, "heartmula transcribe: error: '%s' already exists (use --overwrite)\n", path);
    return 1;
  }
  size_t n = strlen(path) + 16;
  char *tmp = malloc(n);
  if (!tmp) return 1;
  snprintf(tmp, n, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    fprintf(stderr, "heartmula transcribe: error: cannot write '%s': %s\n", tmp, strerror(errno));
    free(tmp);
    return 1;
  }
  size_t len = strlen(text);
  bool ok = fwrite(text, 1, len, f) == len;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) != 0) {
    fprintf(stderr, "heartmula transcribe: error: cannot write '%s': %s\n", path, strerror(errno));
    remove(tmp);
    free(tmp);
    return 1;
  }
  free(tmp);
  return 0;
}

int cmd_transcribe(int argc, char **argv) {
  hm_whisper_params p = hm_whisper_default_params();
  const char *model = NULL, *audio = NULL, *output = NULL, *format = NULL;
  int ts = -1; /* -1: by format */
  bool quiet = false, overwrite = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int64_t n;
    if (cli_flag(argv[i], "--help", "-h")) { usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--model", "-m", &v) || cli_opt(argc, argv, &i, "--model-path", NULL, &v)) model = v;
    else if (cli_opt(argc, argv, &i, "--output", "-o", &v)) output = v;
    else if (cli_opt(argc, argv, &i, "--format", "-f", &v)) format = v;
    else if (cli_opt(argc, argv, &i, "--language", "-l", &v)) p.language = v;
    else if (cli_flag(argv[i], "--timestamps", NULL)) ts = 1;
    else if (cli_flag(argv[i], "--no-timestamps", NULL)) ts = 0;
    else if (cli_flag(argv[i], "--translate", NULL)) p.translate = true;
    else if (cli_flag(argv[i], "--temperature-fallback", NULL)) p.temperature_fallback = true;
    else if (cli_opt(argc, argv, &i, "--seed", NULL, &v)) {
      char *end;
      p.seed = strtoull(v, &end, 10);
      if (!*v || *end) { fprintf(stderr, "heartmula transcribe: error: --seed expects a non-negative integer, got '%s'\n", v); return 2; }
    }
    else if (cli_opt(argc, argv, &i, "--max-new-tokens", NULL, &v)) {
      if (!cli_int("--max-new-tokens", v, &n)) return 2;
      if (n < 1 || n > 100000) { fprintf(stderr, "heartmula transcribe: error: --max-new-tokens must be >= 1, got %lld\n", (long long)n); return 2; }
      p.max_new_tokens = (int)n;
    }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) {
      if (!cli_int("--threads", v, &n)) return 2;
      if (n < 0 || n > 1024) { fprintf(stderr, "heartmula transcribe: error: --threads must be 0..1024, got %lld\n", (long long)n); return 2; }
      p.n_threads = (int)n;
    }
    else if (cli_flag(argv[i], "--overwrite", NULL)) overwrite = true;
    else if (cli_flag(argv[i], "--quiet", "-q")) quiet = true;
    else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "heartmula transcribe: error: unknown option '%s'\n\n", argv[i]); usage(stderr); return 2; }
    else if (!audio) audio = argv[i];
    else { fprintf(stderr, "heartmula transcribe: error: more than one audio file ('%s', '%s')\n", audio, argv[i]); return 2; }
  }
  if (!model || !audio) {
    fprintf(stderr, "heartmula transcribe: error: --model DIR and an AUDIO file are required\n\n");
    usage(stderr);
    return 2;
  }
  if (!format) format = format_from_ext(output);
  if (!format) format = "txt";
  if (strcmp(format, "txt") && strcmp(format, "lrc") && strcmp(format, "srt") && strcmp(format, "vtt") && strcmp(format, "json")) {
    fprintf(stderr, "heartmula transcribe: error: --format: unknown '%s' (txt, lrc, srt, vtt, json)\n", format);
    return 2;
  }
  p.timestamps = ts >= 0 ? ts == 1 : (!strcmp(format, "lrc") || !strcmp(format, "srt") || !strcmp(format, "vtt"));
  if (output && !overwrite && hm_file_exists(output)) {
    fprintf(stderr, "heartmula transcribe: error: '%s' already exists (use --overwrite)\n", output);
    return 1;
  }
  /* a checkpoint root holding HeartTranscriptor-oss/ works too, as upstream's from_pretrained */
  char sub[4096];
  if (hm_path_join(sub, sizeof sub, model, "HeartTranscriptor-oss") == HM_OK && hm_dir_exists(sub)) model = sub;

  hm_whisper_model *m = NULL;
  if (hm_whisper_load(model, &m) != HM_OK) return cli_fail("transcribe", "loading the model");
  tr_ui ui;
  cli_progress_init(&ui.bar, "transcribe", "windows", 20.0, quiet);
  hm_transcript *t = NULL;
  hm_status st = hm_whisper_transcribe_file(m, audio, &p, on_progress, cli_abort_requested, &ui, &t);
  cli_progress_end(&ui.bar);
  if (st != HM_OK) { hm_whisper_free(m); return cli_fail("transcribe", audio); }
  char *text = NULL;
  st = hm_transcript_format(t, format, &text);
  hm_transcript_free(t);
  hm_whisper_free(m);
  if (st != HM_OK) return cli_fail("transcribe", "formatting");
  int rc = 0;
  if (output) rc = write_output(output, text, overwrite);
  else fputs(text, stdout);
  free(text);
  return rc;
}
