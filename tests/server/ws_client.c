/* A WebSocket client for the server tests: connects to /ws/progress on 127.0.0.1:PORT, authenticates
 * (MODE "msg": token in the first message; "query": ?token= in the URL), prints every text frame
 * as one line and every binary frame as "BINARY <job id> <first_sample> <frames> <bytes>", and
 * exits after SECONDS, or once it has seen N "finished" events (N > 0).
 * Usage: ws_client PORT TOKEN MODE SECONDS N */
#include <civetweb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int n_finished;
static atomic_bool closed;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static uint64_t le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static int on_data(struct mg_connection *c, int bits, char *data, size_t len, void *ud) {
  (void)c;
  (void)ud;
  int op = bits & 0xf;
  pthread_mutex_lock(&out_mu);
  if (op == MG_WEBSOCKET_OPCODE_TEXT) {
    printf("%.*s\n", (int)len, data);
    if (memmem(data, len, "\"type\":\"finished\"", 17)) atomic_fetch_add(&n_finished, 1);
  } else if (op == MG_WEBSOCKET_OPCODE_BINARY) {
    const unsigned char *b = (const unsigned char *)data;
    if (len >= 56 && !memcmp(b, "HMA1", 4))
      printf("BINARY %.32s %llu %llu %zu\n", data + 4, (unsigned long long)le(b + 36, 8),
             (unsigned long long)le(b + 52, 4), len);
    else printf("BINARY malformed %zu\n", len);
  } else if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE) {
    printf("CLOSED\n");
    atomic_store(&closed, true);
  }
  fflush(stdout);
  pthread_mutex_unlock(&out_mu);
  return 1;
}

static void on_close(const struct mg_connection *c, void *ud) {
  (void)c;
  (void)ud;
  atomic_store(&closed, true);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: ws_client PORT TOKEN msg|query SECONDS N\n");
    return 2;
  }
  int port = atoi(argv[1]);
  const char *token = argv[2];
  bool query = !strcmp(argv[3], "query");
  double seconds = atof(argv[4]);
  int want = atoi(argv[5]);
  mg_init_library(0);
  char path[4096], err[256] = "";
  snprintf(path, sizeof path, query ? "/ws/progress?token=%s" : "/ws/progress", token);
  struct mg_connection *c =
    mg_connect_websocket_client("127.0.0.1", port, 0, err, sizeof err, path, NULL, on_data, on_close, NULL);
  if (!c) {
    printf("CONNECT_FAILED %s\n", err);
    return 1;
  }
  if (!query) {
    char msg[4200];
    snprintf(msg, sizeof msg, "{\"token\":\"%s\"}", token);
    mg_websocket_client_write(c, MG_WEBSOCKET_OPCODE_TEXT, msg, strlen(msg));
  }
  for (int i = 0; i < (int)(seconds * 20) && !atomic_load(&closed); i++) {
    if (want > 0 && atomic_load(&n_finished) >= want) break;
    usleep(50000);
  }
  if (!atomic_load(&closed)) mg_close_connection(c);
  mg_exit_library();
  return 0;
}
