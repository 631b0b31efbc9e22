#include "model/model-config.h"

namespace cyllm {

namespace {

// Every architecture the engine runs, with its RoPE pairing as llama.cpp's
// llama_model_rope_type() gives it (src/llama-model.cpp): LLM_ARCH_LLAMA is NORM (its converter
// permutes Q/K rows into adjacent-pair order), LLM_ARCH_QWEN2 is NEOX (its converter keeps HF's
// row order, so pairs are half a rotary dimension apart). A new architecture is one more row.
struct ArchInfo {
  std::string_view name;
  RopeStyle rope;
};
constexpr ArchInfo kArchs[] = {
    {"llama", RopeStyle::kNormal},
    {"qwen2", RopeStyle::kNeox},
};

}  // namespace

const char* rope_style_name(RopeStyle s) { return s == RopeStyle::kNeox ? "neox" : "normal"; }

std::optional<RopeStyle> rope_style_for_arch(std::string_view arch) {
  for (const ArchInfo& a : kArchs)
    if (a.name == arch) return a.rope;
  return std::nullopt;
}

bool is_supported_arch(const std::string& arch) { return rope_style_for_arch(arch).has_value(); }

Result<ModelConfig> ModelConfig::from_gguf(const GgufFile& f) {
  ModelConfig c;
  auto arch = f.get_string("general.architecture");
  if (!arch) return make_error(ErrorCode::kMalformedFile, "'" + f.path() + "' has no general.architecture key");
  c.arch = *arch;
  if (!is_supported_arch(c.arch))
    return make_error(ErrorCode::kUnsupported, "architecture '" + c.arch + "' is not supported",
                      "Supported architectures: llama (SmolLM2, TinyLlama, Llama 2/3, Mistral) and qwen2.");
  c.rope_style = *rope_style_for_arch(c.arch);
  c.name = f.get_string("general.name").value_or("");
  const std::string p = c.arch + ".";
  std::string missing;
  auto need_int = [&](const char* key, int& out) {
    auto v = f.get_int(p + key);
    if (!v || *v <= 0 || *v > (int64_t{1} << 30)) {
      missing += (missing.empty() ? "" : ", ") + p + key;
      return;
    }
    out = static_cast<int>(*v);
  };
  need_int("block_count", c.n_layer);
  need_int("embedding_length", c.n_embd);
  need_int("feed_forward_length", c.n_ff);
  need_int("attention.head_count", c.n_head);
  if (!missing.empty())
    return make_error(ErrorCode::kMalformedFile, "'" + f.path() + "' lacks or has invalid keys: " + missing);
  c.n_head_kv = static_cast<int>(f.get_int(p + "attention.head_count_kv").value_or(c.n_head));
  c.n_ctx_train = static_cast<int>(f.get_int(p + "context_length").value_or(2048));
  c.head_dim = static_cast<int>(f.get_int(p + "attention.key_length").value_or(c.n_embd / c.n_head));
  c.rope_dim = static_cast<int>(f.get_int(p + "rope.dimension_count").value_or(c.head_dim));
  c.rope_theta = static_cast<float>(f.get_float(p + "rope.freq_base").value_or(10000.0));
  c.rms_eps = static_cast<float>(f.get_float(p + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  if (c.n_head_kv <= 0 || c.n_head % c.n_head_kv != 0)
    return make_error(ErrorCode::kMalformedFile, "head_count " + std::to_string(c.n_head) +
                                                     " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv));
  if (c.n_head / c.n_head_kv > 128)
    return make_error(ErrorCode::kUnsupported, "more than 128 query heads per KV head is not supported");
  if (c.head_dim > 256)
    return make_error(ErrorCode::kUnsupported, "head dimension " + std::to_string(c.head_dim) + " is over 256, which the CPU attention kernel does not handle");
  if (c.head_dim <= 0 || c.head_dim % 2 != 0 || c.rope_dim > c.head_dim || c.rope_dim % 2 != 0)
    return make_error(ErrorCode::kMalformedFile, "head dimension " + std::to_string(c.head_dim) + " / rope dimension " +
                                                     std::to_string(c.rope_dim) + " are not usable");
  if (const GgufArray* toks = f.get_array("tokenizer.ggml.tokens")) c.n_vocab = static_cast<int>(toks->items.size());
  if (const auto* emb = f.find_tensor("token_embd.weight")) c.n_vocab = static_cast<int>(emb->ne[1]);
  c.n_vocab = static_cast<int>(f.get_int(p + "vocab_size").value_or(c.n_vocab));
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  c.attn_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  return c;
}

}  // namespace cyllm
