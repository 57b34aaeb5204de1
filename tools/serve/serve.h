/* `heartmula serve`: one process = an HTTP/WebSocket front (civetweb's threads, never blocked by
 * generation), N worker threads running jobs through their own long-lived engine, and SQLite
 * (WAL) as the durable store. Only the public engine API (heartmula.h) is used.
 *
 *   serve_main.c  options, start-up, signals, drain       db.c     schema, migrations, queries
 *   auth.c        Argon2id, HS256 JWT, signed URLs, rate   http.c   routing, handlers, static files
 *   worker.c      the queue's workers, engine callbacks    ws.c     /ws/progress clients and events */
#ifndef HM_SERVE_H
#define HM_SERVE_H
#include "heartmula.h"

#include <jansson.h>
struct mg_connection;
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SRV_ID_LEN 32 /* public ids: 16 random bytes as hex */

typedef struct srv_limits {
  int64_t max_body_bytes;     /* request bodies (413 beyond) */
  int64_t max_lyrics_bytes, max_tags_bytes, max_title_bytes;
  int64_t max_song_ms;        /* max_audio_length_ms ceiling */
  int max_queued_per_user;    /* queued + running jobs per user (429 beyond) */
  int login_max_failures;     /* per account + address within login_window_s (429 + Retry-After) */
  int login_window_s;
  int token_ttl_s;            /* JWT lifetime */
  int signed_url_ttl_s;       /* audio_url lifetime */
  int max_attempts;           /* a job interrupted this many times is failed */
  int64_t max_upload_bytes;   /* POST /api/transcribe (413 beyond) */
  int ai_timeout_s;           /* a call to the OpenAI-compatible endpoint */
  int64_t max_ai_prompt_bytes;
} srv_limits;

typedef struct srv_config {
  const char *model_path, *version, *host, *data_dir, *public_url, *cors_origin, *web_dir;
  int port, n_workers, n_threads, n_http_threads;
  hm_engine_memory memory;
  hm_mula_weights mula_weights;
  const char *mula_dtype_name; /* for /api/status */
  const char *openai_base_url, *openai_model, *openai_image_model; /* AI assistance (OPENAI_API_KEY) */
  bool codec_bf16;
  srv_limits limits;
} srv_config;

/* In-memory state of a running job (what /api/queue and the socket report). */
typedef struct srv_running {
  char id[SRV_ID_LEN + 1];
  int64_t user_id;
  atomic_bool cancel;   /* DELETE asked: the engine's abort callback says stop */
  hm_stage stage;
  int64_t done, total;
  int64_t t_start_us, t_lm_start_us, lm_frames_at; /* for frames_per_s / eta */
  double frames_per_s, eta_s;
  int64_t t_last_event_us;
  bool active;
} srv_running;

typedef struct srv_app {
  srv_config cfg;
  char db_path[4096], audio_dir[4096], tmp_dir[4096];
  char upload_dir[4096], upload_tmp_dir[4096];
  char whisper_dir[4096];    /* HeartTranscriptor-oss/ of the model folder, "" when absent */
  bool have_clap;            /* MuQ-MuLan-large/ in the model folder: reference audio (ref_audio) is offered */
  unsigned char jwt_key[64];
  size_t jwt_key_len;
  unsigned char url_key[32]; /* HMAC key of signed audio URLs (derived from the JWT secret) */
  char cpu_name[128];
  sqlite3 *wdb;              /* the one writer connection (wmu) */
  pthread_mutex_t wmu;
  /* the queue */
  pthread_mutex_t qmu;
  pthread_cond_t qcv;
  srv_running *running;      /* [n_workers] */
  pthread_t *workers;
  atomic_bool stopping;
  atomic_bool model_loaded;
  struct mg_context *mg;
  struct srv_ws *ws;         /* socket clients and the event sender */
  struct srv_ratelimit *rl;
  pthread_mutex_t hash_mu;   /* Argon2id runs at most two at a time (64 MiB each) */
  pthread_cond_t hash_cv;
  int n_hashing;
} srv_app;

/* ---- db.c ---- */
int db_open(srv_app *app);           /* 0 ok; creates, migrates, re-queues interrupted jobs */
void db_close(srv_app *app);
sqlite3 *db_reader(srv_app *app);    /* this thread's read connection (opened on first use) */
void db_reader_release(void);        /* closes this thread's read connection */
/* the writer: lock, use app->wdb, unlock */
void db_wlock(srv_app *app);
void db_wunlock(srv_app *app);
void srv_now_iso(char out[32]);
void srv_random_id(char out[SRV_ID_LEN + 1]);

/* ---- auth.c ---- */
int auth_init(srv_app *app);         /* JWT secret from JWT_SECRET_KEY or DATA/jwt_secret (made 0600) */
void auth_free(srv_app *app);
int auth_hash_password(srv_app *app, const char *pw, char out[128]);
bool auth_verify_password(srv_app *app, const char *hash, const char *pw);
char *auth_make_token(srv_app *app, int64_t user_id, int64_t token_version); /* free() */
bool auth_check_token(srv_app *app, const char *token, int64_t *user_id, int64_t *token_version);
void auth_sign_url(srv_app *app, const char *kind, const char *id, int64_t exp, char out[65]);
bool auth_check_url(srv_app *app, const char *kind, const char *id, const char *exp, const char *sig);
/* login throttling: returns seconds to wait (> 0) when the key is locked */
int auth_rl_check(srv_app *app, const char *account, const char *addr);
void auth_rl_fail(srv_app *app, const char *account, const char *addr);
void auth_rl_clear(srv_app *app, const char *account, const char *addr);

/* ---- worker.c ---- */
int workers_start(srv_app *app);
void workers_stop(srv_app *app);     /* aborts running jobs (re-queued), joins */
void workers_wake(srv_app *app);
/* cancel a running job of this user; true when it was running here */
bool workers_cancel(srv_app *app, const char *id, int64_t user_id);
/* fills stage/done/total of a running job; false when not running here */
bool workers_progress(srv_app *app, const char *id, const char **stage, int64_t *done, int64_t *total, double *fps,
                      double *eta);
const char *srv_stage_name(hm_stage s);
const char *srv_content_type(const char *format);

/* ---- ws.c ---- */
int ws_init(srv_app *app);
void ws_register(srv_app *app);      /* installs the /ws/progress handler on app->mg */
void ws_free(srv_app *app);
/* events for one user's sockets (the object is consumed) */
void ws_event(srv_app *app, int64_t user_id, json_t *event);
/* live audio: a binary frame for the owner's sockets */
void ws_audio(srv_app *app, int64_t user_id, const char *id, const float *planar, int64_t n, int64_t first,
              int sample_rate);
void ws_revoke_user(srv_app *app, int64_t user_id); /* logout: the user's sockets get no more events */

/* ---- transcribe.c ---- */
bool tr_available(srv_app *app);     /* a HeartTranscriptor folder was found at start */
int tr_start(srv_app *app);          /* the transcriber thread (none without a model) */
void tr_stop(srv_app *app);          /* after workers_stop (app->stopping set, waiters woken) */
bool tr_cancel(srv_app *app, const char *id, int64_t user_id);
const char *tr_sniff(const unsigned char *b, size_t n);
int tr_receive(srv_app *app, struct mg_connection *conn, const char *id, char *filename, size_t fnsz, char *language,
               size_t lsz, char *stored, size_t ssz, const char **code, const char **msg, const char **field);

/* ---- ai.c ---- */
bool ai_configured(srv_app *app);
/* one chat completion: the reply's text (free()), or NULL with err set (no secrets in it) */
char *ai_chat(srv_app *app, const char *system, const char *user, char *err, size_t errsz);
/* one image: PNG bytes (free()), or NULL with err set */
unsigned char *ai_image(srv_app *app, const char *prompt, size_t *n, char *err, size_t errsz);

/* ---- thumb.c ---- */
#define THUMB_W 640
#define THUMB_H 240
typedef struct srv_thumb srv_thumb;
srv_thumb *thumb_new(int64_t max_samples);     /* NULL: out of memory */
void thumb_feed(srv_thumb *t, const float *planar_stereo, int64_t n); /* the song's samples, in order */
int thumb_write_png(srv_thumb *t, const char *path); /* 0 ok (not yet fsync'ed) */
void thumb_free(srv_thumb *t);

/* ---- http.c ---- */
void http_register(srv_app *app);
/* http.c: a bearer token's user (false: bad, expired or revoked); short-lived signed URLs of a song's files */
bool srv_auth_token(srv_app *app, const char *token, int64_t *user_id);
char *srv_audio_url(srv_app *app, const char *id);
char *srv_thumbnail_url(srv_app *app, const char *id);

#endif
