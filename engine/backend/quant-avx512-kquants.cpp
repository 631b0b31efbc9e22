// AVX-512 dot products of K-quant weights (Q4_K, Q5_K, Q6_K) with Q8_K activations. Per super-block
// the integer sum is computed exactly (vpmaddubsw on unsigned weights, then vpmaddwd with the
// sub-block scales as int16), and the float scaling is the scalar reference's expression, so the
// result is bit-identical to the scalar one: same integers, same float expression and order.
#include <immintrin.h>

#include "backend/quant-impl.h"

namespace cyllm::cpu::avx512 {

namespace {

// Scales as int16 lanes: lanes [0,16) get s0, [16,32) get s1.
inline __m512i scale_pair(int s0, int s1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(static_cast<short>(s0))),
                            _mm256_set1_epi16(static_cast<short>(s1)), 1);
}

inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }

// Q4_K/Q5_K: integer sum of sc[s] * dot(q_s, a_s) over the 8 sub-blocks of one super-block.
template <bool kQ5>
inline int k45_isum(const uint8_t* qs, const uint8_t* qh, const int8_t* a, const uint8_t* sc) {
  __m512i acc = _mm512_setzero_si512();
  const __m512i m4 = _mm512_set1_epi8(15);
  __m512i hb = _mm512_setzero_si512();
  if constexpr (kQ5) hb = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh)));
  for (int j = 0; j < 4; ++j) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * j));
    const __m512i xx = _mm512_inserti64x4(_mm512_castsi256_si512(x), _mm256_srli_epi16(x, 4), 1);
    __m512i w = _mm512_and_si512(xx, m4);  // [low nibbles: sub-block 2j | high nibbles: 2j+1]
    if constexpr (kQ5) {
      const __m512i bits = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * j))),
                                              _mm256_set1_epi8(static_cast<char>(1 << (2 * j + 1))), 1);
      w = _mm512_mask_add_epi8(w, _mm512_test_epi8_mask(hb, bits), w, _mm512_set1_epi8(16));
    }
    const __m512i p = _mm512_maddubs_epi16(w, load512(a + 64 * j));
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p, scale_pair(sc[2 * j], sc[2 * j + 1])));
  }
  return _mm512_reduce_add_epi32(acc);
}

template <bool kQ5>
double dot_k45(int64_t nb, const uint8_t* w, const BlockQ8_K* a) {
  double sum = 0.0;
  constexpr size_t kBytes = kQ5 ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
  for (int64_t i = 0; i < nb; ++i, w += kBytes) {
    uint16_t dh, dminh;
    std::memcpy(&dh, w, 2);
    std::memcpy(&dminh, w + 2, 2);
    const uint8_t* scales = w + 4;
    const uint8_t* qh = kQ5 ? w + 16 : nullptr;
    const uint8_t* qs = kQ5 ? w + 48 : w + 16;
    uint8_t sc[8], mn[8];
    int msum = 0;
    for (int s = 0; s < 8; ++s) {
      scale_min_k4(s, scales, &sc[s], &mn[s]);
      msum += mn[s] * (a[i].bsums[2 * s] + a[i].bsums[2 * s + 1]);
    }
    const int isum = k45_isum<kQ5>(qs, qh, a[i].qs, sc);
    sum += static_cast<double>(a[i].d * (h2f(dh) * static_cast<float>(isum) - h2f(dminh) * static_cast<float>(msum)));
  }
  return sum;
}

double dot_q6k(int64_t nb, const BlockQ6_K* b, const BlockQ8_K* a) {
  double sum = 0.0;
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].scales)));
    const __m512i scz = _mm512_castsi256_si512(sc16);
    __m512i acc = _mm512_setzero_si512();
    for (int h = 0; h < 2; ++h) {
      const __m512i l = load512(b[i].ql + 64 * h);
      const __m512i hq = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qh + 32 * h)));
      const __m512i m30 = _mm512_set1_epi8(0x30);
      // Elements 0..63 of this half: low nibbles of ql[0..63], qh bits 0-1 (0..31) and 2-3 (32..63).
      const __m512i sh_lo = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
      const __m512i q_lo = _mm512_or_si512(_mm512_and_si512(l, _mm512_set1_epi8(15)),
                                           _mm512_and_si512(_mm512_sllv_epi16(hq, sh_lo), m30));
      // Elements 64..127: high nibbles, qh bits 4-5 and 6-7.
      const __m512i sh_hi = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
      const __m512i q_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), _mm512_set1_epi8(15)),
                                           _mm512_and_si512(_mm512_srlv_epi16(hq, sh_hi), m30));
      // 16-element groups 8h+0..3 and 8h+4..7: each group is 8 int16 lanes of the maddubs result.
      const __m512i g = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2,
                                         1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
      const __m512i base = _mm512_set1_epi16(static_cast<short>(8 * h));
      const __m512i s_lo = _mm512_permutexvar_epi16(_mm512_add_epi16(g, base), scz);
      const __m512i s_hi = _mm512_permutexvar_epi16(_mm512_add_epi16(g, _mm512_add_epi16(base, _mm512_set1_epi16(4))), scz);
      const int8_t* aq = a[i].qs + 128 * h;
      acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(q_lo, load512(aq)), s_lo));
      acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(q_hi, load512(aq + 64)), s_hi));
    }
    // The -32 offset: sum_g sc[g] * 32 * bsums[g].
    const __m256i off = _mm256_madd_epi16(sc16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].bsums)));
    alignas(32) int o[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(o), off);
    const int isum = _mm512_reduce_add_epi32(acc) - 32 * (o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7]);
    sum += static_cast<double>(a[i].d * h2f(b[i].d) * static_cast<float>(isum));
  }
  return sum;
}

}  // namespace

#include "backend/quant-kq-dispatch.inc"

}  // namespace cyllm::cpu::avx512
