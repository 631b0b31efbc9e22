// `cyllm info MODEL [--json] [--devices]`: architecture, hyperparameters, tensor types and the
// memory a model needs; `--devices` lists the compute devices found.
#include <cstdio>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "backend/device.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "model/gguf-reader.h"
#include "model/model-config.h"

namespace cyllm::cli {

namespace {

constexpr const char* kHelp =
    "usage: cyllm info MODEL.gguf [--json] [--ctx N]\n"
    "       cyllm info --devices [--json]\n"
    "Shows the architecture, hyperparameters, tensor types and memory needs of a GGUF model.\n"
    "  --json     print one JSON object\n"
    "  --ctx N    context length used for the KV-cache estimate (default: 4096 or the model's, if smaller)\n"
    "  --devices  list the compute devices (CPU features, CUDA GPUs) instead\n";

int print_devices(bool json) {
  const DeviceReport r = probe_devices();
  if (json) {
    nlohmann::json j;
    j["cpu"] = {{"isa", r.cpu_isa}, {"threads", r.cpu_threads}};
    j["cuda_built"] = r.cuda_built;
    j["cuda_devices"] = nlohmann::json::array();
    for (const auto& g : r.gpus)
      j["cuda_devices"].push_back({{"index", g.index}, {"name", g.name}, {"compute_capability", g.compute_capability},
                                   {"total_mb", g.total_bytes >> 20}, {"free_mb", g.free_bytes >> 20}});
    if (!r.cuda_note.empty()) j["cuda_note"] = r.cuda_note;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("cpu: %d threads, kernels: %s\n", r.cpu_threads, r.cpu_isa.c_str());
  if (r.gpus.empty()) std::printf("cuda: none (%s)\n", r.cuda_note.c_str());
  for (const auto& g : r.gpus)
    std::printf("cuda:%d %s (sm_%s), %zu MiB total, %zu MiB free\n", g.index, g.name.c_str(), g.compute_capability.c_str(),
                static_cast<size_t>(g.total_bytes >> 20), static_cast<size_t>(g.free_bytes >> 20));
  return 0;
}

}  // namespace

int cmd_info(int argc, char** argv) {
  Args a(argc, argv, {"--ctx"}, {"--json", "--devices", "--help"}, {{"-h", "--help"}});
  if (!a.ok()) {
    std::fprintf(stderr, "cyllm info: %s\n%s", a.error().c_str(), kHelp);
    return 2;
  }
  if (a.flag("--help")) {
    std::printf("%s", kHelp);
    return 0;
  }
  const bool json = a.flag("--json");
  if (a.flag("--devices")) return print_devices(json);
  if (a.positionals().size() != 1) {
    std::fprintf(stderr, "cyllm info: expected one model path\n%s", kHelp);
    return 2;
  }
  auto f = GgufFile::open(a.positionals()[0]);
  if (!f) {
    std::fprintf(stderr, "cyllm info: %s\n", f.error().to_string().c_str());
    return 1;
  }
  std::map<std::string, std::pair<int, uint64_t>> by_type;  // type -> (tensors, bytes)
  uint64_t weight_bytes = 0;
  for (const auto& t : f->tensors()) {
    auto& e = by_type[std::string(type_name(t.type_id))];
    e.first += 1;
    e.second += t.nbytes;
    weight_bytes += t.nbytes;
  }
  auto cfg = ModelConfig::from_gguf(*f);
  long long ctx = a.get_int("--ctx", 0);
  if (!a.ok() || ctx < 0) {
    std::fprintf(stderr, "cyllm info: %s\n", a.ok() ? "--ctx must be positive" : a.error().c_str());
    return 2;
  }
  nlohmann::json j;
  j["path"] = f->path();
  j["file_bytes"] = f->file_size();
  j["gguf_version"] = f->version();
  j["architecture"] = f->get_string("general.architecture").value_or("");
  j["name"] = f->get_string("general.name").value_or("");
  j["tensor_count"] = f->tensors().size();
  j["weight_bytes"] = weight_bytes;
  j["tensor_types"] = nlohmann::json::object();
  for (const auto& [name, e] : by_type) j["tensor_types"][name] = {{"tensors", e.first}, {"bytes", e.second}};
  if (cfg) {
    const ModelConfig& c = *cfg;
    if (ctx == 0) ctx = std::min(4096, c.n_ctx_train);
    const uint64_t kv_bytes = 2ull * c.n_layer * static_cast<uint64_t>(ctx) * c.kv_dim() * sizeof(float);
    j["supported"] = true;
    j["hparams"] = {{"n_layer", c.n_layer}, {"n_embd", c.n_embd}, {"n_ff", c.n_ff}, {"n_head", c.n_head},
                    {"n_head_kv", c.n_head_kv}, {"head_dim", c.head_dim}, {"n_vocab", c.n_vocab},
                    {"n_ctx_train", c.n_ctx_train}, {"rope_theta", c.rope_theta}, {"rope_dim", c.rope_dim},
                    {"rms_eps", c.rms_eps}, {"tied_embeddings", c.tied_embeddings}, {"attn_bias", c.attn_bias}};
    j["memory"] = {{"weights_bytes", weight_bytes}, {"kv_cache_bytes", kv_bytes}, {"kv_cache_ctx", ctx},
                   {"kv_cache_type", "f32"}, {"total_bytes", weight_bytes + kv_bytes}};
  } else {
    j["supported"] = false;
    j["unsupported_reason"] = cfg.error().to_string();
  }
  if (json) {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  auto mib = [](uint64_t b) { return static_cast<double>(b) / (1024.0 * 1024.0); };
  std::printf("model:        %s\n", f->path().c_str());
  std::printf("name:         %s\n", j["name"].get<std::string>().c_str());
  std::printf("architecture: %s (GGUF v%u, %zu tensors, %.1f MiB)\n", j["architecture"].get<std::string>().c_str(),
              f->version(), f->tensors().size(), mib(f->file_size()));
  if (cfg) {
    const ModelConfig& c = *cfg;
    std::printf("layers %d, embedding %d, feed-forward %d, heads %d (kv %d, dim %d), vocab %d\n", c.n_layer, c.n_embd,
                c.n_ff, c.n_head, c.n_head_kv, c.head_dim, c.n_vocab);
    std::printf("context %d (trained), rope theta %g over %d dims, rms eps %g%s%s\n", c.n_ctx_train, c.rope_theta,
                c.rope_dim, c.rms_eps, c.tied_embeddings ? ", tied embeddings" : "", c.attn_bias ? ", qkv bias" : "");
  } else {
    std::printf("not runnable: %s\n", cfg.error().to_string().c_str());
  }
  std::printf("tensor types:");
  for (const auto& [name, e] : by_type) std::printf(" %s x%d (%.1f MiB)", name.c_str(), e.first, mib(e.second));
  std::printf("\n");
  if (cfg)
    std::printf("memory: weights %.1f MiB + KV cache %.1f MiB at %lld tokens (f32) = %.1f MiB\n", mib(weight_bytes),
                mib(j["memory"]["kv_cache_bytes"].get<uint64_t>()), ctx, mib(j["memory"]["total_bytes"].get<uint64_t>()));
  return 0;
}

}  // namespace cyllm::cli
