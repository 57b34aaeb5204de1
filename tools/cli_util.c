/* Shared helpers of the CLI: option parsing, errors, progress bar, log hook. */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const char *cmd, const char *what) {
  const char *e = hm_last_error();
  if (what && *what) fprintf(stderr, "heartmula %s: error: %s: %s\n", cmd, what, e);
  else fprintf(stderr, "heartmula %s: error: %s\n", cmd, e);
  return 1;
}

bool cli_int(const char *flag, const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || errno) {
    fprintf(stderr, "heartmula: error: %s expects an integer, got '%s'\n", flag, s);
    return false;
  }
  *out = v;
  return true;
}

bool cli_float(const char *flag, const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || *end || errno) {
    fprintf(stderr, "heartmula: error: %s expects a number, got '%s'\n", flag, s);
    return false;
  }
  *out = v;
  return true;
}

/* "--model-path" == "--model_path": compares with '-' and '_' equal (after the leading "--"). */
static bool name_eq(const char *a, size_t na, const char *b) {
  size_t nb = strlen(b);
  if (na != nb) return false;
  for (size_t i = 0; i < na; i++) {
    char x = a[i] == '_' ? '-' : a[i], y = b[i] == '_' ? '-' : b[i];
    if (i < 2) { x = a[i]; y = b[i]; }
    if (x != y) return false;
  }
  return true;
}

bool cli_flag(const char *arg, const char *flag, const char *alias) {
  size_t n = strlen(arg);
  return name_eq(arg, n, flag) || (alias && name_eq(arg, n, alias));
}

bool cli_opt(int argc, char **argv, int *i, const char *flag, const char *alias, const char **val) {
  const char *arg = argv[*i];
  const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
  size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
  if (!name_eq(arg, n, flag) && !(alias && name_eq(arg, n, alias))) return false;
  if (eq) { *val = eq + 1; return true; }
  if (*i + 1 >= argc) {
    fprintf(stderr, "heartmula: error: %s needs a value\n", flag);
    exit(2); /* the CLI, not the library */
  }
  *val = argv[++*i];
  return true;
}

void cli_progress_init(cli_progress *p, const char *label, const char *unit, double unit_seconds, bool quiet) {
  memset(p, 0, sizeof *p);
  p->label = label;
  p->unit = unit;
  p->unit_seconds = unit_seconds;
  p->enabled = !quiet && isatty(STDERR_FILENO);
  p->t_start_us = p->t_last_us = hm_time_us();
}

void cli_progress_update(cli_progress *p, int64_t done, int64_t total) {
  if (!p->enabled) return;
  int64_t now = hm_time_us();
  if (done < total && now - p->t_last_us < 100000) return; /* at most 10 redraws/s */
  p->t_last_us = now;
  double el = (double)(now - p->t_start_us) * 1e-6;
  double rate = el > 0 ? (double)done / el : 0;
  double eta = rate > 0 ? (double)(total - done) / rate : 0;
  int width = 30, fill = total > 0 ? (int)((double)width * (double)done / (double)total) : 0;
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
  bar[width] = 0;
  fprintf(stderr, "\r%-6s [%s] %lld/%lld %s  %.2f %s/s  ETA %.0fs", p->label, bar, (long long)done, (long long)total,
          p->unit, rate, p->unit, eta);
  if (p->unit_seconds > 0 && el > 0) fprintf(stderr, "  %.2fx real time", rate * p->unit_seconds);
  fprintf(stderr, "   ");
  fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
  if (p->enabled) fputc('\n', stderr);
}

void cli_log_hook(void *user_data, hm_log_level level, const char *msg) {
  (void)user_data;
  if (level == HM_LOG_ERROR) fprintf(stderr, "heartmula: error: %s\n", msg);
  else if (level == HM_LOG_WARN) fprintf(stderr, "heartmula: warning: %s\n", msg);
  else if (getenv("HM_VERBOSE")) fprintf(stderr, "heartmula: %s\n", msg);
}

/* ---- SIGINT / SIGTERM ---- */
static volatile sig_atomic_t cli_caught_signal = 0;

static void on_stop_signal(int sig) { cli_caught_signal = sig; }

void cli_signals_install(void) {
  static const int sigs[] = {SIGINT, SIGTERM};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART; /* a second signal stops at once; no EINTR in the job */
    /* a signal ignored by the parent (nohup, a shell's background job) stays ignored */
    if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    sigaction(sigs[i], &sa, NULL);
  }
}

bool cli_abort_requested(void *user_data) {
  (void)user_data;
  return cli_caught_signal != 0;
}

int cli_finish(int rc) {
  int sig = cli_caught_signal;
  if (!sig) return rc;
  fprintf(stderr, "heartmula: stopped by %s\n", sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal");
  fflush(stderr);
  signal(sig, SIG_DFL);
  raise(sig); /* the parent sees a death by this signal (status 128 + sig in a shell) */
  return 128 + sig;
}

int64_t cli_rss_now(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, res = 0;
  if (!f) return 0;
  if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
  fclose(f);
  return (int64_t)res * sysconf(_SC_PAGESIZE);
}
