// AVX2 dot products of K-quant weights (Q4_K, Q5_K, Q6_K) with Q8_K activations. The integer sum of
// each super-block is exact (vpmaddubsw on unsigned weights, vpmaddwd with the sub-block scales),
// and the float scaling repeats the scalar reference's expression, so results are bit-identical.
#include <immintrin.h>

#include "backend/quant-impl.h"

namespace cyllm::cpu::avx2 {

namespace {

inline __m256i ld256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}
// sum over 32 bytes of u*a, each 16-element half weighted by its int16 scale (s0 first, s1 second).
inline __m256i dot32(__m256i u, const int8_t* a, int s0, int s1) {
  const __m256i sc = _mm256_set_m128i(_mm_set1_epi16(static_cast<short>(s1)), _mm_set1_epi16(static_cast<short>(s0)));
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, ld256(a)), sc);
}

template <bool kQ5>
double dot_k45(int64_t nb, const uint8_t* w, const BlockQ8_K* a) {
  double sum = 0.0;
  constexpr size_t kBytes = kQ5 ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  const __m256i m4 = _mm256_set1_epi8(15);
  for (int64_t i = 0; i < nb; ++i, w += kBytes) {
    uint16_t dh, dminh;
    std::memcpy(&dh, w, 2);
    std::memcpy(&dminh, w + 2, 2);
    const uint8_t* qs = kQ5 ? w + 48 : w + 16;
    uint8_t sc[8], mn[8];
    int msum = 0;
    for (int s = 0; s < 8; ++s) {
      scale_min_k4(s, w + 4, &sc[s], &mn[s]);
      msum += mn[s] * (a[i].bsums[2 * s] + a[i].bsums[2 * s + 1]);
    }
    __m256i hb = _mm256_setzero_si256();
    if constexpr (kQ5) hb = ld256(w + 16);
    __m256i acc = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i x = ld256(qs + 32 * j);
      __m256i lo = _mm256_and_si256(x, m4), hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m4);
      if constexpr (kQ5) {
        const __m256i b0 = _mm256_set1_epi8(static_cast<char>(1 << (2 * j)));
        const __m256i b1 = _mm256_set1_epi8(static_cast<char>(1 << (2 * j + 1)));
        const __m256i sixteen = _mm256_set1_epi8(16);
        lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, b0), b0), sixteen));
        hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, b1), b1), sixteen));
      }
      acc = _mm256_add_epi32(acc, dot32(lo, a[i].qs + 64 * j, sc[2 * j], sc[2 * j]));
      acc = _mm256_add_epi32(acc, dot32(hi, a[i].qs + 64 * j + 32, sc[2 * j + 1], sc[2 * j + 1]));
    }
    const int isum = hsum_i32(acc);
    sum += static_cast<double>(a[i].d * (h2f(dh) * static_cast<float>(isum) - h2f(dminh) * static_cast<float>(msum)));
  }
  return sum;
}

double dot_q6k(int64_t nb, const BlockQ6_K* b, const BlockQ8_K* a) {
  double sum = 0.0;
  const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
  for (int64_t i = 0; i < nb; ++i) {
    const int8_t* sc = b[i].scales;
    __m256i acc = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i l0 = ld256(b[i].ql + 64 * h), l1 = ld256(b[i].ql + 64 * h + 32), qh = ld256(b[i].qh + 32 * h);
      const __m256i q1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
      const __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
      const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30));
      const __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                         _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
      const int8_t* aq = a[i].qs + 128 * h;
      const int8_t* s = sc + 8 * h;
      acc = _mm256_add_epi32(acc, dot32(q1, aq, s[0], s[1]));
      acc = _mm256_add_epi32(acc, dot32(q2, aq + 32, s[2], s[3]));
      acc = _mm256_add_epi32(acc, dot32(q3, aq + 64, s[4], s[5]));
      acc = _mm256_add_epi32(acc, dot32(q4, aq + 96, s[6], s[7]));
    }
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)));
    const int off = hsum_i32(_mm256_madd_epi16(sc16, ld256(a[i].bsums)));  // sum_g sc[g] * bsums[g]
    const int isum = hsum_i32(acc) - 32 * off;
    sum += static_cast<double>(a[i].d * h2f(b[i].d) * static_cast<float>(isum));
  }
  return sum;
}

}  // namespace

#include "backend/quant-kq-dispatch.inc"

}  // namespace cyllm::cpu::avx2
