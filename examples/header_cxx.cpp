// Compiles the public header as C++ (a test: it must stay usable from C++).
#include <heartmula.h>

int main() {
  hm_generate_params p = hm_generate_default_params();
  hm_status st = HM_OK;
  return (p.topk == 50 && st == HM_OK && hm_status_str(HM_OK) != nullptr) ? 0 : 1;
}
