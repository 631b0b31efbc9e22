// AVX-512 (F/BW/DQ/VL) entry points: routing to the 32-block integer matmul (quant-avx512-q32*.cpp,
// with or without VNNI) and the K-quant dots (quant-avx512-kquants.cpp), plus the kernels that live
// here: F32/F16/BF16 dot products and register-tiled matmul, dequantization of the float and
// 32-block types, and activation quantization to Q8_0/Q8_1/Q8_K (bit-identical to the scalar
// reference: same d, same float inverse, round-to-nearest-even).
#include <immintrin.h>

#include <atomic>
#include <type_traits>

#include "backend/quant-impl.h"

namespace cyllm::cpu::avx512 {

namespace {

std::atomic<bool> g_vnni{__builtin_cpu_supports("avx512vnni") != 0};

inline uint16_t ld16(const void* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }

// ---- float weights (F32/F16/BF16) x F32 activations ------------------------------------------
template <GgmlType T>
inline __m512 load_w(const void* row, int64_t i, __mmask16 k) {
  if constexpr (T == GgmlType::F32) {
    return _mm512_maskz_loadu_ps(k, static_cast<const float*>(row) + i);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(k, static_cast<const uint16_t*>(row) + i);
    if constexpr (T == GgmlType::F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <GgmlType T>
inline __m512 load_w_full(const void* row, int64_t i) {
  if constexpr (T == GgmlType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(row) + i);
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(row) + i));
    if constexpr (T == GgmlType::F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <GgmlType T>
constexpr size_t kElemBytes = T == GgmlType::F32 ? 4 : 2;

// R weight rows x C activation columns; each converted weight vector feeds C FMAs.
template <GgmlType T, int R, int C>
void float_tile(int64_t n, const uint8_t* w, size_t ws, const uint8_t* a, size_t as, float* y, int64_t ldy) {
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  // Full vectors with plain loads; the tail (n % 16) with masked ones.
  auto step = [&](int64_t i, __mmask16 k, auto full) {
    __m512 av[C];
    for (int c = 0; c < C; ++c) {
      const float* ap = reinterpret_cast<const float*>(a + c * as) + i;
      av[c] = full ? _mm512_loadu_ps(ap) : _mm512_maskz_loadu_ps(k, ap);
    }
    for (int r = 0; r < R; ++r) {
      const __m512 wv = full ? load_w_full<T>(w + r * ws, i) : load_w<T>(w + r * ws, i, k);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(wv, av[c], acc[r][c]);
    }
  };
  const int64_t n16 = n & ~int64_t{15};
  for (int64_t i = 0; i < n16; i += 16) step(i, __mmask16(0xFFFF), std::true_type{});
  if (n16 < n) step(n16, static_cast<__mmask16>((1u << (n - n16)) - 1), std::false_type{});
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) y[c * ldy + r] = _mm512_reduce_add_ps(acc[r][c]);
}

#include "backend/quant-float-matmul.inc"

bool float_dispatch(GgmlType t, int64_t n, const uint8_t* w, size_t ws, int64_t nrows, const uint8_t* a, size_t as,
                    int64_t ncols, float* y, int64_t ldy) {
  switch (t) {
    case GgmlType::F32: float_matmul<GgmlType::F32>(n, w, ws, nrows, a, as, ncols, y, ldy); return true;
    case GgmlType::F16: float_matmul<GgmlType::F16>(n, w, ws, nrows, a, as, ncols, y, ldy); return true;
    case GgmlType::BF16: float_matmul<GgmlType::BF16>(n, w, ws, nrows, a, as, ncols, y, ldy); return true;
    default: return false;
  }
}

// ---- dequantization -------------------------------------------------------------------------
// Stores 32 values from integer lanes lo (elements 0..15) and hi (16..31): v*d (+ m when add_m).
inline void store32(float* y, __m512i lo, __m512i hi, float d, float m, bool add_m) {
  const __m512 dv = _mm512_set1_ps(d), mv = _mm512_set1_ps(m);
  __m512 a = _mm512_mul_ps(_mm512_cvtepi32_ps(lo), dv), b = _mm512_mul_ps(_mm512_cvtepi32_ps(hi), dv);
  if (add_m) a = _mm512_add_ps(a, mv), b = _mm512_add_ps(b, mv);
  _mm512_storeu_ps(y, a);
  _mm512_storeu_ps(y + 16, b);
}

template <int kBytes, int kQs, int kQh, bool kHasM, int kOffset>
void dequant_q4q5(const uint8_t* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, src += kBytes, y += 32) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + kQs));
    __m512i lo = _mm512_cvtepu8_epi32(_mm_and_si128(q, _mm_set1_epi8(15)));
    __m512i hi = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(15)));
    if constexpr (kQh >= 0) {
      uint32_t qh;
      std::memcpy(&qh, src + kQh, 4);
      lo = _mm512_mask_add_epi32(lo, static_cast<__mmask16>(qh), lo, _mm512_set1_epi32(16));
      hi = _mm512_mask_add_epi32(hi, static_cast<__mmask16>(qh >> 16), hi, _mm512_set1_epi32(16));
    }
    lo = _mm512_sub_epi32(lo, _mm512_set1_epi32(kOffset));
    hi = _mm512_sub_epi32(hi, _mm512_set1_epi32(kOffset));
    store32(y, lo, hi, h2f(ld16(src)), kHasM ? h2f(ld16(src + 2)) : 0.0f, kHasM);
  }
}

// ---- activation quantization ----------------------------------------------------------------
// Quantizes m (multiple of 16) floats like scalar quantize_q8; returns d, writes q, per-16 sums.
inline float quant_q8(const float* x, int8_t* q, int m, int16_t* sums16, int* total) {
  __m512 amax = _mm512_setzero_ps();
  for (int j = 0; j < m; j += 16) amax = _mm512_max_ps(amax, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
  const float d = _mm512_reduce_max_ps(amax) / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m512 idv = _mm512_set1_ps(id);
  int tot = 0;
  for (int j = 0; j < m; j += 16) {
    __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j), idv));  // MXCSR: nearest even
    v = _mm512_min_epi32(_mm512_max_epi32(v, _mm512_set1_epi32(-127)), _mm512_set1_epi32(127));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + j), _mm512_cvtepi32_epi8(v));
    const int s = _mm512_reduce_add_epi32(v);
    if (sums16) sums16[j / 16] = static_cast<int16_t>(s);
    tot += s;
  }
  if (total) *total = tot;
  return d;
}

}  // namespace

bool vnni_enabled() { return g_vnni.load(std::memory_order_relaxed); }
bool set_vnni_enabled(bool on) {
  if (on && !__builtin_cpu_supports("avx512vnni")) return false;
  g_vnni.store(on, std::memory_order_relaxed);
  return true;
}

bool dequantize_row(GgmlType t, const void* src, float* y, int64_t n) {
  const auto* s = static_cast<const uint8_t*>(src);
  switch (t) {
    case GgmlType::F16:
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m512 v = t == GgmlType::F16 ? load_w<GgmlType::F16>(src, i, k) : load_w<GgmlType::BF16>(src, i, k);
        _mm512_mask_storeu_ps(y + i, k, v);
      }
      return true;
    case GgmlType::Q4_0: dequant_q4q5<18, 2, -1, false, 8>(s, y, n / 32); return true;
    case GgmlType::Q4_1: dequant_q4q5<20, 4, -1, true, 0>(s, y, n / 32); return true;
    case GgmlType::Q5_0: dequant_q4q5<22, 6, 2, false, 16>(s, y, n / 32); return true;
    case GgmlType::Q5_1: dequant_q4q5<24, 8, 4, true, 0>(s, y, n / 32); return true;
    case GgmlType::Q8_0:
      for (int64_t i = 0; i < n / 32; ++i, s += 34, y += 32) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 2));
        store32(y, _mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)), _mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)),
                h2f(ld16(s)), 0.0f, false);
      }
      return true;
    default: return false;
  }
}

#include "backend/quant-act.inc"

bool matmul_tile(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* act_rows,
                 size_t act_stride, int64_t ncols, float* y, int64_t ldy) {
  const auto* wr = static_cast<const uint8_t*>(w_rows);
  const auto* ar = static_cast<const uint8_t*>(act_rows);
  if (float_dispatch(w, n, wr, w_stride, nrows, ar, act_stride, ncols, y, ldy)) return true;
  if (vnni_enabled() ? vnni::q32_matmul(w, n, w_rows, w_stride, nrows, act_rows, act_stride, ncols, y, ldy)
                     : plain::q32_matmul(w, n, w_rows, w_stride, nrows, act_rows, act_stride, ncols, y, ldy))
    return true;
  if (w == GgmlType::Q4_K || w == GgmlType::Q5_K || w == GgmlType::Q6_K) {
    matmul_by_rows(nrows, ncols, w_rows, w_stride, act_rows, act_stride, y, ldy, [&](const uint8_t* a, const uint8_t* b) {
      float o = 0.0f;
      kq_dot(w, n, a, b, &o);
      return o;
    });
    return true;
  }
  return false;
}

}  // namespace cyllm::cpu::avx512
