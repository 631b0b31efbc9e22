// LoRA adapter files: PEFT (a directory with adapter_config.json + adapter_model.safetensors) and
// GGUF LoRA as llama.cpp's `--lora` reads it, loaded into / saved from a LoraAdapter (model/lora.h),
// and checked against a base model's ModelConfig.
//
// Layout. The engine keeps weights in GGUF layout, where llama.cpp's converter has permuted the
// rows of Q and K (per head: HF row j*hd/2 + i becomes row 2i + j, so RoPE rotates adjacent
// pairs). PEFT adapters are in HF layout, so lora_B of q_proj/k_proj (whose rows are output rows)
// is permuted on load and un-permuted on save; lora_A (input columns) never changes. GGUF LoRA files
// hold B already permuted (convert_lora_to_gguf.py runs the base model's permute on the LoRA pair,
// which only touches B), so they load as they are. Only `llama` permutes; `qwen2` keeps HF order.
//
// Scale. LoraAdapter::scale is alpha/r (alpha/sqrt(r) with rsLoRA). PEFT's rank_pattern /
// alpha_pattern and GGUF tensors of differing ranks give per-matrix scales; the ratio to the
// adapter's scale is folded into that matrix's B, so the engine applies one scale per adapter.
// GGUF files store adapter.lora.alpha = scale * r, so llama.cpp (which computes alpha / r) applies
// the same scale; the original alpha and rsLoRA flag are kept under cyllm.* keys.
//
// Provenance. The chat template (sha256 of its text) and the EOS token the adapter was trained
// with are recorded: PEFT in adapter_config.json ("cyllm": {...}) and the safetensors
// __metadata__ ("cyllm.*"); GGUF under cyllm.chat_template_sha256, cyllm.eos_token_id and
// cyllm.eos_token.
//
// Errors: a corrupt file gives `malformed_file`; an adapter that does not fit the base
// (architecture, layer count, shapes, target names) gives `invalid_argument` naming the first
// offending tensor; a valid but unhandled feature (DoRA, bias training, embeddings) `unsupported`.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "model/lora.h"
#include "model/model-config.h"

namespace cyllm {

// ---- targets and layout -------------------------------------------------------------------

std::string_view lora_target_gguf_name(LoraTarget t);   // "attn_q", "ffn_down", ...
std::string_view lora_target_peft_name(LoraTarget t);   // "q_proj", "down_proj", ...
std::string_view lora_target_peft_block(LoraTarget t);  // "self_attn" or "mlp"
std::optional<LoraTarget> lora_target_from_peft(std::string_view module);
std::optional<LoraTarget> lora_target_from_gguf(std::string_view name);
// {inputs, outputs} of target t's projection in the base model.
std::pair<int, int> lora_target_dims(const ModelConfig& c, LoraTarget t);

// Base-tensor names as the two formats spell them.
std::string gguf_lora_base_name(int layer, LoraTarget t);  // "blk.3.attn_q.weight"
std::string peft_lora_module(int layer, LoraTarget t);     // "base_model.model.model.layers.3.self_attn.q_proj"

// Whether GGUF files of this architecture hold Q/K rows permuted for adjacent-pair RoPE.
bool gguf_permutes_qk(const std::string& arch);
// Row permutations of a row-major [rows][cols] matrix whose rows are n_heads heads of rows/n_heads
// rows (rows must be a multiple of 2*n_heads). hf_to_gguf(m)[h*hd + 2i + j] = m[h*hd + j*hd/2 + i].
std::vector<float> permute_rows_hf_to_gguf(std::span<const float> m, int rows, int cols, int n_heads);
std::vector<float> permute_rows_gguf_to_hf(std::span<const float> m, int rows, int cols, int n_heads);

// ---- metadata -----------------------------------------------------------------------------

struct AdapterProvenance {
  std::string chat_template_sha256;        // lower-case hex sha256 of the template text; "" if unknown
  std::optional<int32_t> eos_token_id;
  std::optional<std::string> eos_token;
  bool empty() const { return chat_template_sha256.empty() && !eos_token_id && !eos_token; }
  bool operator==(const AdapterProvenance&) const = default;
};
AdapterProvenance make_adapter_provenance(std::string_view chat_template_text, std::optional<int32_t> eos_token_id,
                                          std::optional<std::string> eos_token);

struct AdapterMeta {
  std::string arch;                        // architecture of the base it was made for ("" unknown)
  std::string base_model;                  // base_model_name_or_path
  int n_layer = 0;                         // the base's layer count when recorded (0 unknown)
  float alpha = 0;                         // lora_alpha as trained; 0: derive from scale and rank
  bool use_rslora = false;
  std::vector<std::string> target_modules; // PEFT names ("q_proj", ...) as the file lists them
  AdapterProvenance provenance;
};

enum class AdapterFormat { kPeft, kGguf };
std::string_view adapter_format_name(AdapterFormat f);  // "peft" or "gguf"

struct LoadedAdapter {
  LoraAdapter adapter;                     // engine (GGUF) layout, checked against the base
  AdapterMeta meta;
  AdapterFormat format = AdapterFormat::kPeft;
  std::string path;
  std::vector<std::string> notes;          // things ignored on load (e.g. norm tensors in GGUF)
};

// ---- loading ------------------------------------------------------------------------------

// A PEFT adapter: the directory, or a path to its adapter_config.json or adapter_model.safetensors.
Result<LoadedAdapter> load_peft_adapter(const std::string& path, const ModelConfig& base);
// The same from memory (tests, fuzzing): adapter_config.json text and safetensors bytes.
Result<LoadedAdapter> parse_peft_adapter(std::string_view config_json, const uint8_t* safetensors, size_t size,
                                         const ModelConfig& base, const std::string& name = "<buffer>");
// A GGUF LoRA file (general.type = adapter, adapter.type = lora).
Result<LoadedAdapter> load_gguf_adapter(const std::string& path, const ModelConfig& base);
// Either: a file starting with "GGUF" is GGUF LoRA; a directory, .json or .safetensors is PEFT.
Result<LoadedAdapter> load_adapter(const std::string& path, const ModelConfig& base);

// ---- saving -------------------------------------------------------------------------------

enum class AdapterDtype { kF32, kF16, kBF16 };

// Writes `dir`/adapter_model.safetensors then `dir`/adapter_config.json (each atomically; the
// directory is created). B of q/k is un-permuted to HF layout. meta.arch/n_layer default to the
// base's; meta.alpha is used when it matches the adapter's scale, else alpha is derived from it.
Status save_peft_adapter(const std::string& dir, const LoraAdapter& a, const AdapterMeta& meta, const ModelConfig& base,
                         AdapterDtype dtype = AdapterDtype::kF32);
// Writes one GGUF LoRA file atomically, loadable by llama.cpp's --lora with this base.
Status save_gguf_adapter(const std::string& path, const LoraAdapter& a, const AdapterMeta& meta, const ModelConfig& base,
                         AdapterDtype dtype = AdapterDtype::kF32);

// ---- validation ---------------------------------------------------------------------------

// An in-memory adapter against a base: layer count, each present matrix's in/out/rank and the
// sizes of its A and B, finite values and a finite scale. The error names the first
// offending tensor in GGUF spelling ("blk.3.attn_q.weight.lora_b").
Status validate_adapter(const LoraAdapter& a, const ModelConfig& base);

}  // namespace cyllm
