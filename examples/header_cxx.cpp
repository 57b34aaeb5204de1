// Compiles the public header as C++ (a test: it must stay usable from C++), and checks that
// the header and the linked library are the same version.
#include <heartmula.h>
#include <cstring>

int main() {
  hm_generate_params p = hm_generate_default_params();
  hm_status st = HM_OK;
  bool same_version = std::strcmp(hm_version(), HM_VERSION_STRING) == 0 && hm_version_number() == HM_VERSION_NUMBER;
  return (p.topk == 50 && st == HM_OK && hm_status_str(HM_OK) != nullptr && same_version) ? 0 : 1;
}
