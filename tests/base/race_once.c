/* hm_cpu() and hm_force_scalar() called for the first time by many threads at
 * once (built with -fsanitize=thread: a lazy initialisation without
 * pthread_once / atomics is a reported data race, exit status 66). Every
 * thread must see the same features and the same answer. */
#include "base/base.h"
#include "harness.h"

#include <pthread.h>

enum { N_THREADS = 8 };
static pthread_barrier_t barrier;
static const hm_cpu_features *seen_cpu[N_THREADS];
static hm_cpu_features seen_copy[N_THREADS];
static bool seen_scalar[N_THREADS];

static void *worker(void *arg) {
  const int i = (int)(intptr_t)arg;
  pthread_barrier_wait(&barrier);
  seen_scalar[i] = hm_force_scalar();
  seen_cpu[i] = hm_cpu();
  seen_copy[i] = *seen_cpu[i];
  return NULL;
}

void hm_test_main(void) {
  pthread_barrier_init(&barrier, NULL, N_THREADS);
  pthread_t t[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < N_THREADS; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&barrier);
  for (int i = 1; i < N_THREADS; i++) {
    CHECK(seen_cpu[i] == seen_cpu[0]);
    CHECK(!memcmp(&seen_copy[i], &seen_copy[0], sizeof seen_copy[0]));
    CHECK(seen_scalar[i] == seen_scalar[0]);
  }
}
