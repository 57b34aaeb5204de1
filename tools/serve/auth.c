/* Accounts' secrets: Argon2id password hashes (libsodium crypto_pwhash_str), HS256 access tokens
 * (libjwt builds and parses them; the signature is also checked here in constant time and the
 * algorithm pinned), HMAC-signed short-lived audio URLs, and login throttling. */
#include "serve/serve.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jwt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RL_SLOTS 4096
typedef struct rl_entry {
  char key[160];
  int fails;
  int64_t window_start, locked_until;
} rl_entry;
struct srv_ratelimit {
  pthread_mutex_t mu;
  rl_entry e[RL_SLOTS];
};

static int64_t now_s(void) { return (int64_t)time(NULL); }

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int load_or_make_secret(srv_app *app) {
  const char *env = getenv("JWT_SECRET_KEY");
  if (env && *env) {
    size_t n = strlen(env);
    if (n < 32) fprintf(stderr, "heartmula serve: warning: JWT_SECRET_KEY is short (< 32 characters)\n");
    if (n > sizeof app->jwt_key) n = sizeof app->jwt_key; /* longer keys: the first 64 bytes */
    memcpy(app->jwt_key, env, n);
    app->jwt_key_len = n;
    return 0;
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/jwt_secret", app->cfg.data_dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    unsigned char k[32];
    char hex[65];
    randombytes_buf(k, sizeof k);
    sodium_bin2hex(hex, sizeof hex, k, sizeof k);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    int wfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (wfd < 0) {
      fprintf(stderr, "heartmula serve: cannot create the JWT secret in the data folder: %s\n", strerror(errno));
      return -1;
    }
    bool ok = write(wfd, hex, 64) == 64 && write(wfd, "\n", 1) == 1 && fsync(wfd) == 0;
    ok = close(wfd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
      unlink(tmp);
      fprintf(stderr, "heartmula serve: cannot write the JWT secret\n");
      return -1;
    }
    sodium_memzero(k, sizeof k);
    fprintf(stderr, "heartmula serve: generated a new JWT secret (data folder, mode 0600)\n");
    fd = open(path, O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    fprintf(stderr, "heartmula serve: cannot read the JWT secret: %s\n", strerror(errno));
    return -1;
  }
  struct stat sb;
  if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
    fprintf(stderr, "heartmula serve: warning: the JWT secret file is readable by others (chmod 600 it)\n");
  char buf[130];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 64) {
    fprintf(stderr, "heartmula serve: the JWT secret file is malformed (want 64 hex digits)\n");
    return -1;
  }
  for (int i = 0; i < 32; i++) {
    int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      fprintf(stderr, "heartmula serve: the JWT secret file is malformed (want 64 hex digits)\n");
      return -1;
    }
    app->jwt_key[i] = (unsigned char)(hi * 16 + lo);
  }
  app->jwt_key_len = 32;
  sodium_memzero(buf, sizeof buf);
  return 0;
}

int auth_init(srv_app *app) {
  if (sodium_init() < 0) {
    fprintf(stderr, "heartmula serve: libsodium failed to initialise\n");
    return -1;
  }
  if (load_or_make_secret(app)) return -1;
  /* a separate key for signed URLs: HMAC(secret, "heartmula signed-url v1") */
  crypto_auth_hmacsha256_state s;
  crypto_auth_hmacsha256_init(&s, app->jwt_key, app->jwt_key_len);
  crypto_auth_hmacsha256_update(&s, (const unsigned char *)"heartmula signed-url v1", 23);
  crypto_auth_hmacsha256_final(&s, app->url_key);
  app->rl = calloc(1, sizeof *app->rl);
  if (!app->rl) return -1;
  pthread_mutex_init(&app->rl->mu, NULL);
  pthread_mutex_init(&app->hash_mu, NULL);
  pthread_cond_init(&app->hash_cv, NULL);
  return 0;
}

void auth_free(srv_app *app) {
  if (app->rl) {
    pthread_mutex_destroy(&app->rl->mu);
    free(app->rl);
    app->rl = NULL;
  }
  sodium_memzero(app->jwt_key, sizeof app->jwt_key);
  sodium_memzero(app->url_key, sizeof app->url_key);
}

/* Argon2id at libsodium's "interactive" cost uses 64 MiB: at most two at once. */
static void hash_enter(srv_app *app) {
  pthread_mutex_lock(&app->hash_mu);
  while (app->n_hashing >= 2) pthread_cond_wait(&app->hash_cv, &app->hash_mu);
  app->n_hashing++;
  pthread_mutex_unlock(&app->hash_mu);
}
static void hash_leave(srv_app *app) {
  pthread_mutex_lock(&app->hash_mu);
  app->n_hashing--;
  pthread_cond_signal(&app->hash_cv);
  pthread_mutex_unlock(&app->hash_mu);
}

int auth_hash_password(srv_app *app, const char *pw, char out[128]) {
  char h[crypto_pwhash_STRBYTES];
  hash_enter(app);
  int rc = crypto_pwhash_str(h, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
  hash_leave(app);
  if (rc != 0) return -1;
  snprintf(out, 128, "%s", h);
  return 0;
}

static char dummy_hash[crypto_pwhash_STRBYTES];
static bool dummy_ok;
static void make_dummy(void) {
  dummy_ok = crypto_pwhash_str(dummy_hash, "x", 1, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
}

bool auth_verify_password(srv_app *app, const char *hash, const char *pw) {
  /* no account: a verification of the same cost, so timing does not tell which names exist */
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  if (!hash) {
    pthread_once(&once, make_dummy);
    if (!dummy_ok) return false;
    hash = dummy_hash;
    hash_enter(app);
    if (crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0) { /* cannot match: "x" is not a valid password */ }
    hash_leave(app);
    return false;
  }
  hash_enter(app);
  bool ok = crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
  hash_leave(app);
  return ok;
}

static void b64url(const unsigned char *in, size_t n, char *out, size_t cap) {
  sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

char *auth_make_token(srv_app *app, int64_t user_id, int64_t token_version) {
  jwt_t *j = NULL;
  char *tok = NULL;
  if (jwt_new(&j)) return NULL;
  int64_t t = now_s();
  char sub[32];
  snprintf(sub, sizeof sub, "%lld", (long long)user_id);
  if (!jwt_add_grant(j, "sub", sub) && !jwt_add_grant_int(j, "ver", (long)token_version) &&
      !jwt_add_grant_int(j, "iat", (long)t) && !jwt_add_grant_int(j, "exp", (long)(t + app->cfg.limits.token_ttl_s)) &&
      !jwt_set_alg(j, JWT_ALG_HS256, app->jwt_key, (int)app->jwt_key_len))
    tok = jwt_encode_str(j);
  jwt_free(j);
  return tok;
}

bool auth_check_token(srv_app *app, const char *token, int64_t *user_id, int64_t *token_version) {
  if (!token) return false;
  size_t n = strlen(token);
  if (n < 10 || n > 2048) return false;
  const char *dot2 = strrchr(token, '.');
  const char *dot1 = strchr(token, '.');
  if (!dot1 || !dot2 || dot1 == dot2) return false;
  /* header must say HS256 (no "none", no other algorithm) */
  {
    unsigned char hdr[512];
    size_t hl = 0;
    if (sodium_base642bin(hdr, sizeof hdr - 1, token, (size_t)(dot1 - token), NULL, &hl, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
      return false;
    hdr[hl] = 0;
    json_t *h = json_loadb((const char *)hdr, hl, 0, NULL);
    const char *alg = h ? json_string_value(json_object_get(h, "alg")) : NULL;
    bool ok = alg && !strcmp(alg, "HS256");
    json_decref(h);
    if (!ok) return false;
  }
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state s;
  crypto_auth_hmacsha256_init(&s, app->jwt_key, app->jwt_key_len);
  crypto_auth_hmacsha256_update(&s, (const unsigned char *)token, (size_t)(dot2 - token));
  crypto_auth_hmacsha256_final(&s, mac);
  char want[64];
  b64url(mac, sizeof mac, want, sizeof want);
  size_t wl = strlen(want);
  if (strlen(dot2 + 1) != wl || sodium_memcmp(want, dot2 + 1, wl) != 0) return false;
  jwt_t *j = NULL;
  if (jwt_decode(&j, token, app->jwt_key, (int)app->jwt_key_len) || !j) return false;
  bool ok = jwt_get_alg(j) == JWT_ALG_HS256;
  const char *sub = jwt_get_grant(j, "sub");
  errno = 0;
  long exp = jwt_get_grant_int(j, "exp");
  ok = ok && errno == 0 && exp > now_s();
  errno = 0;
  long ver = jwt_get_grant_int(j, "ver");
  ok = ok && errno == 0;
  char *end = NULL;
  long long uid = sub ? strtoll(sub, &end, 10) : 0;
  ok = ok && sub && *sub && end && !*end && uid > 0;
  jwt_free(j);
  if (!ok) return false;
  *user_id = uid;
  *token_version = ver;
  return true;
}

void auth_sign_url(srv_app *app, const char *kind, const char *id, int64_t exp, char out[65]) {
  char msg[160];
  int n = snprintf(msg, sizeof msg, "%s\n%s\n%lld", kind, id, (long long)exp);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac, (const unsigned char *)msg, (unsigned long long)n, app->url_key);
  sodium_bin2hex(out, 65, mac, sizeof mac);
}

bool auth_check_url(srv_app *app, const char *kind, const char *id, const char *exp, const char *sig) {
  if (!exp || !sig || strlen(sig) != 64) return false;
  char *end = NULL;
  errno = 0;
  long long e = strtoll(exp, &end, 10);
  if (errno || !*exp || *end || e < now_s()) return false;
  char want[65];
  auth_sign_url(app, kind, id, e, want);
  return sodium_memcmp(want, sig, 64) == 0;
}

/* ---- login throttling: failures per account and per address within a window ---- */

static rl_entry *rl_find(struct srv_ratelimit *rl, const char *key, bool create) {
  rl_entry *free_slot = NULL, *oldest = NULL;
  int64_t t = now_s();
  for (int i = 0; i < RL_SLOTS; i++) {
    rl_entry *e = &rl->e[i];
    if (e->key[0] && !strcmp(e->key, key)) return e;
    if (!e->key[0]) { if (!free_slot) free_slot = e; }
    else if (!oldest || e->window_start < oldest->window_start) oldest = e;
  }
  if (!create) return NULL;
  rl_entry *e = free_slot ? free_slot : oldest;
  memset(e, 0, sizeof *e);
  snprintf(e->key, sizeof e->key, "%s", key);
  e->window_start = t;
  return e;
}

static void rl_key(char *out, size_t n, const char *kind, const char *s) {
  size_t k = (size_t)snprintf(out, n, "%s:", kind);
  for (; *s && k + 1 < n; s++) out[k++] = (char)tolower((unsigned char)*s);
  out[k] = 0;
}

int auth_rl_check(srv_app *app, const char *account, const char *addr) {
  char ka[160], ki[160];
  rl_key(ka, sizeof ka, "a", account);
  rl_key(ki, sizeof ki, "i", addr);
  int64_t t = now_s();
  int wait = 0;
  pthread_mutex_lock(&app->rl->mu);
  const char *keys[2] = {ka, ki};
  for (int k = 0; k < 2; k++) {
    rl_entry *e = rl_find(app->rl, keys[k], false);
    if (e && e->locked_until > t) {
      int w = (int)(e->locked_until - t);
      if (w > wait) wait = w;
    }
  }
  pthread_mutex_unlock(&app->rl->mu);
  return wait;
}

void auth_rl_fail(srv_app *app, const char *account, const char *addr) {
  char ka[160], ki[160];
  rl_key(ka, sizeof ka, "a", account);
  rl_key(ki, sizeof ki, "i", addr);
  int64_t t = now_s();
  const srv_limits *L = &app->cfg.limits;
  pthread_mutex_lock(&app->rl->mu);
  const char *keys[2] = {ka, ki};
  /* an address may try several accounts: four times the per-account budget */
  const int max[2] = {L->login_max_failures, 4 * L->login_max_failures};
  for (int k = 0; k < 2; k++) {
    rl_entry *e = rl_find(app->rl, keys[k], true);
    if (t - e->window_start >= L->login_window_s) {
      e->window_start = t;
      e->fails = 0;
    }
    if (++e->fails >= max[k]) e->locked_until = t + L->login_window_s;
  }
  pthread_mutex_unlock(&app->rl->mu);
}

void auth_rl_clear(srv_app *app, const char *account, const char *addr) {
  char ka[160];
  (void)addr;
  rl_key(ka, sizeof ka, "a", account);
  pthread_mutex_lock(&app->rl->mu);
  rl_entry *e = rl_find(app->rl, ka, false);
  if (e) memset(e, 0, sizeof *e);
  pthread_mutex_unlock(&app->rl->mu);
}
