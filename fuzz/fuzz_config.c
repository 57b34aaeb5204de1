/* config.json / gen_config.json readers: the HeartMuLa config and generation
 * config, the prompt's text ids, the HeartCodec config and the Whisper config
 * (their folders hold nothing else, so loading stops after the config). */
#include "fuzz_common.h"
#include "heartmula.h"
#include "mula/mula.h"
#include "text/prompt.h"

#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("config.json", data, size);
  hm_mula_config cfg;
  memset(&cfg, 0, sizeof cfg);
  if (hm_mula_config_load(path, &cfg) == HM_OK) (void)hm_mula_config_check(&cfg, path);
  hm_mula_config gcfg;
  memset(&gcfg, 0, sizeof gcfg);
  (void)hm_mula_gen_config_load(path, &gcfg);
  hm_prompt_params pp = hm_prompt_default_params();
  if (hm_prompt_params_load(path, &pp) == HM_OK) FUZZ_ASSERT(pp.text_bos_id >= 0 && pp.text_eos_id >= 0);
  /* the folder holds config.json only: the codec and Whisper loaders read it, then fail on the rest */
  hm_codec_model *codec = NULL;
  FUZZ_ASSERT(hm_codec_load(fuzz_dir(), NULL, &codec) != HM_OK && codec == NULL);
  hm_whisper_model *wm = NULL;
  FUZZ_ASSERT(hm_whisper_load(fuzz_dir(), &wm) != HM_OK && wm == NULL);
  return 0;
}
