#include "cli/session.h"

#include <chrono>
#include <cstdio>
#include <random>

#include "backend/device.h"
#include "backend/quant.h"

namespace cyllm::cli {

std::unique_ptr<LoadedModel> load_model(const std::string& cmd, Args& args, bool quiet) {
  auto path = args.get("--model");
  if (!path) {
    std::fprintf(stderr, "cyllm %s: no model given; pass -m MODEL.gguf (scripts/fetch-model.sh fetches the default one)\n",
                 cmd.c_str());
    return nullptr;
  }
  const std::string device = args.get_or("--device", "auto");
  if (!is_valid_device_name(device)) {
    std::fprintf(stderr, "cyllm %s: --device must be auto, cpu or cuda (got '%s')\n", cmd.c_str(), device.c_str());
    return nullptr;
  }
  const long long threads = args.get_int("--threads", 0);
  const long long ctx = args.get_int("--ctx", 4096);
  if (!args.ok() || threads < 0 || ctx < 16) {
    std::fprintf(stderr, "cyllm %s: %s\n", cmd.c_str(),
                 args.ok() ? "--threads must be >= 0 and --ctx >= 16" : args.error().c_str());
    return nullptr;
  }
  const DeviceChoice choice = choose_device(device);
  if (!choice.note.empty()) std::fprintf(stderr, "cyllm: %s\n", choice.note.c_str());

  auto t0 = std::chrono::steady_clock::now();
  if (!quiet) std::fprintf(stderr, "loading %s ...", path->c_str());
  auto m = LlamaModel::load(*path);
  if (!m) {
    if (!quiet) std::fprintf(stderr, "\n");
    std::fprintf(stderr, "cyllm %s: %s\n", cmd.c_str(), m.error().to_string().c_str());
    return nullptr;
  }
  auto tok = Tokenizer::from_gguf((*m)->gguf());
  if (!tok) {
    if (!quiet) std::fprintf(stderr, "\n");
    std::fprintf(stderr, "cyllm %s: %s\n", cmd.c_str(), tok.error().to_string().c_str());
    return nullptr;
  }
  auto lm = std::make_unique<LoadedModel>();
  lm->model = std::move(m.value());
  lm->tokenizer = std::move(tok.value());
  lm->pool = std::make_unique<ThreadPool>(static_cast<int>(threads));
  lm->ctx_opts.n_ctx = static_cast<int>(std::min<long long>(ctx, lm->model->config().n_ctx_train));
  lm->load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!quiet) {
    const ModelConfig& c = lm->model->config();
    std::fprintf(stderr, " done in %.0f ms (%s, %d layers, %s kernels, %d threads, context %d)\n", lm->load_ms,
                 c.name.empty() ? c.arch.c_str() : c.name.c_str(), c.n_layer, std::string(cpu::isa_name(cpu::active_isa())).c_str(),
                 lm->pool->size(), lm->ctx_opts.n_ctx);
  }
  return lm;
}

bool parse_sampling(const std::string& cmd, Args& args, int n_vocab, SamplingParams& p, bool quiet) {
  p.temperature = static_cast<float>(args.get_double("--temp", 0.8));
  p.top_k = static_cast<int>(args.get_int("--top-k", 40));
  p.top_p = static_cast<float>(args.get_double("--top-p", 0.95));
  p.min_p = static_cast<float>(args.get_double("--min-p", 0.05));
  p.repetition_penalty = static_cast<float>(args.get_double("--repeat-penalty", 1.0));
  p.presence_penalty = static_cast<float>(args.get_double("--presence-penalty", 0.0));
  p.frequency_penalty = static_cast<float>(args.get_double("--frequency-penalty", 0.0));
  if (args.get("--seed")) {
    p.seed = static_cast<uint64_t>(args.get_int("--seed", 0));
  } else {
    p.seed = std::random_device{}();
    if (!quiet && p.temperature > 0) std::fprintf(stderr, "seed: %llu\n", static_cast<unsigned long long>(p.seed));
  }
  if (!args.ok()) {
    std::fprintf(stderr, "cyllm %s: %s\n", cmd.c_str(), args.error().c_str());
    return false;
  }
  if (auto st = p.validate(n_vocab); !st) {
    std::fprintf(stderr, "cyllm %s: %s\n", cmd.c_str(), st.error().to_string().c_str());
    return false;
  }
  return true;
}

}  // namespace cyllm::cli
