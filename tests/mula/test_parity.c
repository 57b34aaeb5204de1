/* Every mula_* case of the shared fixtures, compared directly (what `heartmula
 * parity --only mula` runs): logits and hidden states within 1e-4 relative,
 * sampled codes and frames exact. */
#include "harness.h"
#include "mula_fixture.h"
#include "io/json.h"

void hm_test_main(void) {
  char dir[1024], mpath[1024];
  hm_test_path(dir, sizeof dir, "fixtures");
  hm_test_path(mpath, sizeof mpath, "fixtures/manifest.json");
  json_t *manifest = NULL;
  CHECK_OK(hm_json_load(mpath, &manifest));
  if (!manifest) return;
  char names[32][64];
  int n = hm_mula_fixture_cases(manifest, names, 32);
  CHECK_MSG(n >= 6, "found %d mula cases", n);
  for (int i = 0; i < n; i++) {
    hm_mula_case_report rep;
    hm_status st = hm_mula_fixture_case(dir, manifest, names[i], 2, &rep);
    CHECK_MSG(st == HM_OK, "case %s: %s", names[i], hm_last_error());
    if (st != HM_OK) continue;
    printf("mula_%-14s calls %3lld frames %3lld/%3lld cfg %.2f eos %d  rel err: last_h %.2e c0 %.2e ci %.2e sampled %.2e  %s %s\n",
           names[i], (long long)rep.calls, (long long)rep.frames, (long long)rep.expected_frames, rep.cfg_scale,
           (int)rep.audio_eos_id, rep.err_last_h, rep.err_c0, rep.err_ci, rep.err_sampled, rep.pass ? "PASS" : "FAIL",
           rep.msg);
    CHECK_MSG(rep.pass, "case %s: %s", names[i], rep.msg);
    CHECK(rep.first_bad_call < 0);
    CHECK(rep.first_bad_frame < 0);
    CHECK(rep.frames == rep.expected_frames);
    CHECK(rep.err_last_h <= 1e-4);
    CHECK(rep.err_c0 <= 1e-4);
    CHECK(rep.err_sampled <= 1e-4);
  }
  json_decref(manifest);
}
