/* The REST API and the static UI over civetweb's request threads. Every handler validates what it
 * reads (sizes, types, ids), answers errors as {"error": {"code", "message", "field"}}, never
 * waits on generation, and scopes every query of user data by the caller's id (a foreign id is a
 * 404, like a missing one). */
#include "serve/serve.h"

#include <civetweb.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct req {
  srv_app *app;
  struct mg_connection *conn;
  const struct mg_request_info *ri;
  const char *method, *path;
  int64_t uid; /* authenticated user, 0: none */
} req;

static const char CSP[] =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
  "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

static void common_headers(req *q, const char *ctype, long long len, bool cache) {
  char n[32];
  if (ctype) mg_response_header_add(q->conn, "Content-Type", ctype, -1);
  if (len >= 0) {
    snprintf(n, sizeof n, "%lld", len);
    mg_response_header_add(q->conn, "Content-Length", n, -1);
  }
  mg_response_header_add(q->conn, "X-Content-Type-Options", "nosniff", -1);
  mg_response_header_add(q->conn, "Referrer-Policy", "no-referrer", -1);
  mg_response_header_add(q->conn, "X-Frame-Options", "DENY", -1);
  mg_response_header_add(q->conn, "Content-Security-Policy", CSP, -1);
  mg_response_header_add(q->conn, "Cross-Origin-Opener-Policy", "same-origin", -1);
  mg_response_header_add(q->conn, "Cache-Control", cache ? "no-cache" : "no-store", -1);
  const char *co = q->app->cfg.cors_origin;
  if (co && *co) {
    const char *origin = mg_get_header(q->conn, "Origin");
    if (origin && !strcmp(origin, co)) {
      mg_response_header_add(q->conn, "Access-Control-Allow-Origin", co, -1);
      mg_response_header_add(q->conn, "Vary", "Origin", -1);
    }
  }
}

static int send_body(req *q, int status, const char *ctype, const char *body, size_t len, const char *extra_name,
                     const char *extra_value) {
  mg_response_header_start(q->conn, status);
  common_headers(q, ctype, (long long)len, false);
  if (extra_name) mg_response_header_add(q->conn, extra_name, extra_value, -1);
  mg_response_header_send(q->conn);
  if (len && strcmp(q->method, "HEAD")) mg_write(q->conn, body, len);
  return status;
}

static int send_json(req *q, int status, json_t *j) {
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!s) return send_body(q, 500, "application/json", "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}", 54, NULL, NULL);
  int rc = send_body(q, status, "application/json", s, strlen(s), NULL, NULL);
  free(s);
  return rc;
}

static int send_error_h(req *q, int status, const char *code, const char *msg, const char *field, const char *hname,
                        const char *hval) {
  json_t *e = json_pack("{s:s, s:s}", "code", code, "message", msg);
  json_object_set_new(e, "field", field ? json_string(field) : json_null());
  json_t *j = json_pack("{s:o}", "error", e);
  char *s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  int rc = send_body(q, status, "application/json", s ? s : "{}", s ? strlen(s) : 2, hname, hval);
  free(s);
  return rc;
}

static int send_error(req *q, int status, const char *code, const char *msg, const char *field) {
  return send_error_h(q, status, code, msg, field, NULL, NULL);
}

static int not_found(req *q) { return send_error(q, 404, "not_found", "no such item", NULL); }
static int bad_field(req *q, const char *field, const char *msg) { return send_error(q, 400, "invalid_field", msg, field); }
static int db_error(req *q) { return send_error(q, 500, "internal", "database error", NULL); }

/* ---- request bodies ---- */

/* Reads the JSON object body; on failure the error was sent and *status holds it. */
static json_t *read_json(req *q, int *status) {
  int64_t max = q->app->cfg.limits.max_body_bytes;
  long long cl = q->ri->content_length;
  if (cl > max) {
    *status = send_error(q, 413, "too_large", "request body too large", NULL);
    return NULL;
  }
  size_t cap = (size_t)max + 1, n = 0;
  char *buf = malloc(cap);
  if (!buf) {
    *status = send_error(q, 500, "internal", "out of memory", NULL);
    return NULL;
  }
  for (;;) {
    int r = mg_read(q->conn, buf + n, cap - n);
    if (r <= 0) break;
    n += (size_t)r;
    if (n >= cap) break;
  }
  if ((int64_t)n > max) {
    free(buf);
    *status = send_error(q, 413, "too_large", "request body too large", NULL);
    return NULL;
  }
  json_error_t je;
  json_t *j = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &je);
  free(buf);
  if (!j || !json_is_object(j)) {
    json_decref(j);
    *status = send_error(q, 400, "invalid_json", "the body must be a JSON object", NULL);
    return NULL;
  }
  return j;
}

/* Fields outside `allowed` (NULL-terminated) are an error naming the first one. */
static const char *unknown_field(json_t *j, const char *const *allowed) {
  const char *k;
  json_t *v;
  json_object_foreach(j, k, v) {
    bool ok = false;
    for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(k, allowed[i]);
    if (!ok) return k;
  }
  return NULL;
}

/* ---- auth ---- */

static bool user_version(srv_app *app, int64_t uid, int64_t *ver) {
  sqlite3 *db = db_reader(app);
  sqlite3_stmt *st;
  bool ok = false;
  if (db && sqlite3_prepare_v2(db, "SELECT token_version FROM users WHERE id=?1", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, uid);
    if (sqlite3_step(st) == SQLITE_ROW) {
      *ver = sqlite3_column_int64(st, 0);
      ok = true;
    }
    sqlite3_finalize(st);
  }
  return ok;
}

bool srv_auth_token(srv_app *app, const char *token, int64_t *user_id) {
  int64_t uid, ver, cur;
  if (!auth_check_token(app, token, &uid, &ver)) return false;
  if (!user_version(app, uid, &cur) || cur != ver) return false;
  *user_id = uid;
  return true;
}

static bool authenticate(req *q) {
  const char *h = mg_get_header(q->conn, "Authorization");
  if (!h || strncasecmp(h, "Bearer ", 7)) return false;
  h += 7;
  while (*h == ' ') h++;
  return srv_auth_token(q->app, h, &q->uid);
}

static int need_auth(req *q) {
  return send_error_h(q, 401, "unauthorized", "a valid bearer token is required", NULL, "WWW-Authenticate", "Bearer");
}

/* ---- helpers ---- */

static bool valid_id(const char *s) {
  size_t n = 0;
  for (; s[n]; n++)
    if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return false;
  return n == SRV_ID_LEN;
}

static const char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : NULL;
}

static json_t *json_str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* a signed link to one of a generation's files: kind "audio" or "thumbnail" */
static char *signed_url(srv_app *app, const char *kind, const char *id) {
  int64_t exp = (int64_t)time(NULL) + app->cfg.limits.signed_url_ttl_s;
  char sig[65];
  auth_sign_url(app, kind, id, exp, sig);
  const char *base = app->cfg.public_url ? app->cfg.public_url : "";
  size_t bl = strlen(base);
  while (bl && base[bl - 1] == '/') bl--;
  size_t n = bl + 200;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%.*s/api/%s/%s?exp=%lld&sig=%s", (int)bl, base, kind, id, (long long)exp, sig);
  return s;
}

char *srv_audio_url(srv_app *app, const char *id) { return signed_url(app, "audio", id); }
char *srv_thumbnail_url(srv_app *app, const char *id) { return signed_url(app, "thumbnail", id); }

/* ---- /api/status ---- */

static int h_status(req *q) {
  srv_app *app = q->app;
  int64_t qlen = 0;
  sqlite3 *db = db_reader(app);
  sqlite3_stmt *st;
  if (db && sqlite3_prepare_v2(db, "SELECT count(*) FROM generations WHERE status IN ('queued','running')", -1, &st,
                               NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) qlen = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  json_t *j = json_pack("{s:b, s:s, s:s, s:s, s:i, s:s, s:I, s:i, s:s, s:b, s:b, s:b}", "model_loaded",
                        atomic_load(&app->model_loaded), "version", app->cfg.version, "mula_dtype",
                        app->cfg.mula_dtype_name, "codec_dtype", app->cfg.codec_bf16 ? "bf16" : "f32", "threads",
                        app->cfg.n_threads > 0 ? app->cfg.n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN), "cpu", app->cpu_name, "queue_length", (json_int_t)qlen, "workers",
                        app->cfg.n_workers, "server_version", HM_VERSION_STRING, "transcription", tr_available(app), "ai",
                        ai_configured(app), "reference_audio", app->have_clap);
  return send_json(q, 200, j);
}

/* ---- accounts ---- */

static bool valid_username(const char *s) {
  size_t n = strlen(s);
  if (n < 3 || n > 32) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') return false;
  return true;
}

static bool valid_email(const char *s) {
  size_t n = strlen(s);
  if (n < 3 || n > 254) return false;
  const char *at = strchr(s, '@');
  if (!at || at == s || !at[1] || strchr(at + 1, '@')) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == '<' || s[i] == '>' || s[i] == '"') return false;
  return true;
}

static json_t *user_json(sqlite3_stmt *st) { /* id, username, email, created_at */
  return json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0), "username", col_text(st, 1),
                   "email", col_text(st, 2), "created_at", col_text(st, 3));
}

static int h_register(req *q) {
  int status = 0;
  json_t *j = read_json(q, &status);
  if (!j) return status;
  static const char *const allowed[] = {"username", "email", "password", NULL};
  const char *uk = unknown_field(j, allowed);
  const char *user = json_string_value(json_object_get(j, "username"));
  const char *email = json_string_value(json_object_get(j, "email"));
  const char *pw = json_string_value(json_object_get(j, "password"));
  int rc;
  if (uk) rc = bad_field(q, uk, "unknown field");
  else if (!user || !valid_username(user)) rc = bad_field(q, "username", "username: 3 to 32 letters, digits, '_', '-' or '.'");
  else if (!email || !valid_email(email)) rc = bad_field(q, "email", "email: a valid address is required");
  else if (!pw || strlen(pw) < 8 || strlen(pw) > 256) rc = bad_field(q, "password", "password: 8 to 256 characters");
  else {
    char hash[128], now[32];
    if (auth_hash_password(q->app, pw, hash)) {
      json_decref(j);
      return send_error(q, 500, "internal", "could not hash the password", NULL);
    }
    srv_now_iso(now);
    db_wlock(q->app);
    sqlite3_stmt *st = NULL;
    int sr = SQLITE_ERROR;
    if (sqlite3_prepare_v2(q->app->wdb,
                           "INSERT INTO users(username, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4) "
                           "RETURNING id, username, email, created_at",
                           -1, &st, NULL) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
      sr = sqlite3_step(st);
    }
    json_t *out = sr == SQLITE_ROW ? user_json(st) : NULL;
    if (sr == SQLITE_ROW) while (sqlite3_step(st) == SQLITE_ROW) {}
    sqlite3_finalize(st);
    db_wunlock(q->app);
    if (out) rc = send_json(q, 201, out);
    else if ((sr & 0xff) == SQLITE_CONSTRAINT) {
      /* which one: ask (case-insensitive) */
      sqlite3 *db = db_reader(q->app);
      bool name_taken = false;
      if (db && sqlite3_prepare_v2(db, "SELECT 1 FROM users WHERE username=?1 COLLATE NOCASE", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
        name_taken = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
      }
      rc = send_error(q, 409, "conflict", name_taken ? "username already taken" : "email already registered",
                      name_taken ? "username" : "email");
    } else rc = db_error(q);
  }
  json_decref(j);
  return rc;
}

static int h_login(req *q) {
  int status = 0;
  json_t *j = read_json(q, &status);
  if (!j) return status;
  static const char *const allowed[] = {"username", "password", NULL};
  const char *uk = unknown_field(j, allowed);
  const char *user = json_string_value(json_object_get(j, "username"));
  const char *pw = json_string_value(json_object_get(j, "password"));
  int rc;
  if (uk) rc = bad_field(q, uk, "unknown field");
  else if (!user || !*user || strlen(user) > 254) rc = bad_field(q, "username", "username (or email) is required");
  else if (!pw || !*pw || strlen(pw) > 256) rc = bad_field(q, "password", "password is required");
  else {
    const char *addr = q->ri->remote_addr;
    int wait = auth_rl_check(q->app, user, addr);
    if (wait > 0) {
      char ra[32];
      snprintf(ra, sizeof ra, "%d", wait);
      json_decref(j);
      return send_error_h(q, 429, "too_many_attempts", "too many failed logins; try again later", NULL, "Retry-After", ra);
    }
    sqlite3 *db = db_reader(q->app);
    sqlite3_stmt *st;
    char *hash = NULL;
    int64_t uid = 0, ver = 0;
    if (db && sqlite3_prepare_v2(db,
                                 "SELECT id, password_hash, token_version FROM users "
                                 "WHERE username=?1 COLLATE NOCASE OR email=?1 COLLATE NOCASE LIMIT 1",
                                 -1, &st, NULL) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, user, -1, SQLITE_STATIC);
      if (sqlite3_step(st) == SQLITE_ROW) {
        uid = sqlite3_column_int64(st, 0);
        hash = strdup(col_text(st, 1));
        ver = sqlite3_column_int64(st, 2);
      }
      sqlite3_finalize(st);
    }
    bool ok = auth_verify_password(q->app, hash, pw) && uid > 0;
    free(hash);
    if (!ok) {
      auth_rl_fail(q->app, user, addr);
      rc = send_error(q, 401, "invalid_credentials", "wrong username or password", NULL);
    } else {
      auth_rl_clear(q->app, user, addr);
      char *tok = auth_make_token(q->app, uid, ver);
      if (!tok) rc = send_error(q, 500, "internal", "could not make a token", NULL);
      else {
        rc = send_json(q, 200, json_pack("{s:s, s:s, s:i}", "access_token", tok, "token_type", "bearer", "expires_in",
                                         q->app->cfg.limits.token_ttl_s));
        free(tok);
      }
    }
  }
  json_decref(j);
  return rc;
}

static int h_me(req *q) {
  sqlite3 *db = db_reader(q->app);
  sqlite3_stmt *st;
  if (!db || sqlite3_prepare_v2(db, "SELECT id, username, email, created_at FROM users WHERE id=?1", -1, &st, NULL))
    return db_error(q);
  sqlite3_bind_int64(st, 1, q->uid);
  json_t *u = sqlite3_step(st) == SQLITE_ROW ? user_json(st) : NULL;
  sqlite3_finalize(st);
  return u ? send_json(q, 200, u) : not_found(q);
}

static int h_logout(req *q) {
  db_wlock(q->app);
  sqlite3_stmt *st;
  bool ok = false;
  if (sqlite3_prepare_v2(q->app->wdb, "UPDATE users SET token_version=token_version+1 WHERE id=?1", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_int64(st, 1, q->uid);
    ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
  }
  db_wunlock(q->app);
  if (!ok) return db_error(q);
  ws_revoke_user(q->app, q->uid);
  return send_body(q, 204, NULL, NULL, 0, NULL, NULL);
}

/* ---- generate ---- */

/* an integer field within [lo, hi]; absent: def. false: the error was sent */
static bool int_field(req *q, json_t *j, const char *name, int64_t lo, int64_t hi, int64_t def, int64_t *out, int *rc) {
  json_t *v = json_object_get(j, name);
  if (!v || json_is_null(v)) {
    *out = def;
    return true;
  }
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: an integer in [%lld, %lld]", name, (long long)lo, (long long)hi);
    *rc = bad_field(q, name, msg);
    return false;
  }
  *out = json_integer_value(v);
  return true;
}

static bool num_field(req *q, json_t *j, const char *name, double lo, double hi, double def, double *out, int *rc) {
  json_t *v = json_object_get(j, name);
  if (!v || json_is_null(v)) {
    *out = def;
    return true;
  }
  if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s: a number in [%g, %g]", name, lo, hi);
    *rc = bad_field(q, name, msg);
    return false;
  }
  *out = json_number_value(v);
  return true;
}

static bool text_field(req *q, json_t *j, const char *name, bool required, bool nonblank, int64_t max, const char **out,
                       int *rc) {
  json_t *v = json_object_get(j, name);
  char msg[160];
  if (!v || json_is_null(v)) {
    if (required) {
      snprintf(msg, sizeof msg, "%s is required", name);
      *rc = bad_field(q, name, msg);
      return false;
    }
    *out = NULL;
    return true;
  }
  if (!json_is_string(v)) {
    snprintf(msg, sizeof msg, "%s: must be a string", name);
    *rc = bad_field(q, name, msg);
    return false;
  }
  const char *s = json_string_value(v);
  if ((int64_t)json_string_length(v) > max) {
    snprintf(msg, sizeof msg, "%s: longer than %lld bytes", name, (long long)max);
    *rc = send_error(q, 413, "too_large", msg, name);
    return false;
  }
  if (nonblank) {
    bool blank = true;
    for (const char *p = s; *p && blank; p++) blank = isspace((unsigned char)*p);
    if (blank) {
      snprintf(msg, sizeof msg, "%s: must not be blank", name);
      *rc = bad_field(q, name, msg);
      return false;
    }
  }
  *out = s;
  return true;
}

static int64_t count_active(srv_app *app, int64_t uid) {
  sqlite3 *db = db_reader(app);
  sqlite3_stmt *st;
  int64_t n = 0;
  if (db && sqlite3_prepare_v2(db, "SELECT count(*) FROM generations WHERE user_id=?1 AND status IN ('queued','running')",
                               -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, uid);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  return n;
}

static int h_generate(req *q) {
  srv_app *app = q->app;
  const srv_limits *L = &app->cfg.limits;
  int status = 0, rc = 0;
  json_t *j = read_json(q, &status);
  if (!j) return status;
  static const char *const allowed[] = {"lyrics", "tags", "title", "max_audio_length_ms", "topk", "temperature",
                                        "cfg_scale", "codec_steps", "codec_guidance", "seed", "format",
                                        "continue_from", "ref_audio", "ref_strength", NULL};
  const char *uk = unknown_field(j, allowed);
  const char *lyrics, *tags, *title, *format, *cont, *ref;
  int64_t max_ms, topk, steps, seed;
  double temp, cfg, guid, ref_strength;
  char ref_file[SRV_ID_LEN + 16] = "";
  if (uk) {
    rc = bad_field(q, uk, "unknown field");
    goto out;
  }
  if (!text_field(q, j, "lyrics", true, true, L->max_lyrics_bytes, &lyrics, &rc) ||
      !text_field(q, j, "tags", true, false, L->max_tags_bytes, &tags, &rc) ||
      !text_field(q, j, "title", false, false, L->max_title_bytes, &title, &rc) ||
      !text_field(q, j, "format", false, false, 8, &format, &rc) ||
      !text_field(q, j, "continue_from", false, false, 64, &cont, &rc) ||
      !text_field(q, j, "ref_audio", false, false, 64, &ref, &rc) ||
      !num_field(q, j, "ref_strength", 0.0, 10.0, 1.0, &ref_strength, &rc) ||
      !int_field(q, j, "max_audio_length_ms", 80, L->max_song_ms, L->max_song_ms < 240000 ? L->max_song_ms : 240000,
                 &max_ms, &rc) ||
      !int_field(q, j, "topk", 1, 8192, 50, &topk, &rc) ||
      !num_field(q, j, "temperature", 0.01, 10.0, 1.0, &temp, &rc) ||
      !num_field(q, j, "cfg_scale", 0.0, 20.0, 1.5, &cfg, &rc) ||
      !int_field(q, j, "codec_steps", 1, 100, 10, &steps, &rc) ||
      !num_field(q, j, "codec_guidance", 0.0, 20.0, 1.25, &guid, &rc) ||
      !int_field(q, j, "seed", 0, (int64_t)1 << 53, -1, &seed, &rc))
    goto out;
  if (ref) { /* reference audio: one of the caller's own finished songs, through MuQ-MuLan */
    if (!app->have_clap) {
      rc = send_error(q, 503, "unavailable", "reference audio needs MuQ-MuLan-large/ in the model folder", "ref_audio");
      goto out;
    }
    sqlite3 *db = valid_id(ref) ? db_reader(app) : NULL;
    sqlite3_stmt *st;
    if (db && sqlite3_prepare_v2(db, "SELECT format FROM generations WHERE id=?1 AND user_id=?2 AND status='done'", -1,
                                 &st, NULL) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, q->uid);
      if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(ref_file, sizeof ref_file, "%s.%.8s", ref, (const char *)sqlite3_column_text(st, 0));
      sqlite3_finalize(st);
    }
    if (!ref_file[0]) {
      rc = bad_field(q, "ref_audio", "ref_audio: no such finished generation of yours");
      goto out;
    }
  }
  if (!format) format = "mp3";
  if (strcmp(format, "mp3") && strcmp(format, "wav") && strcmp(format, "flac") && strcmp(format, "ogg")) {
    rc = bad_field(q, "format", "format: one of mp3, wav, flac, ogg");
    goto out;
  }
  if (seed < 0) {
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, 0) != (ssize_t)sizeof s) s = (uint64_t)time(NULL);
    seed = (int64_t)(s & 0xffffffffffffull);
  }
  if (cont) {
    if (!valid_id(cont)) {
      rc = bad_field(q, "continue_from", "continue_from: no such finished generation of yours");
      goto out;
    }
    sqlite3 *db = db_reader(app);
    sqlite3_stmt *st;
    bool ok = false;
    if (db && sqlite3_prepare_v2(db, "SELECT 1 FROM generations WHERE id=?1 AND user_id=?2 AND status='done'", -1, &st,
                                 NULL) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, cont, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, q->uid);
      ok = sqlite3_step(st) == SQLITE_ROW;
      sqlite3_finalize(st);
    }
    if (!ok) {
      rc = bad_field(q, "continue_from", "continue_from: no such finished generation of yours");
      goto out;
    }
  }
  if (count_active(app, q->uid) >= L->max_queued_per_user) {
    rc = send_error_h(q, 429, "queue_full", "too many queued jobs; wait for some to finish", NULL, "Retry-After", "30");
    goto out;
  }
  char id[SRV_ID_LEN + 1], now[32];
  srv_random_id(id);
  srv_now_iso(now);
  json_t *params = json_pack("{s:I, s:I, s:f, s:f, s:I, s:f, s:I}", "max_audio_length_ms", (json_int_t)max_ms, "topk",
                             (json_int_t)topk, "temperature", temp, "cfg_scale", cfg, "codec_steps", (json_int_t)steps,
                             "codec_guidance", guid, "seed", (json_int_t)seed);
  json_object_set_new(params, "continue_from", json_str_or_null(cont));
  json_object_set_new(params, "ref_audio", json_str_or_null(ref));
  if (ref) {
    json_object_set_new(params, "ref_file", json_string(ref_file));
    json_object_set_new(params, "ref_strength", json_real(ref_strength));
  }
  char *ps = json_dumps(params, JSON_COMPACT);
  json_decref(params);
  char deftitle[64];
  if (!title || !*title) {
    snprintf(deftitle, sizeof deftitle, "Untitled %.10s", now);
    title = deftitle;
  }
  int64_t position = -1;
  db_wlock(app);
  sqlite3_stmt *st = NULL;
  bool ok = false;
  if (ps && sqlite3_prepare_v2(app->wdb,
                               "INSERT INTO generations(id, user_id, title, lyrics, tags, params, format, status, created_at) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8)",
                               -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->uid);
    sqlite3_bind_text(st, 3, title, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, lyrics, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, tags, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, ps, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, format, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, now, -1, SQLITE_STATIC);
    ok = sqlite3_step(st) == SQLITE_DONE;
  }
  sqlite3_finalize(st);
  if (ok && sqlite3_prepare_v2(app->wdb, "SELECT count(*) FROM generations WHERE status='queued' AND rid < "
                                         "(SELECT rid FROM generations WHERE id=?1)", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) position = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  db_wunlock(app);
  free(ps);
  if (!ok) {
    rc = db_error(q);
    goto out;
  }
  workers_wake(app);
  json_t *ev = json_pack("{s:s, s:s, s:I}", "type", "queued", "id", id, "position", (json_int_t)position);
  ws_event(app, q->uid, ev);
  rc = send_json(q, 202, json_pack("{s:s, s:s, s:I}", "id", id, "status", "queued", "position", (json_int_t)position));
out:
  json_decref(j);
  return rc;
}

/* ---- queue ---- */

static int h_queue(req *q) {
  sqlite3 *db = db_reader(q->app);
  sqlite3_stmt *st;
  if (!db || sqlite3_prepare_v2(db,
                                "SELECT g.id, g.title, g.status, g.created_at, "
                                "(SELECT count(*) FROM generations o WHERE o.status='queued' AND o.rid < g.rid) "
                                "FROM generations g WHERE g.user_id=?1 AND g.status IN ('queued','running') ORDER BY g.rid",
                                -1, &st, NULL))
    return db_error(q);
  sqlite3_bind_int64(st, 1, q->uid);
  json_t *items = json_array();
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *id = col_text(st, 0), *status = col_text(st, 2);
    json_t *it = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "title", col_text(st, 1), "status", status, "created_at",
                           col_text(st, 3));
    const char *stage = NULL;
    int64_t done = 0, total = 0;
    double fps = 0, eta = -1;
    bool running = !strcmp(status, "running") && workers_progress(q->app, id, &stage, &done, &total, &fps, &eta);
    json_object_set_new(it, "position", !strcmp(status, "queued") ? json_integer(sqlite3_column_int64(st, 4)) : json_integer(0));
    json_object_set_new(it, "stage", running ? json_string(stage) : json_null());
    json_object_set_new(it, "done", json_integer(done));
    json_object_set_new(it, "total", json_integer(total));
    json_object_set_new(it, "frames_per_s", json_real(fps));
    json_object_set_new(it, "eta_s", eta >= 0 ? json_real(eta) : json_null());
    json_array_append_new(items, it);
  }
  sqlite3_finalize(st);
  return send_json(q, 200, json_pack("{s:o}", "items", items));
}

static void remove_files(srv_app *app, const char *audio_file, const char *codes_file, const char *thumb_file) {
  char p[4400];
  if (thumb_file && !strchr(thumb_file, '/')) {
    snprintf(p, sizeof p, "%s/%s", app->audio_dir, thumb_file);
    unlink(p);
  }
  if (audio_file && !strchr(audio_file, '/')) {
    snprintf(p, sizeof p, "%s/%s", app->audio_dir, audio_file);
    unlink(p);
  }
  if (codes_file && !strchr(codes_file, '/')) {
    snprintf(p, sizeof p, "%s/%s", app->audio_dir, codes_file);
    unlink(p);
  }
}

static int h_cancel(req *q, const char *id) {
  if (!valid_id(id)) return not_found(q);
  srv_app *app = q->app;
  char now[32];
  srv_now_iso(now);
  db_wlock(app);
  sqlite3_stmt *st;
  const char *status = NULL;
  char buf[16] = "";
  if (sqlite3_prepare_v2(app->wdb, "SELECT status FROM generations WHERE id=?1 AND user_id=?2", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->uid);
    if (sqlite3_step(st) == SQLITE_ROW) {
      snprintf(buf, sizeof buf, "%s", col_text(st, 0));
      status = buf;
    }
    sqlite3_finalize(st);
  }
  bool changed = false;
  if (status && (!strcmp(status, "queued") || !strcmp(status, "running")) &&
      sqlite3_prepare_v2(app->wdb,
                         "UPDATE generations SET status='cancelled', finished_at=?3 WHERE id=?1 AND user_id=?2 AND "
                         "status IN ('queued','running')",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->uid);
    sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
    changed = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(app->wdb) > 0;
    sqlite3_finalize(st);
  }
  db_wunlock(app);
  if (!status) return not_found(q);
  if (!changed) {
    char msg[96];
    snprintf(msg, sizeof msg, "the job is already %s", status);
    return send_error(q, 409, "conflict", msg, NULL);
  }
  workers_cancel(app, id, q->uid);
  ws_event(app, q->uid, json_pack("{s:s, s:s}", "type", "cancelled", "id", id));
  return send_json(q, 200, json_pack("{s:s, s:s}", "id", id, "status", "cancelled"));
}

/* ---- history ---- */

/* an FTS5 query from free text: each word quoted as a prefix term, all required */
static bool fts_query(const char *in, char *out, size_t n) {
  size_t k = 0;
  int terms = 0;
  const unsigned char *p = (const unsigned char *)in;
  while (*p) {
    while (*p && !(isalnum(*p) || *p >= 0x80)) p++;
    if (!*p) break;
    if (k + 4 >= n) return terms > 0;
    if (terms++) out[k++] = ' ';
    out[k++] = '"';
    while (*p && (isalnum(*p) || *p >= 0x80) && k + 3 < n) out[k++] = (char)*p++;
    out[k++] = '"';
    out[k++] = '*';
    if (terms >= 16) break;
  }
  out[k] = 0;
  return terms > 0;
}

static json_t *history_item(srv_app *app, sqlite3_stmt *st) {
  /* id, title, tags, status, duration_ms, format, created_at, thumb_file */
  const char *id = col_text(st, 0), *status = col_text(st, 3);
  json_t *it = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "title", col_text(st, 1), "tags", col_text(st, 2),
                         "status", status, "format", col_text(st, 5), "created_at", col_text(st, 6));
  json_object_set_new(it, "duration_ms", sqlite3_column_type(st, 4) == SQLITE_NULL ? json_null()
                                                                                  : json_integer(sqlite3_column_int64(st, 4)));
  char *url = !strcmp(status, "done") ? srv_audio_url(app, id) : NULL;
  json_object_set_new(it, "audio_url", json_str_or_null(url));
  free(url);
  url = !strcmp(status, "done") && col_text(st, 7) ? srv_thumbnail_url(app, id) : NULL;
  json_object_set_new(it, "thumbnail_url", json_str_or_null(url));
  free(url);
  return it;
}

static int h_history(req *q) {
  const char *qs = q->ri->query_string;
  char v[512];
  int64_t limit = 20, offset = 0;
  char fts[1200] = "";
  if (qs) {
    if (mg_get_var(qs, strlen(qs), "limit", v, sizeof v) >= 0) {
      char *end;
      errno = 0;
      limit = strtoll(v, &end, 10);
      if (errno || !*v || *end || limit < 1 || limit > 100) return bad_field(q, "limit", "limit: an integer in [1, 100]");
    }
    if (mg_get_var(qs, strlen(qs), "offset", v, sizeof v) >= 0) {
      char *end;
      errno = 0;
      offset = strtoll(v, &end, 10);
      if (errno || !*v || *end || offset < 0 || offset > 1000000000)
        return bad_field(q, "offset", "offset: a non-negative integer");
    }
    int r = mg_get_var(qs, strlen(qs), "q", v, sizeof v);
    if (r == -2 || r == -3) return bad_field(q, "q", "q: at most 500 bytes");
    if (r > 0) fts_query(v, fts, sizeof fts);
  }
  sqlite3 *db = db_reader(q->app);
  if (!db) return db_error(q);
  sqlite3_stmt *st, *ct;
  const char *cols = "g.id, g.title, g.tags, g.status, g.duration_ms, g.format, g.created_at, g.thumb_file";
  char sql[600], csql[400];
  if (fts[0]) {
    snprintf(sql, sizeof sql,
             "SELECT %s FROM generations g JOIN generations_fts f ON f.rowid=g.rid WHERE g.user_id=?1 AND "
             "generations_fts MATCH ?2 ORDER BY g.rid DESC LIMIT ?3 OFFSET ?4", cols);
    snprintf(csql, sizeof csql,
             "SELECT count(*) FROM generations g JOIN generations_fts f ON f.rowid=g.rid WHERE g.user_id=?1 AND "
             "generations_fts MATCH ?2");
  } else {
    snprintf(sql, sizeof sql, "SELECT %s FROM generations g WHERE g.user_id=?1 ORDER BY g.rid DESC LIMIT ?3 OFFSET ?4", cols);
    snprintf(csql, sizeof csql, "SELECT count(*) FROM generations g WHERE g.user_id=?1 AND ?2 IS NULL");
  }
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) return db_error(q);
  if (sqlite3_prepare_v2(db, csql, -1, &ct, NULL)) {
    sqlite3_finalize(st);
    return db_error(q);
  }
  sqlite3_bind_int64(st, 1, q->uid);
  sqlite3_bind_int64(ct, 1, q->uid);
  if (fts[0]) {
    sqlite3_bind_text(st, 2, fts, -1, SQLITE_STATIC);
    sqlite3_bind_text(ct, 2, fts, -1, SQLITE_STATIC);
  }
  sqlite3_bind_int64(st, 3, limit);
  sqlite3_bind_int64(st, 4, offset);
  json_t *items = json_array();
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) json_array_append_new(items, history_item(q->app, st));
  int64_t total = 0;
  if (sqlite3_step(ct) == SQLITE_ROW) total = sqlite3_column_int64(ct, 0);
  sqlite3_finalize(st);
  sqlite3_finalize(ct);
  if (rc != SQLITE_DONE) {
    json_decref(items);
    return db_error(q);
  }
  return send_json(q, 200, json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)total));
}

static int h_history_get(req *q, const char *id) {
  if (!valid_id(id)) return not_found(q);
  sqlite3 *db = db_reader(q->app);
  sqlite3_stmt *st;
  if (!db || sqlite3_prepare_v2(db,
                                "SELECT id, title, tags, status, duration_ms, format, created_at, thumb_file, lyrics, params, "
                                "attempts, error, started_at, finished_at, timings FROM generations WHERE id=?1 AND user_id=?2",
                                -1, &st, NULL))
    return db_error(q);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, q->uid);
  json_t *it = NULL;
  if (sqlite3_step(st) == SQLITE_ROW) {
    it = history_item(q->app, st);
    json_object_set_new(it, "lyrics", json_string(col_text(st, 8)));
    json_t *params = json_loads(col_text(st, 9), 0, NULL);
    json_object_set_new(it, "params", params ? params : json_object());
    json_object_set_new(it, "attempts", json_integer(sqlite3_column_int64(st, 10)));
    json_object_set_new(it, "error", json_str_or_null(col_text(st, 11)));
    json_object_set_new(it, "started_at", json_str_or_null(col_text(st, 12)));
    json_object_set_new(it, "finished_at", json_str_or_null(col_text(st, 13)));
    json_t *tm = col_text(st, 14) ? json_loads(col_text(st, 14), 0, NULL) : NULL;
    json_object_set_new(it, "timings", tm ? tm : json_null());
    if (!strcmp(col_text(st, 3), "running")) {
      const char *stage;
      int64_t done, total;
      double fps, eta;
      if (workers_progress(q->app, id, &stage, &done, &total, &fps, &eta))
        json_object_set_new(it, "progress", json_pack("{s:s, s:I, s:I}", "stage", stage, "done", (json_int_t)done,
                                                      "total", (json_int_t)total));
    }
  }
  sqlite3_finalize(st);
  return it ? send_json(q, 200, it) : not_found(q);
}

static int h_history_delete(req *q, const char *id) {
  if (!valid_id(id)) return not_found(q);
  srv_app *app = q->app;
  db_wlock(app);
  sqlite3_stmt *st;
  bool found = false;
  char af[128] = "", cf[128] = "", tf[128] = "";
  if (sqlite3_prepare_v2(app->wdb, "DELETE FROM generations WHERE id=?1 AND user_id=?2 RETURNING audio_file, codes_file, thumb_file",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->uid);
    if (sqlite3_step(st) == SQLITE_ROW) {
      found = true;
      if (col_text(st, 0)) snprintf(af, sizeof af, "%s", col_text(st, 0));
      if (col_text(st, 1)) snprintf(cf, sizeof cf, "%s", col_text(st, 1));
      if (col_text(st, 2)) snprintf(tf, sizeof tf, "%s", col_text(st, 2));
      while (sqlite3_step(st) == SQLITE_ROW) {}
    }
    sqlite3_finalize(st);
  }
  db_wunlock(app);
  if (!found) return not_found(q);
  workers_cancel(app, id, q->uid); /* a running job stops; its row is gone, so it keeps nothing */
  remove_files(app, af[0] ? af : NULL, cf[0] ? cf : NULL, tf[0] ? tf : NULL);
  return send_body(q, 204, NULL, NULL, 0, NULL, NULL);
}

/* ---- a generation's files: audio and thumbnail (Bearer or signed URL; Range) ---- */

static int h_file(req *q, const char *id, bool thumb) {
  const char *kind = thumb ? "thumbnail" : "audio";
  srv_app *app = q->app;
  if (!valid_id(id)) return not_found(q);
  bool authed = authenticate(q);
  bool signed_ok = false;
  const char *qs = q->ri->query_string;
  if (!authed && qs) {
    char exp[32], sig[80];
    if (mg_get_var(qs, strlen(qs), "exp", exp, sizeof exp) > 0 && mg_get_var(qs, strlen(qs), "sig", sig, sizeof sig) > 0)
      signed_ok = auth_check_url(app, kind, id, exp, sig);
  }
  if (!authed && !signed_ok) return need_auth(q);
  sqlite3 *db = db_reader(app);
  sqlite3_stmt *st;
  if (!db || sqlite3_prepare_v2(db,
                                thumb ? (authed ? "SELECT thumb_file, format FROM generations WHERE id=?1 AND user_id=?2 AND status='done'"
                                                : "SELECT thumb_file, format FROM generations WHERE id=?1 AND status='done'")
                                      : (authed ? "SELECT audio_file, format FROM generations WHERE id=?1 AND user_id=?2 AND status='done'"
                                                : "SELECT audio_file, format FROM generations WHERE id=?1 AND status='done'"),
                                -1, &st, NULL))
    return db_error(q);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (authed) sqlite3_bind_int64(st, 2, q->uid);
  char file[128] = "", format[16] = "";
  if (sqlite3_step(st) == SQLITE_ROW && col_text(st, 0)) {
    snprintf(file, sizeof file, "%s", col_text(st, 0));
    snprintf(format, sizeof format, "%s", col_text(st, 1));
  }
  sqlite3_finalize(st);
  if (!file[0] || strchr(file, '/')) return not_found(q);
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", app->audio_dir, file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    if (fd >= 0) close(fd);
    return not_found(q);
  }
  int64_t size = (int64_t)sb.st_size, a = 0, b = size - 1;
  int status = 200;
  const char *range = mg_get_header(q->conn, "Range");
  if (range) {
    /* one range: bytes=a-b, bytes=a-, bytes=-n; anything else is served whole (RFC 9110 allows ignoring) */
    long long x = -1, y = -1;
    const char *r = range;
    if (!strncmp(r, "bytes=", 6) && !strchr(r, ',')) {
      r += 6;
      char *end;
      bool ok = true;
      if (*r == '-') {
        errno = 0;
        y = strtoll(r + 1, &end, 10);
        ok = !errno && end != r + 1 && !*end && y > 0;
        if (ok) {
          a = size > y ? size - y : 0;
          b = size - 1;
        }
      } else {
        errno = 0;
        x = strtoll(r, &end, 10);
        ok = !errno && end != r && *end == '-' && x >= 0;
        if (ok) {
          const char *r2 = end + 1;
          if (*r2) {
            errno = 0;
            y = strtoll(r2, &end, 10);
            ok = !errno && !*end && y >= x;
          } else y = size - 1;
        }
        if (ok) {
          a = x;
          b = y < size - 1 ? y : size - 1;
        }
      }
      if (ok && (a >= size || size == 0)) {
        close(fd);
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%lld", (long long)size);
        return send_error_h(q, 416, "range_not_satisfiable", "the range is outside the file", NULL, "Content-Range", cr);
      }
      if (ok) status = 206;
      else {
        a = 0;
        b = size - 1;
      }
    }
  }
  int64_t len = size ? b - a + 1 : 0;
  mg_response_header_start(q->conn, status);
  common_headers(q, thumb ? "image/png" : srv_content_type(format), (long long)len, false);
  mg_response_header_add(q->conn, "Accept-Ranges", "bytes", -1);
  if (status == 206) {
    char cr[96];
    snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)a, (long long)b, (long long)size);
    mg_response_header_add(q->conn, "Content-Range", cr, -1);
  }
  char disp[128];
  snprintf(disp, sizeof disp, "inline; filename=\"heartmula-%.8s.%s\"", id, thumb ? "png" : format);
  mg_response_header_add(q->conn, "Content-Disposition", disp, -1);
  mg_response_header_send(q->conn);
  if (strcmp(q->method, "HEAD")) {
    /* civetweb's threads have small stacks (about 100 KiB): buffers live on the heap */
    const size_t cap = 65536;
    char *buf = malloc(cap);
    int64_t off = a, left = buf ? len : 0;
    while (left > 0) {
      ssize_t n = pread(fd, buf, left < (int64_t)cap ? (size_t)left : cap, off);
      if (n <= 0) break;
      if (mg_write(q->conn, buf, (size_t)n) <= 0) break;
      off += n;
      left -= n;
    }
    free(buf);
  }
  close(fd);
  return status;
}

/* ---- transcription ---- */

static int64_t count_active_tr(srv_app *app, int64_t uid) {
  sqlite3 *db = db_reader(app);
  sqlite3_stmt *st;
  int64_t n = 0;
  if (db && sqlite3_prepare_v2(db, "SELECT count(*) FROM transcriptions WHERE user_id=?1 AND status IN ('queued','running')",
                               -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, uid);
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  return n;
}

static int h_transcribe(req *q) {
  srv_app *app = q->app;
  if (!tr_available(app))
    return send_error(q, 503, "unavailable",
                      "transcription is not available: the model folder has no HeartTranscriptor-oss/", NULL);
  if (count_active_tr(app, q->uid) >= app->cfg.limits.max_queued_per_user)
    return send_error_h(q, 429, "queue_full", "too many queued transcriptions; wait for some to finish", NULL,
                        "Retry-After", "30");
  char id[SRV_ID_LEN + 1], filename[256], language[32], stored[80], now[32];
  srv_random_id(id);
  const char *code = NULL, *msg = NULL, *field = NULL;
  int rc = tr_receive(app, q->conn, id, filename, sizeof filename, language, sizeof language, stored, sizeof stored,
                      &code, &msg, &field);
  if (rc) return send_error(q, rc, code, msg, field);
  srv_now_iso(now);
  int64_t position = -1;
  db_wlock(app);
  sqlite3_stmt *st = NULL;
  bool ok = false;
  if (sqlite3_prepare_v2(app->wdb,
                         "INSERT INTO transcriptions(id, user_id, filename, upload_file, language, status, created_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6)",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->uid);
    sqlite3_bind_text(st, 3, filename, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, stored, -1, SQLITE_STATIC);
    if (language[0]) sqlite3_bind_text(st, 5, language, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
    ok = sqlite3_step(st) == SQLITE_DONE;
  }
  sqlite3_finalize(st);
  if (ok && sqlite3_prepare_v2(app->wdb, "SELECT count(*) FROM transcriptions WHERE status='queued' AND rid < "
                                         "(SELECT rid FROM transcriptions WHERE id=?1)", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) position = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  db_wunlock(app);
  if (!ok) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", app->upload_dir, stored);
    unlink(p);
    return db_error(q);
  }
  workers_wake(app);
  ws_event(app, q->uid, json_pack("{s:s, s:s, s:s}", "type", "transcription", "id", id, "status", "queued"));
  return send_json(q, 202, json_pack("{s:s, s:s, s:I}", "id", id, "status", "queued", "position", (json_int_t)position));
}

static json_t *tr_item(sqlite3_stmt *st) {
  /* id, filename, status, language, error, created_at, started_at, finished_at, duration_s, attempts */
  json_t *it = json_pack("{s:s, s:s, s:s}", "id", col_text(st, 0), "filename", col_text(st, 1), "status", col_text(st, 2));
  json_object_set_new(it, "language", json_str_or_null(col_text(st, 3)));
  json_object_set_new(it, "error", json_str_or_null(col_text(st, 4)));
  json_object_set_new(it, "created_at", json_str_or_null(col_text(st, 5)));
  json_object_set_new(it, "started_at", json_str_or_null(col_text(st, 6)));
  json_object_set_new(it, "finished_at", json_str_or_null(col_text(st, 7)));
  json_object_set_new(it, "duration_s", sqlite3_column_type(st, 8) == SQLITE_NULL ? json_null() : json_real(sqlite3_column_double(st, 8)));
  json_object_set_new(it, "attempts", json_integer(sqlite3_column_int64(st, 9)));
  return it;
}
#define TR_COLS "id, filename, status, language, error, created_at, started_at, finished_at, duration_s, attempts"

static int h_transcribe_list(req *q) {
  sqlite3 *db = db_reader(q->app);
  sqlite3_stmt *st;
  if (!db || sqlite3_prepare_v2(db, "SELECT " TR_COLS " FROM transcriptions WHERE user_id=?1 ORDER BY rid DESC LIMIT 100",
                                -1, &st, NULL))
    return db_error(q);
  sqlite3_bind_int64(st, 1, q->uid);
  json_t *items = json_array();
  while (sqlite3_step(st) == SQLITE_ROW) json_array_append_new(items, tr_item(st));
  sqlite3_finalize(st);
  return send_json(q, 200, json_pack("{s:o, s:b}", "items", items, "available", tr_available(q->app)));
}

static int h_transcribe_get(req *q, const char *id) {
  if (!valid_id(id)) return not_found(q);
  const char *qs = q->ri->query_string;
  char fmt[16] = "";
  if (qs && mg_get_var(qs, strlen(qs), "format", fmt, sizeof fmt) == -2) return bad_field(q, "format", "format: txt, lrc, srt, vtt or json");
  static const char *const fmts[] = {"txt", "lrc", "srt", "vtt", "json"};
  static const char *const ctypes[] = {"text/plain; charset=utf-8", "text/plain; charset=utf-8", "application/x-subrip; charset=utf-8",
                                       "text/vtt; charset=utf-8", "application/json"};
  int fi = -1;
  for (int i = 0; i < 5 && fmt[0]; i++)
    if (!strcmp(fmt, fmts[i])) fi = i;
  if (fmt[0] && fi < 0) return bad_field(q, "format", "format: txt, lrc, srt, vtt or json");
  sqlite3 *db = db_reader(q->app);
  sqlite3_stmt *st;
  if (!db || sqlite3_prepare_v2(db, "SELECT " TR_COLS ", text, lrc, srt, vtt, json FROM transcriptions WHERE id=?1 AND user_id=?2",
                                -1, &st, NULL))
    return db_error(q);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, q->uid);
  int rc;
  if (sqlite3_step(st) != SQLITE_ROW) rc = not_found(q);
  else if (fi >= 0) {
    const char *body = col_text(st, 10 + fi);
    if (!body) rc = send_error(q, 409, "not_ready", "the transcription has not finished", NULL);
    else {
      char disp[96];
      snprintf(disp, sizeof disp, "attachment; filename=\"transcript-%.8s.%s\"", id, fmts[fi]);
      rc = send_body(q, 200, ctypes[fi], body, strlen(body), "Content-Disposition", disp);
    }
  } else {
    json_t *it = tr_item(st);
    if (!strcmp(col_text(st, 2), "done")) {
      json_t *js = col_text(st, 14) ? json_loads(col_text(st, 14), 0, NULL) : NULL;
      json_object_set_new(it, "result", json_pack("{s:s?, s:s?, s:s?, s:s?, s:o}", "text", col_text(st, 10), "lrc", col_text(st, 11),
                                                  "srt", col_text(st, 12), "vtt", col_text(st, 13), "json", js ? js : json_null()));
    }
    rc = send_json(q, 200, it);
  }
  sqlite3_finalize(st);
  return rc;
}

static int h_transcribe_delete(req *q, const char *id) {
  if (!valid_id(id)) return not_found(q);
  srv_app *app = q->app;
  db_wlock(app);
  sqlite3_stmt *st;
  bool found = false;
  char uf[128] = "";
  if (sqlite3_prepare_v2(app->wdb, "DELETE FROM transcriptions WHERE id=?1 AND user_id=?2 RETURNING upload_file", -1, &st,
                         NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->uid);
    if (sqlite3_step(st) == SQLITE_ROW) {
      found = true;
      if (col_text(st, 0)) snprintf(uf, sizeof uf, "%s", col_text(st, 0));
      while (sqlite3_step(st) == SQLITE_ROW) {}
    }
    sqlite3_finalize(st);
  }
  db_wunlock(app);
  if (!found) return not_found(q);
  /* a running job stops (and removes the upload itself); a queued one's upload goes now */
  if (!tr_cancel(app, id, q->uid) && uf[0] && !strchr(uf, '/')) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", app->upload_dir, uf);
    unlink(p);
  }
  return send_body(q, 204, NULL, NULL, 0, NULL, NULL);
}

/* ---- AI assistance (OpenAI-compatible endpoint) ---- */

static atomic_int g_ai_calls; /* at most AI_MAX_CALLS at a time: each holds an HTTP thread */
#define AI_MAX_CALLS 4

static int ai_unavailable(req *q) {
  return send_error(q, 503, "unavailable", "AI assistance is not configured on this server (set OPENAI_API_KEY)", NULL);
}

static int ai_failed(req *q, const char *err) {
  bool timeout = !strncmp(err, "timeout", 7);
  return send_error(q, timeout ? 504 : 502, timeout ? "upstream_timeout" : "upstream_error", err, NULL);
}

static bool ai_enter(void) {
  if (atomic_fetch_add(&g_ai_calls, 1) >= AI_MAX_CALLS) {
    atomic_fetch_sub(&g_ai_calls, 1);
    return false;
  }
  return true;
}

static int h_ai_lyrics(req *q) {
  srv_app *app = q->app;
  if (!ai_configured(app)) return ai_unavailable(q);
  int status = 0, rc = 0;
  json_t *j = read_json(q, &status);
  if (!j) return status;
  static const char *const allowed[] = {"prompt", "tags", "title", "language", NULL};
  const char *uk = unknown_field(j, allowed), *prompt, *tags, *title, *lang;
  if (uk) {
    rc = bad_field(q, uk, "unknown field");
    goto out;
  }
  if (!text_field(q, j, "prompt", true, true, app->cfg.limits.max_ai_prompt_bytes, &prompt, &rc) ||
      !text_field(q, j, "tags", false, false, app->cfg.limits.max_tags_bytes, &tags, &rc) ||
      !text_field(q, j, "title", false, false, app->cfg.limits.max_title_bytes, &title, &rc) ||
      !text_field(q, j, "language", false, false, 32, &lang, &rc))
    goto out;
  if (!ai_enter()) {
    rc = send_error_h(q, 429, "busy", "too many AI requests at once; try again shortly", NULL, "Retry-After", "5");
    goto out;
  }
  size_t n = strlen(prompt) + (tags ? strlen(tags) : 0) + (title ? strlen(title) : 0) + 200;
  char *user = malloc(n), err[512] = "";
  char *lyrics = NULL;
  if (user) {
    snprintf(user, n, "Write lyrics for a song%s%s%s%s%s.\nLanguage: %s.\nWhat it is about: %s", title ? " titled \"" : "",
             title ? title : "", title ? "\"" : "", tags ? " in the style: " : "", tags ? tags : "",
             lang ? lang : "the language of the request", prompt);
    lyrics = ai_chat(app,
                     "You write song lyrics for HeartMuLa, a music generation model. Put each section marker on its "
                     "own line: [Intro], [Verse], [Prechorus], [Chorus], [Bridge], [Outro]. Reply with the lyrics "
                     "only: no title, no comments, no markdown.",
                     user, err, sizeof err);
  } else snprintf(err, sizeof err, "out of memory");
  free(user);
  atomic_fetch_sub(&g_ai_calls, 1);
  if (!lyrics) rc = ai_failed(q, err);
  else {
    /* the reply is bounded by the lyrics limit the generate endpoint takes */
    if ((int64_t)strlen(lyrics) > app->cfg.limits.max_lyrics_bytes) lyrics[app->cfg.limits.max_lyrics_bytes] = 0;
    json_t *o = json_pack("{s:s, s:s}", "lyrics", lyrics, "model", app->cfg.openai_model);
    rc = o ? send_json(q, 200, o) : send_error(q, 502, "upstream_error", "the AI endpoint's text is not UTF-8", NULL);
    free(lyrics);
  }
out:
  json_decref(j);
  return rc;
}

static int h_ai_thumbnail(req *q) {
  srv_app *app = q->app;
  if (!ai_configured(app)) return ai_unavailable(q);
  int status = 0, rc = 0;
  json_t *j = read_json(q, &status);
  if (!j) return status;
  static const char *const allowed[] = {"id", "prompt", NULL};
  const char *uk = unknown_field(j, allowed), *id, *prompt;
  char title[256] = "", tags[1100] = "";
  if (uk) {
    rc = bad_field(q, uk, "unknown field");
    goto out;
  }
  if (!text_field(q, j, "id", true, true, 64, &id, &rc) ||
      !text_field(q, j, "prompt", false, false, app->cfg.limits.max_ai_prompt_bytes, &prompt, &rc))
    goto out;
  {
    sqlite3 *db = db_reader(app);
    sqlite3_stmt *st;
    bool found = false;
    if (valid_id(id) && db &&
        sqlite3_prepare_v2(db, "SELECT title, tags FROM generations WHERE id=?1 AND user_id=?2 AND status='done'", -1, &st,
                           NULL) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(st, 2, q->uid);
      if (sqlite3_step(st) == SQLITE_ROW) {
        found = true;
        snprintf(title, sizeof title, "%s", col_text(st, 0));
        snprintf(tags, sizeof tags, "%s", col_text(st, 1));
      }
      sqlite3_finalize(st);
    }
    if (!found) {
      rc = not_found(q);
      goto out;
    }
  }
  if (!ai_enter()) {
    rc = send_error_h(q, 429, "busy", "too many AI requests at once; try again shortly", NULL, "Retry-After", "5");
    goto out;
  }
  size_t pn = strlen(title) + strlen(tags) + (prompt ? strlen(prompt) : 0) + 200, n = 0;
  char *p = malloc(pn), err[512] = "";
  unsigned char *png = NULL;
  if (p) {
    snprintf(p, pn, "Square cover art for a song titled \"%s\" (style: %s). %s No text or letters in the image.", title,
             tags, prompt ? prompt : "");
    png = ai_image(app, p, &n, err, sizeof err);
  } else snprintf(err, sizeof err, "out of memory");
  free(p);
  atomic_fetch_sub(&g_ai_calls, 1);
  if (!png) {
    rc = ai_failed(q, err);
    goto out;
  }
  /* stored like the rendered one: temporary name, fsync, rename (replacing it), folder fsync */
  char tmp[4400], final[4400], name[80];
  snprintf(name, sizeof name, "%s.png", id);
  snprintf(tmp, sizeof tmp, "%s/%s.ai.png", app->tmp_dir, id);
  snprintf(final, sizeof final, "%s/%s", app->audio_dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool stored = fd >= 0;
  for (size_t off = 0; stored && off < n;) {
    ssize_t w = write(fd, png + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) stored = false;
    else off += (size_t)w;
  }
  if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0)) stored = false;
  free(png);
  if (stored && rename(tmp, final) == 0) {
    int dfd = open(app->audio_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      if (fsync(dfd) != 0) stored = false;
      close(dfd);
    }
  } else stored = false;
  if (!stored) {
    unlink(tmp);
    rc = send_error(q, 500, "internal", "could not store the image", NULL);
    goto out;
  }
  db_wlock(app);
  sqlite3_stmt *st;
  bool ok = false;
  if (sqlite3_prepare_v2(app->wdb, "UPDATE generations SET thumb_file=?3 WHERE id=?1 AND user_id=?2 AND status='done'", -1,
                         &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->uid);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(app->wdb) > 0;
    sqlite3_finalize(st);
  }
  db_wunlock(app);
  if (!ok) { /* deleted meanwhile */
    unlink(final);
    rc = not_found(q);
    goto out;
  }
  char *url = srv_thumbnail_url(app, id);
  rc = send_json(q, 200, json_pack("{s:s, s:s?}", "id", id, "thumbnail_url", url));
  free(url);
out:
  json_decref(j);
  return rc;
}

/* ---- static files (web/) ---- */

static const char *static_type(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot) return "application/octet-stream";
  if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
  if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
  if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
  if (!strcmp(dot, ".json")) return "application/json";
  if (!strcmp(dot, ".svg")) return "image/svg+xml";
  if (!strcmp(dot, ".png")) return "image/png";
  if (!strcmp(dot, ".ico")) return "image/x-icon";
  return "application/octet-stream";
}

static int send_static(req *q, const char *name) {
  for (const char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_') return not_found(q);
  if (!*name || name[0] == '.' || strlen(name) > 64) return not_found(q);
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", q->app->cfg.web_dir, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size > (8 << 20)) {
    if (fd >= 0) close(fd);
    return not_found(q);
  }
  char *buf = malloc((size_t)sb.st_size + 1);
  ssize_t n = buf ? read(fd, buf, (size_t)sb.st_size) : -1;
  close(fd);
  int rc;
  if (n != sb.st_size) rc = send_error(q, 500, "internal", "cannot read the file", NULL);
  else {
    mg_response_header_start(q->conn, 200);
    common_headers(q, static_type(name), (long long)n, true);
    mg_response_header_send(q->conn);
    if (strcmp(q->method, "HEAD")) mg_write(q->conn, buf, (size_t)n);
    rc = 200;
  }
  free(buf);
  return rc;
}

/* ---- routing ---- */

static bool is(req *q, const char *method) { return !strcmp(q->method, method); }

static int method_not_allowed(req *q, const char *allow) {
  return send_error_h(q, 405, "method_not_allowed", "method not allowed", NULL, "Allow", allow);
}

static int route_api(req *q) {
  const char *p = q->path;
  if (!strcmp(p, "/api/status")) return is(q, "GET") || is(q, "HEAD") ? h_status(q) : method_not_allowed(q, "GET");
  if (!strcmp(p, "/api/openapi.json")) return is(q, "GET") || is(q, "HEAD") ? send_static(q, "openapi.json") : method_not_allowed(q, "GET");
  if (!strcmp(p, "/api/auth/register")) return is(q, "POST") ? h_register(q) : method_not_allowed(q, "POST");
  if (!strcmp(p, "/api/auth/login")) return is(q, "POST") ? h_login(q) : method_not_allowed(q, "POST");
  if (!strncmp(p, "/api/audio/", 11)) return is(q, "GET") || is(q, "HEAD") ? h_file(q, p + 11, false) : method_not_allowed(q, "GET, HEAD");
  if (!strncmp(p, "/api/thumbnail/", 15)) return is(q, "GET") || is(q, "HEAD") ? h_file(q, p + 15, true) : method_not_allowed(q, "GET, HEAD");
  /* everything below needs a bearer token */
  bool known = !strcmp(p, "/api/auth/me") || !strcmp(p, "/api/auth/logout") || !strcmp(p, "/api/generate") ||
               !strcmp(p, "/api/queue") || !strncmp(p, "/api/queue/", 11) || !strcmp(p, "/api/history") ||
               !strncmp(p, "/api/history/", 13) || !strcmp(p, "/api/ai/lyrics") ||
               !strcmp(p, "/api/ai/thumbnail") || !strcmp(p, "/api/transcribe") ||
               !strncmp(p, "/api/transcribe/", 16);
  if (!known) return send_error(q, 404, "not_found", "no such endpoint", NULL);
  if (!authenticate(q)) return need_auth(q);
  if (!strcmp(p, "/api/auth/me")) return is(q, "GET") ? h_me(q) : method_not_allowed(q, "GET");
  if (!strcmp(p, "/api/auth/logout")) return is(q, "POST") ? h_logout(q) : method_not_allowed(q, "POST");
  if (!strcmp(p, "/api/generate")) return is(q, "POST") ? h_generate(q) : method_not_allowed(q, "POST");
  if (!strcmp(p, "/api/queue")) return is(q, "GET") ? h_queue(q) : method_not_allowed(q, "GET");
  if (!strncmp(p, "/api/queue/", 11)) return is(q, "DELETE") ? h_cancel(q, p + 11) : method_not_allowed(q, "DELETE");
  if (!strcmp(p, "/api/history")) return is(q, "GET") ? h_history(q) : method_not_allowed(q, "GET");
  if (!strncmp(p, "/api/history/", 13)) {
    if (is(q, "GET")) return h_history_get(q, p + 13);
    if (is(q, "DELETE")) return h_history_delete(q, p + 13);
    return method_not_allowed(q, "GET, DELETE");
  }
  if (!strcmp(p, "/api/transcribe")) {
    if (is(q, "POST")) return h_transcribe(q);
    if (is(q, "GET")) return h_transcribe_list(q);
    return method_not_allowed(q, "GET, POST");
  }
  if (!strncmp(p, "/api/transcribe/", 16)) {
    if (is(q, "GET")) return h_transcribe_get(q, p + 16);
    if (is(q, "DELETE")) return h_transcribe_delete(q, p + 16);
    return method_not_allowed(q, "GET, DELETE");
  }
  if (!strcmp(p, "/api/ai/lyrics")) return is(q, "POST") ? h_ai_lyrics(q) : method_not_allowed(q, "POST");
  if (!strcmp(p, "/api/ai/thumbnail")) return is(q, "POST") ? h_ai_thumbnail(q) : method_not_allowed(q, "POST");
  return send_error(q, 404, "not_found", "no such endpoint", NULL);
}

static int handler(struct mg_connection *conn, void *cbdata) {
  req q = {.app = cbdata, .conn = conn};
  q.ri = mg_get_request_info(conn);
  q.method = q.ri->request_method ? q.ri->request_method : "";
  q.path = q.ri->local_uri ? q.ri->local_uri : "/";
  if (strlen(q.path) > 512) return send_error(&q, 414, "uri_too_long", "URI too long", NULL);
  if (is(&q, "OPTIONS")) {
    const char *co = q.app->cfg.cors_origin;
    mg_response_header_start(conn, 204);
    common_headers(&q, NULL, 0, false);
    if (co && *co) {
      mg_response_header_add(conn, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS", -1);
      mg_response_header_add(conn, "Access-Control-Allow-Headers", "Authorization, Content-Type, Range", -1);
      mg_response_header_add(conn, "Access-Control-Max-Age", "600", -1);
    }
    mg_response_header_send(conn);
    return 204;
  }
  if (!strncmp(q.path, "/api/", 5) || !strcmp(q.path, "/api")) return route_api(&q);
  if (!is(&q, "GET") && !is(&q, "HEAD")) return method_not_allowed(&q, "GET, HEAD");
  if (!strcmp(q.path, "/")) return send_static(&q, "index.html");
  return send_static(&q, q.path + 1);
}

void http_register(srv_app *app) { mg_set_request_handler(app->mg, "/", handler, app); }
