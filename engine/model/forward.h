// The batched llama-family forward pass on CPU: any number of sequences, each appending tokens at
// its own positions through its own block table into a shared KvStorage. All tokens of a step go
// through every matrix product together (weights are read once per step, whatever the batch),
// while attention runs per sequence over that sequence's keys and values. The single-sequence
// InferenceContext and the serving scheduler both run on this.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/thread-pool.h"
#include "model/kv-storage.h"
#include "model/llama-model.h"
#include "model/lora.h"

namespace cyllm {

struct SeqBatch {
  std::span<const int32_t> tokens;   // new tokens, at positions pos0, pos0 + 1, ...
  int pos0 = 0;
  std::span<const int> block_table;  // covers positions [0, pos0 + tokens.size())
  // Logits wanted: none, the last token's, or every token's ([n, n_vocab] rows into logits).
  enum class Logits { kNone, kLast, kAll } logits = Logits::kLast;
  float* logits_out = nullptr;
  const LoraAdapter* lora = nullptr;  // this sequence's adapter, or none
};

class ForwardPass {
 public:
  // max_tokens bounds the tokens of one run() (scratch memory); exact: float32 activations (see
  // ContextOptions::exact_activations).
  ForwardPass(const LlamaModel& model, ThreadPool& pool, int max_tokens, bool exact = false);
  ~ForwardPass();
  ForwardPass(const ForwardPass&) = delete;
  ForwardPass& operator=(const ForwardPass&) = delete;

  int max_tokens() const { return max_tokens_; }
  // The caller has checked positions, block tables and token ids (InferenceContext::eval and the
  // scheduler do); the total token count must not exceed max_tokens().
  void run(std::span<const SeqBatch> batch, KvStorage& kv);

 private:
  struct Scratch;
  GgmlType act_type(GgmlType weight) const;
  void attention(std::span<const SeqBatch> batch, std::span<const int> seq_of_token, int layer, KvStorage& kv);

  void ensure_rope(int n_positions);

  const LlamaModel& model_;
  ThreadPool& pool_;
  int max_tokens_;
  bool exact_;
  int rope_positions_ = 0;
  std::vector<float> rope_cos_, rope_sin_;  // [position][rope_dim / 2], grown on demand
  std::unique_ptr<Scratch> s_;
};

}  // namespace cyllm
