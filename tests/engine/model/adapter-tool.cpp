// Test helper for the Python adapter oracle (tests/python/test_adapter_oracle.py) and the fuzz
// seeds: writes a random LoRA adapter in PEFT and GGUF LoRA format, plus the engine-layout values
// it was made from, so an independent reader (safetensors, numpy, gguf-py) can check both files.
//
// usage: cyllm_adapter_tool write OUT_DIR [--model M.gguf] [--rank R] [--alpha A] [--seed S]
//            [--targets MASK] [--rslora] [--dtype f32|f16|bf16] [--template TEXT] [--eos-id N]
//            [--eos TEXT]
//   OUT_DIR/peft/            adapter_config.json + adapter_model.safetensors
//   OUT_DIR/adapter.gguf     GGUF LoRA
//   OUT_DIR/engine.safetensors  "layers.N.TARGET.a" / ".b" in engine (GGUF) layout, float32
//   OUT_DIR/config.json      the base's shape, the adapter's scale and rank
// Without --model the base is the tiny llama config below (the fuzz target uses the same).
//        cyllm_adapter_tool fuzz-seed OUT_FILE: a valid adapter in the fuzz target's input format.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/adapter-io.h"
#include "model/gguf-reader.h"
#include "model/safetensors.h"
#include "support/tiny-adapter-config.h"

namespace {

cyllm::ModelConfig tiny_config() { return cyllm::test::tiny_adapter_base(); }

int fail(const cyllm::Error& e) {
  std::fprintf(stderr, "%s\n", e.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s write OUT_DIR [options] | fuzz-seed OUT_FILE\n", argv[0]);
    return 2;
  }
  const std::string cmd = argv[1], out = argv[2];
  std::string model, dtype = "f32", tpl = "{{ messages }}", eos = "<|im_end|>";
  int rank = 4, eos_id = 2;
  unsigned targets = 0x7f;
  float alpha = 8;
  uint64_t seed = 1;
  bool rslora = false;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has = i + 1 < argc;
    if (a == "--model" && has) model = argv[++i];
    else if (a == "--rank" && has) rank = std::atoi(argv[++i]);
    else if (a == "--alpha" && has) alpha = static_cast<float>(std::atof(argv[++i]));
    else if (a == "--seed" && has) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--targets" && has) targets = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 0));
    else if (a == "--dtype" && has) dtype = argv[++i];
    else if (a == "--template" && has) tpl = argv[++i];
    else if (a == "--eos-id" && has) eos_id = std::atoi(argv[++i]);
    else if (a == "--eos" && has) eos = argv[++i];
    else if (a == "--rslora") rslora = true;
    else {
      std::fprintf(stderr, "unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }
  cyllm::ModelConfig c = tiny_config();
  if (!model.empty()) {
    auto g = cyllm::GgufFile::open(model);
    if (!g) return fail(g.error());
    auto mc = cyllm::ModelConfig::from_gguf(*g);
    if (!mc) return fail(mc.error());
    c = *mc;
  }
  cyllm::LoraAdapter ad = cyllm::LoraAdapter::random(c, rank, alpha, seed, targets);
  cyllm::AdapterMeta meta;
  meta.alpha = alpha;
  meta.use_rslora = rslora;
  if (rslora) ad.scale = alpha / std::sqrt(static_cast<float>(rank));
  meta.base_model = c.name;
  meta.provenance = cyllm::make_adapter_provenance(tpl, eos_id, eos);

  const auto dt = dtype == "f16" ? cyllm::AdapterDtype::kF16 : dtype == "bf16" ? cyllm::AdapterDtype::kBF16 : cyllm::AdapterDtype::kF32;
  if (cmd == "fuzz-seed") {
    const fs::path tmp = fs::temp_directory_path() / ("cyllm-seed-" + std::to_string(::getpid()));
    if (auto st = cyllm::save_peft_adapter(tmp.string(), ad, meta, c, dt); !st) return fail(st.error());
    std::ifstream cfg(tmp / "adapter_config.json", std::ios::binary), st(tmp / "adapter_model.safetensors", std::ios::binary);
    const std::string cfg_text((std::istreambuf_iterator<char>(cfg)), {}), st_bytes((std::istreambuf_iterator<char>(st)), {});
    fs::remove_all(tmp);
    std::ofstream o(out, std::ios::binary);
    const uint16_t n = static_cast<uint16_t>(cfg_text.size());  // fuzz format: u16 LE config length, config, safetensors
    o.put(static_cast<char>(n & 0xFF)).put(static_cast<char>(n >> 8));
    o << cfg_text << st_bytes;
    return o ? 0 : 1;
  }
  if (cmd != "write") {
    std::fprintf(stderr, "unknown command '%s'\n", cmd.c_str());
    return 2;
  }
  fs::create_directories(out);
  if (auto st = cyllm::save_peft_adapter((fs::path(out) / "peft").string(), ad, meta, c, dt); !st) return fail(st.error());
  if (auto st = cyllm::save_gguf_adapter((fs::path(out) / "adapter.gguf").string(), ad, meta, c, dt); !st) return fail(st.error());
  cyllm::SafetensorsWriter w;
  for (int il = 0; il < c.n_layer; ++il)
    for (int t = 0; t < cyllm::kLoraTargets; ++t) {
      const auto& m = ad.layers[static_cast<size_t>(il)][static_cast<size_t>(t)];
      if (!m.present()) continue;
      const std::string base = "layers." + std::to_string(il) + "." + std::string(cyllm::lora_target_peft_name(static_cast<cyllm::LoraTarget>(t)));
      if (auto st = w.add(base + ".a", {m.rank, m.in}, m.a); !st) return fail(st.error());
      if (auto st = w.add(base + ".b", {m.out, m.rank}, m.b); !st) return fail(st.error());
    }
  if (auto st = w.write((fs::path(out) / "engine.safetensors").string()); !st) return fail(st.error());
  const nlohmann::json cfg = {{"arch", c.arch},     {"n_layer", c.n_layer}, {"n_embd", c.n_embd},   {"n_ff", c.n_ff},
                              {"n_head", c.n_head}, {"n_head_kv", c.n_head_kv}, {"head_dim", c.head_dim},
                              {"scale", ad.scale},  {"rank", rank},         {"alpha", alpha},       {"rslora", rslora},
                              {"template", tpl},    {"eos_id", eos_id},     {"eos", eos},           {"name", c.name}};
  std::ofstream(fs::path(out) / "config.json") << cfg.dump(2);
  return 0;
}
