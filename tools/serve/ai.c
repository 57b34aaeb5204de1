/* AI assistance through any OpenAI-compatible endpoint (OpenAI, a local llama.cpp server, Ollama):
 * chat completions for lyrics, image generations for thumbnails. libcurl, one easy handle per call,
 * a total timeout, http/https only, no redirects, replies capped in size. The key comes from
 * OPENAI_API_KEY and never appears in an error or a log. */
#include "serve/serve.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AI_MAX_REPLY (32 << 20)

bool ai_configured(srv_app *app) {
  (void)app;
  const char *k = getenv("OPENAI_API_KEY");
  return k && *k;
}

typedef struct buf {
  char *p;
  size_t n;
  bool over;
} buf;

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud) {
  buf *b = ud;
  size_t len = size * nmemb;
  if (b->n + len > AI_MAX_REPLY) {
    b->over = true;
    return 0; /* stops the transfer */
  }
  char *q = realloc(b->p, b->n + len + 1);
  if (!q) return 0;
  memcpy(q + b->n, data, len);
  b->p = q;
  b->n += len;
  b->p[b->n] = 0;
  return len;
}

/* POST base_url + path with a JSON body; the parsed JSON reply or NULL with err set */
static json_t *post(srv_app *app, const char *path, json_t *body, char *err, size_t errsz) {
  const char *key = getenv("OPENAI_API_KEY");
  if (!key || !*key) {
    snprintf(err, errsz, "AI assistance is not configured (set OPENAI_API_KEY)");
    return NULL;
  }
  const char *base = app->cfg.openai_base_url;
  size_t bl = strlen(base);
  while (bl && base[bl - 1] == '/') bl--;
  char url[2048], auth[1100];
  if (bl > 1900 || strlen(key) > 1000) {
    snprintf(err, errsz, "the AI endpoint or key is too long");
    return NULL;
  }
  snprintf(url, sizeof url, "%.*s%.64s", (int)(bl < 1900 ? bl : 1900), base, path);
  snprintf(auth, sizeof auth, "Authorization: Bearer %.1000s", key);
  char *js = json_dumps(body, JSON_COMPACT);
  CURL *c = curl_easy_init();
  struct curl_slist *h = NULL;
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, auth);
  buf b = {0};
  json_t *out = NULL;
  if (!js || !c || !h) {
    snprintf(err, errsz, "out of memory");
    goto done;
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, js);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)app->cfg.limits.ai_timeout_s);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(app->cfg.limits.ai_timeout_s < 10 ? app->cfg.limits.ai_timeout_s : 10));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(c, CURLOPT_USERAGENT, "heartmula-serve/" HM_VERSION_STRING);
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    snprintf(err, errsz, "timeout: the AI endpoint did not answer within %d s", app->cfg.limits.ai_timeout_s);
    goto done;
  }
  if (rc != CURLE_OK) {
    snprintf(err, errsz, "the AI endpoint could not be reached (%s)", b.over ? "reply too large" : curl_easy_strerror(rc));
    goto done;
  }
  out = b.p ? json_loadb(b.p, b.n, 0, NULL) : NULL;
  if (status != 200) {
    const char *m = json_string_value(json_object_get(json_object_get(out, "error"), "message"));
    snprintf(err, errsz, "the AI endpoint answered HTTP %ld%s%.200s", status, m ? ": " : "", m ? m : "");
    json_decref(out);
    out = NULL;
  } else if (!json_is_object(out)) {
    snprintf(err, errsz, "the AI endpoint's reply is not a JSON object");
    json_decref(out);
    out = NULL;
  }
done:
  curl_slist_free_all(h);
  if (c) curl_easy_cleanup(c);
  free(js);
  free(b.p);
  return out;
}

char *ai_chat(srv_app *app, const char *system, const char *user, char *err, size_t errsz) {
  json_t *body = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:f, s:i}", "model", app->cfg.openai_model, "messages",
                           "role", "system", "content", system, "role", "user", "content", user, "temperature", 0.9,
                           "max_tokens", 1200);
  json_t *r = body ? post(app, "/chat/completions", body, err, errsz) : NULL;
  json_decref(body);
  if (!r) return NULL;
  const char *text = json_string_value(json_object_get(json_object_get(json_array_get(json_object_get(r, "choices"), 0), "message"), "content"));
  char *out = NULL;
  if (!text || !*text) snprintf(err, errsz, "the AI endpoint's reply holds no text (choices[0].message.content)");
  else if (strlen(text) > 65536) snprintf(err, errsz, "the AI endpoint's reply is too long");
  else out = strdup(text);
  json_decref(r);
  return out;
}

unsigned char *ai_image(srv_app *app, const char *prompt, size_t *n, char *err, size_t errsz) {
  const char *model = app->cfg.openai_image_model;
  json_t *body = json_pack("{s:s, s:s, s:i, s:s}", "model", model, "prompt", prompt, "n", 1, "size", "1024x1024");
  if (body && !strncmp(model, "dall-e", 6)) json_object_set_new(body, "response_format", json_string("b64_json"));
  json_t *r = body ? post(app, "/images/generations", body, err, errsz) : NULL;
  json_decref(body);
  if (!r) return NULL;
  const char *b64 = json_string_value(json_object_get(json_array_get(json_object_get(r, "data"), 0), "b64_json"));
  unsigned char *img = NULL;
  if (!b64) snprintf(err, errsz, "the AI endpoint's reply holds no image (data[0].b64_json)");
  else {
    size_t len = strlen(b64), cap = len / 4 * 3 + 3, got = 0;
    img = malloc(cap);
    if (!img || sodium_base642bin(img, cap, b64, len, "\n\r ", &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
      snprintf(err, errsz, "the AI endpoint's image is not valid base64");
      free(img);
      img = NULL;
    } else if (got < 8 || memcmp(img, "\x89PNG\r\n\x1a\n", 8)) {
      snprintf(err, errsz, "the AI endpoint's image is not a PNG");
      free(img);
      img = NULL;
    } else *n = got;
  }
  json_decref(r);
  return img;
}
