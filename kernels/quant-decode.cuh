// Decoding GGUF weight blocks, 32 elements at a time, used by quant-matvec.cu and
// dequant.cu. Block layouts are those of engine/backend/quant-impl.h (little-endian, no padding);
// the arithmetic repeats engine/backend/quant-scalar.cpp's dequantize_row expression by expression
// with explicitly rounded operations (dev::mul_rn, add_rn, sub_rn: never fused into FMAs), so
// each decoded f32 value is bitwise the CPU reference's. Host-callable too (CYLLM_HD):
// tests/engine/cuda/kernel-logic-test.cu checks that on the CPU, cuda_ops_test on the GPU.
//
// A "group" is 32 consecutive elements of a row. For the 32-element block types a group is one
// block; a K-quant super-block of 256 holds 8 groups (sub = 0..7); F32/F16/BF16 rows are treated
// as 32-element "blocks" of 128/64/64 bytes.
#pragma once

#include <cstdint>

#include "cuda-common.cuh"
#include "model/tensor-types.h"

namespace cyllm::cuda::dev {

template <GgmlType T>
struct BlockInfo;
// elems: elements per block; bytes: bytes per block (GGUF); groups: 32-element groups per block.
#define CYLLM_BLOCK_INFO(T, E, B)                \
  template <>                                    \
  struct BlockInfo<GgmlType::T> {                \
    static constexpr int elems = E;              \
    static constexpr int bytes = B;              \
    static constexpr int groups = E / 32;        \
  };
CYLLM_BLOCK_INFO(F32, 32, 128)
CYLLM_BLOCK_INFO(F16, 32, 64)
CYLLM_BLOCK_INFO(BF16, 32, 64)
CYLLM_BLOCK_INFO(Q4_0, 32, 18)
CYLLM_BLOCK_INFO(Q4_1, 32, 20)
CYLLM_BLOCK_INFO(Q5_0, 32, 22)
CYLLM_BLOCK_INFO(Q5_1, 32, 24)
CYLLM_BLOCK_INFO(Q8_0, 32, 34)
CYLLM_BLOCK_INFO(Q4_K, 256, 144)
CYLLM_BLOCK_INFO(Q5_K, 256, 176)
CYLLM_BLOCK_INFO(Q6_K, 256, 210)
#undef CYLLM_BLOCK_INFO

// The 6-bit (scale, min) pair j (0..7) of a Q4_K/Q5_K super-block (as scale_min_k4 in quant-impl.h).
CYLLM_HD void scale_min_k4(int j, const uint8_t* s, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// w[0..32) = elements 32*sub .. 32*sub+31 of the block at b (sub < BlockInfo<T>::groups).
// For F32/F16/BF16, b must be aligned to 4/2/2 bytes (rows of those types always are when the
// tensor starts 16-byte aligned); quantized blocks are read byte by byte.
template <GgmlType T>
CYLLM_HD void decode_group(const uint8_t* b, int sub, float* w) {
  if constexpr (T == GgmlType::F32) {
    const float* f = reinterpret_cast<const float*>(b);
CYLLM_UNROLL
    for (int j = 0; j < 32; ++j) w[j] = f[j];
  } else if constexpr (T == GgmlType::F16) {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(b);
CYLLM_UNROLL
    for (int j = 0; j < 32; ++j) w[j] = h2f(h[j]);
  } else if constexpr (T == GgmlType::BF16) {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(b);
CYLLM_UNROLL
    for (int j = 0; j < 32; ++j) w[j] = bf2f(h[j]);
  } else if constexpr (T == GgmlType::Q4_0) {  // d, qs[16]; element j<16: low nibble of qs[j], else high of qs[j-16]
    const float d = h2f(ld_u16(b));
    const uint8_t* qs = b + 2;
CYLLM_UNROLL
    for (int j = 0; j < 16; ++j) {
      w[j] = mul_rn(static_cast<float>((qs[j] & 15) - 8), d);
      w[j + 16] = mul_rn(static_cast<float>((qs[j] >> 4) - 8), d);
    }
  } else if constexpr (T == GgmlType::Q4_1) {  // d, m, qs[16]
    const float d = h2f(ld_u16(b)), m = h2f(ld_u16(b + 2));
    const uint8_t* qs = b + 4;
CYLLM_UNROLL
    for (int j = 0; j < 16; ++j) {
      w[j] = add_rn(mul_rn(static_cast<float>(qs[j] & 15), d), m);
      w[j + 16] = add_rn(mul_rn(static_cast<float>(qs[j] >> 4), d), m);
    }
  } else if constexpr (T == GgmlType::Q5_0) {  // d, qh[4] (bit j = 5th bit of element j), qs[16]
    const float d = h2f(ld_u16(b));
    const uint32_t qh = ld_u32(b + 2);
    const uint8_t* qs = b + 6;
CYLLM_UNROLL
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 15) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      w[j] = mul_rn(static_cast<float>(lo - 16), d);
      w[j + 16] = mul_rn(static_cast<float>(hi - 16), d);
    }
  } else if constexpr (T == GgmlType::Q5_1) {  // d, m, qh[4], qs[16]
    const float d = h2f(ld_u16(b)), m = h2f(ld_u16(b + 2));
    const uint32_t qh = ld_u32(b + 4);
    const uint8_t* qs = b + 8;
CYLLM_UNROLL
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 15) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      w[j] = add_rn(mul_rn(static_cast<float>(lo), d), m);
      w[j + 16] = add_rn(mul_rn(static_cast<float>(hi), d), m);
    }
  } else if constexpr (T == GgmlType::Q8_0) {  // d, int8 qs[32]
    const float d = h2f(ld_u16(b));
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
CYLLM_UNROLL
    for (int j = 0; j < 32; ++j) w[j] = mul_rn(static_cast<float>(qs[j]), d);
  } else if constexpr (T == GgmlType::Q4_K || T == GgmlType::Q5_K) {
    // d, dmin, scales[12], (Q5_K: qh[32]), qs[128]. Sub-block s lives in 64-chunk c = s / 2: low
    // nibbles of qs[32c + l] for even s, high nibbles for odd s; Q5_K's 5th bit is bit s of qh[l].
    const float d = h2f(ld_u16(b)), dmin = h2f(ld_u16(b + 2));
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* qs = b + (T == GgmlType::Q5_K ? 48 : 16);
    int sc, mn;
    scale_min_k4(sub, scales, &sc, &mn);
    const float ds = mul_rn(d, static_cast<float>(sc)), ms = mul_rn(dmin, static_cast<float>(mn));
    const uint8_t* q = qs + 32 * (sub / 2);
    const int shift = 4 * (sub & 1);
CYLLM_UNROLL
    for (int l = 0; l < 32; ++l) {
      int v = (q[l] >> shift) & 15;
      if constexpr (T == GgmlType::Q5_K) v |= ((qh[l] >> sub) & 1) << 4;
      w[l] = sub_rn(mul_rn(ds, static_cast<float>(v)), ms);
    }
  } else if constexpr (T == GgmlType::Q6_K) {
    // ql[128], qh[64], int8 scales[16], d. Sub-block s: half h = s / 4, quarter k = s % 4; element
    // l of it: low 4 bits from ql[64h + 32(k & 1) + l] (low nibble for k < 2, high for k >= 2),
    // 2 high bits from qh[32h + l] >> 2k; value - 32; scale scales[2s + l / 16].
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
    const float d = h2f(ld_u16(b + 208));
    const int h = sub / 4, k = sub % 4;
    const uint8_t* qlp = ql + 64 * h + 32 * (k & 1);
    const uint8_t* qhp = qh + 32 * h;
    const int nib_shift = 4 * (k >> 1), hi_shift = 2 * k;
    const float d0 = mul_rn(d, static_cast<float>(scales[2 * sub]));
    const float d1 = mul_rn(d, static_cast<float>(scales[2 * sub + 1]));
CYLLM_UNROLL
    for (int l = 0; l < 32; ++l) {
      const int v = (((qlp[l] >> nib_shift) & 15) | (((qhp[l] >> hi_shift) & 3) << 4)) - 32;
      w[l] = mul_rn(l < 16 ? d0 : d1, static_cast<float>(v));
    }
  }
}

}  // namespace cyllm::cuda::dev
