/* Transcription jobs (POST /api/transcribe): an uploaded audio file is stored (temporary name,
 * fsync, rename) and a row queued; one transcriber thread claims rows in order, runs the library's
 * Whisper (HeartTranscriptor-oss/ of the model folder, loaded at the first job and kept), and stores
 * the transcript as text, LRC, SRT, WebVTT and JSON in the row. The upload is removed once the job
 * has ended. A job interrupted by a crash is queued again (failed after max_attempts); one
 * interrupted by SIGINT/SIGTERM is queued again without spending an attempt. */
#include "serve/serve.h"

#include <civetweb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

typedef struct tr_state {
  pthread_t thread;
  bool started;
  hm_whisper_model *model;
  char running_id[SRV_ID_LEN + 1]; /* under app->qmu */
  int64_t running_user;
  atomic_bool cancel;
  int64_t t_last_event_us;
} tr_state;

static tr_state g_tr;

bool tr_available(srv_app *app) { return app->whisper_dir[0] != 0; }

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void tr_event(srv_app *app, int64_t uid, const char *id, const char *status, const char *error) {
  json_t *e = json_pack("{s:s, s:s, s:s}", "type", "transcription", "id", id, "status", status);
  if (error) json_object_set_new(e, "error", json_string(error));
  ws_event(app, uid, e);
}

static void on_progress(void *ud, int64_t done, int64_t total) {
  srv_app *app = ud;
  int64_t t = now_us();
  if (done != total && t - g_tr.t_last_event_us < 250000) return;
  g_tr.t_last_event_us = t;
  char id[SRV_ID_LEN + 1];
  pthread_mutex_lock(&app->qmu);
  snprintf(id, sizeof id, "%s", g_tr.running_id);
  int64_t uid = g_tr.running_user;
  pthread_mutex_unlock(&app->qmu);
  json_t *e = json_pack("{s:s, s:s, s:s, s:I, s:I}", "type", "transcription", "id", id, "status", "running", "done",
                        (json_int_t)done, "total", (json_int_t)total);
  ws_event(app, uid, e);
}

static bool on_abort(void *ud) {
  srv_app *app = ud;
  return atomic_load(&g_tr.cancel) || atomic_load(&app->stopping);
}

static bool exec_row(srv_app *app, const char *sql, const char *id, const char *a, const char *b, const char *c,
                     const char *d, const char *e, const char *f, double x) {
  char now[32];
  srv_now_iso(now);
  db_wlock(app);
  sqlite3_stmt *st = NULL;
  bool changed = false;
  if (sqlite3_prepare_v2(app->wdb, sql, -1, &st, NULL) == SQLITE_OK) {
    const char *v[] = {id, now, a, b, c, d, e, f};
    for (int i = 0; i < 8; i++)
      if (v[i]) sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 9, x);
    changed = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(app->wdb) > 0;
  }
  sqlite3_finalize(st);
  db_wunlock(app);
  return changed;
}

typedef struct tr_claim {
  char id[SRV_ID_LEN + 1];
  int64_t user_id;
  char file[128], language[16];
} tr_claim;

static bool claim(srv_app *app, tr_claim *c) {
  char now[32];
  srv_now_iso(now);
  bool got = false;
  db_wlock(app);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(app->wdb,
                         "UPDATE transcriptions SET status='running', attempts=attempts+1, started_at=?1 "
                         "WHERE rid=(SELECT rid FROM transcriptions WHERE status='queued' ORDER BY rid LIMIT 1) "
                         "RETURNING id, user_id, upload_file, language",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char *f = sqlite3_column_text(st, 2), *l = sqlite3_column_text(st, 3);
      snprintf(c->id, sizeof c->id, "%s", (const char *)sqlite3_column_text(st, 0));
      c->user_id = sqlite3_column_int64(st, 1);
      snprintf(c->file, sizeof c->file, "%s", f ? (const char *)f : "");
      snprintf(c->language, sizeof c->language, "%s", l ? (const char *)l : "");
      got = true;
      while (sqlite3_step(st) == SQLITE_ROW) {}
    }
  }
  sqlite3_finalize(st);
  db_wunlock(app);
  return got;
}

static void run(srv_app *app, tr_claim *c) {
  pthread_mutex_lock(&app->qmu);
  snprintf(g_tr.running_id, sizeof g_tr.running_id, "%s", c->id);
  g_tr.running_user = c->user_id;
  atomic_store(&g_tr.cancel, false);
  pthread_mutex_unlock(&app->qmu);
  tr_event(app, c->user_id, c->id, "running", NULL);
  char err[1024] = "", path[4400];
  snprintf(path, sizeof path, "%s/%s", app->upload_dir, c->file);
  hm_status st = HM_OK;
  if (!c->file[0] || strchr(c->file, '/')) {
    st = HM_ERR_IO;
    snprintf(err, sizeof err, "the upload is gone");
  }
  if (st == HM_OK && !g_tr.model) {
    st = hm_whisper_load(app->whisper_dir, &g_tr.model);
    if (st != HM_OK) snprintf(err, sizeof err, "could not load the transcription model: %s", hm_status_str(st));
  }
  hm_transcript *t = NULL;
  if (st == HM_OK) {
    hm_whisper_params p = hm_whisper_default_params();
    p.timestamps = true;
    p.n_threads = app->cfg.n_threads;
    if (c->language[0]) p.language = c->language;
    st = hm_whisper_transcribe_file(g_tr.model, path, &p, on_progress, on_abort, app, &t);
    if (st != HM_OK && st != HM_ERR_ABORTED) {
      /* the library's message names the file: say "the upload" instead of our path */
      snprintf(err, sizeof err, "%s: the upload could not be transcribed", hm_status_str(st));
    }
  }
  char *out[5] = {NULL, NULL, NULL, NULL, NULL};
  static const char *const fmts[5] = {"txt", "lrc", "srt", "vtt", "json"};
  if (st == HM_OK) {
    for (int i = 0; i < 5 && st == HM_OK; i++) st = hm_transcript_format(t, fmts[i], &out[i]);
    if (st != HM_OK) snprintf(err, sizeof err, "could not format the transcript");
  }
  bool cancelled = atomic_load(&g_tr.cancel);
  if (st == HM_OK) {
    if (exec_row(app,
                 "UPDATE transcriptions SET status='done', finished_at=?2, text=?3, lrc=?4, srt=?5, vtt=?6, json=?7, "
                 "upload_file=NULL, duration_s=?9, error=NULL WHERE id=?1 AND status='running'",
                 c->id, out[0], out[1], out[2], out[3], out[4], NULL, t->duration_s))
      tr_event(app, c->user_id, c->id, "done", NULL);
    unlink(path);
  } else if (st == HM_ERR_ABORTED && !cancelled && atomic_load(&app->stopping)) {
    exec_row(app,
             "UPDATE transcriptions SET status='queued', started_at=NULL, attempts=MAX(attempts-1,0) "
             "WHERE id=?1 AND status='running'",
             c->id, NULL, NULL, NULL, NULL, NULL, NULL, 0);
  } else if (st == HM_ERR_ABORTED) {
    unlink(path); /* cancelled or deleted: the HTTP side set the row */
  } else {
    if (exec_row(app,
                 "UPDATE transcriptions SET status='failed', finished_at=?2, error=?3, upload_file=NULL "
                 "WHERE id=?1 AND status='running'",
                 c->id, err, NULL, NULL, NULL, NULL, NULL, 0))
      tr_event(app, c->user_id, c->id, "failed", err);
    unlink(path);
  }
  for (int i = 0; i < 5; i++) free(out[i]);
  hm_transcript_free(t);
  pthread_mutex_lock(&app->qmu);
  g_tr.running_id[0] = 0;
  g_tr.running_user = 0;
  pthread_mutex_unlock(&app->qmu);
}

static void *tr_main(void *arg) {
  srv_app *app = arg;
  while (!atomic_load(&app->stopping)) {
    tr_claim c;
    memset(&c, 0, sizeof c);
    if (claim(app, &c)) {
      run(app, &c);
      continue;
    }
    pthread_mutex_lock(&app->qmu);
    if (!atomic_load(&app->stopping)) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1;
      pthread_cond_timedwait(&app->qcv, &app->qmu, &ts);
    }
    pthread_mutex_unlock(&app->qmu);
  }
  db_reader_release();
  return NULL;
}

int tr_start(srv_app *app) {
  if (!tr_available(app)) return 0;
  if (pthread_create(&g_tr.thread, NULL, tr_main, app)) return -1;
  g_tr.started = true;
  return 0;
}

void tr_stop(srv_app *app) {
  (void)app;
  if (g_tr.started) pthread_join(g_tr.thread, NULL);
  g_tr.started = false;
  hm_whisper_free(g_tr.model);
  g_tr.model = NULL;
}

bool tr_cancel(srv_app *app, const char *id, int64_t user_id) {
  bool hit = false;
  pthread_mutex_lock(&app->qmu);
  if (g_tr.running_user == user_id && !strcmp(g_tr.running_id, id)) {
    atomic_store(&g_tr.cancel, true);
    hit = true;
  }
  pthread_mutex_unlock(&app->qmu);
  return hit;
}

/* ---- the upload: multipart/form-data with a "file" part and an optional "language" part ---- */

typedef struct upload {
  srv_app *app;
  int fd;
  int64_t bytes, limit;
  bool too_large, io_error, got_file;
  char filename[256];
  char language[32];
  int n_fields;
} upload;

static int up_found(const char *key, const char *filename, char *path, size_t pathlen, void *ud) {
  (void)path;
  (void)pathlen;
  upload *u = ud;
  if (++u->n_fields > 8) return MG_FORM_FIELD_STORAGE_ABORT;
  if (!strcmp(key, "file") && filename && !u->got_file) {
    u->got_file = true;
    /* the name is shown to its owner only: keep printable ASCII and UTF-8, drop folders */
    const char *base = strrchr(filename, '/');
    base = base ? base + 1 : filename;
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)base; *p && k + 1 < sizeof u->filename; p++)
      if (*p >= 0x20 && *p != 0x7f && *p != '\\') u->filename[k++] = (char)*p;
    u->filename[k] = 0;
    if (!k) snprintf(u->filename, sizeof u->filename, "upload");
    return MG_FORM_FIELD_STORAGE_GET;
  }
  if (!strcmp(key, "language")) return MG_FORM_FIELD_STORAGE_GET;
  return MG_FORM_FIELD_STORAGE_SKIP;
}

static int up_get(const char *key, const char *value, size_t len, void *ud) {
  upload *u = ud;
  if (!strcmp(key, "language")) {
    size_t have = strlen(u->language);
    if (have + len >= sizeof u->language) {
      u->language[0] = '?'; /* invalid: reported below */
      u->language[1] = 0;
      return MG_FORM_FIELD_HANDLE_NEXT;
    }
    memcpy(u->language + have, value, len);
    u->language[have + len] = 0;
    return MG_FORM_FIELD_HANDLE_GET;
  }
  if (u->bytes + (int64_t)len > u->limit) {
    u->too_large = true;
    return MG_FORM_FIELD_HANDLE_ABORT;
  }
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(u->fd, value + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      u->io_error = true;
      return MG_FORM_FIELD_HANDLE_ABORT;
    }
    off += (size_t)w;
  }
  u->bytes += (int64_t)len;
  return MG_FORM_FIELD_HANDLE_GET;
}

static int up_store(const char *path, long long size, void *ud) {
  (void)path;
  (void)size;
  (void)ud;
  return MG_FORM_FIELD_HANDLE_NEXT;
}

/* the container by its first bytes; NULL: not an audio file we read */
const char *tr_sniff(const unsigned char *b, size_t n) {
  if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WAVE", 4)) return "wav";
  if (n >= 4 && !memcmp(b, "fLaC", 4)) return "flac";
  if (n >= 4 && !memcmp(b, "OggS", 4)) return "ogg";
  if (n >= 12 && !memcmp(b, "FORM", 4) && (!memcmp(b + 8, "AIFF", 4) || !memcmp(b + 8, "AIFC", 4))) return "aiff";
  if (n >= 3 && !memcmp(b, "ID3", 3)) return "mp3";
  if (n >= 2 && b[0] == 0xff && (b[1] & 0xe0) == 0xe0 && (b[1] & 0x06) != 0) return "mp3";
  return NULL;
}

/* Reads the request's upload into DATA/uploads/tmp/ID.upload. Returns 0 ok, else an HTTP status
 * with *code / *msg / *field set. */
int tr_receive(srv_app *app, struct mg_connection *conn, const char *id, char *filename, size_t fnsz, char *language,
               size_t lsz, char *stored, size_t ssz, const char **code, const char **msg, const char **field) {
  const struct mg_request_info *ri = mg_get_request_info(conn);
  int64_t limit = app->cfg.limits.max_upload_bytes;
  *field = "file";
  const char *ct = mg_get_header(conn, "Content-Type");
  if (!ct || strncasecmp(ct, "multipart/form-data", 19)) {
    *code = "invalid_field";
    *msg = "send the audio as multipart/form-data with a \"file\" part";
    return 400;
  }
  if (ri->content_length > limit + 65536) {
    *code = "too_large";
    *msg = "the upload is larger than this server accepts";
    return 413;
  }
  char tmp[4400], final[4400];
  snprintf(tmp, sizeof tmp, "%s/%s.upload", app->upload_tmp_dir, id);
  upload u;
  memset(&u, 0, sizeof u);
  u.app = app;
  u.limit = limit;
  u.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (u.fd < 0) {
    *code = "internal";
    *msg = "cannot store the upload";
    *field = NULL;
    return 500;
  }
  struct mg_form_data_handler h = {up_found, up_get, up_store, &u};
  mg_handle_form_request(conn, &h);
  int rc = 0;
  unsigned char head[16];
  ssize_t hn = u.bytes > 0 ? pread(u.fd, head, sizeof head, 0) : 0;
  const char *kind = hn > 0 ? tr_sniff(head, (size_t)hn) : NULL;
  if (u.too_large) {
    *code = "too_large";
    *msg = "the upload is larger than this server accepts";
    rc = 413;
  } else if (u.io_error || fsync(u.fd) != 0) {
    *code = "internal";
    *msg = "cannot store the upload";
    *field = NULL;
    rc = 500;
  } else if (!u.got_file || u.bytes == 0) {
    *code = "invalid_field";
    *msg = "a non-empty \"file\" part is required";
    rc = 400;
  } else if (!kind) {
    *code = "invalid_field";
    *msg = "not an audio file this server reads (WAV, FLAC, Ogg, MP3, AIFF)";
    rc = 400;
  }
  if (!rc && u.language[0]) {
    bool ok = strlen(u.language) <= 8;
    for (const char *p = u.language; *p && ok; p++) ok = (*p >= 'a' && *p <= 'z') || *p == '-';
    if (!ok) {
      *code = "invalid_field";
      *msg = "language: a Whisper language code (en, de, ...) or auto";
      *field = "language";
      rc = 400;
    }
  }
  close(u.fd);
  if (!rc) {
    snprintf(stored, ssz, "%s.%s", id, kind);
    snprintf(final, sizeof final, "%s/%s", app->upload_dir, stored);
    int dfd = -1;
    if (rename(tmp, final) != 0 || (dfd = open(app->upload_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fsync(dfd) != 0) {
      *code = "internal";
      *msg = "cannot store the upload";
      *field = NULL;
      rc = 500;
      unlink(final);
    }
    if (dfd >= 0) close(dfd);
  }
  if (rc) unlink(tmp);
  snprintf(filename, fnsz, "%s", u.filename);
  snprintf(language, lsz, "%s", !strcmp(u.language, "auto") ? "auto" : u.language);
  return rc;
}
