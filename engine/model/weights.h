// The tensors of a llama-family model, resolved by name from a GGUF file and checked for shape
// and type before any forward pass runs. Weights stay in the memory map in their stored type; some
// also get a repacked copy for the CPU kernels (WeightRef::packed).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/gguf-reader.h"
#include "model/model-config.h"

namespace cyllm {
namespace cpu {
struct PackedWeight;  // backend/packed.h
}

// A 2-D (or 1-D) weight: ne0 elements per row, ne1 rows.
struct WeightRef {
  const GgufTensorInfo* info = nullptr;
  GgmlType type = GgmlType::F32;
  int64_t ne0 = 0;
  int64_t ne1 = 1;
  size_t row_stride = 0;  // bytes between rows
  const uint8_t* data = nullptr;
  // Optional row-interleaved copy for the packed CPU kernels (backend/packed.h), made at load.
  std::shared_ptr<const cpu::PackedWeight> packed;

  bool present() const { return data != nullptr; }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_stride; }
};

struct LayerWeights {
  WeightRef attn_norm, wq, wk, wv, wo;
  WeightRef bq, bk, bv;  // qwen2 only
  WeightRef ffn_norm, w_gate, w_up, w_down;
};

struct ModelWeights {
  WeightRef token_embd;
  WeightRef output_norm;
  WeightRef output;     // token_embd when embeddings are tied
  WeightRef rope_freqs; // optional per-dimension frequency factors (Llama 3.1+)
  std::vector<LayerWeights> layers;
  uint64_t weight_bytes = 0;  // bytes read per token by a decode step (all matrices once)

  static Result<ModelWeights> resolve(const GgufFile& f, const ModelConfig& c);
};

}  // namespace cyllm
