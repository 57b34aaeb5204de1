/* Thread pool for many small parallel calls (~250 matrix-vector products per
 * LM frame): the caller takes part as thread 0; workers spin briefly on an
 * atomic generation counter, then sleep on a condition variable. One run at a
 * time per pool; fn must not call hm_pool_run on the same pool. */
#include "base/base.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ITERS 20000

typedef struct worker_arg {
  struct hm_pool *pool;
  int ith;
} worker_arg;

struct hm_pool {
  int n;
  pthread_t *threads;
  worker_arg *args;
  _Atomic unsigned gen;
  _Atomic int pending;
  _Atomic int stop;
  int sleepers; /* guarded by mu */
  hm_task_fn fn;
  void *arg;
  pthread_mutex_t mu;
  pthread_cond_t cv;
};

static void *worker_main(void *p) {
  worker_arg *wa = p;
  struct hm_pool *pool = wa->pool;
  unsigned seen = 0;
  for (;;) {
    int spins = 0;
    while (atomic_load_explicit(&pool->gen, memory_order_acquire) == seen &&
           !atomic_load_explicit(&pool->stop, memory_order_acquire) && spins < SPIN_ITERS) {
      cpu_relax();
      spins++;
    }
    if (atomic_load_explicit(&pool->gen, memory_order_acquire) == seen &&
        !atomic_load_explicit(&pool->stop, memory_order_acquire)) {
      pthread_mutex_lock(&pool->mu);
      pool->sleepers++;
      while (atomic_load(&pool->gen) == seen && !atomic_load(&pool->stop))
        pthread_cond_wait(&pool->cv, &pool->mu);
      pool->sleepers--;
      pthread_mutex_unlock(&pool->mu);
    }
    if (atomic_load(&pool->stop)) break;
    seen = atomic_load_explicit(&pool->gen, memory_order_acquire);
    pool->fn(pool->arg, wa->ith, pool->n);
    atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel);
  }
  return NULL;
}

hm_pool *hm_pool_create(int n_threads) {
  if (n_threads <= 0) n_threads = hm_num_cores();
  struct hm_pool *pool = calloc(1, sizeof *pool);
  if (!pool) return NULL;
  pool->n = n_threads;
  pthread_mutex_init(&pool->mu, NULL);
  pthread_cond_init(&pool->cv, NULL);
  if (n_threads > 1) {
    pool->threads = calloc((size_t)n_threads, sizeof *pool->threads);
    pool->args = calloc((size_t)n_threads, sizeof *pool->args);
    if (!pool->threads || !pool->args) { hm_pool_free(pool); return NULL; }
    for (int i = 1; i < n_threads; i++) {
      pool->args[i].pool = pool;
      pool->args[i].ith = i;
      if (pthread_create(&pool->threads[i], NULL, worker_main, &pool->args[i]) != 0) {
        pool->n = i; /* threads 1..i-1 exist */
        hm_pool_free(pool);
        return NULL;
      }
    }
  }
  return pool;
}

void hm_pool_free(hm_pool *pool) {
  if (!pool) return;
  if (pool->threads) {
    pthread_mutex_lock(&pool->mu);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->threads[i], NULL);
  }
  pthread_mutex_destroy(&pool->mu);
  pthread_cond_destroy(&pool->cv);
  free(pool->threads);
  free(pool->args);
  free(pool);
}

int hm_pool_size(const hm_pool *pool) { return pool ? pool->n : 1; }

void hm_pool_run(hm_pool *pool, hm_task_fn fn, void *arg) {
  if (!pool || pool->n <= 1) { fn(arg, 0, 1); return; }
  pool->fn = fn;
  pool->arg = arg;
  atomic_store_explicit(&pool->pending, pool->n - 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
  pthread_mutex_lock(&pool->mu);
  if (pool->sleepers) pthread_cond_broadcast(&pool->cv);
  pthread_mutex_unlock(&pool->mu);
  fn(arg, 0, pool->n);
  int spins = 0;
  while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) {
    if (++spins < SPIN_ITERS) cpu_relax();
    else sched_yield();
  }
}
