// Hyperparameters of a llama-family model, read from GGUF metadata ("<arch>.*" keys).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "model/gguf-reader.h"

namespace cyllm {

struct ModelConfig {
  std::string arch;          // "llama" or "qwen2"
  std::string name;          // general.name, if any
  int n_layer = 0;
  int n_embd = 0;
  int n_ff = 0;
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;          // n_embd / n_head unless attention.key_length says otherwise
  int n_vocab = 0;
  int n_ctx_train = 0;
  int rope_dim = 0;          // rotated dimensions per head (<= head_dim)
  float rope_theta = 10000.0f;
  float rms_eps = 1e-5f;
  bool attn_bias = false;    // qwen2: q/k/v projections carry a bias
  bool tied_embeddings = false;  // no output.weight: token_embd doubles as the output projection

  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_head_kv * head_dim; }

  static Result<ModelConfig> from_gguf(const GgufFile& f);
};

// Architectures this engine runs.
bool is_supported_arch(const std::string& arch);

}  // namespace cyllm
