/* heartmula serve: options, start-up (data folder, database, secret, engines, HTTP), and a clean
 * drain on SIGINT / SIGTERM (running jobs aborted and queued again, nothing half-written). */
#include "cli.h"
#include "serve/serve.h"

#include <civetweb.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f) {
  fprintf(f,
    "usage: heartmula serve [--model-path DIR] [options]\n"
    "\n"
    "  --model-path DIR       checkpoint folder (default ./ckpt, or env HEARTMULA_MODEL_PATH)\n"
    "  --version V            HeartMuLa version folder suffix (default 3B, or env HEARTMULA_VERSION)\n"
    "  --mula-dtype T         LM weights in memory: bf16 (default), f32, q8_0, q4_0\n"
    "  --fp16                 accepted for the Python server's flag (env HEARTMULA_FP16): bf16 LM weights\n"
    "  --codec-dtype T        codec weights: f32 (default), bf16\n"
    "  --host ADDR            address to bind (default 127.0.0.1: this machine only)\n"
    "  --port N               port (default 8000; 0 = any free port; --backend-port is the same)\n"
    "  --data DIR             data folder: heartmula.db, jwt_secret, audio/ (default ./data)\n"
    "  --workers N            generation worker threads, each with its own engine (default 1)\n"
    "  --threads N            threads per job (default: all cores)\n"
    "  --http-threads N       HTTP/WebSocket threads (default 64; each open WebSocket holds one)\n"
    "  --memory keep|staged   keep the models loaded between jobs (default) or load them per job\n"
    "  --public-url URL       base of the links the API hands out (default: relative links)\n"
    "  --cors-origin ORIGIN   allow this one origin cross-site (default: CORS off)\n"
    "  --web DIR              the static UI folder (default: the source tree's web/)\n"
    "  --max-body-bytes N     request body limit (default 65536)\n"
    "  --max-lyrics-bytes N   (default 16384)   --max-tags-bytes N (default 1024)\n"
    "  --max-song-ms N        longest song a job may ask for (default 240000)\n"
    "  --max-queued N         queued + running jobs per user (default 10)\n"
    "  --login-attempts N     failed logins per account (x4 per address) before a lock-out (default 5)\n"
    "  --login-window-s N     the failure window and lock-out length (default 900)\n"
    "  --token-ttl-s N        access token lifetime (default 86400)\n"
    "  --signed-url-ttl-s N   signed audio URL lifetime (default 3600)\n"
    "  --max-upload-bytes N   POST /api/transcribe upload limit (default 33554432)\n"
    "  --openai-base-url URL  OpenAI-compatible API for /api/ai/* (default https://api.openai.com/v1;\n"
    "                         a local llama.cpp or Ollama server works too); needs OPENAI_API_KEY\n"
    "  --openai-model M       chat model for /api/ai/lyrics (default gpt-4o-mini)\n"
    "  --openai-image-model M image model for /api/ai/thumbnail (default gpt-image-1)\n"
    "  --ai-timeout-s N       limit of one AI call (default 60)\n"
    "Transcription (/api/transcribe) is on when the model folder holds HeartTranscriptor-oss/.\n"
    "Environment: JWT_SECRET_KEY (default: a random key kept in DATA/jwt_secret, mode 0600),\n"
    "HEARTMULA_MODEL_PATH, HEARTMULA_VERSION, HEARTMULA_FP16, OPENAI_API_KEY.\n"
    "SIGINT / SIGTERM: the server stops taking requests, aborts running jobs (queued again) and exits.\n");
}

static volatile sig_atomic_t g_signal;
static void on_signal(int sig) {
  g_signal = sig;
  signal(sig, SIG_DFL); /* a second one stops at once */
}

static int log_message(const struct mg_connection *conn, const char *msg) {
  (void)conn;
  fprintf(stderr, "heartmula serve: http: %s\n", msg);
  return 1;
}

static void *thread_init(const struct mg_context *ctx, int type) {
  (void)ctx;
  (void)type;
  return NULL;
}
static void thread_exit(const struct mg_context *ctx, int type, void *p) {
  (void)ctx;
  (void)type;
  (void)p;
  db_reader_release();
}

static bool parse_pos(const char *flag, const char *v, int64_t lo, int64_t hi, int64_t *out) {
  int64_t n;
  if (!cli_int(flag, v, &n)) return false;
  if (n < lo || n > hi) {
    fprintf(stderr, "heartmula serve: error: %s must be in [%lld, %lld]\n", flag, (long long)lo, (long long)hi);
    return false;
  }
  *out = n;
  return true;
}

static int mkdir_p(const char *p) { return mkdir(p, 0700) == 0 || errno == EEXIST ? 0 : -1; }

/* what a killed process left half-written: every job that wrote it is queued again */
static void clean_tmp(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (unlinkat(dirfd(d), e->d_name, 0) == 0) n++;
  }
  closedir(d);
  if (n) fprintf(stderr, "heartmula serve: removed %d unfinished temporary file(s)\n", n);
}

static void read_cpu_name(char *out, size_t n) {
  snprintf(out, n, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "model name", 10)) {
      char *c = strchr(line, ':');
      if (c) {
        c++;
        while (*c == ' ') c++;
        c[strcspn(c, "\n")] = 0;
        snprintf(out, n, "%s", c);
      }
      break;
    }
  }
  fclose(f);
}

int cmd_serve(int argc, char **argv) {
  static srv_app app; /* static: the signal path and the threads see it for the whole run */
  memset(&app, 0, sizeof app);
  srv_config *c = &app.cfg;
  c->model_path = getenv("HEARTMULA_MODEL_PATH") ? getenv("HEARTMULA_MODEL_PATH") : "./ckpt";
  c->version = getenv("HEARTMULA_VERSION") ? getenv("HEARTMULA_VERSION") : "3B";
  c->host = "127.0.0.1";
  c->port = 8000;
  c->data_dir = "./data";
  c->n_workers = 1;
  c->n_threads = 0;
  c->n_http_threads = 64;
  c->memory = HM_ENGINE_KEEP;
  c->mula_weights = HM_MULA_WEIGHTS_BF16;
  c->mula_dtype_name = "bf16";
  c->web_dir = access(HM_WEB_DIR "/index.html", R_OK) == 0 ? HM_WEB_DIR : HM_WEB_INSTALL_DIR;
  srv_limits *L = &c->limits;
  L->max_body_bytes = 65536;
  L->max_lyrics_bytes = 16384;
  L->max_tags_bytes = 1024;
  L->max_title_bytes = 200;
  L->max_song_ms = 240000;
  L->max_queued_per_user = 10;
  L->login_max_failures = 5;
  L->login_window_s = 900;
  L->token_ttl_s = 86400;
  L->signed_url_ttl_s = 3600;
  L->max_attempts = 3;
  L->max_upload_bytes = 32 << 20;
  L->ai_timeout_s = 60;
  L->max_ai_prompt_bytes = 4096;
  c->openai_base_url = "https://api.openai.com/v1";
  c->openai_model = "gpt-4o-mini";
  c->openai_image_model = "gpt-image-1";
  for (int i = 1; i < argc; i++) {
    const char *v;
    int64_t n;
    if (cli_flag(argv[i], "--help", "-h")) { usage(stdout); return 0; }
    else if (cli_opt(argc, argv, &i, "--model-path", NULL, &v)) c->model_path = v;
    else if (cli_opt(argc, argv, &i, "--version", NULL, &v)) c->version = v;
    else if (cli_opt(argc, argv, &i, "--host", NULL, &v)) c->host = v;
    else if (cli_opt(argc, argv, &i, "--port", "--backend-port", &v)) { if (!parse_pos("--port", v, 0, 65535, &n)) return 2; c->port = (int)n; }
    else if (cli_opt(argc, argv, &i, "--data", NULL, &v)) c->data_dir = v;
    else if (cli_opt(argc, argv, &i, "--workers", NULL, &v)) { if (!parse_pos("--workers", v, 1, 64, &n)) return 2; c->n_workers = (int)n; }
    else if (cli_opt(argc, argv, &i, "--threads", "-t", &v)) { if (!parse_pos("--threads", v, 0, 1024, &n)) return 2; c->n_threads = (int)n; }
    else if (cli_opt(argc, argv, &i, "--http-threads", NULL, &v)) { if (!parse_pos("--http-threads", v, 4, 1024, &n)) return 2; c->n_http_threads = (int)n; }
    else if (cli_opt(argc, argv, &i, "--memory", NULL, &v)) {
      if (!strcmp(v, "keep")) c->memory = HM_ENGINE_KEEP;
      else if (!strcmp(v, "staged")) c->memory = HM_ENGINE_STAGED;
      else { fprintf(stderr, "heartmula serve: error: --memory: keep or staged, got '%s'\n", v); return 2; }
    }
    else if (cli_opt(argc, argv, &i, "--mula-dtype", "--quant", &v)) {
      if (!strcasecmp(v, "bf16")) { c->mula_weights = HM_MULA_WEIGHTS_BF16; c->mula_dtype_name = "bf16"; }
      else if (!strcasecmp(v, "f32")) { c->mula_weights = HM_MULA_WEIGHTS_F32; c->mula_dtype_name = "f32"; }
      else if (!strcasecmp(v, "q8_0")) { c->mula_weights = HM_MULA_WEIGHTS_Q8_0; c->mula_dtype_name = "q8_0"; }
      else if (!strcasecmp(v, "q4_0")) { c->mula_weights = HM_MULA_WEIGHTS_Q4_0; c->mula_dtype_name = "q4_0"; }
      else { fprintf(stderr, "heartmula serve: error: --mula-dtype: unknown '%s' (bf16, f32, q8_0, q4_0)\n", v); return 2; }
    }
    else if (cli_flag(argv[i], "--fp16", NULL)) { c->mula_weights = HM_MULA_WEIGHTS_BF16; c->mula_dtype_name = "bf16"; }
    else if (cli_opt(argc, argv, &i, "--codec-dtype", NULL, &v)) {
      if (!strcasecmp(v, "bf16")) c->codec_bf16 = true;
      else if (!strcasecmp(v, "f32")) c->codec_bf16 = false;
      else { fprintf(stderr, "heartmula serve: error: --codec-dtype: f32 or bf16, got '%s'\n", v); return 2; }
    }
    else if (cli_opt(argc, argv, &i, "--public-url", NULL, &v)) c->public_url = v;
    else if (cli_opt(argc, argv, &i, "--cors-origin", NULL, &v)) c->cors_origin = v;
    else if (cli_opt(argc, argv, &i, "--web", NULL, &v)) c->web_dir = v;
    else if (cli_opt(argc, argv, &i, "--max-body-bytes", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 1024, 1 << 26, &L->max_body_bytes)) return 2; }
    else if (cli_opt(argc, argv, &i, "--max-lyrics-bytes", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 1, 1 << 22, &L->max_lyrics_bytes)) return 2; }
    else if (cli_opt(argc, argv, &i, "--max-tags-bytes", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 1, 1 << 20, &L->max_tags_bytes)) return 2; }
    else if (cli_opt(argc, argv, &i, "--max-song-ms", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 80, 3600000, &L->max_song_ms)) return 2; }
    else if (cli_opt(argc, argv, &i, "--max-queued", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 1, 100000, &n)) return 2; L->max_queued_per_user = (int)n; }
    else if (cli_opt(argc, argv, &i, "--login-attempts", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 1, 1000, &n)) return 2; L->login_max_failures = (int)n; }
    else if (cli_opt(argc, argv, &i, "--login-window-s", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 1, 86400, &n)) return 2; L->login_window_s = (int)n; }
    else if (cli_opt(argc, argv, &i, "--token-ttl-s", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 60, 31536000, &n)) return 2; L->token_ttl_s = (int)n; }
    else if (cli_opt(argc, argv, &i, "--signed-url-ttl-s", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 10, 604800, &n)) return 2; L->signed_url_ttl_s = (int)n; }
    else if (cli_opt(argc, argv, &i, "--max-upload-bytes", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 4096, (int64_t)1 << 31, &L->max_upload_bytes)) return 2; }
    else if (cli_opt(argc, argv, &i, "--ai-timeout-s", NULL, &v)) { if (!parse_pos(argv[i - 1], v, 1, 600, &n)) return 2; L->ai_timeout_s = (int)n; }
    else if (cli_opt(argc, argv, &i, "--openai-base-url", NULL, &v)) {
      if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) { fprintf(stderr, "heartmula serve: error: --openai-base-url: an http:// or https:// URL\n"); return 2; }
      c->openai_base_url = v;
    }
    else if (cli_opt(argc, argv, &i, "--openai-model", NULL, &v)) c->openai_model = v;
    else if (cli_opt(argc, argv, &i, "--openai-image-model", NULL, &v)) c->openai_image_model = v;
    else { fprintf(stderr, "heartmula serve: error: unknown option '%s'\n\n", argv[i]); usage(stderr); return 2; }
  }
  const char *fp16 = getenv("HEARTMULA_FP16");
  if (fp16 && (!strcmp(fp16, "1") || !strcasecmp(fp16, "true"))) { c->mula_weights = HM_MULA_WEIGHTS_BF16; c->mula_dtype_name = "bf16"; }
  if (strlen(c->data_dir) > 3000) { fprintf(stderr, "heartmula serve: error: --data: path too long\n"); return 2; }

  if (mkdir_p(c->data_dir)) { fprintf(stderr, "heartmula serve: error: cannot create the data folder: %s\n", strerror(errno)); return 1; }
  snprintf(app.db_path, sizeof app.db_path, "%s/heartmula.db", c->data_dir);
  snprintf(app.audio_dir, sizeof app.audio_dir, "%s/audio", c->data_dir);
  snprintf(app.tmp_dir, sizeof app.tmp_dir, "%s/audio/tmp", c->data_dir);
  snprintf(app.upload_dir, sizeof app.upload_dir, "%s/uploads", c->data_dir);
  snprintf(app.upload_tmp_dir, sizeof app.upload_tmp_dir, "%s/uploads/tmp", c->data_dir);
  if (mkdir_p(app.audio_dir) || mkdir_p(app.tmp_dir) || mkdir_p(app.upload_dir) || mkdir_p(app.upload_tmp_dir)) {
    fprintf(stderr, "heartmula serve: error: cannot create the audio and upload folders\n");
    return 1;
  }
  clean_tmp(app.tmp_dir);
  clean_tmp(app.upload_tmp_dir);
  if (strlen(c->model_path) < 3000) {
    char wd[4096];
    snprintf(wd, sizeof wd, "%s/HeartTranscriptor-oss/config.json", c->model_path);
    if (access(wd, R_OK) == 0) snprintf(app.whisper_dir, sizeof app.whisper_dir, "%s/HeartTranscriptor-oss", c->model_path);
    snprintf(wd, sizeof wd, "%s/MuQ-MuLan-large/config.json", c->model_path);
    app.have_clap = access(wd, R_OK) == 0;
  }
  read_cpu_name(app.cpu_name, sizeof app.cpu_name);
  mg_init_library(0);
  if (!mg_check_feature(MG_FEATURES_WEBSOCKET)) {
    fprintf(stderr, "heartmula serve: error: civetweb lacks WebSocket support\n");
    return 1;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "heartmula serve: error: libcurl could not start\n");
    return 1;
  }
  int rc = 1;
  if (auth_init(&app) || db_open(&app)) goto done;
  if (ws_init(&app)) goto done;
  /* the engines check the model folder before we listen */
  if (workers_start(&app) || tr_start(&app)) goto done;

  char ports[600], nthreads[16], maxreq[16];
  if (strchr(c->host, ':')) snprintf(ports, sizeof ports, "[%s]:%d", c->host, c->port);
  else snprintf(ports, sizeof ports, "%s:%d", c->host, c->port);
  snprintf(nthreads, sizeof nthreads, "%d", c->n_http_threads);
  snprintf(maxreq, sizeof maxreq, "%d", 30000);
  const char *opts[] = {"listening_ports", ports, "num_threads", nthreads, "request_timeout_ms", maxreq,
                        "enable_keep_alive", "yes", "keep_alive_timeout_ms", "5000", "websocket_timeout_ms", "3600000",
                        "enable_websocket_ping_pong", "yes", "max_request_size", "16384", NULL};
  struct mg_callbacks cbs;
  memset(&cbs, 0, sizeof cbs);
  cbs.log_message = log_message;
  cbs.init_thread = thread_init;
  cbs.exit_thread = thread_exit;
  app.mg = mg_start(&cbs, &app, opts);
  if (!app.mg) {
    fprintf(stderr, "heartmula serve: error: cannot listen on %s (in use, or not an address of this machine)\n", ports);
    goto done;
  }
  http_register(&app);
  ws_register(&app);
  struct mg_server_port sp[4];
  int np = mg_get_server_ports(app.mg, 4, sp);
  int port = np > 0 ? sp[0].port : c->port;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  printf("heartmula serve: listening on http://%s%s%s:%d/ (model %s, %d worker%s, data %s; transcription %s, AI %s)\n",
         strchr(c->host, ':') ? "[" : "", c->host, strchr(c->host, ':') ? "]" : "", port, c->version, c->n_workers, c->n_workers > 1 ? "s" : "",
         c->data_dir, tr_available(&app) ? "on" : "off", ai_configured(&app) ? "on" : "off");
  fflush(stdout);
  while (!g_signal) usleep(100000);
  fprintf(stderr, "heartmula serve: %s: stopping (running jobs are queued again)\n",
          g_signal == SIGINT ? "SIGINT" : "SIGTERM");
  rc = 0;
done:
  workers_stop(&app); /* aborts and re-queues, joins, closes the engines */
  tr_stop(&app);
  if (app.mg) mg_stop(app.mg);
  ws_free(&app);
  db_close(&app);
  auth_free(&app);
  mg_exit_library();
  curl_global_cleanup();
  if (rc == 0) fprintf(stderr, "heartmula serve: stopped\n");
  return rc;
}
