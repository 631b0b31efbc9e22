// `cyllm bench -m MODEL [--prompt 512] [--gen 128] [--threads N] [--reps R] --json`: load time,
// prefill and decode speed, peak memory, and the decode speed bound that memory bandwidth allows
// (weight bytes read per token against the measured read bandwidth).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/quant.h"
#include "cli/bench-serving.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "core/memory-bandwidth.h"

namespace cyllm::cli {

namespace {

std::string help() {
  return std::string(
             "usage: cyllm bench -m MODEL.gguf [--prompt N] [--gen N] [--reps R] [--json]\n"
             "Measures prefill (one N-token prompt as a batch) and decode (N tokens one at a time,\n"
             "from an empty context), like llama-bench's ppN and tgN.\n"
             "  --prompt N   prompt tokens for prefill (default: 512)\n"
             "  --gen N      tokens to decode (default: 128)\n"
             "  --reps R     repetitions; the median is reported (default: 3)\n"
             "  --json       print one JSON object on stdout\n"
             "  --concurrency N   instead: N concurrent streams through the serving scheduler\n"
             "                    (continuous batching), with a single-stream run and a shared-prefix\n"
             "                    cache test (cold vs warm TTFT) in the same run\n"
             "  --shared-prefix N tokens of the shared prefix for that test (default: 1024)\n"
             "  --adapters K      with --concurrency: also run the N streams with K random rank-16 LoRA\n"
             "                    adapters (all projections) in one batch, and report the ratio to base\n"
             "  --rounds R        with --concurrency: alternating rounds of single / N streams (/ adapters);\n"
             "                    ratios are taken per round and their median reported (default: 3)\n") +
         kModelHelp;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double peak_rss_mb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  std::set<std::string> values = {"--prompt", "--gen", "--reps", "--concurrency", "--shared-prefix", "--adapters", "--rounds"};
  values.insert(kModelValueOpts.begin(), kModelValueOpts.end());
  Args a(argc, argv, values, {"--json", "--help"}, kModelAliases);
  if (!a.ok() || a.flag("--help")) {
    if (!a.ok()) std::fprintf(stderr, "cyllm bench: %s\n", a.error().c_str());
    std::fprintf(a.ok() ? stdout : stderr, "%s", help().c_str());
    return a.ok() ? 0 : 2;
  }
  const int n_prompt = static_cast<int>(a.get_int("--prompt", 512));
  const int n_gen = static_cast<int>(a.get_int("--gen", 128));
  const int reps = static_cast<int>(a.get_int("--reps", 3));
  if (!a.ok() || n_prompt < 1 || n_gen < 1 || reps < 1) {
    std::fprintf(stderr, "cyllm bench: --prompt, --gen and --reps must be positive integers\n");
    return 2;
  }
  auto lm = load_model("bench", a);
  if (!lm) return 1;
  if (a.get("--concurrency")) {
    ServingBenchOptions so;
    so.concurrency = static_cast<int>(a.get_int("--concurrency", 8));
    so.prompt_tokens = a.get("--prompt") ? n_prompt : 128;
    so.gen_tokens = n_gen;
    so.shared_prefix_tokens = static_cast<int>(a.get_int("--shared-prefix", 1024));
    so.adapters = static_cast<int>(a.get_int("--adapters", 0));
    so.rounds = static_cast<int>(a.get_int("--rounds", 3));
    if (!a.ok() || so.concurrency < 1 || so.shared_prefix_tokens < 1 || so.adapters < 0 || so.rounds < 1) {
      std::fprintf(stderr, "cyllm bench: --concurrency, --shared-prefix and --rounds must be positive integers\n");
      return 2;
    }
    auto j = run_serving_bench(*lm, so);
    j["model"] = *a.get("--model");
    j["peak_rss_mb"] = peak_rss_mb();
    std::printf("%s\n", a.flag("--json") ? j.dump().c_str() : j.dump(2).c_str());
    return 0;
  }
  const ModelConfig& cfg = lm->model->config();
  ContextOptions opts = lm->ctx_opts;
  opts.n_ctx = std::max(n_prompt, n_gen) + 1;
  opts.n_batch = n_prompt;
  InferenceContext ctx(*lm->model, opts, *lm->pool);

  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> tok(0, cfg.n_vocab - 1);
  std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
  for (auto& t : prompt) t = tok(rng);

  // Warm-up: fault in every weight page and reach steady clocks.
  std::fprintf(stderr, "bench: warm-up ...\n");
  if (auto st = ctx.eval(std::span(prompt).first(std::min<size_t>(prompt.size(), 32))); !st) {
    std::fprintf(stderr, "cyllm bench: %s\n", st.error().to_string().c_str());
    return 1;
  }
  std::vector<double> pp, tg;
  for (int r = 0; r < reps; ++r) {
    std::fprintf(stderr, "bench: run %d/%d: prefill %d tokens ...", r + 1, reps, n_prompt);
    ctx.truncate(0);
    auto t0 = std::chrono::steady_clock::now();
    if (auto st = ctx.eval(prompt); !st) return 1;
    pp.push_back(n_prompt / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::fprintf(stderr, " %.1f tok/s; decode %d tokens ...", pp.back(), n_gen);
    ctx.truncate(0);
    int32_t next = prompt[0];
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n_gen; ++i) {
      if (auto st = ctx.eval(std::span(&next, 1)); !st) return 1;
      next = static_cast<int32_t>(std::max_element(ctx.logits(), ctx.logits() + cfg.n_vocab) - ctx.logits());
    }
    tg.push_back(n_gen / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::fprintf(stderr, " %.1f tok/s\n", tg.back());
  }
  const double rss_mb = peak_rss_mb();  // before the bandwidth test's 512 MiB buffer
  std::fprintf(stderr, "bench: measuring memory bandwidth ...\n");
  const double bw = measure_read_bandwidth_gbs(*lm->pool);
  const uint64_t bytes_per_token = lm->model->weights().weight_bytes;
  const double bound = bw * 1e9 / static_cast<double>(bytes_per_token);

  nlohmann::json j;
  j["model"] = *a.get("--model");
  j["device"] = "cpu";
  j["cpu_isa"] = std::string(cpu::isa_name(cpu::active_isa()));
  j["threads"] = lm->pool->size();
  j["n_prompt"] = n_prompt;
  j["n_gen"] = n_gen;
  j["reps"] = reps;
  j["load_ms"] = lm->load_ms;
  j["prefill_tok_s"] = median(pp);
  j["decode_tok_s"] = median(tg);
  j["peak_rss_mb"] = rss_mb;
  j["weight_bytes_per_token"] = bytes_per_token;
  j["memory_bandwidth_gbs"] = bw;
  j["decode_bound_tok_s"] = bound;
  j["decode_fraction_of_bound"] = median(tg) / bound;
  if (a.flag("--json")) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("load %.0f ms | prefill %.1f tok/s | decode %.1f tok/s (bound %.1f tok/s at %.1f GB/s, %.0f%%) | peak RSS %.0f MB\n",
                lm->load_ms, median(pp), median(tg), bound, bw, 100.0 * median(tg) / bound, rss_mb);
  }
  return 0;
}

}  // namespace cyllm::cli
