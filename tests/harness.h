/* Minimal test harness: CHECK macros that count, and a summary line.
 * Every test binary gets the shared fixture folder (../shared) as argv[1].
 * A test in which no check ran fails; a test that cannot run here calls
 * hm_test_skip, which exits with HM_TEST_SKIP_CODE (CTest's SKIP_RETURN_CODE). */
#ifndef HM_TEST_HARNESS_H
#define HM_TEST_HARNESS_H
#include <stdio.h>
#include <string.h>
#include <math.h>

extern int hm_test_failed;
extern int hm_test_passed;
extern const char *hm_test_shared; /* argv[1] or "../shared" */

#define CHECK(cond) do { if (cond) hm_test_passed++; else { hm_test_failed++; \
  fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { if (cond) hm_test_passed++; else { hm_test_failed++; \
  fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
  fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_OK(expr) do { hm_status st_ = (expr); if (st_ == HM_OK) hm_test_passed++; else { \
  hm_test_failed++; fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, hm_last_error()); } } while (0)
/* expr must fail, and its error text must contain needle */
#define CHECK_ERR(expr, needle) do { hm_status st_ = (expr); const char *e_ = hm_last_error(); \
  if (st_ != HM_OK && strstr(e_, (needle))) hm_test_passed++; else { hm_test_failed++; \
  fprintf(stderr, "%s:%d: %s: expected an error containing '%s', got status %d '%s'\n", \
          __FILE__, __LINE__, #expr, (needle), (int)st_, e_); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); if (fabs(a_ - b_) <= (tol)) hm_test_passed++; \
  else { hm_test_failed++; fprintf(stderr, "%s:%d: %s = %g, %s = %g, |diff| > %g\n", \
  __FILE__, __LINE__, #a, a_, #b, b_, (double)(tol)); } } while (0)

/* Fills buf with "<shared>/<rel>". */
const char *hm_test_path(char *buf, size_t n, const char *rel);
/* A fresh temporary directory for this test (removed by the OS / CI, not by us). */
const char *hm_test_tmpdir(void);

/* Exits with HM_TEST_SKIP_CODE after printing "SKIPPED: <why>" (CTest reports
 * the test as skipped, not passed). Failed checks before it still fail the test. */
#define HM_TEST_SKIP_CODE 77
#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 1, 2)))
#endif
void hm_test_skip(const char *fmt, ...);

/* Each test file defines this; main() in harness.c calls it and prints the summary. */
void hm_test_main(void);
#endif
