// A llama-family model (llama: SmolLM2, TinyLlama, Llama 2/3, Mistral; qwen2 with its q/k/v
// biases) loaded from GGUF: its file map, hyperparameters and resolved weights. The forward pass
// is model/forward.h; a single sequence's state is model/inference-context.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
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

}  // namespace cyllm
