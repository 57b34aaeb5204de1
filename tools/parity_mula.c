/* HeartMuLa parity: every mula_* case of a fixture folder (layout of
 * ../shared/fixtures): per generate_frame call, backbone_last_h, c0 and ci
 * logits and the sampled (guided) logits within 1e-4 relative, sampled codes
 * and output frames exact. Cases, shapes, call counts, cfg and eos thresholds
 * come from the folder (src/mula/mula_fixture.c). */
#include "parity.h"
#include "mula_fixture.h"

int parity_mula(parity_ctx *p) {
  const json_t *manifest = parity_manifest(p);
  char names[64][64];
  int n = hm_mula_fixture_cases(manifest, names, 64);
  if (n == 0) return -1;
  char mdir[4096];
  bool have_model = hm_path_join(mdir, sizeof mdir, parity_dir(p), "heartmula/config.json") == HM_OK && hm_file_exists(mdir);
  for (int i = 0; i < n; i++) {
    char cname[80];
    snprintf(cname, sizeof cname, "mula_%.63s", names[i]);
    if (!parity_selected(p, cname)) continue;
    if (!have_model) { parity_skip(p, cname, "no heartmula/config.json in the fixture folder"); continue; }
    hm_mula_case_report rep;
    hm_status st = hm_mula_fixture_case(parity_dir(p), manifest, names[i], parity_threads(p), &rep);
    for (int k = 0; k < rep.n_used; k++) parity_use(p, rep.used[k]);
    if (st != HM_OK) {
      parity_fail(p, cname, "cannot run: %s", hm_last_error());
      continue;
    }
    if (rep.pass)
      parity_pass(p, cname, rep.max_err, "%lld calls, %lld frames equal (cfg %.2f, eos %d, %s)", (long long)rep.calls,
                  (long long)rep.frames, rep.cfg_scale, (int)rep.audio_eos_id, rep.model_file);
    else
      parity_fail(p, cname, "%s [rel err: last_h %.2e c0 %.2e ci %.2e sampled %.2e]", rep.msg, rep.err_last_h,
                  rep.err_c0, rep.err_ci, rep.err_sampled);
  }
  return 0;
}
