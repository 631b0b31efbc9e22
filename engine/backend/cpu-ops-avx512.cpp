// AVX-512 versions of the cpu-ops.h kernels whose portable loop does not vectorise: silu_mul
// calls scalar expf per element there (no vector exp without -ffast-math). Built with -mavx512f;
// only called when the active ISA is AVX-512.
#include "backend/avx512-exp.h"
#include "backend/cpu-ops.h"

namespace cyllm::cpu::avx512 {

void silu_mul(const float* gate, const float* up, float* out, int n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), g));
    const __m512 s = _mm512_div_ps(g, _mm512_add_ps(one, e));  // g / (1 + e^-g), as the portable code
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, up + i)));
  }
}

}  // namespace cyllm::cpu::avx512
