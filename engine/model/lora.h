// LoRA adapters as the forward pass applies them: for each layer and target projection (q, k, v,
// o, gate, up, down), y += scale * B (A x), with A [rank x in] and B [out x rank] in float32, in the
// engine's (GGUF) weight layout. Each sequence of a batch may carry its own adapter or none, and a
// row's result depends only on its own adapter (Property 12). Loading PEFT/GGUF adapter files and
// the adapter registry come with the adapters-in-serving issue; tests build adapters directly.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "model/model-config.h"

namespace cyllm {

enum class LoraTarget { kQ = 0, kK, kV, kO, kGate, kUp, kDown };
constexpr int kLoraTargets = 7;

struct LoraMatrix {
  int rank = 0, in = 0, out = 0;
  std::vector<float> a;  // [rank][in]
  std::vector<float> b;  // [out][rank]
  bool present() const { return rank > 0; }
};

struct LoraAdapter {
  std::string name;
  float scale = 1.0f;  // alpha / rank (or alpha / sqrt(rank) for rsLoRA)
  std::vector<std::array<LoraMatrix, kLoraTargets>> layers;

  // Random adapter for tests and benchmarks: every target in `targets` (bit i = LoraTarget i).
  static LoraAdapter random(const ModelConfig& c, int rank, float alpha, uint64_t seed, unsigned targets = 0x7f);
};

// y[0..out) += scale * B (A x); tmp holds at least `rank` floats.
void lora_apply(const LoraMatrix& m, float scale, const float* x, float* y, float* tmp);

}  // namespace cyllm
