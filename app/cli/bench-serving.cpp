#include "cli/bench-serving.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <mutex>
#include <random>

#include "serve/scheduler.h"

namespace cyllm::cli {

namespace {

struct StreamResult {
  double ttft_ms = 0;
  double total_ms = 0;
  std::vector<double> itl_ms;
  int tokens = 0;
};

// Submits every prompt at once and waits for all; returns per-stream results and the wall time.
std::pair<std::vector<StreamResult>, double> run_streams(Scheduler& sched, const std::vector<std::vector<int32_t>>& prompts,
                                                         int gen,
                                                         const std::vector<std::shared_ptr<const LoraAdapter>>& loras = {}) {
  std::vector<StreamResult> res(prompts.size());
  std::vector<std::promise<void>> done(prompts.size());
  std::mutex mu;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < prompts.size(); ++i) {
    ServeRequest r;
    r.prompt = prompts[i];
    r.max_tokens = gen;
    r.sampling.temperature = 0.0f;
    r.ignore_eos = true;
    if (!loras.empty()) {
      r.lora = loras[i % loras.size()];
      r.adapter_id = 1 + i % loras.size();
    }
    sched.submit(r, [&, i](const ServeEvent& e) {
      std::lock_guard lock(mu);
      if (e.token >= 0) ++res[i].tokens;
      if (e.done) {
        res[i].ttft_ms = e.latency.ttft_ms;
        res[i].total_ms = e.latency.total_time_ms;
        res[i].itl_ms = e.latency.inter_token_ms;
        done[i].set_value();
      }
    });
  }
  for (auto& d : done) d.get_future().wait();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {res, wall};
}

std::vector<int32_t> random_tokens(std::mt19937& rng, int n, int n_vocab) {
  std::uniform_int_distribution<int32_t> d(100, n_vocab - 1);  // skip the specials at the start
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (auto& t : v) t = d(rng);
  return v;
}

}  // namespace

nlohmann::json run_serving_bench(LoadedModel& lm, const ServingBenchOptions& o) {
  const int n_vocab = lm.model->config().n_vocab;
  std::mt19937 rng(42);
  SchedulerConfig cfg;
  cfg.kv_budget_tokens = std::max(16384, o.concurrency * (o.prompt_tokens + o.gen_tokens + 32));
  cfg.max_running = std::max(64, o.concurrency);
  cfg.max_batch_tokens = 256;
  nlohmann::json j;
  j["device"] = "cpu";
  j["threads"] = lm.pool->size();
  j["concurrency"] = o.concurrency;
  j["prompt_tokens"] = o.prompt_tokens;
  j["gen_tokens"] = o.gen_tokens;

  auto throughput = [&](int n, const std::vector<std::shared_ptr<const LoraAdapter>>& loras = {}) {
    Scheduler sched(*lm.model, *lm.tokenizer, cfg, *lm.pool);
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < n; ++i) prompts.push_back(random_tokens(rng, o.prompt_tokens, n_vocab));
    std::fprintf(stderr, "bench: %d stream(s) x (%d prompt + %d generated tokens) ...", n, o.prompt_tokens, o.gen_tokens);
    if (!loras.empty()) std::fprintf(stderr, " [%zu adapters]", loras.size());
    auto [res, wall] = run_streams(sched, prompts, o.gen_tokens, loras);
    std::vector<double> ttft, itl;
    int tokens = 0, decoded = 0;
    double first_token = 1e300, last_finish = 0;
    for (const auto& r : res) {
      ttft.push_back(r.ttft_ms);
      itl.insert(itl.end(), r.itl_ms.begin(), r.itl_ms.end());
      tokens += r.tokens;
      decoded += std::max(0, r.tokens - 1);
      first_token = std::min(first_token, r.ttft_ms);
      last_finish = std::max(last_finish, r.total_ms);
    }
    const double tok_s = tokens / wall;
    // Decode throughput: tokens after each stream's first, over the span from the first token of
    // any stream to the last finish (prefill time excluded).
    const double decode_tok_s = last_finish > first_token ? decoded * 1000.0 / (last_finish - first_token) : 0.0;
    std::fprintf(stderr, " %.1f tok/s end to end, %.1f tok/s decode\n", tok_s, decode_tok_s);
    return nlohmann::json{{"streams", n},
                          {"aggregate_tok_s", tok_s},
                          {"decode_tok_s", decode_tok_s},
                          {"wall_s", wall},
                          {"ttft_ms_p50", percentile(ttft, 50)},
                          {"ttft_ms_p99", percentile(ttft, 99)},
                          {"itl_ms_p50", percentile(itl, 50)},
                          {"itl_ms_p99", percentile(itl, 99)}};
  };
  // Alternating rounds: each ratio compares runs made one right after the other; the median of the
  // per-round ratios is reported, and each configuration's best run.
  std::vector<std::shared_ptr<const LoraAdapter>> loras;
  for (int k = 0; k < o.adapters; ++k)
    loras.push_back(std::make_shared<const LoraAdapter>(
        LoraAdapter::random(lm.model->config(), o.adapter_rank, 2.0f * o.adapter_rank, 100 + k)));
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  auto better = [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.is_null() || b["decode_tok_s"].get<double>() > a["decode_tok_s"].get<double>() ? b : a;
  };
  nlohmann::json single, multi, mixed;
  std::vector<double> speedups, mixed_ratios;
  for (int r = 0; r < std::max(1, o.rounds); ++r) {
    const nlohmann::json s1 = throughput(1), sn = throughput(o.concurrency);
    speedups.push_back(sn["decode_tok_s"].get<double>() / s1["decode_tok_s"].get<double>());
    single = better(single, s1);
    multi = better(multi, sn);
    if (o.adapters > 0) {
      // Mixed-adapter batches: the same N streams, each with one of `adapters` random adapters.
      const nlohmann::json sx = throughput(o.concurrency, loras);
      mixed_ratios.push_back(sx["decode_tok_s"].get<double>() / sn["decode_tok_s"].get<double>());
      mixed = better(mixed, sx);
    }
  }
  j["rounds"] = std::max(1, o.rounds);
  j["single_stream"] = single;
  j["multi_stream"] = multi;
  j["aggregate_tok_s"] = multi["aggregate_tok_s"];
  j["aggregate_decode_tok_s"] = multi["decode_tok_s"];
  j["decode_speedup_vs_single_stream"] = median(speedups);
  j["decode_speedup_per_round"] = speedups;
  if (o.adapters > 0) {
    j["mixed_adapters"] = mixed;
    j["mixed_adapters"]["adapters"] = o.adapters;
    j["mixed_adapters"]["rank"] = o.adapter_rank;
    j["mixed_adapters_decode_ratio_vs_base"] = median(mixed_ratios);
    j["mixed_adapters_ratio_per_round"] = mixed_ratios;
  }

  // Shared system prompt: the first request fills the prefix cache (cold), the second reuses it.
  {
    Scheduler sched(*lm.model, *lm.tokenizer, cfg, *lm.pool);
    const auto prefix = random_tokens(rng, o.shared_prefix_tokens, n_vocab);
    auto with_suffix = [&] {
      auto p = prefix;
      auto s = random_tokens(rng, 16, n_vocab);
      p.insert(p.end(), s.begin(), s.end());
      return p;
    };
    std::fprintf(stderr, "bench: shared %d-token prefix, cache cold then warm ...", o.shared_prefix_tokens);
    auto cold = run_streams(sched, {with_suffix()}, 1).first[0].ttft_ms;
    auto warm = run_streams(sched, {with_suffix()}, 1).first[0].ttft_ms;
    std::fprintf(stderr, " %.0f ms -> %.0f ms\n", cold, warm);
    sched.wait_idle();  // the scheduler publishes its counters after the step that finished the request
    j["prefix_cache"] = {{"shared_prefix_tokens", o.shared_prefix_tokens}, {"ttft_cold_ms", cold}, {"ttft_warm_ms", warm},
                         {"warm_over_cold", warm / cold}, {"hit_rate", sched.stats().prefix.hit_rate()},
                         {"queried_tokens", sched.stats().prefix.queried_tokens},
                         {"hit_tokens", sched.stats().prefix.hit_tokens}};
  }
  return j;
}

}  // namespace cyllm::cli
