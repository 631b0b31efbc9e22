// The adapter inside a training checkpoint (checkpoint.h, trainer.h), as the export and merge
// commands and the inference side need it: a LoraAdapter in the engine layout plus the AdapterMeta
// that PEFT / GGUF LoRA files record (alpha, rsLoRA, targets, base model, provenance), and the
// base model's shape as the trainer recorded it, so an adapter can be exported without the base
// GGUF at hand.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/adapter-io.h"
#include "model/model-config.h"
#include "train/checkpoint.h"

namespace cyllm::train {

// The base-model fields an adapter's shapes and layout depend on (arch, name, layer count and the
// projection sizes), as stored under the checkpoint metadata's "base" key.
nlohmann::json base_config_json(const ModelConfig& c);
Result<ModelConfig> base_config_from_json(const nlohmann::json& j);

struct CheckpointAdapter {
  std::string dir;                   // the checkpoint directory used
  CheckpointState state;             // step, epoch, loss, metadata
  LoraAdapter adapter;               // engine (GGUF) layout
  AdapterMeta meta;                  // alpha, rsLoRA, targets, base name, provenance
  std::optional<ModelConfig> base;   // from the metadata (absent in checkpoints older than it)
};

// True when `path` is a checkpoint directory (holds manifest.json), a checkpoint root (holds
// ckpt-* directories) or a training output_dir (holds checkpoints/).
bool is_checkpoint_path(const std::string& path);

// Loads the adapter of a checkpoint directory, or of the newest intact checkpoint under a
// checkpoint root or output_dir (skipped broken ones are appended to warnings).
Result<CheckpointAdapter> load_checkpoint_adapter(const std::string& path, std::vector<std::string>* warnings = nullptr);

}  // namespace cyllm::train
