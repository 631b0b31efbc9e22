// Multi-threaded matrix products of quantized weights with float activations:
// Y[T, n_out] = X[T, n_in] · Wᵀ, where W is stored row-major as [n_out, n_in] in any supported type.
// The activations are quantized once to the weight type's vec-dot type (shared by all weights that
// read the same input, e.g. q/k/v or gate/up), then blocks of weight rows are handed out to the
// threads; each block runs quant.h's matmul_tile over all T columns, or, for weights with a packed
// copy (backend/packed.h, AVX-512 VNNI), the packed kernel.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/thread-pool.h"
#include "model/tensor-types.h"
#include "model/weights.h"

namespace cyllm::cpu {

// Activation rows quantized to one vec-dot type.
struct QuantizedActs {
  GgmlType type = GgmlType::F32;
  int64_t n = 0;        // elements per row
  int64_t rows = 0;
  size_t row_bytes = 0;
  std::vector<uint8_t> data;
  // Per-block (d, s) floats of each row for the packed kernels (backend/packed.h), 2 * n / 32 per
  // row; filled by quantize_acts for Q8_0/Q8_1 when packed_available(), else empty.
  std::vector<float> scales;
  const uint8_t* row(int64_t r) const { return data.data() + static_cast<size_t>(r) * row_bytes; }
};

void quantize_acts(const float* x, int64_t rows, int64_t n, GgmlType type, QuantizedActs& out, ThreadPool& pool);

struct MatmulJob {
  const WeightRef* w;
  float* y;        // [T, w->ne1] row-major
};

// Runs every job (at most 8) in one parallel region. All weights must have act.n inputs and
// act.type as their vec-dot type, or act.type F32 (exact mode: weights are dequantized on the fly).
void matmul(std::span<const MatmulJob> jobs, const QuantizedActs& act, ThreadPool& pool);

}  // namespace cyllm::cpu
