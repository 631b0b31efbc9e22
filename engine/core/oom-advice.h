// Out-of-memory errors that say what would fit (Property 14). Given the memory plan that failed,
// each suggestion changes one thing — context, parallel sequences, KV-cache precision, prefill
// batch, resident adapters — to the largest value that fits in the free memory, and carries the
// plan it leads to; when even the weights do not fit, the suggestion is a smaller or more strongly
// quantized model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace cyllm {

struct MemoryPlan {
  uint64_t free_bytes = 0;                  // memory available to this model on the device
  uint64_t weights_bytes = 0;
  uint64_t adapter_bytes = 0;               // all resident adapters together
  int n_adapters = 0;
  uint64_t kv_elements_per_token = 0;       // 2 * layers * kv_dim
  int kv_bytes_per_element = 4;             // 4 f32, 2 f16/bf16, 1 q8
  int context = 0;                          // tokens per sequence
  int parallel = 1;                         // sequences held at once
  int batch_tokens = 0;                     // prefill batch
  uint64_t activation_bytes_per_token = 0;  // scratch per batch token

  uint64_t kv_bytes() const;
  uint64_t required_bytes() const;
  bool fits() const { return required_bytes() <= free_bytes; }
};

struct OomSuggestion {
  std::string kind;  // context | parallel | kv_precision | batch | adapters | model
  std::string text;  // what to do, with the numbers
  MemoryPlan plan;   // the plan after following it
};

std::vector<OomSuggestion> oom_suggestions(const MemoryPlan& p);
// kOutOfMemory with "needs X MiB, Y MiB free" and the suggestions as its suggestion text.
Error oom_error(const MemoryPlan& p, const std::string& what);

}  // namespace cyllm
