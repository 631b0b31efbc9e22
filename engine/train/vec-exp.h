// 8-float-lane helpers and e^x (GCC vector extensions) for the trainer's target_clones kernels
// (train-attention.cpp, train-pointwise.cpp): the compiler calls scalar expf per element without
// -ffast-math, and glibc's vector expf is only reachable under -ffast-math.
#pragma once

#include <cstdint>

namespace cyllm::train::detail {

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

// Helpers take vectors by reference: by value, a 32-byte vector would change the calling convention
// between clones (-Wpsabi); they are always inlined anyway.
__attribute__((always_inline)) inline void load8(v8f& v, const float* p) { __builtin_memcpy(&v, p, sizeof(v)); }
__attribute__((always_inline)) inline void store8(float* p, const v8f& v) { __builtin_memcpy(p, &v, sizeof(v)); }

// e^x on 8 lanes. Range reduction x = n ln2 + r, |r| <= ln2/2 (ln2 split in two so n ln2_hi is
// exact), n found with the 1.5 * 2^23 rounding trick; degree-7 Taylor polynomial for e^r
// (truncation < 1e-8 relative); 2^n applied as two factors 2^(n>>1) 2^(n - (n>>1)) so both are
// normal numbers over the whole clamped range. Within 1.3 ulp of e^x over the normal range (checked
// against double exp on every 7th float, with and without FMA contraction); results below
// FLT_MIN (x < -87.34) are flushed to 0 (such softmax terms are below the rounding of any sum they
// join), -inf gives 0, large x gives +inf, NaN stays NaN. In place.
__attribute__((always_inline)) inline void exp8(v8f& x) {
  const v8i tiny = x < -87.336544f;
  x = x < -87.5f ? v8f{} - 87.5f : x;
  x = x > 89.0f ? v8f{} + 89.0f : x;
  const v8f magic = v8f{} + 12582912.0f;  // 1.5 * 2^23
  const v8f t = x * 1.44269504088896341f + magic;
  const v8f n = t - magic;
  const v8i ni = (v8i)t - (v8i)magic;
  v8f r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  v8f p = v8f{} + 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const v8i n1 = ni >> 1, n2 = ni - n1;
  const v8f s1 = (v8f)((n1 + 127) << 23), s2 = (v8f)((n2 + 127) << 23);
  const v8f e = p * s1 * s2;
  x = tiny ? v8f{} : e;
}

}  // namespace cyllm::train::detail
