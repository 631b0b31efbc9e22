// Adapter targets, the Q/K row permutation, validation against a base, format sniffing and the
// helpers the PEFT and GGUF codecs share.
#include "model/adapter-io.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "core/sha256.h"
#include "model/adapter-common.h"

namespace cyllm {

namespace {

struct TargetNames {
  LoraTarget t;
  std::string_view gguf, peft, block;
};
constexpr TargetNames kTargets[kLoraTargets] = {
    {LoraTarget::kQ, "attn_q", "q_proj", "self_attn"},       {LoraTarget::kK, "attn_k", "k_proj", "self_attn"},
    {LoraTarget::kV, "attn_v", "v_proj", "self_attn"},       {LoraTarget::kO, "attn_output", "o_proj", "self_attn"},
    {LoraTarget::kGate, "ffn_gate", "gate_proj", "mlp"},     {LoraTarget::kUp, "ffn_up", "up_proj", "mlp"},
    {LoraTarget::kDown, "ffn_down", "down_proj", "mlp"},
};

const TargetNames& names(LoraTarget t) { return kTargets[static_cast<int>(t)]; }

std::vector<float> permute_rows(std::span<const float> m, int rows, int cols, int n_heads, bool to_gguf) {
  std::vector<float> out(m.size());
  const int hd = rows / n_heads, half = hd / 2;
  for (int h = 0; h < n_heads; ++h)
    for (int i = 0; i < half; ++i)
      for (int j = 0; j < 2; ++j) {
        const size_t g = static_cast<size_t>(h * hd + 2 * i + j);     // GGUF row
        const size_t f = static_cast<size_t>(h * hd + j * half + i);  // HF row
        const size_t dst = to_gguf ? g : f, src = to_gguf ? f : g;
        std::copy_n(m.data() + src * static_cast<size_t>(cols), cols, out.data() + dst * static_cast<size_t>(cols));
      }
  return out;
}

}  // namespace

std::string_view lora_target_gguf_name(LoraTarget t) { return names(t).gguf; }
std::string_view lora_target_peft_name(LoraTarget t) { return names(t).peft; }
std::string_view lora_target_peft_block(LoraTarget t) { return names(t).block; }

std::optional<LoraTarget> lora_target_from_peft(std::string_view module) {
  for (const auto& n : kTargets)
    if (n.peft == module) return n.t;
  return std::nullopt;
}
std::optional<LoraTarget> lora_target_from_gguf(std::string_view name) {
  for (const auto& n : kTargets)
    if (n.gguf == name) return n.t;
  return std::nullopt;
}

std::pair<int, int> lora_target_dims(const ModelConfig& c, LoraTarget t) {
  switch (t) {
    case LoraTarget::kQ: return {c.n_embd, c.q_dim()};
    case LoraTarget::kK:
    case LoraTarget::kV: return {c.n_embd, c.kv_dim()};
    case LoraTarget::kO: return {c.q_dim(), c.n_embd};
    case LoraTarget::kGate:
    case LoraTarget::kUp: return {c.n_embd, c.n_ff};
    case LoraTarget::kDown: return {c.n_ff, c.n_embd};
  }
  return {0, 0};
}

std::string gguf_lora_base_name(int layer, LoraTarget t) {
  return "blk." + std::to_string(layer) + "." + std::string(names(t).gguf) + ".weight";
}
std::string peft_lora_module(int layer, LoraTarget t) {
  return "base_model.model.model.layers." + std::to_string(layer) + "." + std::string(names(t).block) + "." +
         std::string(names(t).peft);
}

// The converter permutes Q/K rows exactly for the archs whose RoPE pairs adjacent dimensions
// (that permutation is what turns HF's rotate_half pairs into adjacent ones), so this follows the
// one per-arch table in model-config.
bool gguf_permutes_qk(const std::string& arch) { return rope_style_for_arch(arch) == RopeStyle::kNormal; }

std::vector<float> permute_rows_hf_to_gguf(std::span<const float> m, int rows, int cols, int n_heads) {
  return permute_rows(m, rows, cols, n_heads, true);
}
std::vector<float> permute_rows_gguf_to_hf(std::span<const float> m, int rows, int cols, int n_heads) {
  return permute_rows(m, rows, cols, n_heads, false);
}

AdapterProvenance make_adapter_provenance(std::string_view chat_template_text, std::optional<int32_t> eos_token_id,
                                          std::optional<std::string> eos_token) {
  AdapterProvenance p;
  p.chat_template_sha256 = sha256_hex(chat_template_text);
  p.eos_token_id = eos_token_id;
  p.eos_token = std::move(eos_token);
  return p;
}

std::string_view adapter_format_name(AdapterFormat f) { return f == AdapterFormat::kGguf ? "gguf" : "peft"; }

Status validate_adapter(const LoraAdapter& a, const ModelConfig& base) {
  auto bad = [&](const std::string& tensor, const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument, "adapter '" + a.name + "' does not fit the base model: tensor '" + tensor + "' " + why,
                      "Use the adapter with the base model it was trained for.");
  };
  if (!std::isfinite(a.scale))
    return make_error(ErrorCode::kInvalidArgument, "adapter '" + a.name + "' has a non-finite scale");
  if (a.layers.size() != static_cast<size_t>(base.n_layer))
    return make_error(ErrorCode::kInvalidArgument,
                      "adapter '" + a.name + "' has " + std::to_string(a.layers.size()) + " layers; the base model has " +
                          std::to_string(base.n_layer),
                      "Use the adapter with the base model it was trained for.");
  for (int il = 0; il < base.n_layer; ++il)
    for (int ti = 0; ti < kLoraTargets; ++ti) {
      const auto t = static_cast<LoraTarget>(ti);
      const LoraMatrix& m = a.layers[static_cast<size_t>(il)][static_cast<size_t>(ti)];
      const std::string name = gguf_lora_base_name(il, t);
      if (m.rank < 0) return bad(name + ".lora_a", "has a negative rank");
      if (m.rank == 0) {
        if (!m.a.empty() || !m.b.empty()) return bad(name + ".lora_a", "has data but rank 0");
        continue;
      }
      const auto [in, out] = lora_target_dims(base, t);
      if (m.in != in)
        return bad(name + ".lora_a", "takes " + std::to_string(m.in) + " inputs; the base tensor takes " + std::to_string(in));
      if (m.out != out)
        return bad(name + ".lora_b", "gives " + std::to_string(m.out) + " outputs; the base tensor gives " + std::to_string(out));
      if (m.a.size() != static_cast<size_t>(m.rank) * static_cast<size_t>(m.in))
        return bad(name + ".lora_a", "holds " + std::to_string(m.a.size()) + " values, not rank x in = " +
                                         std::to_string(static_cast<size_t>(m.rank) * m.in));
      if (m.b.size() != static_cast<size_t>(m.rank) * static_cast<size_t>(m.out))
        return bad(name + ".lora_b", "holds " + std::to_string(m.b.size()) + " values, not out x rank = " +
                                         std::to_string(static_cast<size_t>(m.rank) * m.out));
      if (long i = adapter_detail::first_non_finite(m.a); i >= 0) return bad(name + ".lora_a", "has a non-finite value at " + std::to_string(i));
      if (long i = adapter_detail::first_non_finite(m.b); i >= 0) return bad(name + ".lora_b", "has a non-finite value at " + std::to_string(i));
    }
  return {};
}

Result<LoadedAdapter> load_adapter(const std::string& path, const ModelConfig& base) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_peft_adapter(path, base);
  if (!fs::exists(path, ec)) return make_error(ErrorCode::kNotFound, "adapter '" + path + "' does not exist");
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".json" || ext == ".safetensors") return load_peft_adapter(path, base);
  char magic[4] = {};
  if (FILE* f = std::fopen(path.c_str(), "rb")) {
    const size_t n = std::fread(magic, 1, 4, f);
    std::fclose(f);
    if (n == 4 && std::string_view(magic, 4) == "GGUF") return load_gguf_adapter(path, base);
  }
  return make_error(ErrorCode::kUnsupported, "'" + path + "' is neither a PEFT adapter nor a GGUF LoRA file",
                    "Pass a PEFT directory (adapter_config.json + adapter_model.safetensors) or a GGUF LoRA file.");
}

namespace adapter_detail {

long first_non_finite(const std::vector<float>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) return static_cast<long>(i);
  return -1;
}

Error malformed(const std::string& path, const std::string& why) {
  return make_error(ErrorCode::kMalformedFile, "adapter '" + path + "' is malformed: " + why,
                    "The file is truncated or corrupt, or was not written by a LoRA exporter; export it again.");
}
Error mismatch(const std::string& path, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, "adapter '" + path + "' does not fit the base model: " + why,
                    "Use the adapter with the base model it was trained for.");
}
Error unsupported(const std::string& path, const std::string& why, const std::string& suggestion) {
  return make_error(ErrorCode::kUnsupported, "adapter '" + path + "': " + why, suggestion);
}

int main_rank(const LoraAdapter& a) {
  std::map<int, int> count;
  for (const auto& layer : a.layers)
    for (const auto& m : layer)
      if (m.present()) ++count[m.rank];
  int best = 0, best_n = 0;
  for (const auto& [r, n] : count)
    if (n > best_n) best = r, best_n = n;
  return best;
}

float lora_scale(float alpha, int rank, bool rslora) {
  return rslora ? alpha / std::sqrt(static_cast<float>(rank)) : alpha / static_cast<float>(rank);
}

void to_engine_layout(LoraMatrix& m, LoraTarget t, const ModelConfig& base) {
  if (!gguf_permutes_qk(base.arch) || (t != LoraTarget::kQ && t != LoraTarget::kK)) return;
  m.b = permute_rows_hf_to_gguf(m.b, m.out, m.rank, t == LoraTarget::kQ ? base.n_head : base.n_head_kv);
}

std::vector<float> b_to_hf_layout(const LoraMatrix& m, LoraTarget t, const ModelConfig& base) {
  if (!gguf_permutes_qk(base.arch) || (t != LoraTarget::kQ && t != LoraTarget::kK)) return m.b;
  return permute_rows_gguf_to_hf(m.b, m.out, m.rank, t == LoraTarget::kQ ? base.n_head : base.n_head_kv);
}

AdapterMeta complete_meta(const LoraAdapter& a, const AdapterMeta& meta, const ModelConfig& base) {
  AdapterMeta m = meta;
  if (m.arch.empty()) m.arch = base.arch;
  if (m.n_layer == 0) m.n_layer = base.n_layer;
  if (m.base_model.empty()) m.base_model = base.name;
  m.target_modules.clear();
  for (int ti = 0; ti < kLoraTargets; ++ti) {
    bool used = false;
    for (const auto& layer : a.layers) used = used || layer[static_cast<size_t>(ti)].present();
    if (used) m.target_modules.emplace_back(lora_target_peft_name(static_cast<LoraTarget>(ti)));
  }
  return m;
}

float alpha_for_save(const LoraAdapter& a, const AdapterMeta& meta, int r) {
  if (meta.alpha != 0) {
    const float s = lora_scale(meta.alpha, r, meta.use_rslora);
    if (std::fabs(s - a.scale) <= 1e-6f * std::fabs(a.scale)) return meta.alpha;
  }
  return meta.use_rslora ? a.scale * std::sqrt(static_cast<float>(r)) : a.scale * static_cast<float>(r);
}

}  // namespace adapter_detail

}  // namespace cyllm
