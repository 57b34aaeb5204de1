/* heartlib sample_topk with our RNG:
 *   logits = logits / temperature
 *   drop every logit < the topk-th largest (ties with it are kept)
 *   probs = softmax(log_softmax(kept))        (= softmax of the kept logits)
 *   q ~ Exp(1), one draw per entry (all n, index order: torch's exponential_ on the full row)
 *   token = argmax(probs / q)                  (first index on ties, as torch.argmax) */
#include "mula/mula.h"
#include <math.h>

/* k-th largest (1-based) of a[0..n) by quickselect; reorders a. */
static float kth_largest(float *a, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1, target = k - 1;
  while (lo < hi) {
    float pivot = a[lo + (hi - lo) / 2];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        float t = a[i]; a[i] = a[j]; a[j] = t;
        i++; j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

int32_t hm_mula_sample_topk(const float *logits, int64_t n, int topk, float temperature, hm_rng *rng,
                            float *scratch) {
  if (n <= 0) return 0;
  int64_t k = topk < 1 ? 1 : topk;
  if (k > n) k = n;
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; i++) {
    float v = logits[i] / temperature;
    scratch[i] = isnan(v) ? -INFINITY : v;
    if (scratch[i] > mx) mx = scratch[i];
  }
  float thr;
  if (k == 1) thr = mx;
  else {
    /* quickselect on a second half of scratch would need 2n; select on a copy in place
     * then recompute the scaled logits (cheap) */
    thr = kth_largest(scratch, n, k);
    for (int64_t i = 0; i < n; i++) {
      float v = logits[i] / temperature;
      scratch[i] = isnan(v) ? -INFINITY : v;
    }
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (scratch[i] >= thr && scratch[i] > -INFINITY) {
      scratch[i] = expf(scratch[i] - mx);
      sum += scratch[i];
    } else {
      scratch[i] = 0.0f;
    }
  }
  const float inv = sum > 0 ? (float)(1.0 / sum) : 0.0f;
  int32_t best = 0;
  float best_score = -1.0f;
  for (int64_t i = 0; i < n; i++) {
    float q = (float)hm_rng_exponential(rng);
    float p = scratch[i] * inv;
    float score = q > 0.0f ? p / q : (p > 0.0f ? INFINITY : 0.0f);
    if (score > best_score) {
      best_score = score;
      best = (int32_t)i;
    }
  }
  return best;
}
