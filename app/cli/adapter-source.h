// A LoRA adapter from wherever the user points: a training checkpoint (a ckpt-* directory, a
// checkpoints folder or a training output_dir: its newest intact checkpoint), a PEFT directory or
// a GGUF LoRA file, checked against a base model. Shared by `cyllm merge` and the workbench's LoRA
// manager (export, merge), so both accept the same paths and say the same things about them.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "model/adapter-io.h"
#include "model/gguf-reader.h"
#include "model/model-config.h"

namespace cyllm::cli {

struct AdapterSource {
  LoraAdapter adapter;                // engine (GGUF) layout
  AdapterMeta meta;                   // alpha, targets, base name, provenance
  std::string path;                   // what was read: the checkpoint directory, or the given path
  std::string what;                   // "checkpoint DIR" or "peft adapter PATH", for messages
  std::vector<std::string> warnings;  // e.g. broken checkpoints skipped
};

Result<AdapterSource> load_adapter_source(const std::string& path, const ModelConfig& base);

// The chat template hash and EOS token a base GGUF's own template gives (what `cyllm serve` would
// render with); empty when the file has no usable template.
AdapterProvenance gguf_base_provenance(const GgufFile& g);

}  // namespace cyllm::cli
