// Tiny generated llama models for trainer tests: random weights in a chosen stored type (F32 or a
// quantized type, to exercise on-the-fly dequantization), written to GGUF in memory with the test
// GgufWriter and loaded as a LlamaModel.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/llama-model.h"
#include "model/tensor-types.h"

namespace cyllm::test {

struct TinyTrainSpec {
  int n_layer = 2, n_embd = 64, n_head = 4, n_head_kv = 2, n_ff = 96, n_vocab = 40;
  GgmlType matrix_type = GgmlType::F32;  // every 2-D weight (token_embd included)
  bool tied = true;
  float rope_theta = 10000.0f;
  uint32_t seed = 7;
  const char* arch = "llama";  // or "qwen2": NeoX RoPE (ModelConfig::rope_style) and q/k/v biases
};

struct TinyTrainModel {
  std::vector<uint8_t> bytes;  // the model points into these
  std::unique_ptr<LlamaModel> model;
};

TinyTrainModel make_tiny_train_model(const TinyTrainSpec& spec);

}  // namespace cyllm::test
