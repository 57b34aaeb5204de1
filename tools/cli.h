/* The `heartmula` command-line tool: one file per subcommand (cmd_*.c). */
#ifndef HM_CLI_H
#define HM_CLI_H
#include "base/base.h"
#include <stdio.h>

int cmd_generate(int argc, char **argv);
int cmd_decode(int argc, char **argv);
int cmd_transcribe(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_parity(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_make_checkpoint(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_serve(int argc, char **argv); /* tools/serve/ (a stub when built without the server's libraries) */
int cmd_embed(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_convert(int argc, char **argv);
/* `heartmula bench --mode lm|codec|transcribe|e2e ...`: cmd_bench.c dispatches to these. */
int bench_lm(int argc, char **argv);         /* tools/bench_lm.c (src/mula owner) */
int bench_codec(int argc, char **argv);      /* tools/bench_codec.c (src/codec owner) */
int bench_transcribe(int argc, char **argv); /* tools/bench_transcribe.c (src/transcriptor owner) */
int bench_gemm(int argc, char **argv);       /* tools/bench_gemm.c */
int bench_kernels(int argc, char **argv);    /* tools/bench_kernels.c (src/tensor owner) */
int bench_e2e(int argc, char **argv);        /* tools/bench_e2e.c (src/engine owner) */
int bench_clap(int argc, char **argv);       /* tools/bench_clap.c (src/clap owner) */

/* Prints "heartmula <cmd>: error: <hm_last_error()>" (with context) to stderr; returns 1. */
int cli_fail(const char *cmd, const char *what);
/* Resident memory of this process now (not the peak), bytes; 0 if unknown. */
int64_t cli_rss_now(void);
/* Parses an integer / float option value; prints an error naming the flag and returns false on junk. */
bool cli_int(const char *flag, const char *s, int64_t *out);
bool cli_float(const char *flag, const char *s, double *out);
/* "--flag=value" or "--flag value": if argv[*i] is flag (or its alias, may be NULL),
 * stores the value in *val, advances *i and returns true. Dash and underscore
 * spellings are equal ("--model-path" == "--model_path"). */
bool cli_opt(int argc, char **argv, int *i, const char *flag, const char *alias, const char **val);
bool cli_flag(const char *arg, const char *flag, const char *alias);

/* Progress bar on stderr (only when stderr is a terminal and not quiet). */
typedef struct cli_progress {
  const char *label;
  const char *unit;  /* "frames", "windows" */
  double unit_seconds; /* audio seconds per unit, for the real-time factor (0: none) */
  bool enabled;
  int64_t t_start_us, t_last_us;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label, const char *unit, double unit_seconds, bool quiet);
void cli_progress_update(cli_progress *p, int64_t done, int64_t total);
void cli_progress_end(cli_progress *p);
/* SIGINT / SIGTERM: cli_signals_install() (for the commands whose library calls
 * take an abort callback) makes the first signal set a flag that
 * cli_abort_requested (an hm_abort_callback) reports, so the job stops through
 * its abort path (no output file is left, an existing one is kept); a second
 * signal stops at once. cli_finish(rc): after a caught signal, says so and dies
 * by that signal (exit status 130 / 143 in a shell); else returns rc. */
void cli_signals_install(void);
bool cli_abort_requested(void *user_data);
int cli_finish(int rc);
/* A log hook printing warnings and errors to stderr ("heartmula: warning: ..."). */
void cli_log_hook(void *user_data, hm_log_level level, const char *msg);
#endif
