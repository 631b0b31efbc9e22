// A vectorised e^x for the AVX-512 kernels (include only from files built with -mavx512f).
// Written here because the compiler calls scalar expf per element without -ffast-math, and
// glibc's vector expf (libmvec) is only reachable under -ffast-math. Range reduction
// x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so n ln2 is exact in the first part), a
// degree-7 Taylor polynomial for e^r (truncation < 6e-9 relative) and scalef for the 2^n:
// under 2 ulp over the float range; overflow gives +inf, underflow 0 or a denormal.
#pragma once

#include <immintrin.h>

namespace cyllm::cpu::avx512 {

inline __m512 exp_ps(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(89.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

}  // namespace cyllm::cpu::avx512
