#include "train/checkpoint-adapter.h"

#include <filesystem>

#include "train/lora-params.h"

namespace cyllm::train {

namespace fs = std::filesystem;

nlohmann::json base_config_json(const ModelConfig& c) {
  return {{"arch", c.arch},       {"name", c.name},           {"n_layer", c.n_layer},   {"n_embd", c.n_embd},
          {"n_ff", c.n_ff},       {"n_head", c.n_head},       {"n_head_kv", c.n_head_kv}, {"head_dim", c.head_dim},
          {"n_vocab", c.n_vocab}};
}

Result<ModelConfig> base_config_from_json(const nlohmann::json& j) {
  ModelConfig c;
  try {
    c.arch = j.at("arch").get<std::string>();
    c.name = j.value("name", "");
    c.n_layer = j.at("n_layer").get<int>();
    c.n_embd = j.at("n_embd").get<int>();
    c.n_ff = j.at("n_ff").get<int>();
    c.n_head = j.at("n_head").get<int>();
    c.n_head_kv = j.at("n_head_kv").get<int>();
    c.head_dim = j.at("head_dim").get<int>();
    c.n_vocab = j.value("n_vocab", 0);
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kMalformedFile, std::string("checkpoint metadata: the base model entry is incomplete (") +
                                                     e.what() + ")");
  }
  if (auto style = rope_style_for_arch(c.arch)) c.rope_style = *style;
  c.rope_dim = c.head_dim;
  if (c.n_layer <= 0 || c.n_embd <= 0 || c.n_ff <= 0 || c.n_head <= 0 || c.n_head_kv <= 0 || c.head_dim <= 0)
    return make_error(ErrorCode::kMalformedFile, "checkpoint metadata: the base model entry has non-positive sizes");
  return c;
}

bool is_checkpoint_path(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (!fs::is_directory(p, ec)) return false;
  if (fs::exists(p / "manifest.json", ec) || fs::is_directory(p / "checkpoints", ec)) return true;
  for (const auto& e : fs::directory_iterator(p, ec))
    if (e.is_directory() && e.path().filename().string().rfind("ckpt-", 0) == 0) return true;
  return false;
}

Result<CheckpointAdapter> load_checkpoint_adapter(const std::string& path, std::vector<std::string>* warnings) {
  std::error_code ec;
  const fs::path p(path);
  Checkpoint ck;
  if (fs::exists(p / "manifest.json", ec)) {
    auto c = CheckpointStore(p.parent_path().string()).load(p.string());
    if (!c) return c.error();
    ck = std::move(c.value());
  } else {
    const fs::path root = fs::is_directory(p / "checkpoints", ec) ? p / "checkpoints" : p;
    auto latest = CheckpointStore(root.string()).find_latest(warnings);
    if (!latest) return latest.error();
    if (!latest->has_value())
      return make_error(ErrorCode::kNotFound, "no intact checkpoint under " + root.string(),
                        "Give a checkpoint directory (ckpt-...) or a training output_dir that holds one.");
    ck = std::move(**latest);
  }
  auto blob = ck.blobs.find("adapter.bin");
  if (blob == ck.blobs.end())
    return make_error(ErrorCode::kMalformedFile, "checkpoint " + ck.dir + " holds no adapter.bin",
                      "Is this a LoRA training checkpoint?");
  auto params = deserialize_lora(blob->second);
  if (!params) return params.error();

  CheckpointAdapter out;
  out.dir = ck.dir;
  out.state = ck.state;
  out.adapter = to_adapter(*params, fs::path(ck.dir).filename().string());
  const nlohmann::json& md = ck.state.metadata;
  if (md.contains("base")) {
    auto base = base_config_from_json(md["base"]);
    if (!base) return base.error();
    out.base = *base;
    out.meta.arch = base->arch;
    out.meta.n_layer = base->n_layer;
    out.meta.base_model = base->name;
  }
  if (out.meta.base_model.empty() && md.contains("model") && md["model"].is_string())
    out.meta.base_model = fs::path(md["model"].get<std::string>()).stem().string();
  if (md.contains("lora") && md["lora"].is_object()) {
    const auto& l = md["lora"];
    out.meta.alpha = static_cast<float>(l.value("alpha", 0.0));
    out.meta.use_rslora = l.value("rslora", false);
  }
  for (int t = 0; t < kLoraTargets; ++t) {
    bool used = false;
    for (const auto& layer : out.adapter.layers) used = used || layer[static_cast<size_t>(t)].present();
    if (used) out.meta.target_modules.emplace_back(lora_target_peft_name(static_cast<LoraTarget>(t)));
  }
  AdapterProvenance& pv = out.meta.provenance;
  if (md.contains("chat_template_sha256") && md["chat_template_sha256"].is_string())
    pv.chat_template_sha256 = md["chat_template_sha256"].get<std::string>();
  if (md.contains("eos_token_id") && md["eos_token_id"].is_number_integer()) pv.eos_token_id = md["eos_token_id"].get<int32_t>();
  if (md.contains("eos_token") && md["eos_token"].is_string()) pv.eos_token = md["eos_token"].get<std::string>();
  return out;
}

}  // namespace cyllm::train
