// Merging a LoRA adapter into a base model's weights: for each layer and target the adapter
// covers, W' = W + scale * B A (engine layout: the GGUF rows of q/k are already permuted, and so
// is the adapter's B), written as a new GGUF that any llama.cpp-compatible reader loads without
// the adapter.
//
// Every other tensor is copied byte for byte and every metadata key/value is kept (in order, with
// the base's alignment); cyllm.merged_lora.{name,scale,type} record what was merged (replacing
// such keys from an earlier merge). Merged matrices are dequantized row by row, the delta is
// added in float32, and the row is written as F32, F16, BF16 or requantized to the base tensor's
// own type (round-to-nearest, backend/quant.h). Requantizing to a low-bit type can absorb small
// deltas: a LoRA update is often smaller than a Q4 step, so F16 is the default.
//
// The output is written to a temporary file next to it, fsync'ed and renamed: readers see the old
// file or the complete new one. Memory: one merged matrix at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread-pool.h"
#include "model/gguf-reader.h"
#include "model/lora.h"

namespace cyllm {

enum class MergeType { kF16, kF32, kBF16, kBase };
// "f16", "f32", "bf16", "base" <-> MergeType.
const char* merge_type_name(MergeType t);
bool parse_merge_type(const std::string& s, MergeType* out);

struct MergeOptions {
  MergeType type = MergeType::kF16;
  float scale = 1.0f;        // multiplies the adapter's own scale (alpha / r)
  std::string adapter_name;  // recorded in cyllm.merged_lora.name ("" = the adapter's name)
};

struct MergeReport {
  int merged = 0;            // matrices W + scale B A
  int copied = 0;            // tensors copied unchanged
  uint64_t bytes = 0;        // size of the written file
  // Over all merged matrices: the L2 norm of the adapter's update (scale B A) and of the storage
  // rounding error of the merged weights (stored - (W + update)). An error as large as the update
  // means the stored model has lost much of the adapter (typical when requantizing to 4 bits).
  double update_norm = 0, rounding_norm = 0;
  std::vector<std::string> notes;  // e.g. a type that cannot be requantized, written as F16
};

// Checks the adapter against the base (shapes, layer count) before anything is written.
Result<MergeReport> merge_lora(const GgufFile& base, const LoraAdapter& adapter, const std::string& out_path,
                               const MergeOptions& opts = {}, ThreadPool* pool = nullptr);

}  // namespace cyllm
