/* hm_cpu(), hm_force_scalar() and the AMX probe (hm_amx_available) called for
 * the first time by many threads at once, and the log hook set while other
 * threads log (built with -fsanitize=thread: a lazy initialisation without
 * pthread_once / atomics, or a hook read while it changes, is a reported data
 * race, exit status 66). Every thread must see the same features and answers. */
#include "base/base.h"
#include "harness.h"
#include "tensor/gemm_amx.h"

#include <pthread.h>
#include <stdatomic.h>

enum { N_THREADS = 8 };
static pthread_barrier_t barrier;
static const hm_cpu_features *seen_cpu[N_THREADS];
static hm_cpu_features seen_copy[N_THREADS];
static bool seen_scalar[N_THREADS], seen_amx[N_THREADS];
static atomic_int logged_a, logged_b;

static void hook_a(void *ud, hm_log_level level, const char *msg) { (void)level; (void)msg; (void)ud; atomic_fetch_add(&logged_a, 1); }
static void hook_b(void *ud, hm_log_level level, const char *msg) { (void)level; (void)msg; (void)ud; atomic_fetch_add(&logged_b, 1); }

static void *worker(void *arg) {
  const int i = (int)(intptr_t)arg;
  pthread_barrier_wait(&barrier);
  seen_scalar[i] = hm_force_scalar();
  seen_amx[i] = hm_amx_available();
  seen_cpu[i] = hm_cpu();
  seen_copy[i] = *seen_cpu[i];
  for (int k = 0; k < 200; k++) {
    if (i == 0) hm_log_set(k % 2 ? hook_a : hook_b, NULL); /* while the others log */
    else hm_log(HM_LOG_INFO, "thread %d, message %d", i, k);
  }
  return NULL;
}

void hm_test_main(void) {
  pthread_barrier_init(&barrier, NULL, N_THREADS);
  hm_log_set(hook_a, NULL); /* a hook from the start: every message lands in one of the two */
  pthread_t t[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < N_THREADS; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&barrier);
  for (int i = 1; i < N_THREADS; i++) {
    CHECK(seen_cpu[i] == seen_cpu[0]);
    CHECK(!memcmp(&seen_copy[i], &seen_copy[0], sizeof seen_copy[0]));
    CHECK(seen_scalar[i] == seen_scalar[0]);
    CHECK(seen_amx[i] == seen_amx[0]);
  }
  hm_log_set(NULL, NULL);
  CHECK(atomic_load(&logged_a) + atomic_load(&logged_b) == (N_THREADS - 1) * 200);
}
