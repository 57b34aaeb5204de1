/* Shared helpers of the libFuzzer targets (fuzz/fuzz_*.c). Each target
 * defines LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); it is
 * linked either with libFuzzer (`make fuzz`, clang -fsanitize=fuzzer) or with
 * fuzz/standalone.c, which runs given inputs once each (the regression tests
 * of the normal build). Parsers that take a path get the input through a file
 * in a private temporary folder. An invariant a parser promises and breaks is
 * reported with FUZZ_ASSERT (abort: a finding). */
#ifndef HM_FUZZ_COMMON_H
#define HM_FUZZ_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A private folder for this process (made once, under TMPDIR, /dev/shm when present). */
const char *fuzz_dir(void);
/* Writes data to <fuzz_dir>/<name> and returns that path (a static buffer per call site is not
 * needed: the result stays valid until the next call with the same name). */
const char *fuzz_file(const char *name, const void *data, size_t size);
/* Runs fn with stderr sent to /dev/null (code that prints on bad input, as the CLI's helpers do). */
void fuzz_quiet_begin(void);
void fuzz_quiet_end(void);

#define FUZZ_ASSERT(cond) do { if (!(cond)) { \
  fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); abort(); } } while (0)
#endif
