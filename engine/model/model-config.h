// Hyperparameters of a llama-family model, read from GGUF metadata ("<arch>.*" keys).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/gguf-reader.h"

namespace cyllm {

// How RoPE pairs the dimensions of a head (llama.cpp's LLAMA_ROPE_TYPE_NORM / _NEOX):
//  kNormal: adjacent pairs (x[2i], x[2i+1]). For archs whose converter permutes the Q/K rows
//           (convert_hf_to_gguf.py's LlamaModel.permute), e.g. llama.
//  kNeox:   pairs (x[i], x[i + rope_dim/2]), HF's rotate_half. For archs stored with HF's Q/K
//           row order, e.g. qwen2.
// Both use the angle pos * theta^(-2i/rope_dim) for pair i, and leave dimensions >= rope_dim as
// they are. Chosen per architecture in one place (rope_style_for_arch); every RoPE in the engine
// (forward pass, trainer) must follow ModelConfig::rope_style.
enum class RopeStyle { kNormal, kNeox };

const char* rope_style_name(RopeStyle s);  // "normal" / "neox"

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
  RopeStyle rope_style = RopeStyle::kNormal;  // from general.architecture (rope_style_for_arch)
  bool attn_bias = false;    // qwen2: q/k/v projections carry a bias
  bool tied_embeddings = false;  // no output.weight: token_embd doubles as the output projection

  int q_dim() const { return n_head * head_dim; }
  int kv_dim() const { return n_head_kv * head_dim; }

  static Result<ModelConfig> from_gguf(const GgufFile& f);
};

// Architectures this engine runs.
bool is_supported_arch(const std::string& arch);
// The RoPE pairing of a supported architecture (llama: normal, qwen2: neox); nullopt otherwise.
std::optional<RopeStyle> rope_style_for_arch(std::string_view arch);

}  // namespace cyllm
