// Activation repacking shared by the AVX2 and AVX-512 32-block matmuls (quant-avx2-q32.cpp,
// quant-avx512-q32.inc). Uses AVX2 intrinsics only. Everything here has internal linkage on
// purpose: each including file compiles its own copy with its own ISA flags, so the linker can
// never hand an AVX-512-compiled copy to the AVX2 path.
#pragma once

#include <immintrin.h>

#include <vector>

#include "backend/quant-impl.h"

namespace cyllm::cpu {
namespace {

inline uint32_t ld16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t ld32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }

// Repacked activations. qa and da are pair-major, index (pair * ncols + column): qa holds the 64
// bytes of blocks 2p and 2p+1, da 16 floats [da0 x8, da1 x8]. sa is column-major, one float per
// block (sa[column * nbpad + block]), zero-padded to nbpad = nb rounded up to 16.
struct Pack {
  int8_t* qa; float* da; float* sa; int64_t ncols, nbpad;
};

Pack pack_acts(const uint8_t* act, size_t act_stride, int64_t ncols, int64_t nb, bool q81, float k) {
  const int64_t npair = (nb + 1) / 2;
  thread_local std::vector<uint8_t> buf;
  const int64_t nbpad = (nb + 15) / 16 * 16;
  const size_t need = static_cast<size_t>(npair * ncols * 128 + nbpad * ncols * 4) + 128;
  if (buf.size() < need) buf.resize(need);
  uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t{63});
  Pack pk{reinterpret_cast<int8_t*>(base), reinterpret_cast<float*>(base + npair * ncols * 64),
          reinterpret_cast<float*>(base + npair * ncols * 128), ncols, nbpad};
  for (int64_t i = 0; i < nbpad * ncols; ++i) pk.sa[i] = 0.0f;
  const size_t ab = q81 ? 36 : 34;
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t c = 0; c < ncols; ++c) {
    const uint8_t* a = act + c * act_stride;
    for (int64_t p = 0; p < npair; ++p) {
      const int64_t idx = p * ncols + c;
      for (int h = 0; h < 2; ++h) {
        const int64_t blk = 2 * p + h;
        __m256i q = _mm256_setzero_si256();
        float d = 0.0f, s = 0.0f;
        if (blk < nb) {
          const uint8_t* b = a + blk * ab;
          q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + (q81 ? 4 : 2)));
          d = h2f(static_cast<uint16_t>(ld16(b)));
          if (q81 || k != 0.0f) {  // sum(a) via |a + 128| byte sums, minus 32*128
            const __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(q, bias), _mm256_setzero_si256());
            const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
            const int64_t sum = _mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1) - 32 * 128;
            // Q8_1: d * sum(q) in float rather than the block's fp16 `s` field, whose rounding
            // (rel. 2^-11 of a possibly large sum) was the largest error term of Q4_1/Q5_1 dots.
            s = q81 ? d * static_cast<float>(sum) : -k * d * static_cast<float>(sum);
          }
        }
        _mm256_store_si256(reinterpret_cast<__m256i*>(pk.qa + idx * 64 + 32 * h), q);
        _mm256_store_ps(pk.da + idx * 16 + 8 * h, _mm256_set1_ps(d));
        if (blk < nb) pk.sa[c * nbpad + blk] = s;
      }
    }
  }
  return pk;
}

}  // namespace
}  // namespace cyllm::cpu
