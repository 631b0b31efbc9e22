// One sequence's state for direct use (CLI generate/chat/bench, tests): a contiguous KV cache of
// n_ctx positions (a KvStorage with a single block) driven through the batched ForwardPass.
// Prompts run as matrices in chunks of up to n_batch tokens; decode feeds one token at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/thread-pool.h"
#include "model/forward.h"
#include "model/kv-storage.h"
#include "model/llama-model.h"

namespace cyllm {

struct ContextOptions {
  int n_ctx = 2048;    // maximum positions held in the KV cache
  int n_batch = 256;   // tokens per prefill chunk (bounds scratch memory)
  // Keep activations in float32 for every matrix product instead of quantizing them to the
  // weight type's 8-bit vec-dot type. Slower; used to validate the forward pass against exact
  // references, where 8-bit activation noise would blur near-tied logits.
  bool exact_activations = false;
};

// Not thread-safe; the thread pool it is given runs the parallel parts.
class InferenceContext {
 public:
  InferenceContext(const LlamaModel& model, ContextOptions opts, ThreadPool& pool);

  // Appends tokens at positions [n_past, n_past + tokens.size()). Afterwards logits() holds the
  // last token's logits, or every token's ([n, n_vocab] row-major) when all_logits is set.
  Status eval(std::span<const int32_t> tokens, bool all_logits = false);

  const float* logits() const { return logits_.data(); }
  int n_vocab() const { return model_.config().n_vocab; }
  int n_past() const { return n_past_; }
  int n_ctx() const { return opts_.n_ctx; }
  // Forgets positions >= n (e.g. to reuse a shared prompt prefix).
  void truncate(int n);
  // Applies a LoRA adapter from now on (nullptr: none). Not owned; it must outlive its use, and
  // positions already evaluated keep the KV state they were computed with.
  void set_lora(const LoraAdapter* lora) { lora_ = lora; }
  size_t kv_bytes() const { return kv_.bytes(); }

 private:
  const LlamaModel& model_;
  ContextOptions opts_;
  KvStorage kv_;
  ForwardPass forward_;
  int n_past_ = 0;
  const int block_table_[1] = {0};
  std::vector<float> logits_;
  const LoraAdapter* lora_ = nullptr;
};

}  // namespace cyllm
