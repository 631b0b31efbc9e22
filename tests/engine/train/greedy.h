// Greedy decoding and logits through the engine's forward pass (model/forward.h) with an optional
// LoRA adapter applied at run time, for tests that compare models: merged vs base + adapter, and
// the identity demonstration.
#pragma once

#include <cstdint>
#include <vector>

#include "core/thread-pool.h"
#include "model/llama-model.h"
#include "model/lora.h"

namespace cyllm::test {

struct GreedyOptions {
  int max_new = 32;
  bool exact = false;               // float32 activations (ForwardPass exact mode)
  std::vector<int32_t> stop_ids;    // generation ends before any of these
};

// Greedily continues `prompt`; returns the new tokens.
std::vector<int32_t> greedy(const LlamaModel& m, ThreadPool& pool, const std::vector<int32_t>& prompt,
                            const LoraAdapter* lora, const GreedyOptions& o);

// Logits of every position of `tokens` ([n][n_vocab], row-major).
std::vector<float> all_logits(const LlamaModel& m, ThreadPool& pool, const std::vector<int32_t>& tokens,
                              const LoraAdapter* lora, bool exact);

}  // namespace cyllm::test
