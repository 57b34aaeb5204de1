/* Reference-fixture cases for HeartMuLa (the mula_* cases of a fixture folder
 * laid out as ../shared/fixtures). Shared by `heartmula parity` and the tests. */
#ifndef HM_MULA_FIXTURE_H
#define HM_MULA_FIXTURE_H
#include "mula/mula.h"
#include <jansson.h>

#define HM_MULA_CASE_MAX_FILES 16

typedef struct hm_mula_case_report {
  bool pass;
  double tol;                 /* 1e-4 relative */
  double err_last_h, err_c0, err_ci, err_sampled; /* max-abs err / max-abs ref; ci -1 if absent */
  double max_err;
  int64_t calls, frames, expected_frames;
  int first_bad_call;         /* first call whose sampled codes differ, -1 none */
  int first_bad_frame;        /* first differing output frame, -1 none */
  float cfg_scale;
  int32_t audio_eos_id;
  char model_file[64];        /* fixture-relative weights file used */
  char msg[256];              /* why it failed */
  char used[HM_MULA_CASE_MAX_FILES][96]; /* fixture files read */
  int n_used;
} hm_mula_case_report;

/* Case names (without "mula_"): one per mula_<case>_prompt_tokens.npy / mula_<case>_tokens.npy. */
int hm_mula_fixture_cases(const json_t *manifest, char names[][64], int max);
/* Runs case cname of fixture folder dir. Returns an error when the case cannot run
 * (missing/malformed files); a mismatch is reported in rep (rep->pass false). */
hm_status hm_mula_fixture_case(const char *dir, const json_t *manifest, const char *cname, int n_threads,
                               hm_mula_case_report *rep);

#endif
