// The llama-family forward pass on CPU (llama: SmolLM2, TinyLlama, Llama 2/3, Mistral; qwen2 with
// its q/k/v biases): RMSNorm, adjacent-pair RoPE (the GGUF layout), grouped-query attention over a
// KV cache, SwiGLU, and tied embeddings. A prompt is processed as a matrix (prefill), in chunks
// of up to `n_batch` tokens; decode feeds one token at a time through the same code.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread-pool.h"
#include "model/gguf-reader.h"
#include "model/model-config.h"
#include "model/weights.h"

namespace cyllm {

class LlamaModel {
 public:
  static Result<std::unique_ptr<LlamaModel>> load(const std::string& path);
  // Takes ownership of an already-opened file (tests).
  static Result<std::unique_ptr<LlamaModel>> from_gguf(GgufFile file);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  const GgufFile& gguf() const { return file_; }

 private:
  GgufFile file_;
  ModelConfig config_;
  ModelWeights weights_;
};

struct ContextOptions {
  int n_ctx = 2048;    // maximum positions held in the KV cache
  int n_batch = 256;   // tokens per prefill chunk (bounds scratch memory)
  // Keep activations in float32 for every matrix product instead of quantizing them to the
  // weight type's 8-bit vec-dot type. Slower; used to validate the forward pass against exact
  // references, where 8-bit activation noise would blur near-tied logits.
  bool exact_activations = false;
};

// One sequence's state: its KV cache and scratch buffers. Not thread-safe; the thread pool it is
// given runs the parallel parts.
class InferenceContext {
 public:
  InferenceContext(const LlamaModel& model, ContextOptions opts, ThreadPool& pool);
  ~InferenceContext();
  InferenceContext(const InferenceContext&) = delete;
  InferenceContext& operator=(const InferenceContext&) = delete;

  // Appends tokens at positions [n_past, n_past + tokens.size()). Afterwards logits() holds the
  // last token's logits, or every token's ([n, n_vocab] row-major) when all_logits is set.
  Status eval(std::span<const int32_t> tokens, bool all_logits = false);

  const float* logits() const { return logits_.data(); }
  int n_vocab() const { return model_.config().n_vocab; }
  int n_past() const { return n_past_; }
  int n_ctx() const { return opts_.n_ctx; }
  // Forgets positions >= n (e.g. to reuse a shared prompt prefix).
  void truncate(int n);
  size_t kv_bytes() const;

 private:
  struct Scratch;
  void forward_chunk(const int32_t* tokens, int n, bool all_logits, float* logits_out);
  GgmlType act_type(GgmlType weight) const;

  const LlamaModel& model_;
  ContextOptions opts_;
  ThreadPool& pool_;
  int n_past_ = 0;
  std::vector<float> k_cache_, v_cache_;  // [layer][pos][kv_dim]
  std::vector<float> rope_cos_, rope_sin_;  // [pos][rope_dim/2]
  std::vector<float> logits_;
  std::unique_ptr<Scratch> s_;
};

}  // namespace cyllm
