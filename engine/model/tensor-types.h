// ggml tensor element types as stored in GGUF files: ids, block sizes and byte sizes.
// Facts from the GGUF spec (ggml docs/gguf.md, ggml-common.h); see docs/ARCHITECTURE.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cyllm {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};

struct TypeTraits {
  GgmlType type;
  std::string_view name;
  int64_t block_size;   // elements per block
  size_t block_bytes;   // bytes per block
  bool computable;      // the engine can dequantize it and take dot products
};

// nullptr for ids this engine does not know; such tensors make a file unusable, not a crash.
const TypeTraits* type_traits(uint32_t id);
inline const TypeTraits* type_traits(GgmlType t) { return type_traits(static_cast<uint32_t>(t)); }
std::string_view type_name(uint32_t id);

// Bytes of a row of n elements; nullopt when n is not a multiple of the block size.
std::optional<size_t> row_bytes(GgmlType t, int64_t n);

// IEEE half <-> float and bfloat16 -> float, portable (no F16C needed).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
inline float bf16_to_fp32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t fp32_to_bf16(float f);  // round to nearest even

}  // namespace cyllm
