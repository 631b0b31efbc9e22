// Device helpers shared by the kernels: half/bfloat16 bit conversions, little-endian byte loads,
// warp reductions. Device code only; no state.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

// Functions marked CYLLM_HD also compile for the host, where tests/engine/cuda/kernel-logic-test.cu
// runs the same code on the CPU (no GPU needed): block decoding, matvec chunk addressing. Their
// host branches use plain portable code with the same results.
#define CYLLM_HD __host__ __device__ __forceinline__
// `#pragma unroll` for the device pass only (the host compiler would warn about it).
#ifdef __CUDA_ARCH__
#define CYLLM_UNROLL _Pragma("unroll")
#else
#define CYLLM_UNROLL
#endif

namespace cyllm::cuda::dev {

// IEEE half bits -> float (exact).
CYLLM_HD float h2f(uint16_t bits) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(bits));
#else
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exp = (bits >> 10) & 0x1fu, mant = bits & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  const uint32_t u = sign | (exp == 31 ? 0x7f800000u | (mant << 13) : ((exp + 112u) << 23) | (mant << 13));
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}
// bfloat16 bits -> float (exact: the bits are the top half of the float).
CYLLM_HD float bf2f(uint16_t bits) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(static_cast<uint32_t>(bits) << 16);
#else
  const uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}
// Rounded float operations that the compiler may not fuse into an FMA (device intrinsics; on the
// host a volatile store forces the rounding and blocks contraction).
CYLLM_HD float mul_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  volatile float r = a * b;
  return r;
#endif
}
CYLLM_HD float add_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  volatile float r = a + b;
  return r;
#endif
}
CYLLM_HD float sub_rn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  volatile float r = a - b;
  return r;
#endif
}
// float -> half / bfloat16 bits, round to nearest even (matches fp32_to_fp16 / fp32_to_bf16 of
// model/tensor-types.h for finite values). Device only.
__device__ __forceinline__ uint16_t f2h_bits(float f) { return __half_as_ushort(__float2half_rn(f)); }
__device__ __forceinline__ uint16_t f2bf_bits(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }

// Little-endian loads from byte pointers with no alignment assumption (GGUF blocks are 2-byte
// aligned at best; these never rely on it).
CYLLM_HD uint16_t ld_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (static_cast<uint32_t>(p[1]) << 8)); }
CYLLM_HD uint32_t ld_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

constexpr unsigned kFullMask = 0xffffffffu;

// Reduction operators for cub::BlockReduce (our own: CCCL 3 dropped cub::Max / cub::Min).
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct MinIntOp {
  __device__ __forceinline__ int operator()(int a, int b) const { return a < b ? a : b; }
};

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}

}  // namespace cyllm::cuda::dev
