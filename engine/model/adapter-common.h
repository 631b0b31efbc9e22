// Helpers shared by the PEFT and GGUF adapter readers/writers (adapter-io.h). Internal to
// engine/model.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "model/adapter-io.h"

namespace cyllm::adapter_detail {

// First non-finite value's index, or -1.
long first_non_finite(const std::vector<float>& v);

// Error constructors with the shared wording and suggestions.
Error malformed(const std::string& path, const std::string& why);
Error mismatch(const std::string& path, const std::string& why);
Error unsupported(const std::string& path, const std::string& why, const std::string& suggestion);

// The rank most matrices share (the one written as `r`); 0 when no matrix is present.
int main_rank(const LoraAdapter& a);

// Scale of one matrix from (alpha, rank, rslora).
float lora_scale(float alpha, int rank, bool rslora);

// Moves a matrix's B from HF to engine layout (permute q/k for archs that permute) or back.
void to_engine_layout(LoraMatrix& m, LoraTarget t, const ModelConfig& base);
std::vector<float> b_to_hf_layout(const LoraMatrix& m, LoraTarget t, const ModelConfig& base);

// Fills in the arch/n_layer/target list a save should record.
AdapterMeta complete_meta(const LoraAdapter& a, const AdapterMeta& meta, const ModelConfig& base);
// Alpha to record for rank r: meta.alpha when it gives a.scale (relative 1e-6), else derived.
float alpha_for_save(const LoraAdapter& a, const AdapterMeta& meta, int r);

}  // namespace cyllm::adapter_detail
