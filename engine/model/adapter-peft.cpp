// PEFT LoRA adapters: adapter_config.json + adapter_model.safetensors (see adapter-io.h).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic-file.h"
#include "model/adapter-common.h"
#include "model/adapter-io.h"
#include "model/safetensors.h"

namespace cyllm {

using namespace adapter_detail;
using json = nlohmann::json;

namespace {

constexpr std::string_view kPrefix = "base_model.model.";
constexpr size_t kMaxConfigBytes = 16u << 20;

std::optional<int64_t> json_int(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

// PEFT matches rank_pattern / alpha_pattern keys as regexes against the module name; this reader
// takes them literally: a key matches a module named exactly so or ending in "." + key.
const json* find_pattern(const json& patterns, const std::string& module) {
  if (!patterns.is_object()) return nullptr;
  for (auto it = patterns.begin(); it != patterns.end(); ++it) {
    const std::string& k = it.key();
    if (module == k || (module.size() > k.size() && module.compare(module.size() - k.size(), k.size(), k) == 0 &&
                        module[module.size() - k.size() - 1] == '.'))
      return &it.value();
  }
  return nullptr;
}

struct Config {
  int r = 0;
  float alpha = 0;
  bool rslora = false;
  json rank_pattern, alpha_pattern;
  std::optional<std::set<LoraTarget>> targets;  // nullopt: any ("all-linear" or a regex)
  AdapterMeta meta;
};

Result<Config> parse_config(std::string_view text, const std::map<std::string, std::string, std::less<>>& st_meta,
                            const std::string& path) {
  bool too_deep = false;
  auto cb = [&](int depth, json::parse_event_t, json&) {
    if (depth > 32) too_deep = true;
    return !too_deep;
  };
  json j;
  try {
    j = json::parse(text.begin(), text.end(), cb);
  } catch (const json::exception& e) {
    return malformed(path, std::string("adapter_config.json is not valid JSON (") + e.what() + ")");
  }
  if (too_deep) return malformed(path, "adapter_config.json nests too deeply");
  if (!j.is_object()) return malformed(path, "adapter_config.json is not a JSON object");
  Config c;
  auto str = [&](const char* key) -> Result<std::optional<std::string>> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::optional<std::string>();
    if (!it->is_string()) return malformed(path, std::string("adapter_config.json: ") + key + " is not a string");
    return std::optional<std::string>(it->get<std::string>());
  };
  auto flag = [&](const char* key) -> Result<bool> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return false;
    if (!it->is_boolean()) return malformed(path, std::string("adapter_config.json: ") + key + " is not true or false");
    return it->get<bool>();
  };

  auto peft_type = str("peft_type");
  if (!peft_type) return peft_type.error();
  if (!*peft_type) return malformed(path, "adapter_config.json has no peft_type");
  if (**peft_type != "LORA")
    return unsupported(path, "peft_type is '" + **peft_type + "'; only LORA adapters are supported", "Export a LoRA adapter.");
  auto r_it = j.find("r");
  if (r_it == j.end() || !json_int(*r_it) || *json_int(*r_it) < 1 || *json_int(*r_it) > 1'000'000)
    return malformed(path, "adapter_config.json: r is missing or not a positive integer");
  c.r = static_cast<int>(*json_int(*r_it));
  auto a_it = j.find("lora_alpha");
  if (a_it == j.end() || !a_it->is_number() || !std::isfinite(a_it->get<double>()))
    return malformed(path, "adapter_config.json: lora_alpha is missing or not a number");
  c.alpha = a_it->get<float>();
  auto rs = flag("use_rslora");
  if (!rs) return rs.error();
  c.rslora = *rs;
  auto dora = flag("use_dora");
  if (!dora) return dora.error();
  if (*dora) return unsupported(path, "DoRA adapters (use_dora) are not supported", "Train a plain LoRA adapter.");
  auto fifo = flag("fan_in_fan_out");
  if (!fifo) return fifo.error();
  if (*fifo) return unsupported(path, "fan_in_fan_out adapters (Conv1D models) are not supported", "Export for a Linear-layer model.");
  auto bias = str("bias");
  if (!bias) return bias.error();
  if (*bias && **bias != "none")
    return unsupported(path, "bias = '" + **bias + "': trained biases are not supported", "Train with bias = \"none\".");
  auto base_name = str("base_model_name_or_path");
  if (!base_name) return base_name.error();
  if (*base_name) c.meta.base_model = **base_name;

  auto tm = j.find("target_modules");
  if (tm != j.end() && tm->is_array()) {
    c.targets.emplace();
    for (const auto& m : *tm) {
      if (!m.is_string()) return malformed(path, "adapter_config.json: target_modules holds a non-string");
      auto t = lora_target_from_peft(m.get<std::string>());
      if (!t)
        return unsupported(path, "target module '" + m.get<std::string>() + "' is not supported",
                           "Supported targets: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.");
      c.targets->insert(*t);
      c.meta.target_modules.push_back(m.get<std::string>());
    }
  } else if (tm != j.end() && tm->is_string()) {
    c.meta.target_modules.push_back(tm->get<std::string>());
  } else if (tm != j.end() && !tm->is_null()) {
    return malformed(path, "adapter_config.json: target_modules is neither a list nor a string");
  }
  for (const char* key : {"rank_pattern", "alpha_pattern"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_object()) return malformed(path, std::string("adapter_config.json: ") + key + " is not an object");
    for (const auto& v : *it)
      if (!v.is_number() || !std::isfinite(v.get<double>()))
        return malformed(path, std::string("adapter_config.json: ") + key + " holds a non-number");
    (std::string_view(key) == "rank_pattern" ? c.rank_pattern : c.alpha_pattern) = *it;
  }
  c.meta.alpha = c.alpha;
  c.meta.use_rslora = c.rslora;

  // Provenance: the config's "cyllm" object, else the safetensors __metadata__.
  AdapterProvenance& p = c.meta.provenance;
  auto cy = j.find("cyllm");
  if (cy != j.end() && !cy->is_null()) {
    if (!cy->is_object()) return malformed(path, "adapter_config.json: cyllm is not an object");
    auto get = [&](const char* key) { auto it = cy->find(key); return it == cy->end() || it->is_null() ? nullptr : &*it; };
    if (auto* v = get("arch")) {
      if (!v->is_string()) return malformed(path, "adapter_config.json: cyllm.arch is not a string");
      c.meta.arch = v->get<std::string>();
    }
    if (auto* v = get("n_layer")) {
      if (!json_int(*v) || *json_int(*v) < 1 || *json_int(*v) > 1'000'000) return malformed(path, "adapter_config.json: cyllm.n_layer is not a positive integer");
      c.meta.n_layer = static_cast<int>(*json_int(*v));
    }
    if (auto* v = get("chat_template_sha256")) {
      if (!v->is_string()) return malformed(path, "adapter_config.json: cyllm.chat_template_sha256 is not a string");
      p.chat_template_sha256 = v->get<std::string>();
    }
    if (auto* v = get("eos_token_id")) {
      if (!json_int(*v) || *json_int(*v) < 0 || *json_int(*v) > INT32_MAX) return malformed(path, "adapter_config.json: cyllm.eos_token_id is not a token id");
      p.eos_token_id = static_cast<int32_t>(*json_int(*v));
    }
    if (auto* v = get("eos_token")) {
      if (!v->is_string()) return malformed(path, "adapter_config.json: cyllm.eos_token is not a string");
      p.eos_token = v->get<std::string>();
    }
  } else {
    auto m = [&](const char* key) -> const std::string* { auto it = st_meta.find(key); return it == st_meta.end() ? nullptr : &it->second; };
    if (auto* v = m("cyllm.arch")) c.meta.arch = *v;
    if (auto* v = m("cyllm.chat_template_sha256")) p.chat_template_sha256 = *v;
    if (auto* v = m("cyllm.eos_token")) p.eos_token = *v;
    if (auto* v = m("cyllm.eos_token_id")) {
      char* end = nullptr;
      const long id = std::strtol(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || id < 0 || id > INT32_MAX) return malformed(path, "__metadata__ cyllm.eos_token_id is not a token id");
      p.eos_token_id = static_cast<int32_t>(id);
    }
    if (auto* v = m("cyllm.n_layer")) {
      char* end = nullptr;
      const long n = std::strtol(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0' || n < 1 || n > 1'000'000) return malformed(path, "__metadata__ cyllm.n_layer is not a positive integer");
      c.meta.n_layer = static_cast<int>(n);
    }
  }
  return c;
}

// "model.layers.N.block.module.lora_X.weight" (after the base_model.model. prefix).
struct KeyParts {
  int layer = -1;
  LoraTarget target = LoraTarget::kQ;
  bool is_b = false;
};

Result<KeyParts> parse_key(const std::string& name, const Config& c, const ModelConfig& base, const std::string& path) {
  std::string_view s = name;
  if (s.substr(0, kPrefix.size()) == kPrefix) s.remove_prefix(kPrefix.size());
  std::vector<std::string_view> parts;
  for (size_t pos = 0;;) {
    const size_t dot = s.find('.', pos);
    parts.push_back(s.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos));
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  const bool lora_like = parts.size() == 7 && parts[0] == "model" && parts[1] == "layers" && parts[6] == "weight" &&
                         (parts[5] == "lora_A" || parts[5] == "lora_B");
  if (!lora_like) {
    if (name.find("embed") != std::string::npos || name.find("lm_head") != std::string::npos)
      return unsupported(path, "tensor '" + name + "' adapts the embeddings or the output head, which is not supported",
                         "Train the adapter on the attention and MLP projections only.");
    if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0)
      return unsupported(path, "tensor '" + name + "' is a trained bias, which is not supported", "Train with bias = \"none\".");
    return malformed(path, "unexpected tensor '" + name + "' (expected base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight and the like)");
  }
  KeyParts k;
  const std::string_view num = parts[2];
  if (num.empty() || num.size() > 6 || (num.size() > 1 && num[0] == '0')) return malformed(path, "tensor '" + name + "' has a bad layer number");
  int layer = 0;
  for (char ch : num) {
    if (ch < '0' || ch > '9') return malformed(path, "tensor '" + name + "' has a bad layer number");
    layer = layer * 10 + (ch - '0');
  }
  auto t = lora_target_from_peft(parts[4]);
  if (!t)
    return unsupported(path, "tensor '" + name + "' adapts '" + std::string(parts[4]) + "', which is not a supported target",
                       "Supported targets: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.");
  if (parts[3] != lora_target_peft_block(*t))
    return malformed(path, "tensor '" + name + "': " + std::string(parts[4]) + " belongs under " + std::string(lora_target_peft_block(*t)));
  if (layer >= base.n_layer)
    return mismatch(path, "tensor '" + name + "' is for layer " + std::to_string(layer) + ", but the base model has " +
                              std::to_string(base.n_layer) + " layers");
  if (c.targets && !c.targets->count(*t))
    return malformed(path, "tensor '" + name + "' adapts " + std::string(parts[4]) + ", which target_modules does not list");
  k.layer = layer;
  k.target = *t;
  k.is_b = parts[5] == "lora_B";
  return k;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

Result<LoadedAdapter> build(const Config& c, const SafetensorsFile& st, const ModelConfig& base, const std::string& path,
                            const std::string& adapter_name) {
  if (!c.meta.arch.empty() && c.meta.arch != base.arch)
    return mismatch(path, "it was made for architecture '" + c.meta.arch + "'; the base model is '" + base.arch + "'");
  if (c.meta.n_layer != 0 && c.meta.n_layer != base.n_layer)
    return mismatch(path, "it was made for a base with " + std::to_string(c.meta.n_layer) + " layers; this base has " +
                              std::to_string(base.n_layer));
  std::map<std::pair<int, int>, std::pair<const SafetensorsTensor*, const SafetensorsTensor*>> pairs;
  for (const auto& t : st.tensors()) {
    auto k = parse_key(t.name, c, base, path);
    if (!k) return k.error();
    auto& slot = pairs[{k->layer, static_cast<int>(k->target)}];
    (k->is_b ? slot.second : slot.first) = &t;
  }
  LoadedAdapter out;
  out.format = AdapterFormat::kPeft;
  out.path = path;
  out.meta = c.meta;
  LoraAdapter& a = out.adapter;
  a.name = adapter_name;
  float global = lora_scale(c.alpha, c.r, c.rslora);
  if (global == 0 || !std::isfinite(global)) global = 1.0f;  // alpha 0: every matrix's own scale goes into B
  a.scale = global;
  a.layers.resize(static_cast<size_t>(base.n_layer));
  for (const auto& [key, ab] : pairs) {
    const auto t = static_cast<LoraTarget>(key.second);
    const std::string module = peft_lora_module(key.first, t);
    if (!ab.first) return malformed(path, "tensor '" + ab.second->name + "' has no matching lora_A");
    if (!ab.second) return malformed(path, "tensor '" + ab.first->name + "' has no matching lora_B");
    const SafetensorsTensor& A = *ab.first;
    const SafetensorsTensor& B = *ab.second;
    const auto [in, outd] = lora_target_dims(base, t);
    if (A.shape.size() != 2 || A.shape[0] < 1 || A.shape[1] != in)
      return mismatch(path, "tensor '" + A.name + "' has shape " + shape_str(A.shape) + "; the base's " +
                                std::string(lora_target_peft_name(t)) + " takes " + std::to_string(in) + " inputs, so it must be [r, " +
                                std::to_string(in) + "]");
    const int64_t rank = A.shape[0];
    if (B.shape.size() != 2 || B.shape[0] != outd || B.shape[1] != rank)
      return mismatch(path, "tensor '" + B.name + "' has shape " + shape_str(B.shape) + "; expected [" + std::to_string(outd) + ", " +
                                std::to_string(rank) + "] (the base's " + std::string(lora_target_peft_name(t)) + " outputs x rank)");
    const std::string pattern_key = module.substr(kPrefix.size());
    int r_m = c.r;
    float alpha_m = c.alpha;
    if (const json* v = find_pattern(c.rank_pattern, pattern_key)) {
      auto ri = json_int(*v);
      if (!ri || *ri < 1) return malformed(path, "rank_pattern for '" + pattern_key + "' is not a positive integer");
      r_m = static_cast<int>(*ri);
    }
    if (const json* v = find_pattern(c.alpha_pattern, pattern_key)) alpha_m = v->get<float>();
    if (rank != r_m)
      return malformed(path, "tensor '" + A.name + "' has rank " + std::to_string(rank) + " but adapter_config.json gives r = " +
                                 std::to_string(r_m));
    LoraMatrix& m = a.layers[static_cast<size_t>(key.first)][static_cast<size_t>(key.second)];
    m.rank = static_cast<int>(rank);
    m.in = in;
    m.out = outd;
    auto av = safetensors_to_f32(A);
    if (!av) return av.error();
    auto bv = safetensors_to_f32(B);
    if (!bv) return bv.error();
    if (long i = first_non_finite(*av); i >= 0) return malformed(path, "tensor '" + A.name + "' has a non-finite value at " + std::to_string(i));
    if (long i = first_non_finite(*bv); i >= 0) return malformed(path, "tensor '" + B.name + "' has a non-finite value at " + std::to_string(i));
    m.a = std::move(*av);
    m.b = std::move(*bv);
    const float s_m = lora_scale(alpha_m, r_m, c.rslora);
    if (s_m != global)
      for (auto& x : m.b) x *= s_m / global;
    to_engine_layout(m, t, base);
  }
  if (auto st2 = validate_adapter(a, base); !st2) return st2.error();
  return out;
}

Result<std::string> read_small_file(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open '" + path + "'");
  std::string s;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    s.append(buf, static_cast<size_t>(in.gcount()));
    if (s.size() > limit) return make_error(ErrorCode::kMalformedFile, "'" + path + "' is larger than " + std::to_string(limit) + " bytes");
  }
  return s;
}

}  // namespace

Result<LoadedAdapter> parse_peft_adapter(std::string_view config_json, const uint8_t* safetensors, size_t size,
                                         const ModelConfig& base, const std::string& name) {
  auto st = SafetensorsFile::parse(safetensors, size, name);
  if (!st) return st.error();
  auto c = parse_config(config_json, st->metadata(), name);
  if (!c) return c.error();
  return build(*c, *st, base, name, name);
}

Result<LoadedAdapter> load_peft_adapter(const std::string& path, const ModelConfig& base) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir(path);
  if (!fs::is_directory(dir, ec)) dir = dir.parent_path();
  if (dir.empty()) dir = ".";
  const std::string cfg_path = (dir / "adapter_config.json").string();
  const std::string st_path = (dir / "adapter_model.safetensors").string();
  if (!fs::exists(st_path, ec)) {
    if (fs::exists(dir / "adapter_model.bin", ec))
      return unsupported(dir.string(), "adapter_model.bin (a pickle file) cannot be read safely",
                         "Save the adapter with safe_serialization=True (adapter_model.safetensors).");
    return make_error(ErrorCode::kNotFound, "'" + st_path + "' does not exist",
                      "A PEFT adapter directory holds adapter_config.json and adapter_model.safetensors.");
  }
  auto text = read_small_file(cfg_path, kMaxConfigBytes);
  if (!text) return text.error();
  auto st = SafetensorsFile::open(st_path);
  if (!st) return st.error();
  auto c = parse_config(*text, st->metadata(), dir.string());
  if (!c) return c.error();
  std::string name = fs::path(dir).lexically_normal().filename().string();
  if (name.empty() || name == ".") name = fs::absolute(dir, ec).lexically_normal().parent_path().filename().string();
  return build(*c, *st, base, dir.string(), name);
}

Status save_peft_adapter(const std::string& dir, const LoraAdapter& a, const AdapterMeta& meta_in, const ModelConfig& base,
                         AdapterDtype dtype) {
  namespace fs = std::filesystem;
  if (auto st = validate_adapter(a, base); !st) return st;
  const int r = main_rank(a);
  if (r == 0) return make_error(ErrorCode::kInvalidArgument, "adapter '" + a.name + "' has no matrices to save");
  const AdapterMeta meta = complete_meta(a, meta_in, base);
  const float alpha = alpha_for_save(a, meta, r);
  const SafetensorsDtype sdt = dtype == AdapterDtype::kF16 ? SafetensorsDtype::kF16
                               : dtype == AdapterDtype::kBF16 ? SafetensorsDtype::kBF16 : SafetensorsDtype::kF32;
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  w.set_metadata("cyllm.arch", meta.arch);
  w.set_metadata("cyllm.n_layer", std::to_string(meta.n_layer));
  const AdapterProvenance& p = meta.provenance;
  if (!p.chat_template_sha256.empty()) w.set_metadata("cyllm.chat_template_sha256", p.chat_template_sha256);
  if (p.eos_token_id) w.set_metadata("cyllm.eos_token_id", std::to_string(*p.eos_token_id));
  if (p.eos_token) w.set_metadata("cyllm.eos_token", *p.eos_token);
  json rank_pattern = json::object(), alpha_pattern = json::object();
  std::vector<int> layers;
  for (int il = 0; il < base.n_layer; ++il) {
    bool any = false;
    for (int ti = 0; ti < kLoraTargets; ++ti) {
      const LoraMatrix& m = a.layers[static_cast<size_t>(il)][static_cast<size_t>(ti)];
      if (!m.present()) continue;
      any = true;
      const auto t = static_cast<LoraTarget>(ti);
      const std::string module = peft_lora_module(il, t);
      if (m.rank != r) {
        const std::string key = module.substr(kPrefix.size());
        rank_pattern[key] = m.rank;
        alpha_pattern[key] = meta.use_rslora ? a.scale * std::sqrt(static_cast<float>(m.rank)) : a.scale * static_cast<float>(m.rank);
      }
      if (auto st = w.add(module + ".lora_A.weight", {m.rank, m.in}, m.a, sdt); !st) return st;
      const std::vector<float> b = b_to_hf_layout(m, t, base);
      if (auto st = w.add(module + ".lora_B.weight", {m.out, m.rank}, b, sdt); !st) return st;
    }
    if (any) layers.push_back(il);
  }
  json cfg = json::object();
  // nlohmann::json sorts keys, as PEFT's json.dumps(sort_keys=True) does.
  cfg["alpha_pattern"] = alpha_pattern;
  cfg["base_model_name_or_path"] = meta.base_model.empty() ? json(nullptr) : json(meta.base_model);
  cfg["bias"] = "none";
  cfg["fan_in_fan_out"] = false;
  cfg["inference_mode"] = true;
  cfg["init_lora_weights"] = true;
  cfg["layers_pattern"] = nullptr;
  cfg["layers_to_transform"] = static_cast<int>(layers.size()) == base.n_layer ? json(nullptr) : json(layers);
  cfg["lora_alpha"] = alpha == std::floor(alpha) && std::fabs(alpha) < 1e9f ? json(static_cast<int64_t>(alpha)) : json(alpha);
  cfg["lora_dropout"] = 0.0;
  cfg["modules_to_save"] = nullptr;
  cfg["peft_type"] = "LORA";
  cfg["r"] = r;
  cfg["rank_pattern"] = rank_pattern;
  cfg["revision"] = nullptr;
  cfg["target_modules"] = meta.target_modules;
  cfg["task_type"] = "CAUSAL_LM";
  cfg["use_dora"] = false;
  cfg["use_rslora"] = meta.use_rslora;
  json cy = {{"arch", meta.arch}, {"n_layer", meta.n_layer}};
  if (!p.chat_template_sha256.empty()) cy["chat_template_sha256"] = p.chat_template_sha256;
  if (p.eos_token_id) cy["eos_token_id"] = *p.eos_token_id;
  if (p.eos_token) cy["eos_token"] = *p.eos_token;
  cfg["cyllm"] = cy;

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIoError, "cannot create '" + dir + "': " + ec.message());
  if (auto st = w.write((fs::path(dir) / "adapter_model.safetensors").string()); !st) return st;
  return write_file_atomic((fs::path(dir) / "adapter_config.json").string(),
                           cfg.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

}  // namespace cyllm
