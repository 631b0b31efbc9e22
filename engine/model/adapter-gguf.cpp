// GGUF LoRA adapters as llama.cpp's --lora reads them (src/llama-adapter.cpp) and
// convert_lora_to_gguf.py writes them: general.type = "adapter", adapter.type = "lora",
// adapter.lora.alpha (f32), general.architecture of the base; tensors "<base name>.lora_a" with
// ne = [n_in, r] and "<base name>.lora_b" with ne = [r, n_out]; llama.cpp scales each pair by
// alpha / r (r = lora_b's ne[0]), or by 1 when alpha is 0. B of q/k is in GGUF (permuted) row
// order, the engine's layout. See adapter-io.h.
#include <cmath>
#include <filesystem>
#include <map>

#include "backend/quant.h"
#include "model/adapter-common.h"
#include "model/adapter-io.h"
#include "model/gguf-file-writer.h"
#include "model/gguf-reader.h"

namespace cyllm {

using namespace adapter_detail;

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "blk.N.<target>.weight" -> (N, target).
std::optional<std::pair<int, LoraTarget>> parse_base_name(std::string_view s) {
  if (s.substr(0, 4) != "blk." || !ends_with(s, ".weight")) return std::nullopt;
  s.remove_prefix(4);
  s.remove_suffix(7);
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 6) return std::nullopt;
  int layer = 0;
  for (char c : s.substr(0, dot)) {
    if (c < '0' || c > '9') return std::nullopt;
    layer = layer * 10 + (c - '0');
  }
  if (dot > 1 && s[0] == '0') return std::nullopt;
  auto t = lora_target_from_gguf(s.substr(dot + 1));
  if (!t) return std::nullopt;
  return std::pair(layer, *t);
}

std::string ne_str(const GgufTensorInfo& t) {
  std::string out = "[";
  for (uint32_t i = 0; i < t.n_dims; ++i) out += (i ? ", " : "") + std::to_string(t.ne[i]);
  return out + "]";
}

// Row-major float values of a 2-D tensor of a computable type.
Result<std::vector<float>> to_f32(const GgufTensorInfo& t, const std::string& path) {
  const TypeTraits* tr = type_traits(t.type_id);
  if (!tr || !tr->computable)
    return unsupported(path, "tensor '" + t.name + "' has type " + std::string(type_name(t.type_id)),
                       "Export the adapter as f32, f16, bf16 or q8_0.");
  auto rb = row_bytes(t.type(), t.ne[0]);
  if (!rb) return malformed(path, "tensor '" + t.name + "': a row of " + std::to_string(t.ne[0]) + " is not a whole number of " +
                                      std::string(tr->name) + " blocks");
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  for (int64_t r = 0; r < t.n_rows(); ++r)
    cpu::dequantize_row(t.type(), t.data + static_cast<size_t>(r) * *rb, out.data() + static_cast<size_t>(r * t.ne[0]), t.ne[0]);
  return out;
}

}  // namespace

Result<LoadedAdapter> load_gguf_adapter(const std::string& path, const ModelConfig& base) {
  auto f = GgufFile::open(path);
  if (!f) return f.error();
  const auto gtype = f->get_string("general.type");
  if (!gtype || *gtype != "adapter")
    return mismatch(path, "general.type is '" + gtype.value_or("") + "', not 'adapter': this is not a LoRA adapter file");
  const auto atype = f->get_string("adapter.type");
  if (!atype || *atype != "lora")
    return unsupported(path, "adapter.type is '" + atype.value_or("") + "'; only 'lora' is supported", "Export a LoRA adapter.");
  const auto arch = f->get_string("general.architecture");
  if (!arch) return malformed(path, "no general.architecture key");
  if (*arch != base.arch) return mismatch(path, "it was made for architecture '" + *arch + "'; the base model is '" + base.arch + "'");

  LoadedAdapter out;
  out.format = AdapterFormat::kGguf;
  out.path = path;
  AdapterMeta& meta = out.meta;
  meta.arch = *arch;
  auto float_key = [&](const char* key, float def) -> Result<float> {
    const GgufValue* v = f->find(key);
    if (!v) return def;
    auto d = v->as_float();
    if (!d || !std::isfinite(*d)) return malformed(path, std::string(key) + " is not a finite number");
    return static_cast<float>(*d);
  };
  auto string_key = [&](const char* key) -> Result<std::optional<std::string>> {
    const GgufValue* v = f->find(key);
    if (!v) return std::optional<std::string>();
    if (!v->as_string()) return malformed(path, std::string(key) + " is not a string");
    return std::optional<std::string>(*v->as_string());
  };
  auto alpha = float_key("adapter.lora.alpha", 0.0f);
  if (!alpha) return alpha.error();
  auto cy_alpha = float_key("cyllm.lora.alpha", 0.0f);
  if (!cy_alpha) return cy_alpha.error();
  if (const GgufValue* v = f->find("cyllm.lora.use_rslora")) {
    if (!v->as_bool()) return malformed(path, "cyllm.lora.use_rslora is not a bool");
    meta.use_rslora = *v->as_bool();
  }
  if (const GgufValue* v = f->find("cyllm.n_layer")) {
    auto n = v->as_int();
    if (!n || *n < 1 || *n > 1'000'000) return malformed(path, "cyllm.n_layer is not a positive integer");
    meta.n_layer = static_cast<int>(*n);
    if (meta.n_layer != base.n_layer)
      return mismatch(path, "it was made for a base with " + std::to_string(meta.n_layer) + " layers; this base has " +
                                std::to_string(base.n_layer));
  }
  if (const GgufValue* v = f->find("cyllm.eos_token_id")) {
    auto id = v->as_int();
    if (!id || *id < 0 || *id > INT32_MAX) return malformed(path, "cyllm.eos_token_id is not a token id");
    meta.provenance.eos_token_id = static_cast<int32_t>(*id);
  }
  for (auto [key, dst] : {std::pair{"cyllm.chat_template_sha256", &meta.provenance.chat_template_sha256},
                          std::pair{"cyllm.base_model", &meta.base_model}}) {
    auto s = string_key(key);
    if (!s) return s.error();
    if (*s) *dst = **s;
  }
  auto eos = string_key("cyllm.eos_token");
  if (!eos) return eos.error();
  meta.provenance.eos_token = *eos;

  std::map<std::pair<int, int>, std::pair<const GgufTensorInfo*, const GgufTensorInfo*>> pairs;
  for (const auto& t : f->tensors()) {
    const bool is_a = ends_with(t.name, ".lora_a"), is_b = ends_with(t.name, ".lora_b");
    if (!is_a && !is_b) {
      if (ends_with(t.name, "_norm.weight")) {  // llama.cpp skips these too
        out.notes.push_back("tensor '" + t.name + "' (a norm weight) is ignored, as llama.cpp does");
        continue;
      }
      return malformed(path, "tensor '" + t.name + "' is neither a .lora_a nor a .lora_b tensor");
    }
    const std::string base_name = t.name.substr(0, t.name.size() - 7);
    auto key = parse_base_name(base_name);
    if (!key) {
      if (base_name == "token_embd.weight" || base_name == "output.weight")
        return unsupported(path, "tensor '" + t.name + "' adapts the embeddings or the output head, which is not supported",
                           "Train the adapter on the attention and MLP projections only.");
      return mismatch(path, "tensor '" + t.name + "' adapts '" + base_name + "', which is not a supported base tensor");
    }
    if (key->first >= base.n_layer)
      return mismatch(path, "tensor '" + t.name + "' is for layer " + std::to_string(key->first) + ", but the base model has " +
                                std::to_string(base.n_layer) + " layers");
    auto& slot = pairs[{key->first, static_cast<int>(key->second)}];
    auto*& dst = is_a ? slot.first : slot.second;
    if (dst) return malformed(path, "tensor '" + t.name + "' appears twice");
    dst = &t;
  }
  if (pairs.empty()) return malformed(path, "it holds no LoRA tensors");

  // One scale per adapter: the one of the most common rank; other ranks fold theirs into B.
  std::map<int64_t, int> rank_count;
  for (const auto& [k, ab] : pairs)
    if (ab.first && ab.second) ++rank_count[ab.second->ne[0]];
  int64_t r_main = 0;
  int best = 0;
  for (const auto& [r, n] : rank_count)
    if (n > best) r_main = r, best = n;
  auto ll_scale = [&](int64_t r) { return *alpha != 0 ? *alpha / static_cast<float>(r) : 1.0f; };
  LoraAdapter& a = out.adapter;
  a.name = std::filesystem::path(path).stem().string();
  a.scale = r_main > 0 ? ll_scale(r_main) : 1.0f;
  a.layers.resize(static_cast<size_t>(base.n_layer));
  for (const auto& [k, ab] : pairs) {
    const auto t = static_cast<LoraTarget>(k.second);
    const std::string bn = gguf_lora_base_name(k.first, t);
    if (!ab.first) return malformed(path, "tensor '" + bn + ".lora_b' has no matching lora_a");
    if (!ab.second) return malformed(path, "tensor '" + bn + ".lora_a' has no matching lora_b");
    const GgufTensorInfo& A = *ab.first;
    const GgufTensorInfo& B = *ab.second;
    const auto [in, outd] = lora_target_dims(base, t);
    if (A.n_dims != 2 || A.ne[0] != in || A.ne[1] < 1)
      return mismatch(path, "tensor '" + A.name + "' has ne " + ne_str(A) + "; the base's " + std::string(lora_target_gguf_name(t)) +
                                " takes " + std::to_string(in) + " inputs, so it must be [" + std::to_string(in) + ", r]");
    if (B.n_dims != 2 || B.ne[1] != outd || B.ne[0] != A.ne[1])
      return mismatch(path, "tensor '" + B.name + "' has ne " + ne_str(B) + "; expected [" + std::to_string(A.ne[1]) + ", " +
                                std::to_string(outd) + "] (rank x the base's " + std::string(lora_target_gguf_name(t)) + " outputs)");
    auto av = to_f32(A, path);
    if (!av) return av.error();
    auto bv = to_f32(B, path);
    if (!bv) return bv.error();
    if (long i = first_non_finite(*av); i >= 0) return malformed(path, "tensor '" + A.name + "' has a non-finite value at " + std::to_string(i));
    if (long i = first_non_finite(*bv); i >= 0) return malformed(path, "tensor '" + B.name + "' has a non-finite value at " + std::to_string(i));
    LoraMatrix& m = a.layers[static_cast<size_t>(k.first)][static_cast<size_t>(k.second)];
    m.rank = static_cast<int>(A.ne[1]);
    m.in = in;
    m.out = outd;
    m.a = std::move(*av);
    m.b = std::move(*bv);
    const float s_m = ll_scale(m.rank);
    if (s_m != a.scale)
      for (auto& x : m.b) x *= s_m / a.scale;
  }
  meta.alpha = *cy_alpha != 0 ? *cy_alpha : *alpha;
  meta = complete_meta(a, meta, base);
  if (auto st = validate_adapter(a, base); !st) return st.error();
  return out;
}

Status save_gguf_adapter(const std::string& path, const LoraAdapter& a, const AdapterMeta& meta_in, const ModelConfig& base,
                         AdapterDtype dtype) {
  if (auto st = validate_adapter(a, base); !st) return st;
  const int r = main_rank(a);
  if (r == 0) return make_error(ErrorCode::kInvalidArgument, "adapter '" + a.name + "' has no matrices to save");
  if (a.scale == 0)
    return make_error(ErrorCode::kInvalidArgument, "adapter '" + a.name + "' has scale 0, which GGUF LoRA cannot express",
                      "llama.cpp reads adapter.lora.alpha = 0 as scale 1; give the adapter a non-zero scale.");
  const AdapterMeta meta = complete_meta(a, meta_in, base);
  const GgmlType type = dtype == AdapterDtype::kF16 ? GgmlType::F16 : dtype == AdapterDtype::kBF16 ? GgmlType::BF16 : GgmlType::F32;
  GgufFileWriter w;
  w.add_string("general.architecture", base.arch);
  w.add_string("general.type", "adapter");
  if (!a.name.empty()) w.add_string("general.name", a.name);
  w.add_string("adapter.type", "lora");
  // llama.cpp scales by alpha / r; this alpha gives the adapter's scale at rank r.
  w.add_f32("adapter.lora.alpha", a.scale * static_cast<float>(r));
  w.add_f32("cyllm.lora.alpha", alpha_for_save(a, meta, r));
  w.add_bool("cyllm.lora.use_rslora", meta.use_rslora);
  w.add_u32("cyllm.n_layer", static_cast<uint32_t>(base.n_layer));
  if (!meta.base_model.empty()) w.add_string("cyllm.base_model", meta.base_model);
  const AdapterProvenance& p = meta.provenance;
  if (!p.chat_template_sha256.empty()) w.add_string("cyllm.chat_template_sha256", p.chat_template_sha256);
  if (p.eos_token_id) w.add_u32("cyllm.eos_token_id", static_cast<uint32_t>(*p.eos_token_id));
  if (p.eos_token) w.add_string("cyllm.eos_token", *p.eos_token);
  for (int il = 0; il < base.n_layer; ++il)
    for (int ti = 0; ti < kLoraTargets; ++ti) {
      const LoraMatrix& m = a.layers[static_cast<size_t>(il)][static_cast<size_t>(ti)];
      if (!m.present()) continue;
      const std::string bn = gguf_lora_base_name(il, static_cast<LoraTarget>(ti));
      if (auto st = w.add_tensor(bn + ".lora_a", {static_cast<uint64_t>(m.in), static_cast<uint64_t>(m.rank)}, m.a, type); !st) return st;
      std::vector<float> b = m.b;
      if (m.rank != r)  // llama.cpp will scale this pair by alpha / m.rank
        for (auto& x : b) x *= static_cast<float>(m.rank) / static_cast<float>(r);
      if (auto st = w.add_tensor(bn + ".lora_b", {static_cast<uint64_t>(m.rank), static_cast<uint64_t>(m.out)}, b, type); !st) return st;
    }
  return w.write(path);
}

}  // namespace cyllm
