/* The queue's workers: each owns one long-lived engine and claims the oldest queued job in one
 * UPDATE (attempts counted), runs it with progress / abort / live-audio callbacks, writes the song
 * to a temporary name, fsyncs and renames it, and only then marks the row done. An abort for
 * shutdown queues the job again; a cancel or delete leaves the row as the HTTP side set it. */
#include "serve/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


typedef struct worker {
  srv_app *app;
  int index;
  hm_engine *engine;
} worker;

typedef struct job_ctx {
  srv_app *app;
  srv_running *run;
  pthread_mutex_t mu; /* progress (LM thread) may overlap on_audio (codec worker) */
  int sample_rate;
  srv_thumb *thumb; /* the song's spectrogram, fed window by window */
} job_ctx;

const char *srv_stage_name(hm_stage s) {
  switch (s) {
  case HM_STAGE_LOAD: return "load";
  case HM_STAGE_LM: return "lm";
  case HM_STAGE_CODEC: return "codec";
  case HM_STAGE_WRITE: return "write";
  }
  return "unknown";
}

const char *srv_content_type(const char *format) {
  if (!strcmp(format, "mp3")) return "audio/mpeg";
  if (!strcmp(format, "wav")) return "audio/wav";
  if (!strcmp(format, "flac")) return "audio/flac";
  if (!strcmp(format, "ogg")) return "audio/ogg";
  return "application/octet-stream";
}

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static json_t *event(const char *type, const char *id) { return json_pack("{s:s, s:s}", "type", type, "id", id); }

/* ---- engine callbacks ---- */

static void on_progress(void *ud, hm_stage stage, int64_t done, int64_t total) {
  job_ctx *j = ud;
  srv_running *r = j->run;
  int64_t t = now_us();
  pthread_mutex_lock(&j->app->qmu);
  bool changed = stage != r->stage;
  if (stage == HM_STAGE_LM && (changed || r->t_lm_start_us == 0)) {
    r->t_lm_start_us = t;
    r->lm_frames_at = done;
  }
  r->stage = stage;
  r->done = done;
  r->total = total;
  if (stage == HM_STAGE_LM && t > r->t_lm_start_us) {
    double el = (double)(t - r->t_lm_start_us) * 1e-6;
    r->frames_per_s = el > 0.05 ? (double)(done - r->lm_frames_at) / el : 0;
    r->eta_s = r->frames_per_s > 0 ? (double)(total - done) / r->frames_per_s : -1;
  } else if (stage != HM_STAGE_LM) {
    r->eta_s = -1;
  }
  if (stage == HM_STAGE_LOAD && done == total) atomic_store(&j->app->model_loaded, true);
  bool send = changed || done == total || t - r->t_last_event_us >= 250000;
  if (send) r->t_last_event_us = t;
  json_t *ev = NULL;
  if (send) {
    ev = event("progress", r->id);
    json_object_set_new(ev, "stage", json_string(srv_stage_name(stage)));
    json_object_set_new(ev, "done", json_integer(done));
    json_object_set_new(ev, "total", json_integer(total));
    json_object_set_new(ev, "frames_per_s", json_real(r->frames_per_s));
    json_object_set_new(ev, "eta_s", r->eta_s >= 0 ? json_real(r->eta_s) : json_null());
  }
  int64_t uid = r->user_id;
  pthread_mutex_unlock(&j->app->qmu);
  if (ev) ws_event(j->app, uid, ev);
}

static bool on_abort(void *ud) {
  job_ctx *j = ud;
  return atomic_load(&j->run->cancel) || atomic_load(&j->app->stopping);
}

static hm_status on_audio(void *ud, const float *planar, int64_t n, int64_t first) {
  job_ctx *j = ud;
  srv_running *r = j->run;
  json_t *ev = event("audio", r->id);
  json_object_set_new(ev, "first_sample", json_integer(first));
  json_object_set_new(ev, "n_samples", json_integer(n));
  json_object_set_new(ev, "sample_rate", json_integer(48000));
  ws_event(j->app, r->user_id, ev);
  ws_audio(j->app, r->user_id, r->id, planar, n, first, 48000);
  thumb_feed(j->thumb, planar, n);
  return HM_OK;
}

/* ---- files ---- */

static int fsync_path(const char *path, bool dir) {
  int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* tmp -> final with the data on disk first, then the folder entry */
static int commit_file(const char *tmp, const char *final, const char *dir) {
  if (fsync_path(tmp, false) || rename(tmp, final) || fsync_path(dir, true)) return -1;
  return 0;
}

static int write_codes(const char *path, const int32_t *codes, int64_t n) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  size_t bytes = (size_t)n * 8 * sizeof(int32_t), off = 0;
  const char *p = (const char *)codes;
  while (off < bytes) {
    ssize_t w = write(fd, p + off, bytes - off);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      close(fd);
      return -1;
    }
    off += (size_t)w;
  }
  return close(fd);
}

static int32_t *read_codes(const char *path, int64_t *n_frames) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  int32_t *buf = NULL;
  if (fseek(f, 0, SEEK_END) == 0) {
    long sz = ftell(f);
    if (sz > 0 && sz % 32 == 0 && sz <= (64L << 20) && fseek(f, 0, SEEK_SET) == 0) {
      buf = malloc((size_t)sz);
      if (buf && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        free(buf);
        buf = NULL;
      }
      *n_frames = sz / 32;
    }
  }
  fclose(f);
  return buf;
}

/* an engine message without the server's paths in it */
static void clean_error(srv_app *app, const char *msg, char *out, size_t n) {
  const char *subst[2][2] = {{app->cfg.model_path, "<model>"}, {app->cfg.data_dir, "<data>"}};
  size_t k = 0;
  while (*msg && k + 1 < n) {
    bool hit = false;
    for (int s = 0; s < 2 && !hit; s++) {
      size_t l = subst[s][0] ? strlen(subst[s][0]) : 0;
      if (l && !strncmp(msg, subst[s][0], l)) {
        k += (size_t)snprintf(out + k, n - k, "%s", subst[s][1]);
        if (k >= n) k = n - 1;
        msg += l;
        hit = true;
      }
    }
    if (!hit) out[k++] = *msg++;
  }
  out[k] = 0;
}

/* ---- the row updates ---- */

static bool db_finish(srv_app *app, const char *id, const char *sql, const char *a, const char *b, int64_t i1,
                      const char *c, const char *d) {
  char now[32];
  srv_now_iso(now);
  db_wlock(app);
  sqlite3_stmt *st = NULL;
  bool changed = false;
  if (sqlite3_prepare_v2(app->wdb, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    if (a) sqlite3_bind_text(st, 3, a, -1, SQLITE_STATIC);
    if (b) sqlite3_bind_text(st, 4, b, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, i1);
    if (c) sqlite3_bind_text(st, 6, c, -1, SQLITE_STATIC);
    if (d) sqlite3_bind_text(st, 7, d, -1, SQLITE_STATIC);
    changed = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(app->wdb) > 0;
  }
  sqlite3_finalize(st);
  db_wunlock(app);
  return changed;
}

typedef struct claimed {
  char id[SRV_ID_LEN + 1];
  int64_t user_id;
  char *lyrics, *tags, *params, *format;
  int attempts;
} claimed;

static bool claim(srv_app *app, claimed *c) {
  const char *sql =
    "UPDATE generations SET status='running', attempts=attempts+1, started_at=?1 "
    "WHERE rid=(SELECT rid FROM generations WHERE status='queued' ORDER BY rid LIMIT 1) "
    "RETURNING id, user_id, lyrics, tags, params, format, attempts";
  char now[32];
  srv_now_iso(now);
  bool got = false;
  db_wlock(app);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(app->wdb, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      snprintf(c->id, sizeof c->id, "%s", (const char *)sqlite3_column_text(st, 0));
      c->user_id = sqlite3_column_int64(st, 1);
      c->lyrics = strdup((const char *)sqlite3_column_text(st, 2));
      c->tags = strdup((const char *)sqlite3_column_text(st, 3));
      c->params = strdup((const char *)sqlite3_column_text(st, 4));
      c->format = strdup((const char *)sqlite3_column_text(st, 5));
      c->attempts = sqlite3_column_int(st, 6);
      got = c->lyrics && c->tags && c->params && c->format;
      while (sqlite3_step(st) == SQLITE_ROW) {}
    }
  }
  sqlite3_finalize(st);
  db_wunlock(app);
  return got;
}

static void claimed_free(claimed *c) {
  free(c->lyrics);
  free(c->tags);
  free(c->params);
  free(c->format);
  memset(c, 0, sizeof *c);
}

static void run_job(worker *w, claimed *c) {
  srv_app *app = w->app;
  srv_running *r = &app->running[w->index];
  pthread_mutex_lock(&app->qmu);
  memset(r, 0, sizeof *r);
  snprintf(r->id, sizeof r->id, "%s", c->id);
  r->user_id = c->user_id;
  atomic_store(&r->cancel, false);
  r->stage = HM_STAGE_LOAD;
  r->t_start_us = now_us();
  r->eta_s = -1;
  r->active = true;
  pthread_mutex_unlock(&app->qmu);

  json_t *ev = event("started", c->id);
  json_object_set_new(ev, "attempt", json_integer(c->attempts));
  json_object_set_new(ev, "stage", json_string("load"));
  ws_event(app, c->user_id, ev);

  json_t *p = json_loads(c->params, 0, NULL);
  hm_job job = hm_job_default();
  job.lyrics = c->lyrics;
  job.tags = c->tags;
  job.max_audio_ms = json_integer_value(json_object_get(p, "max_audio_length_ms"));
  job.topk = (int)json_integer_value(json_object_get(p, "topk"));
  job.temperature = (float)json_number_value(json_object_get(p, "temperature"));
  job.cfg_scale = (float)json_number_value(json_object_get(p, "cfg_scale"));
  job.codec_steps = (int)json_integer_value(json_object_get(p, "codec_steps"));
  job.codec_guidance = (float)json_number_value(json_object_get(p, "codec_guidance"));
  job.seed = (uint64_t)json_integer_value(json_object_get(p, "seed"));
  job.overwrite = true;
  job.stream = true; /* live audio: each codec window as soon as its codes exist */
  const char *cont = json_string_value(json_object_get(p, "continue_from"));
  const char *ref_file = json_string_value(json_object_get(p, "ref_file"));
  char ref_path[4300];
  if (ref_file && strlen(ref_file) < 64 && !strchr(ref_file, '/')) { /* the reference song's audio (checked at accept) */
    snprintf(ref_path, sizeof ref_path, "%s/%s", app->audio_dir, ref_file);
    job.ref_audio_path = ref_path;
    job.ref_strength = (float)json_number_value(json_object_get(p, "ref_strength"));
  }

  char tmp[4300], final[4300], codes_tmp[4300], codes_final[4300], thumb_tmp[4300], thumb_final[4300], err[1024] = "";
  snprintf(tmp, sizeof tmp, "%s/%s.%s", app->tmp_dir, c->id, c->format);
  snprintf(final, sizeof final, "%s/%s.%s", app->audio_dir, c->id, c->format);
  snprintf(codes_tmp, sizeof codes_tmp, "%s/%s.codes", app->tmp_dir, c->id);
  snprintf(codes_final, sizeof codes_final, "%s/%s.codes", app->audio_dir, c->id);
  snprintf(thumb_tmp, sizeof thumb_tmp, "%s/%s.png", app->tmp_dir, c->id);
  snprintf(thumb_final, sizeof thumb_final, "%s/%s.png", app->audio_dir, c->id);
  unlink(tmp);
  job.output_path = tmp;

  int32_t *history = NULL;
  hm_status st = HM_OK;
  if (cont) {
    char hp[4300];
    snprintf(hp, sizeof hp, "%s/%s.codes", app->audio_dir, cont);
    history = read_codes(hp, &job.n_history);
    if (!history) {
      st = HM_ERR_IO;
      snprintf(err, sizeof err, "continue_from: the codes of generation %s are gone", cont);
    }
    job.history = history;
    job.history_in_output = true;
  }

  job_ctx jc = {.app = app, .run = r, .sample_rate = 48000};
  jc.thumb = thumb_new((job.max_audio_ms + (history ? job.n_history * 80 : 0)) * 48 + 48000);
  pthread_mutex_init(&jc.mu, NULL);
  hm_job_callbacks cb = {.progress = on_progress, .abort = on_abort, .on_audio = on_audio, .user_data = &jc};
  hm_generate_result res;
  memset(&res, 0, sizeof res);
  if (st == HM_OK) {
    st = hm_engine_generate(w->engine, &job, &cb, &res);
    if (st != HM_OK && st != HM_ERR_ABORTED) {
      char raw[1024];
      snprintf(raw, sizeof raw, "%s: %s", hm_status_str(st), hm_last_error());
      clean_error(app, raw, err, sizeof err);
    }
  }
  hm_engine_stats es;
  hm_engine_get_stats(w->engine, &es);
  if (es.lm_loaded) atomic_store(&app->model_loaded, true);
  json_decref(p);
  free(history);
  pthread_mutex_destroy(&jc.mu);

  bool cancelled = atomic_load(&r->cancel);
  if (st == HM_OK) {
    if (write_codes(codes_tmp, res.codes, res.n_frames) || commit_file(codes_tmp, codes_final, app->audio_dir) ||
        commit_file(tmp, final, app->audio_dir)) {
      st = HM_ERR_IO;
      snprintf(err, sizeof err, "could not store the finished song: %s", strerror(errno));
    }
  }
  /* the thumbnail, like the audio: temporary name, fsync, rename, before the row says done */
  bool have_thumb = st == HM_OK && thumb_write_png(jc.thumb, thumb_tmp) == 0 &&
                    commit_file(thumb_tmp, thumb_final, app->audio_dir) == 0;
  if (st == HM_OK && !have_thumb) fprintf(stderr, "heartmula serve: job %s: could not render its thumbnail\n", c->id);
  thumb_free(jc.thumb);
  if (st == HM_OK) {
    int64_t duration_ms = res.sample_rate_hz > 0 ? res.n_samples * 1000 / res.sample_rate_hz : res.n_frames * 80;
    json_t *tm = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:I}", "load_lm_s", res.t_load_lm_s, "lm_s", res.t_lm_s,
                           "load_codec_s", res.t_load_codec_s, "codec_s", res.t_codec_s, "first_audio_s",
                           res.t_first_audio_s, "total_s", res.t_total_s, "n_frames", (json_int_t)res.n_frames);
    char *tms = json_dumps(tm, JSON_COMPACT);
    json_decref(tm);
    char fname[80], cname[80], tname[80];
    snprintf(fname, sizeof fname, "%s.%s", c->id, c->format);
    snprintf(cname, sizeof cname, "%s.codes", c->id);
    snprintf(tname, sizeof tname, "%s.png", c->id);
    bool ok = db_finish(app, c->id,
                        "UPDATE generations SET status='done', finished_at=?2, audio_file=?3, codes_file=?4, "
                        "duration_ms=?5, timings=?6, error=NULL, thumb_file=?7 WHERE id=?1 AND status='running'",
                        fname, cname, duration_ms, tms, have_thumb ? tname : NULL);
    free(tms);
    if (ok) {
      json_t *e = event("finished", c->id);
      json_object_set_new(e, "duration_ms", json_integer(duration_ms));
      char *url = srv_audio_url(app, c->id);
      if (url) json_object_set_new(e, "audio_url", json_string(url));
      free(url);
      ws_event(app, c->user_id, e);
    } else { /* cancelled or deleted while finishing */
      unlink(final);
      unlink(codes_final);
      unlink(thumb_final);
    }
  } else if (st == HM_ERR_ABORTED && !cancelled && atomic_load(&app->stopping)) {
    /* shutdown: not the job's fault; queued again without spending an attempt */
    db_finish(app, c->id,
              "UPDATE generations SET status='queued', started_at=NULL, attempts=MAX(attempts-1,0) "
              "WHERE id=?1 AND status='running' AND ?2 IS NOT NULL",
              NULL, NULL, 0, NULL, NULL);
  } else if (st == HM_ERR_ABORTED) {
    /* cancelled: the HTTP side set the row and sent the event */
  } else {
    if (db_finish(app, c->id, "UPDATE generations SET status='failed', finished_at=?2, error=?3 WHERE id=?1 AND status='running'",
                  err, NULL, 0, NULL, NULL)) {
      json_t *e = event("failed", c->id);
      json_object_set_new(e, "error", json_string(err));
      ws_event(app, c->user_id, e);
    }
  }
  unlink(tmp);
  unlink(codes_tmp);
  unlink(thumb_tmp);
  hm_generate_result_free(&res);
  pthread_mutex_lock(&app->qmu);
  r->active = false;
  pthread_mutex_unlock(&app->qmu);
}

static void *worker_main(void *arg) {
  worker *w = arg;
  srv_app *app = w->app;
  while (!atomic_load(&app->stopping)) {
    claimed c;
    memset(&c, 0, sizeof c);
    if (claim(app, &c)) {
      run_job(w, &c);
      claimed_free(&c);
      continue;
    }
    claimed_free(&c);
    pthread_mutex_lock(&app->qmu);
    if (!atomic_load(&app->stopping)) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1; /* also a safety net against a missed wake-up */
      pthread_cond_timedwait(&app->qcv, &app->qmu, &ts);
    }
    pthread_mutex_unlock(&app->qmu);
  }
  return NULL;
}

static worker *g_workers;

int workers_start(srv_app *app) {
  int n = app->cfg.n_workers;
  app->running = calloc((size_t)n, sizeof *app->running);
  app->workers = calloc((size_t)n, sizeof *app->workers);
  g_workers = calloc((size_t)n, sizeof *g_workers);
  if (!app->running || !app->workers || !g_workers) return -1;
  pthread_mutex_init(&app->qmu, NULL);
  pthread_cond_init(&app->qcv, NULL);
  for (int i = 0; i < n; i++) {
    hm_engine_params ep = hm_engine_default_params();
    ep.version = app->cfg.version;
    ep.memory = app->cfg.memory;
    ep.n_threads = app->cfg.n_threads;
    ep.mula_weights = app->cfg.mula_weights;
    ep.codec_bf16 = app->cfg.codec_bf16;
    g_workers[i].app = app;
    g_workers[i].index = i;
    if (hm_engine_open(app->cfg.model_path, &ep, &g_workers[i].engine) != HM_OK) {
      fprintf(stderr, "heartmula serve: error: %s\n", hm_last_error());
      return -1;
    }
  }
  for (int i = 0; i < n; i++)
    if (pthread_create(&app->workers[i], NULL, worker_main, &g_workers[i])) return -1;
  return 0;
}

void workers_wake(srv_app *app) {
  pthread_mutex_lock(&app->qmu);
  pthread_cond_broadcast(&app->qcv);
  pthread_mutex_unlock(&app->qmu);
}

void workers_stop(srv_app *app) {
  atomic_store(&app->stopping, true);
  if (!g_workers) return;
  workers_wake(app);
  for (int i = 0; i < app->cfg.n_workers; i++) {
    if (app->workers && app->workers[i]) pthread_join(app->workers[i], NULL);
    hm_engine_close(g_workers[i].engine);
  }
  db_reader_release();
  free(g_workers);
  g_workers = NULL;
  free(app->workers);
  app->workers = NULL;
  free(app->running);
  app->running = NULL;
}

bool workers_cancel(srv_app *app, const char *id, int64_t user_id) {
  bool hit = false;
  pthread_mutex_lock(&app->qmu);
  for (int i = 0; app->running && i < app->cfg.n_workers; i++) {
    srv_running *r = &app->running[i];
    if (r->active && r->user_id == user_id && !strcmp(r->id, id)) {
      atomic_store(&r->cancel, true);
      hit = true;
    }
  }
  pthread_mutex_unlock(&app->qmu);
  return hit;
}

bool workers_progress(srv_app *app, const char *id, const char **stage, int64_t *done, int64_t *total, double *fps,
                      double *eta) {
  bool hit = false;
  pthread_mutex_lock(&app->qmu);
  for (int i = 0; app->running && i < app->cfg.n_workers; i++) {
    srv_running *r = &app->running[i];
    if (r->active && !strcmp(r->id, id)) {
      *stage = srv_stage_name(r->stage);
      *done = r->done;
      *total = r->total;
      *fps = r->frames_per_s;
      *eta = r->eta_s;
      hit = true;
    }
  }
  pthread_mutex_unlock(&app->qmu);
  return hit;
}
