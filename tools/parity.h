/* `heartmula parity DIR`: runs every case a fixture folder's manifest.json
 * describes. cmd_parity.c owns the driver (manifest, --only, --strict, the
 * unused-file check, the summary); each family (parity_mula.c,
 * parity_codec.c, parity_whisper.c) runs its own cases through this API. */
#ifndef HM_PARITY_H
#define HM_PARITY_H
#include "cli.h"
#include "io/fs.h"
#include "io/json.h"

typedef struct parity_ctx parity_ctx;

/* The fixture folder and its parsed manifest.json. */
const char *parity_dir(const parity_ctx *p);
const json_t *parity_manifest(const parity_ctx *p);
/* Path of a file in the fixture folder, into buf; marks the file as used. */
const char *parity_file(parity_ctx *p, const char *name, char *buf, size_t n);
/* Marks a file used without opening it (e.g. a checkpoint read by a loader). */
void parity_use(parity_ctx *p, const char *name);
/* True when case_name passes the --only filter (prefix match). */
bool parity_selected(const parity_ctx *p, const char *case_name);
/* Threads to use (-t). */
int parity_threads(const parity_ctx *p);
/* One line per case. max_rel_err < 0 when not applicable. */
void parity_pass(parity_ctx *p, const char *case_name, double max_rel_err, const char *fmt, ...) HM_PRINTF(4, 5);
void parity_fail(parity_ctx *p, const char *case_name, const char *fmt, ...) HM_PRINTF(3, 4);
void parity_skip(parity_ctx *p, const char *case_name, const char *why);

/* Max-abs error relative to max-abs reference value (the fixtures' measure). */
double parity_rel_err(const float *got, const float *ref, int64_t n);

/* Families. Each returns 0 when it recognised the manifest (or part of it), -1 otherwise. */
int parity_mula(parity_ctx *p);
int parity_codec(parity_ctx *p);
int parity_whisper(parity_ctx *p);
int parity_clap(parity_ctx *p);
int parity_acestep(parity_ctx *p);
/* ACE-Step's fixture root has no manifest.json: the merged manifests of the stages this
 * build checks, or NULL when dir is not that layout. */
json_t *parity_acestep_manifest(const char *dir);
#endif
