/* heartmula.c — the one public header.
 *
 * Conventions: every function that can fail returns hm_status (HM_OK = 0);
 * hm_last_error() then gives a message naming the file, tensor, field or
 * argument at fault. The library never exits and never prints: messages go to
 * the log hook set with hm_log_set() (none by default).
 */
#ifndef HEARTMULA_H
#define HEARTMULA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HM_VERSION_STRING "0.1.0"

typedef enum hm_status {
  HM_OK = 0,
  HM_ERR_INVALID_ARG = 1, /* a bad argument or parameter */
  HM_ERR_IO = 2,          /* a file missing, unreadable or unwritable */
  HM_ERR_FORMAT = 3,      /* malformed file: JSON, safetensors, npy, audio, config */
  HM_ERR_NOMEM = 4,
  HM_ERR_UNSUPPORTED = 5, /* valid but not supported by this build */
  HM_ERR_ABORTED = 6,     /* the abort callback asked to stop */
  HM_ERR_INTERNAL = 7
} hm_status;

/* A short name for a status ("invalid argument", ...). */
const char *hm_status_str(hm_status status);
/* The message of the last failing call on this thread ("" if none). */
const char *hm_last_error(void);

typedef enum hm_log_level { HM_LOG_ERROR = 0, HM_LOG_WARN = 1, HM_LOG_INFO = 2, HM_LOG_DEBUG = 3 } hm_log_level;
typedef void (*hm_log_callback)(hm_log_level level, const char *message, void *user_data);
/* Sets the process-wide log hook; NULL silences the library (the default). */
void hm_log_set(hm_log_callback callback, void *user_data);

/* Progress of a long call: done out of total units (frames, windows, steps). */
typedef void (*hm_progress_callback)(void *user_data, int64_t done, int64_t total);
/* Polled between units of work; return true to stop the call with HM_ERR_ABORTED. */
typedef bool (*hm_abort_callback)(void *user_data);

/* ---- HeartMuLa language model (src/mula) ---- */
/* (section owned by src/mula; see docs/api.md) */

/* ---- HeartCodec (src/codec) ---- */

/* ---- Pipeline: text -> codes -> audio file (src/pipeline) ---- */

/* ---- HeartTranscriptor (src/transcriptor) ---- */

#ifdef __cplusplus
}
#endif
#endif /* HEARTMULA_H */
