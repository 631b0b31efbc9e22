// AVX2 (+FMA, F16C) entry points: routing to the 32-block matmul (quant-avx2-q32.cpp) and the
// K-quant dots (quant-avx2-kquants.cpp), plus the kernels that live here: F32/F16/BF16 dot
// products and register-tiled matmul, dequantization of the float and 32-block types, and
// activation quantization to Q8_0/Q8_1/Q8_K (bit-identical to the scalar reference).
#include <immintrin.h>

#include "backend/quant-impl.h"

namespace cyllm::cpu::avx2 {

namespace {

inline uint16_t ld16(const void* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// ---- float weights (F32/F16/BF16) x F32 activations; 8 elements per step, scalar tail -------
template <GgmlType T>
inline __m256 load_w(const void* row, int64_t i) {
  if constexpr (T == GgmlType::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(row) + i);
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + i));
    if constexpr (T == GgmlType::F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}
template <GgmlType T>
inline float load_w1(const void* row, int64_t i) {
  if constexpr (T == GgmlType::F32) return static_cast<const float*>(row)[i];
  const uint16_t h = static_cast<const uint16_t*>(row)[i];
  return T == GgmlType::F16 ? h2f(h) : bf16_to_fp32(h);
}

template <GgmlType T, int R, int C>
void float_tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* a, size_t as, float* y, int64_t ldy) {
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  const int64_t n8 = n & ~int64_t{7};
  for (int64_t i = 0; i < n8; i += 8) {
    __m256 av[C];
    for (int c = 0; c < C; ++c) av[c] = _mm256_loadu_ps(reinterpret_cast<const float*>(a + c * as) + i);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = load_w<T>(w + r * ws, i);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(wv, av[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) {
      float s = hsum(acc[r][c]);
      for (int64_t i = n8; i < n; ++i) s += load_w1<T>(w + r * ws, i) * reinterpret_cast<const float*>(a + c * as)[i];
      y[c * ldy + r] = s;
    }
}

#include "backend/quant-float-matmul.inc"

// ---- dequantization: integer values (exact) then the scalar reference's float expression ------
inline void store8(float* y, __m256i v, float d, float m, bool add_m) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_set1_ps(d));
  if (add_m) f = _mm256_add_ps(f, _mm256_set1_ps(m));
  _mm256_storeu_ps(y, f);
}

template <int kBytes, int kQs, int kQh, bool kHasM, int kOffset>
void dequant_q4q5(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += kBytes, y += 32) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + kQs));
    __m128i half[2] = {_mm_and_si128(q, _mm_set1_epi8(15)), _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(15))};
    uint32_t qh = 0;
    if constexpr (kQh >= 0) std::memcpy(&qh, src + kQh, 4);
    const float d = h2f(ld16(src)), m = kHasM ? h2f(ld16(src + 2)) : 0.0f;
    for (int j = 0; j < 4; ++j) {  // 8 elements: j*8 .. j*8+7
      __m256i v = _mm256_cvtepu8_epi32(j % 2 ? _mm_srli_si128(half[j / 2], 8) : half[j / 2]);
      if constexpr (kQh >= 0) {
        const __m256i bits = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(qh >> (8 * j))),
                                                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                              _mm256_set1_epi32(1));
        v = _mm256_or_si256(v, _mm256_slli_epi32(bits, 4));
      }
      store8(y + 8 * j, _mm256_sub_epi32(v, _mm256_set1_epi32(kOffset)), d, m, kHasM);
    }
  }
}

// ---- activation quantization (same d, inverse and rounding as scalar quantize_q8) ------------
inline float quant_q8(const float* x, int8_t* q, int m, int16_t* sums16, int* total) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 amax = _mm256_setzero_ps();
  for (int j = 0; j < m; j += 8) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
  __m128 mx = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
  mx = _mm_max_ps(mx, _mm_movehl_ps(mx, mx));
  mx = _mm_max_ss(mx, _mm_movehdup_ps(mx));
  const float d = _mm_cvtss_f32(mx) / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m256 idv = _mm256_set1_ps(id);
  int tot = 0;
  for (int j = 0; j < m; j += 16) {
    __m256i v0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), idv));
    __m256i v1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), idv));
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    v0 = _mm256_min_epi32(_mm256_max_epi32(v0, lo), hi);
    v1 = _mm256_min_epi32(_mm256_max_epi32(v1, lo), hi);
    const int s = hsum_i32(_mm256_add_epi32(v0, v1));
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);  // 16 x int16, in order
    const __m128i b = _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + j), b);
    if (sums16) sums16[j / 16] = static_cast<int16_t>(s);
    tot += s;
  }
  if (total) *total = tot;
  return d;
}

}  // namespace

bool dequantize_row(GgmlType t, const void* src, float* y, int64_t n) {
  const auto* s = static_cast<const uint8_t*>(src);
  switch (t) {
    case GgmlType::F16:
    case GgmlType::BF16: {
      const int64_t n8 = n & ~int64_t{7};
      for (int64_t i = 0; i < n8; i += 8)
        _mm256_storeu_ps(y + i, t == GgmlType::F16 ? load_w<GgmlType::F16>(src, i) : load_w<GgmlType::BF16>(src, i));
      for (int64_t i = n8; i < n; ++i) y[i] = t == GgmlType::F16 ? load_w1<GgmlType::F16>(src, i) : load_w1<GgmlType::BF16>(src, i);
      return true;
    }
    case GgmlType::Q4_0: dequant_q4q5<18, 2, -1, false, 8>(s, y, n / 32); return true;
    case GgmlType::Q4_1: dequant_q4q5<20, 4, -1, true, 0>(s, y, n / 32); return true;
    case GgmlType::Q5_0: dequant_q4q5<22, 6, 2, false, 16>(s, y, n / 32); return true;
    case GgmlType::Q5_1: dequant_q4q5<24, 8, 4, true, 0>(s, y, n / 32); return true;
    case GgmlType::Q8_0:
      for (int64_t i = 0; i < n / 32; ++i, s += 34, y += 32)
        for (int j = 0; j < 4; ++j)
          store8(y + 8 * j, _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s + 2 + 8 * j))),
                 h2f(ld16(s)), 0.0f, false);
      return true;
    default: return false;
  }
}

#include "backend/quant-act.inc"

bool matmul_tile(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* act_rows,
                 size_t act_stride, int64_t ncols, float* y, int64_t ldy) {
  const auto* wr = static_cast<const uint8_t*>(w_rows);
  const auto* ar = static_cast<const uint8_t*>(act_rows);
  switch (w) {
    case GgmlType::F32: float_matmul<GgmlType::F32>(n, wr, w_stride, nrows, ar, act_stride, ncols, y, ldy); return true;
    case GgmlType::F16: float_matmul<GgmlType::F16>(n, wr, w_stride, nrows, ar, act_stride, ncols, y, ldy); return true;
    case GgmlType::BF16: float_matmul<GgmlType::BF16>(n, wr, w_stride, nrows, ar, act_stride, ncols, y, ldy); return true;
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      matmul_by_rows(nrows, ncols, w_rows, w_stride, act_rows, act_stride, y, ldy, [&](const uint8_t* a, const uint8_t* b) {
        float o = 0.0f;
        kq_dot(w, n, a, b, &o);
        return o;
      });
      return true;
    default: return q32_matmul(w, n, w_rows, w_stride, nrows, act_rows, act_stride, ncols, y, ldy);
  }
}

}  // namespace cyllm::cpu::avx2
