// Internal to engine/backend: block structs of the quantized types, small helpers, and the entry
// points each ISA file exports to quant-dispatch.cpp. Not part of the engine's public API (tests may
// include it to reach ISA-internal switches such as the VNNI sub-path).
//
// Each SIMD entry point returns false when it has no kernel for the type; the dispatcher then runs
// the scalar reference, so a missing SIMD kernel is slower, never wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backend/quant.h"

namespace cyllm::cpu {

// Block layouts (little-endian, no padding). Sizes are checked against tensor-types.cpp below.
struct BlockQ4_0 { uint16_t d; uint8_t qs[16]; };
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[16]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[32]; };
struct BlockQ8_1 { uint16_t d, s; int8_t qs[32]; };  // s = d * sum(qs), as fp16
struct BlockQ4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct BlockQ5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
struct BlockQ6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };
// Activation type for K-quants: float scale, 256 int8 values in [-127, 127], and the sum of each
// group of 16 values (bsums[g] = sum qs[16g..16g+15]) so kernels can apply per-group offsets.
struct BlockQ8_K { float d; int8_t qs[256]; int16_t bsums[16]; };

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

constexpr int kQK = 32;    // elements per block of the 32-blocked types
constexpr int kQKK = 256;  // elements per K-quant super-block

inline float h2f(uint16_t h) { return fp16_to_fp32(h); }
inline uint16_t f2h(float f) { return fp32_to_fp16(f); }

// The 6-bit (scale, min) pair j (0..7) of a Q4_K/Q5_K super-block.
inline void scale_min_k4(int j, const uint8_t* s, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Scalar reference (quant-scalar.cpp, quant-scalar-ref.cpp): every type, every entry point.
namespace scalar {
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);
void quantize_row_act(GgmlType t, const float* src, void* dst, int64_t n);
void quantize_row_ref(GgmlType t, const float* src, void* dst, int64_t n);
float vec_dot(GgmlType w, int64_t n, const void* w_row, const void* act_row);
void matmul_tile(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows,
                 const void* act_rows, size_t act_stride, int64_t ncols, float* y, int64_t ldy);
}  // namespace scalar

// AVX2 (+FMA, F16C) and AVX-512 (F/BW/DQ/VL, VNNI sub-path) kernels. False = not handled here.
#define CYLLM_ISA_ENTRY_POINTS                                                                   \
  bool dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);                       \
  bool quantize_row_act(GgmlType t, const float* src, void* dst, int64_t n);                     \
  bool vec_dot(GgmlType w, int64_t n, const void* w_row, const void* act_row, float* out);       \
  bool matmul_tile(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows,    \
                   const void* act_rows, size_t act_stride, int64_t ncols, float* y, int64_t ldy);
#define CYLLM_Q32_MATMUL                                                                         \
  bool q32_matmul(GgmlType t, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows,      \
                  const void* act_rows, size_t act_stride, int64_t ncols, float* y, int64_t ldy);
namespace avx2 {
CYLLM_ISA_ENTRY_POINTS
CYLLM_Q32_MATMUL  // quant-avx2-q32.cpp
// K-quant dot products (quant-avx2-kquants.cpp); false for other types.
bool kq_dot(GgmlType w, int64_t n, const void* w_row, const void* act_row, float* out);
}  // namespace avx2
namespace avx512 {
CYLLM_ISA_ENTRY_POINTS
namespace vnni { CYLLM_Q32_MATMUL }   // quant-avx512-q32-vnni.cpp
namespace plain { CYLLM_Q32_MATMUL }  // quant-avx512-q32.cpp
bool kq_dot(GgmlType w, int64_t n, const void* w_row, const void* act_row, float* out);  // -kquants.cpp
// Whether the AVX-512 kernels use vpdpbusd/vpdpwssd (AVX512-VNNI). Defaults to what the CPU has;
// tests switch it off to cover the maddubs fallback. Turning it on without CPU support is refused.
bool vnni_enabled();
bool set_vnni_enabled(bool on);
}  // namespace avx512
#undef CYLLM_ISA_ENTRY_POINTS
#undef CYLLM_Q32_MATMUL

// Generic row-by-row matmul over a vec_dot function, for types without a blocked kernel.
template <class Dot>
inline void matmul_by_rows(int64_t nrows, int64_t ncols, const void* w_rows, size_t w_stride,
                           const void* act_rows, size_t act_stride, float* y, int64_t ldy, Dot dot) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  const auto* a = static_cast<const uint8_t*>(act_rows);
  for (int64_t c = 0; c < ncols; ++c)
    for (int64_t r = 0; r < nrows; ++r) y[c * ldy + r] = dot(w + r * w_stride, a + c * act_stride);
}

}  // namespace cyllm::cpu
