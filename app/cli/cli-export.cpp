// `cyllm export CHECKPOINT --format peft|gguf --out PATH [--model BASE.gguf] [--dtype f32|f16|bf16]`:
// writes a training checkpoint's LoRA adapter (engine/train/checkpoint-adapter.h) as a PEFT
// directory (adapter_config.json + adapter_model.safetensors, HF layout: q/k's B rows
// un-permuted) or as a GGUF LoRA file for llama.cpp's --lora (engine/model/adapter-io.h). Both
// record the chat template hash and EOS token the adapter was trained with.
#include <cstdio>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "model/adapter-io.h"
#include "model/gguf-reader.h"
#include "train/checkpoint-adapter.h"

namespace cyllm::cli {

namespace {
constexpr const char* kUsage =
    "usage: cyllm export CHECKPOINT --format peft|gguf --out PATH [--model BASE.gguf] [--dtype f32|f16|bf16]\n"
    "\n"
    "Writes the LoRA adapter of a training checkpoint. CHECKPOINT is a checkpoint directory\n"
    "(ckpt-...), a checkpoints folder or a training output_dir (its newest intact checkpoint).\n"
    "  --format peft   PATH is a directory: adapter_config.json + adapter_model.safetensors (peft)\n"
    "  --format gguf   PATH is a GGUF LoRA file (llama.cpp --lora)\n"
    "  --model BASE    the base model (default: the shape recorded in the checkpoint)\n"
    "  --dtype T       stored precision of the adapter tensors (default: f32)\n";

int fail(const char* what, const Error& e) {
  std::fprintf(stderr, "cyllm export: %s%s\n", what, e.to_string().c_str());
  return 1;
}
}  // namespace

int cmd_export(int argc, char** argv) {
  Args a(argc, argv, {"--format", "--out", "--model", "--dtype"}, {"--help"},
         {{"-h", "--help"}, {"-o", "--out"}, {"-m", "--model"}, {"-f", "--format"}});
  if (!a.ok() || a.flag("--help")) {
    if (!a.ok()) std::fprintf(stderr, "cyllm export: %s\n\n", a.error().c_str());
    std::fputs(kUsage, a.ok() ? stdout : stderr);
    return a.ok() ? 0 : 2;
  }
  const std::string format = a.get_or("--format", "");
  const std::string out = a.get_or("--out", "");
  const std::string dtype_s = a.get_or("--dtype", "f32");
  if (a.positionals().size() != 1 || (format != "peft" && format != "gguf") || out.empty() ||
      (dtype_s != "f32" && dtype_s != "f16" && dtype_s != "bf16")) {
    std::fprintf(stderr, "cyllm export: give one CHECKPOINT, --format peft|gguf, --out PATH and a valid --dtype\n\n%s", kUsage);
    return 2;
  }
  const AdapterDtype dtype = dtype_s == "f16" ? AdapterDtype::kF16 : dtype_s == "bf16" ? AdapterDtype::kBF16 : AdapterDtype::kF32;

  std::vector<std::string> warnings;
  auto ck = train::load_checkpoint_adapter(a.positionals()[0], &warnings);
  for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (!ck) return fail("", ck.error());

  ModelConfig base;
  if (auto m = a.get("--model")) {
    auto g = GgufFile::open(*m);
    if (!g) return fail("", g.error());
    auto c = ModelConfig::from_gguf(*g);
    if (!c) return fail("", c.error());
    base = *c;
    if (ck->meta.base_model.empty()) ck->meta.base_model = base.name;
  } else if (ck->base) {
    base = *ck->base;
  } else {
    std::fprintf(stderr, "cyllm export: %s does not record the base model's shape; give --model BASE.gguf\n",
                 ck->dir.c_str());
    return 2;
  }
  if (auto st = validate_adapter(ck->adapter, base); !st) return fail("", st.error());
  const Status st = format == "peft" ? save_peft_adapter(out, ck->adapter, ck->meta, base, dtype)
                                     : save_gguf_adapter(out, ck->adapter, ck->meta, base, dtype);
  if (!st) return fail("", st.error());
  const auto& pv = ck->meta.provenance;
  std::fprintf(stderr, "exported %s (step %lld, r=%d, scale %g, %zu target modules) to %s as %s\n", ck->dir.c_str(),
               static_cast<long long>(ck->state.step), ck->adapter.layers.empty() ? 0 : [&] {
                 for (const auto& l : ck->adapter.layers)
                   for (const auto& m : l)
                     if (m.present()) return m.rank;
                 return 0;
               }(), static_cast<double>(ck->adapter.scale), ck->meta.target_modules.size(), out.c_str(), format.c_str());
  if (pv.empty())
    std::fprintf(stderr, "note: the checkpoint records no chat template or EOS token (trained from examples in memory?)\n");
  return 0;
}

}  // namespace cyllm::cli
