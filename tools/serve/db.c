/* SQLite storage: one writer connection (serialized by a mutex), one read connection per thread
 * (WAL: readers never wait for the writer). Versioned migrations through PRAGMA user_version.
 * Every statement binds its values; no SQL is built from request data. */
#include "serve/serve.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const migrations[] = {
  /* 1: users, generations (a generation is its job: queued -> running -> done/failed/cancelled), full text */
  "CREATE TABLE users("
  "  id INTEGER PRIMARY KEY,"
  "  username TEXT NOT NULL,"
  "  email TEXT NOT NULL,"
  "  password_hash TEXT NOT NULL,"
  "  token_version INTEGER NOT NULL DEFAULT 1,"
  "  created_at TEXT NOT NULL);"
  "CREATE UNIQUE INDEX users_username ON users(username COLLATE NOCASE);"
  "CREATE UNIQUE INDEX users_email ON users(email COLLATE NOCASE);"
  "CREATE TABLE generations("
  "  rid INTEGER PRIMARY KEY,"
  "  id TEXT NOT NULL UNIQUE,"
  "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
  "  title TEXT NOT NULL,"
  "  lyrics TEXT NOT NULL,"
  "  tags TEXT NOT NULL,"
  "  params TEXT NOT NULL,"
  "  format TEXT NOT NULL,"
  "  status TEXT NOT NULL CHECK(status IN ('queued','running','done','failed','cancelled')),"
  "  attempts INTEGER NOT NULL DEFAULT 0,"
  "  error TEXT,"
  "  created_at TEXT NOT NULL,"
  "  started_at TEXT,"
  "  finished_at TEXT,"
  "  duration_ms INTEGER,"
  "  timings TEXT,"
  "  audio_file TEXT,"
  "  codes_file TEXT);"
  "CREATE INDEX generations_user ON generations(user_id, rid);"
  "CREATE INDEX generations_status ON generations(status, rid);"
  "CREATE VIRTUAL TABLE generations_fts USING fts5(title, tags, lyrics, content='generations', content_rowid='rid');"
  "CREATE TRIGGER generations_ai AFTER INSERT ON generations BEGIN"
  "  INSERT INTO generations_fts(rowid, title, tags, lyrics) VALUES (new.rid, new.title, new.tags, new.lyrics); END;"
  "CREATE TRIGGER generations_ad AFTER DELETE ON generations BEGIN"
  "  INSERT INTO generations_fts(generations_fts, rowid, title, tags, lyrics)"
  "  VALUES ('delete', old.rid, old.title, old.tags, old.lyrics); END;"
  "CREATE TRIGGER generations_au AFTER UPDATE OF title, tags, lyrics ON generations BEGIN"
  "  INSERT INTO generations_fts(generations_fts, rowid, title, tags, lyrics)"
  "  VALUES ('delete', old.rid, old.title, old.tags, old.lyrics);"
  "  INSERT INTO generations_fts(rowid, title, tags, lyrics) VALUES (new.rid, new.title, new.tags, new.lyrics); END;",
  /* 2: thumbnails (rendered with the audio; an AI image may replace it) */
  "ALTER TABLE generations ADD COLUMN thumb_file TEXT;",
  /* 3: transcription jobs (the upload waits in DATA/uploads/ until its job has ended) */
  "CREATE TABLE transcriptions("
  "  rid INTEGER PRIMARY KEY,"
  "  id TEXT NOT NULL UNIQUE,"
  "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
  "  filename TEXT NOT NULL,"
  "  upload_file TEXT,"
  "  language TEXT,"
  "  status TEXT NOT NULL CHECK(status IN ('queued','running','done','failed','cancelled')),"
  "  attempts INTEGER NOT NULL DEFAULT 0,"
  "  error TEXT,"
  "  created_at TEXT NOT NULL,"
  "  started_at TEXT,"
  "  finished_at TEXT,"
  "  duration_s REAL,"
  "  text TEXT, lrc TEXT, srt TEXT, vtt TEXT, json TEXT);"
  "CREATE INDEX transcriptions_user ON transcriptions(user_id, rid);"
  "CREATE INDEX transcriptions_status ON transcriptions(status, rid);",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static char g_db_path[4096];
static _Thread_local sqlite3 *t_reader;

void srv_now_iso(char out[32]) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void srv_random_id(char out[SRV_ID_LEN + 1]) {
  unsigned char b[SRV_ID_LEN / 2];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = getrandom(b + got, sizeof b - got, 0);
    if (n > 0) got += (size_t)n;
  }
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < sizeof b; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[SRV_ID_LEN] = 0;
}

static int exec_sql(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "heartmula serve: database: %s\n", err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    return -1;
  }
  return 0;
}

static sqlite3 *open_conn(const char *path, bool create) {
  sqlite3 *db = NULL;
  int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
    fprintf(stderr, "heartmula serve: cannot open the database: %s\n", db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_extended_result_codes(db, 1);
  if (exec_sql(db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;")) {
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

static int user_version(sqlite3 *db) {
  sqlite3_stmt *st;
  int v = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) return -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

int db_open(srv_app *app) {
  snprintf(g_db_path, sizeof g_db_path, "%s", app->db_path);
  pthread_mutex_init(&app->wmu, NULL);
  sqlite3 *db = open_conn(app->db_path, true);
  if (!db) return -1;
  app->wdb = db;
  /* the file holds password hashes: owner only */
  if (chmod(app->db_path, 0600) != 0) fprintf(stderr, "heartmula serve: warning: cannot chmod the database\n");
  if (exec_sql(db, "PRAGMA journal_mode=WAL;")) return -1;
  int v = user_version(db);
  if (v < 0) return -1;
  if (v > N_MIGRATIONS) {
    fprintf(stderr, "heartmula serve: the database '%s' is schema version %d, newer than this build (%d)\n", app->db_path,
            v, N_MIGRATIONS);
    return -1;
  }
  for (int m = v; m < N_MIGRATIONS; m++) {
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", m + 1);
    if (exec_sql(db, "BEGIN IMMEDIATE;")) return -1;
    if (exec_sql(db, migrations[m]) || exec_sql(db, pragma)) {
      exec_sql(db, "ROLLBACK;");
      return -1;
    }
    if (exec_sql(db, "COMMIT;")) return -1;
    fprintf(stderr, "heartmula serve: database migrated to schema version %d\n", m + 1);
  }
  /* jobs that were running when the process died: queued again, or failed after max_attempts */
  sqlite3_stmt *st;
  const char *fail_sql =
    "UPDATE generations SET status='failed', finished_at=?1, "
    "error='stopped ' || attempts || ' times while running (server exits); not retried' "
    "WHERE status='running' AND attempts >= ?2";
  char now[32];
  srv_now_iso(now);
  if (sqlite3_prepare_v2(db, fail_sql, -1, &st, NULL) != SQLITE_OK) return -1;
  sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 2, app->cfg.limits.max_attempts);
  int rc = sqlite3_step(st);
  int failed = sqlite3_changes(db);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return -1;
  if (exec_sql(db, "UPDATE generations SET status='queued' WHERE status='running';")) return -1;
  int requeued = sqlite3_changes(db);
  if (sqlite3_prepare_v2(db,
                         "UPDATE transcriptions SET status='failed', finished_at=?1, upload_file=NULL, "
                         "error='stopped ' || attempts || ' times while running (server exits); not retried' "
                         "WHERE status='running' AND attempts >= ?2",
                         -1, &st, NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 2, app->cfg.limits.max_attempts);
  rc = sqlite3_step(st);
  failed += sqlite3_changes(db);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return -1;
  if (exec_sql(db, "UPDATE transcriptions SET status='queued' WHERE status='running';")) return -1;
  requeued += sqlite3_changes(db);
  if (failed || requeued)
    fprintf(stderr, "heartmula serve: %d interrupted job(s) queued again, %d failed after %d attempts\n", requeued, failed,
            app->cfg.limits.max_attempts);
  return 0;
}

void db_close(srv_app *app) {
  db_reader_release();
  if (app->wdb) {
    sqlite3_close(app->wdb);
    app->wdb = NULL;
  }
  pthread_mutex_destroy(&app->wmu);
}

sqlite3 *db_reader(srv_app *app) {
  (void)app;
  if (!t_reader) {
    t_reader = open_conn(g_db_path, false);
    if (t_reader) sqlite3_exec(t_reader, "PRAGMA query_only=1;", NULL, NULL, NULL);
  }
  return t_reader;
}

void db_reader_release(void) {
  if (t_reader) {
    sqlite3_close(t_reader);
    t_reader = NULL;
  }
}

void db_wlock(srv_app *app) { pthread_mutex_lock(&app->wmu); }
void db_wunlock(srv_app *app) { pthread_mutex_unlock(&app->wmu); }
