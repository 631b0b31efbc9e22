// Float kernels of the CPU forward pass (see cpu-ops.h), multiversioned with target_clones.
#include "backend/cpu-ops.h"

#include <cmath>
#include <type_traits>

// One body, three code paths; the dynamic loader picks the best for the running CPU.
#define CYLLM_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

namespace cyllm::cpu {

CYLLM_MULTIVERSION
void rmsnorm(const float* x, const float* w, float* y, int n, float eps) {
  float ss = 0.0f;
  for (int i = 0; i < n; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int i = 0; i < n; ++i) y[i] = x[i] * inv * w[i];
}

namespace {
// Sixteen partial sums so the compiler can keep several vector accumulators in flight.
template <class N>
inline float dot_body(const float* a, const float* b, N n) {
  float acc[16] = {};
  int i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0.0f;
  for (; i < n; ++i) s += a[i] * b[i];
  for (float v : acc) s += v;
  return s;
}
}  // namespace

// Attention calls these once per (head, key) with n = head_dim, so the common head size 64 gets
// a fully unrolled copy (same arithmetic, same results).
CYLLM_MULTIVERSION
float dot_f32(const float* a, const float* b, int n) {
  if (n == 64) return dot_body(a, b, std::integral_constant<int, 64>{});
  return dot_body(a, b, n);
}

CYLLM_MULTIVERSION
void axpy_f32(float a, const float* x, float* y, int n) {
  if (n == 64 && (x + 64 <= y || y + 64 <= x)) {  // disjoint: vectorizes without alias checks
    const float* __restrict xr = x;
    float* __restrict yr = y;
    for (int i = 0; i < 64; ++i) yr[i] += a * xr[i];
    return;
  }
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

CYLLM_MULTIVERSION
void scale_f32(float* y, float a, int n) {
  for (int i = 0; i < n; ++i) y[i] *= a;
}

CYLLM_MULTIVERSION
void add_f32(float* y, const float* x, int n) {
  for (int i = 0; i < n; ++i) y[i] += x[i];
}

namespace {
CYLLM_MULTIVERSION
void silu_mul_portable(const float* gate, const float* up, float* out, int n) {
  for (int i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}
}  // namespace

void silu_mul(const float* gate, const float* up, float* out, int n, Isa isa) {
  if (isa == Isa::kAvx512) return avx512::silu_mul(gate, up, out, n);
  silu_mul_portable(gate, up, out, n);
}

float softmax_inplace(float* x, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) x[i] *= inv;
  return sum;
}

void rope_adjacent(float* x, int n_heads, int head_dim, int rope_dim, const float* cos_t, const float* sin_t) {
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < rope_dim / 2; ++i) {
      const float a = v[2 * i], b = v[2 * i + 1];
      v[2 * i] = a * cos_t[i] - b * sin_t[i];
      v[2 * i + 1] = a * sin_t[i] + b * cos_t[i];
    }
  }
}

void rope_neox(float* x, int n_heads, int head_dim, int rope_dim, const float* cos_t, const float* sin_t) {
  const int half = rope_dim / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* lo = x + static_cast<int64_t>(h) * head_dim;
    float* hi = lo + half;
    for (int i = 0; i < half; ++i) {
      const float a = lo[i], b = hi[i];
      lo[i] = a * cos_t[i] - b * sin_t[i];
      hi[i] = a * sin_t[i] + b * cos_t[i];
    }
  }
}

}  // namespace cyllm::cpu
