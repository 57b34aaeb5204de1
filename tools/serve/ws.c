/* /ws/progress: authenticated sockets (token in ?token= or in the first message {"token": "..."})
 * receive their own user's job events as JSON text frames and live audio as binary frames.
 * Events are queued (bounded) and written by one sender thread, so a worker never waits on a
 * socket; a slow client can only delay other clients' events, never generation. */
#include "serve/serve.h"

#include <civetweb.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WS_MAX_QUEUED_BYTES (64 << 20) /* events and audio waiting to be sent */
#define WS_MAX_IN_MESSAGE 4096         /* what a client may send us */
#define WS_MAX_CLIENTS 1024

typedef struct ws_client {
  struct mg_connection *conn;
  int64_t user_id; /* 0: not (or no longer) authenticated */
  bool ready;
  struct ws_client *next;
} ws_client;

typedef struct ws_msg {
  int64_t user_id;
  int opcode;
  char *data;
  size_t len;
  struct ws_msg *next;
} ws_msg;

typedef struct srv_ws {
  srv_app *app;
  pthread_mutex_t mu; /* clients */
  ws_client *clients;
  int n_clients;
  pthread_mutex_t qmu; /* outbound queue */
  pthread_cond_t qcv;
  ws_msg *head, *tail;
  size_t queued_bytes;
  bool stop;
  pthread_t sender;
} srv_ws;

/* defined in http.c: token valid and its version current */

static bool user_connected(srv_ws *ws, int64_t uid) {
  bool any = false;
  pthread_mutex_lock(&ws->mu);
  for (ws_client *c = ws->clients; c && !any; c = c->next) any = c->ready && c->user_id == uid;
  pthread_mutex_unlock(&ws->mu);
  return any;
}

static void enqueue(srv_ws *ws, int64_t uid, int opcode, char *data, size_t len, bool droppable) {
  pthread_mutex_lock(&ws->qmu);
  if (ws->stop || (ws->queued_bytes + len > WS_MAX_QUEUED_BYTES && droppable)) {
    pthread_mutex_unlock(&ws->qmu);
    free(data);
    return;
  }
  ws_msg *m = malloc(sizeof *m);
  if (!m) {
    pthread_mutex_unlock(&ws->qmu);
    free(data);
    return;
  }
  m->user_id = uid;
  m->opcode = opcode;
  m->data = data;
  m->len = len;
  m->next = NULL;
  if (ws->tail) ws->tail->next = m;
  else ws->head = m;
  ws->tail = m;
  ws->queued_bytes += len;
  pthread_cond_signal(&ws->qcv);
  pthread_mutex_unlock(&ws->qmu);
}

static void *sender_main(void *arg) {
  srv_ws *ws = arg;
  for (;;) {
    pthread_mutex_lock(&ws->qmu);
    while (!ws->head && !ws->stop) pthread_cond_wait(&ws->qcv, &ws->qmu);
    ws_msg *m = ws->head;
    if (!m) { /* stop and drained */
      pthread_mutex_unlock(&ws->qmu);
      break;
    }
    ws->head = m->next;
    if (!ws->head) ws->tail = NULL;
    ws->queued_bytes -= m->len;
    pthread_mutex_unlock(&ws->qmu);
    pthread_mutex_lock(&ws->mu);
    for (ws_client *c = ws->clients; c; c = c->next)
      if (c->ready && c->user_id == m->user_id) mg_websocket_write(c->conn, m->opcode, m->data, m->len);
    pthread_mutex_unlock(&ws->mu);
    free(m->data);
    free(m);
  }
  return NULL;
}

void ws_event(srv_app *app, int64_t user_id, json_t *event) {
  srv_ws *ws = app->ws;
  if (!ws || !event) {
    json_decref(event);
    return;
  }
  const char *type = json_string_value(json_object_get(event, "type"));
  bool droppable = type && !strcmp(type, "progress");
  if (!user_connected(ws, user_id)) {
    json_decref(event);
    return;
  }
  char *s = json_dumps(event, JSON_COMPACT);
  json_decref(event);
  if (s) enqueue(ws, user_id, MG_WEBSOCKET_OPCODE_TEXT, s, strlen(s), droppable);
}

static void put_le(unsigned char *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Binary frame: "HMA1", job id (32 ASCII), first_sample (u64 LE), sample rate (u32 LE), channels (u32 LE, 2),
 * frames (u32 LE), then frames x channels int16 LE, interleaved. */
void ws_audio(srv_app *app, int64_t user_id, const char *id, const float *planar, int64_t n, int64_t first,
              int sample_rate) {
  srv_ws *ws = app->ws;
  if (!ws || n <= 0 || n > (1 << 24) || !user_connected(ws, user_id)) return;
  size_t hdr = 4 + SRV_ID_LEN + 8 + 4 + 4 + 4;
  size_t len = hdr + (size_t)n * 4;
  unsigned char *b = malloc(len);
  if (!b) return;
  memcpy(b, "HMA1", 4);
  memcpy(b + 4, id, SRV_ID_LEN);
  put_le(b + 36, (uint64_t)first, 8);
  put_le(b + 44, (uint64_t)sample_rate, 4);
  put_le(b + 48, 2, 4);
  put_le(b + 52, (uint64_t)n, 4);
  unsigned char *p = b + hdr;
  for (int64_t i = 0; i < n; i++)
    for (int c = 0; c < 2; c++) {
      float x = planar[c * n + i] * 32768.0f;
      long v = x != x ? 0 : x >= 32767.0f ? 32767 : x <= -32768.0f ? -32768 : (long)floorf(x);
      put_le(p, (uint64_t)(uint16_t)(int16_t)v, 2);
      p += 2;
    }
  enqueue(ws, user_id, MG_WEBSOCKET_OPCODE_BINARY, (char *)b, len, true);
}

void ws_revoke_user(srv_app *app, int64_t user_id) {
  srv_ws *ws = app->ws;
  if (!ws) return;
  pthread_mutex_lock(&ws->mu);
  for (ws_client *c = ws->clients; c; c = c->next)
    if (c->user_id == user_id) c->user_id = 0;
  pthread_mutex_unlock(&ws->mu);
}

/* ---- civetweb handlers ---- */

static int on_connect(const struct mg_connection *conn, void *cbdata) {
  srv_ws *ws = cbdata;
  const struct mg_request_info *ri = mg_get_request_info(conn);
  int64_t uid = 0;
  char token[2100];
  if (ri->query_string && mg_get_var(ri->query_string, strlen(ri->query_string), "token", token, sizeof token) > 0) {
    if (!srv_auth_token(ws->app, token, &uid)) return 1; /* refused: a bad token */
  }
  ws_client *c = calloc(1, sizeof *c);
  if (!c) return 1;
  pthread_mutex_lock(&ws->mu);
  if (ws->n_clients >= WS_MAX_CLIENTS || ws->stop) {
    pthread_mutex_unlock(&ws->mu);
    free(c);
    return 1;
  }
  c->conn = (struct mg_connection *)conn;
  c->user_id = uid;
  c->next = ws->clients;
  ws->clients = c;
  ws->n_clients++;
  pthread_mutex_unlock(&ws->mu);
  mg_set_user_connection_data(conn, c);
  return 0;
}

static void send_text(struct mg_connection *conn, const char *s) {
  mg_websocket_write(conn, MG_WEBSOCKET_OPCODE_TEXT, s, strlen(s));
}

static void on_ready(struct mg_connection *conn, void *cbdata) {
  srv_ws *ws = cbdata;
  ws_client *c = mg_get_user_connection_data(conn);
  if (!c) return;
  pthread_mutex_lock(&ws->mu);
  c->ready = true;
  bool authed = c->user_id > 0;
  /* written under the client lock so no event overtakes the greeting */
  send_text(conn, authed ? "{\"type\":\"authenticated\"}" : "{\"type\":\"hello\",\"message\":\"send {\\\"token\\\": ...}\"}");
  pthread_mutex_unlock(&ws->mu);
}

static int on_data(struct mg_connection *conn, int bits, char *data, size_t len, void *cbdata) {
  srv_ws *ws = cbdata;
  ws_client *c = mg_get_user_connection_data(conn);
  int op = bits & 0xf;
  if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) return 0;
  if (op != MG_WEBSOCKET_OPCODE_TEXT || !c) return 1; /* pings are answered by civetweb; binary ignored */
  if (len > WS_MAX_IN_MESSAGE) return 0;
  json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
  const char *token = j ? json_string_value(json_object_get(j, "token")) : NULL;
  const char *type = j ? json_string_value(json_object_get(j, "type")) : NULL;
  int keep = 1;
  if (token) {
    int64_t uid = 0;
    if (srv_auth_token(ws->app, token, &uid)) {
      pthread_mutex_lock(&ws->mu);
      c->user_id = uid;
      send_text(conn, "{\"type\":\"authenticated\"}");
      pthread_mutex_unlock(&ws->mu);
    } else {
      pthread_mutex_lock(&ws->mu);
      send_text(conn, "{\"type\":\"error\",\"error\":{\"code\":\"unauthorized\",\"message\":\"invalid or expired token\"}}");
      pthread_mutex_unlock(&ws->mu);
      keep = 0;
    }
  } else if (type && !strcmp(type, "ping")) {
    pthread_mutex_lock(&ws->mu);
    send_text(conn, "{\"type\":\"pong\"}");
    pthread_mutex_unlock(&ws->mu);
  }
  json_decref(j);
  return keep;
}

static void on_close(const struct mg_connection *conn, void *cbdata) {
  srv_ws *ws = cbdata;
  ws_client *c = mg_get_user_connection_data(conn);
  if (!c) return;
  pthread_mutex_lock(&ws->mu);
  for (ws_client **pp = &ws->clients; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      ws->n_clients--;
      break;
    }
  pthread_mutex_unlock(&ws->mu);
  mg_set_user_connection_data(conn, NULL);
  free(c);
}

int ws_init(srv_app *app) {
  srv_ws *ws = calloc(1, sizeof *ws);
  if (!ws) return -1;
  ws->app = app;
  pthread_mutex_init(&ws->mu, NULL);
  pthread_mutex_init(&ws->qmu, NULL);
  pthread_cond_init(&ws->qcv, NULL);
  if (pthread_create(&ws->sender, NULL, sender_main, ws)) {
    free(ws);
    return -1;
  }
  app->ws = ws;
  return 0;
}

void ws_register(srv_app *app) {
  mg_set_websocket_handler(app->mg, "/ws/progress", on_connect, on_ready, on_data, on_close, app->ws);
}

void ws_free(srv_app *app) {
  srv_ws *ws = app->ws;
  if (!ws) return;
  pthread_mutex_lock(&ws->qmu);
  ws->stop = true;
  pthread_cond_signal(&ws->qcv);
  pthread_mutex_unlock(&ws->qmu);
  pthread_join(ws->sender, NULL);
  /* the clients were closed by mg_stop (on_close freed them) */
  pthread_mutex_destroy(&ws->mu);
  pthread_mutex_destroy(&ws->qmu);
  pthread_cond_destroy(&ws->qcv);
  free(ws);
  app->ws = NULL;
}
