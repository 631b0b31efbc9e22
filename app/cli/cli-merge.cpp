// `cyllm merge -m BASE.gguf --adapter A --out FILE.gguf [--type f16|f32|bf16|base] [--scale S]`:
// folds a LoRA adapter into the base weights (engine/model/merge-lora.h) and writes a standalone
// GGUF. A is a training checkpoint (directory, checkpoints folder or output_dir), a PEFT directory
// or a GGUF LoRA file. A chat template or EOS token other than the adapter was trained with is
// warned about.
#include <cstdio>
#include <string>

#include "cli/adapter-source.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "core/thread-pool.h"
#include "model/adapter-io.h"
#include "model/gguf-reader.h"
#include "model/merge-lora.h"
#include "serve/adapter-registry.h"

namespace cyllm::cli {

namespace {
constexpr const char* kUsage =
    "usage: cyllm merge -m BASE.gguf --adapter A --out FILE.gguf [--type f16|f32|bf16|base] [--scale S] [--threads N]\n"
    "\n"
    "Writes BASE with the LoRA adapter A merged into its weights (W + scale * B A). A is a training\n"
    "checkpoint (directory, checkpoints folder or output_dir), a PEFT directory or a GGUF LoRA file.\n"
    "  --type T     storage of the merged matrices: f16 (default), f32, bf16, or base (requantize to the\n"
    "               base tensor's type; low-bit types can absorb small LoRA updates)\n"
    "  --scale S    multiply the adapter's scale by S (default: 1)\n"
    "Every other tensor and all metadata are copied unchanged.\n";
}  // namespace

int cmd_merge(int argc, char** argv) {
  Args a(argc, argv, {"--model", "--adapter", "--out", "--type", "--scale", "--threads"}, {"--help"},
         {{"-h", "--help"}, {"-o", "--out"}, {"-m", "--model"}, {"-a", "--adapter"}, {"-t", "--threads"}});
  if (!a.ok() || a.flag("--help")) {
    if (!a.ok()) std::fprintf(stderr, "cyllm merge: %s\n\n", a.error().c_str());
    std::fputs(kUsage, a.ok() ? stdout : stderr);
    return a.ok() ? 0 : 2;
  }
  const std::string model = a.get_or("--model", ""), adapter = a.get_or("--adapter", ""), out = a.get_or("--out", "");
  MergeOptions opts;
  const std::string type = a.get_or("--type", "f16");
  opts.scale = static_cast<float>(a.get_double("--scale", 1.0));
  const int threads = static_cast<int>(a.get_int("--threads", 0));
  if (!a.ok() || model.empty() || adapter.empty() || out.empty() || !a.positionals().empty() ||
      !parse_merge_type(type, &opts.type)) {
    std::fprintf(stderr, "cyllm merge: give -m BASE.gguf, --adapter A, --out FILE.gguf and a valid --type%s%s\n\n%s",
                 a.ok() ? "" : ": ", a.error().c_str(), kUsage);
    return 2;
  }
  auto g = GgufFile::open(model);
  if (!g) {
    std::fprintf(stderr, "cyllm merge: %s\n", g.error().to_string().c_str());
    return 1;
  }
  auto cfg = ModelConfig::from_gguf(*g);
  if (!cfg) {
    std::fprintf(stderr, "cyllm merge: %s\n", cfg.error().to_string().c_str());
    return 1;
  }
  auto src = load_adapter_source(adapter, *cfg);
  if (src) for (const auto& w : src->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (!src) {
    std::fprintf(stderr, "cyllm merge: %s\n", src.error().to_string().c_str());
    return 1;
  }
  const LoraAdapter& ad = src->adapter;
  const std::string& what = src->what;
  // The base's own chat template and EOS token, as `cyllm serve` compares them.
  if (std::string w = adapter_provenance_mismatch(ad.name, src->meta.provenance, gguf_base_provenance(*g)); !w.empty())
    std::fprintf(stderr, "warning: %s\n", w.c_str());
  ThreadPool pool(threads);
  auto r = merge_lora(*g, ad, out, opts, &pool);
  if (!r) {
    std::fprintf(stderr, "cyllm merge: %s\n", r.error().to_string().c_str());
    return 1;
  }
  for (const auto& n : r->notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  const double ratio = r->update_norm > 0 ? r->rounding_norm / r->update_norm : 0.0;
  std::fprintf(stderr, "adapter update |scale B A| = %.4g, storage rounding error = %.4g (%.1f%% of the update)\n",
               r->update_norm, r->rounding_norm, 100.0 * ratio);
  if (ratio > 0.5)
    std::fprintf(stderr,
                 "warning: storing the merged weights as %s rounds away much of the adapter's update; "
                 "the merged model may not behave as the adapter does. Use --type f16.\n",
                 merge_type_name(opts.type));
  std::fprintf(stderr, "merged %s into %d matrices (%s, scale %g), copied %d tensors: %s (%.1f MiB)\n", what.c_str(),
               r->merged, merge_type_name(opts.type), static_cast<double>(ad.scale * opts.scale), r->copied, out.c_str(),
               static_cast<double>(r->bytes) / (1024.0 * 1024.0));
  return 0;
}

}  // namespace cyllm::cli
