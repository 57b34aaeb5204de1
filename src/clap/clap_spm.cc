// The one C++ file of the library: a thin shim over Debian's libsentencepiece
// (sentencepiece_processor.h), exposing plain C functions to clap_tok.c. No
// exception leaves this file; errors come back as text in a caller buffer.
#include <sentencepiece_processor.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

extern "C" {
void *hm_spm_shim_load(const char *path, char *err, size_t n_err);
void hm_spm_shim_free(void *h);
int hm_spm_shim_encode(void *h, const char *text, int **ids, char **pieces, size_t *pieces_bytes, int *n, char *err,
                       size_t n_err);
}

void *hm_spm_shim_load(const char *path, char *err, size_t n_err) {
  try {
    auto *sp = new sentencepiece::SentencePieceProcessor();
    const auto st = sp->Load(path);
    if (!st.ok()) {
      std::snprintf(err, n_err, "%s", st.ToString().c_str());
      delete sp;
      return nullptr;
    }
    return sp;
  } catch (const std::exception &e) {
    std::snprintf(err, n_err, "%s", e.what());
  } catch (...) {
    std::snprintf(err, n_err, "unknown C++ exception");
  }
  return nullptr;
}

void hm_spm_shim_free(void *h) { delete static_cast<sentencepiece::SentencePieceProcessor *>(h); }

int hm_spm_shim_encode(void *h, const char *text, int **ids, char **pieces, size_t *pieces_bytes, int *n, char *err,
                       size_t n_err) {
  *ids = nullptr;
  *pieces = nullptr;
  *n = 0;
  try {
    auto *sp = static_cast<sentencepiece::SentencePieceProcessor *>(h);
    std::vector<std::string> ps;
    const auto st = sp->Encode(text, &ps);
    if (!st.ok()) {
      std::snprintf(err, n_err, "%s", st.ToString().c_str());
      return -1;
    }
    size_t bytes = 1;
    for (const auto &p : ps) bytes += p.size() + 1;
    int *iv = static_cast<int *>(std::malloc(sizeof(int) * (ps.size() + 1)));
    char *pv = static_cast<char *>(std::malloc(bytes));
    if (!iv || !pv) {
      std::free(iv);
      std::free(pv);
      std::snprintf(err, n_err, "out of memory");
      return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < ps.size(); i++) {
      iv[i] = sp->PieceToId(ps[i]);
      std::memcpy(pv + off, ps[i].c_str(), ps[i].size() + 1);
      off += ps[i].size() + 1;
    }
    pv[off] = 0;
    *ids = iv;
    *pieces = pv;
    *pieces_bytes = off;
    *n = static_cast<int>(ps.size());
    return 0;
  } catch (const std::exception &e) {
    std::snprintf(err, n_err, "%s", e.what());
  } catch (...) {
    std::snprintf(err, n_err, "unknown C++ exception");
  }
  return -1;
}
