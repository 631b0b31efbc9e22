// The scheduler on the real default model: batch independence (greedy output in a mixed batch of
// 16 equals running alone), preemption under a tiny KV budget, prefix-cache consistency
// (Property 10), cancellation, timeouts, and a bounded soak that must end with no leaked block.
#include "serve/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "support/default-model.h"
#include "support/test-paths.h"

namespace cyllm {
namespace {

using Loaded = test::DefaultModel;

// Collects one request's events; done() waits for the final one.
struct Collector {
  std::mutex mu;
  std::string text;
  std::vector<int32_t> tokens;
  ServeEvent last;
  std::promise<void> done_p;
  std::shared_future<void> done_f = done_p.get_future().share();
  ServeSink sink() {
    return [this](const ServeEvent& e) {
      std::lock_guard lock(mu);
      text += e.text;
      if (e.token >= 0) tokens.push_back(e.token);
      if (e.done) {
        last = e;
        done_p.set_value();
      }
    };
  }
  size_t count() {
    std::lock_guard lock(mu);
    return tokens.size();
  }
  void wait() { ASSERT_EQ(done_f.wait_for(std::chrono::seconds(300)), std::future_status::ready); }
};

std::vector<std::vector<int32_t>> prompts(const Tokenizer& tok, int n) {
  const char* texts[] = {"The capital of France is", "Once upon a time", "def add(a, b):\n    return",
                         "List three colors:", "The quick brown fox", "1, 2, 3, 4,", "Water is made of",
                         "My name is", "import numpy as np\n", "The sun rises in the", "Q: What is 2+2?\nA:",
                         "Dear John,\n", "In the beginning", "SELECT * FROM", "The best pizza topping is",
                         "Photosynthesis converts"};
  std::vector<std::vector<int32_t>> out;
  for (int i = 0; i < n; ++i) out.push_back(tok.encode(texts[i % 16], false, true));
  return out;
}

ServeRequest greedy(std::vector<int32_t> prompt, int max_tokens) {
  ServeRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0.0f;
  r.ignore_eos = true;
  return r;
}

std::vector<std::vector<int32_t>> run_alone(Loaded& l, const std::vector<std::vector<int32_t>>& ps, int max_tokens) {
  std::vector<std::vector<int32_t>> out;
  SchedulerConfig cfg;
  cfg.prefix_cache.enabled = false;
  Scheduler sched(*l.model, *l.tok, cfg, l.pool);
  for (const auto& p : ps) {
    Collector c;
    sched.submit(greedy(p, max_tokens), c.sink());
    c.wait();
    out.push_back(c.tokens);
  }
  return out;
}

#define REQUIRE_MODEL()                     \
  CYLLM_REQUIRE_DEFAULT_MODEL(model_path_); \
  Loaded& L = test::default_model();

TEST(Scheduler, MixedBatchOf16EqualsAlone) {
  REQUIRE_MODEL();
  auto ps = prompts(*L.tok, 16);
  for (int i = 0; i < 16; ++i)  // different lengths
    for (int k = 0; k < i % 4; ++k) ps[static_cast<size_t>(i)].insert(ps[static_cast<size_t>(i)].end(), ps[0].begin(), ps[0].end());
  const int max_tokens = 12;
  auto alone = run_alone(L, ps, max_tokens);

  SchedulerConfig cfg;
  cfg.max_batch_tokens = 64;  // chunked prefill interleaves with decodes
  Scheduler sched(*L.model, *L.tok, cfg, L.pool);
  std::vector<std::unique_ptr<Collector>> cs;
  for (int i = 0; i < 16; ++i) {
    cs.push_back(std::make_unique<Collector>());
    sched.submit(greedy(ps[static_cast<size_t>(i)], max_tokens), cs.back()->sink());
    if (i % 5 == 4) std::this_thread::sleep_for(std::chrono::milliseconds(30));  // join mid-flight
  }
  for (int i = 0; i < 16; ++i) {
    cs[static_cast<size_t>(i)]->wait();
    EXPECT_EQ(cs[static_cast<size_t>(i)]->tokens, alone[static_cast<size_t>(i)]) << "request " << i;
    EXPECT_EQ(cs[static_cast<size_t>(i)]->last.finish_reason, "length");
  }
  sched.wait_idle();
  EXPECT_EQ(sched.stats().kv_blocks_used, 0);
}

TEST(Scheduler, PreemptionUnderTinyBudgetKeepsOutputs) {
  REQUIRE_MODEL();
  auto ps = prompts(*L.tok, 6);
  const int max_tokens = 24;
  auto alone = run_alone(L, ps, max_tokens);
  SchedulerConfig cfg;
  cfg.block_tokens = 8;
  cfg.kv_budget_tokens = 96;  // 12 blocks: six sequences of ~30 tokens cannot all fit
  cfg.prefix_cache.enabled = false;
  Scheduler sched(*L.model, *L.tok, cfg, L.pool);
  std::vector<std::unique_ptr<Collector>> cs;
  for (const auto& p : ps) {
    cs.push_back(std::make_unique<Collector>());
    sched.submit(greedy(p, max_tokens), cs.back()->sink());
  }
  for (size_t i = 0; i < ps.size(); ++i) {
    cs[i]->wait();
    EXPECT_EQ(cs[i]->tokens, alone[i]) << "request " << i;
  }
  sched.wait_idle();
  EXPECT_GT(sched.stats().preemptions, 0u) << "the budget was meant to force preemption";
  EXPECT_EQ(sched.stats().kv_blocks_used, 0);
}

// Property 10 (example-based here; the randomized version is tests/properties/p10-*): a cache
// hit gives the same greedy output as no cache, and a shared prefix is a hit.
TEST(Scheduler, PrefixCacheHitGivesSameOutput) {
  REQUIRE_MODEL();
  std::vector<int32_t> system = L.tok->encode(
      "<|im_start|>system\nYou are a careful assistant who answers briefly and precisely.<|im_end|>\n", false, true);
  auto q1 = system, q2 = system;
  auto a = L.tok->encode("<|im_start|>user\nName a fruit.<|im_end|>\n<|im_start|>assistant\n", false, true);
  auto b = L.tok->encode("<|im_start|>user\nName a city.<|im_end|>\n<|im_start|>assistant\n", false, true);
  q1.insert(q1.end(), a.begin(), a.end());
  q2.insert(q2.end(), b.begin(), b.end());
  auto alone = run_alone(L, {q2}, 16);
  SchedulerConfig cfg;
  cfg.block_tokens = 8;
  Scheduler sched(*L.model, *L.tok, cfg, L.pool);
  Collector c1, c2;
  sched.submit(greedy(q1, 16), c1.sink());
  c1.wait();
  sched.submit(greedy(q2, 16), c2.sink());
  c2.wait();
  EXPECT_EQ(c2.tokens, alone[0]);
  EXPECT_GE(c2.last.cached_prompt_tokens, static_cast<int>(system.size()) / 8 * 8);
  EXPECT_GT(sched.stats().prefix.hit_rate(), 0.0);
}

TEST(Scheduler, CancelFreesBlocksAtOnce) {
  REQUIRE_MODEL();
  Scheduler sched(*L.model, *L.tok, {}, L.pool);
  Collector c;
  auto id = sched.submit(greedy(prompts(*L.tok, 1)[0], 100000), c.sink());
  while (c.count() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  sched.cancel(id);
  c.wait();
  EXPECT_EQ(c.last.finish_reason, "cancelled");
  sched.wait_idle();
  EXPECT_EQ(sched.stats().kv_blocks_used, 0);
}

TEST(Scheduler, QueueTimeoutNamesPhaseAndValue) {
  REQUIRE_MODEL();
  SchedulerConfig cfg;
  cfg.max_running = 1;
  cfg.timeouts.queue_ms = 50;
  Scheduler sched(*L.model, *L.tok, cfg, L.pool);
  Collector busy, waiting;
  auto id = sched.submit(greedy(prompts(*L.tok, 1)[0], 100000), busy.sink());
  sched.submit(greedy(prompts(*L.tok, 2)[1], 4), waiting.sink());
  waiting.wait();
  EXPECT_EQ(waiting.last.finish_reason, "timeout");
  ASSERT_TRUE(waiting.last.error.has_value());
  EXPECT_NE(waiting.last.error->message.find("queue phase"), std::string::npos) << waiting.last.error->message;
  EXPECT_NE(waiting.last.error->message.find("50 ms"), std::string::npos);
  sched.cancel(id);
  busy.wait();
}

TEST(Scheduler, InvalidRequestIsAnsweredAtOnce) {
  REQUIRE_MODEL();
  Scheduler sched(*L.model, *L.tok, {}, L.pool);
  Collector c;
  ServeRequest r = greedy({1, 2, 999999}, 4);
  EXPECT_EQ(sched.submit(r, c.sink()), 0u);
  c.wait();
  EXPECT_EQ(c.last.finish_reason, "error");
}

// Bounded soak: random arrivals, cancellations and timeouts under a small budget. Every request
// ends exactly once (finished, cancelled or timed out), none is lost, and no block leaks.
TEST(Scheduler, SoakEndsCleanly) {
  REQUIRE_MODEL();
  SchedulerConfig cfg;
  cfg.block_tokens = 8;
  cfg.kv_budget_tokens = 256;
  cfg.max_batch_tokens = 48;
  cfg.timeouts.inference_ms = 1500;
  Scheduler sched(*L.model, *L.tok, cfg, L.pool);
  std::mt19937 rng(7);
  auto ps = prompts(*L.tok, 16);
  const int n = 48;
  std::vector<std::unique_ptr<Collector>> cs;
  std::vector<uint64_t> ids;
  for (int i = 0; i < n; ++i) {
    cs.push_back(std::make_unique<Collector>());
    ServeRequest r = greedy(ps[rng() % ps.size()], 4 + static_cast<int>(rng() % 40));
    r.sampling.temperature = (rng() % 2) ? 0.0f : 0.9f;
    r.sampling.seed = rng();
    r.tier = static_cast<Tier>(rng() % 3);
    ids.push_back(sched.submit(r, cs.back()->sink()));
    if (rng() % 4 == 0) sched.cancel(ids[rng() % ids.size()]);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
  }
  std::map<std::string, int> reasons;
  for (auto& c : cs) {
    c->wait();
    ++reasons[c->last.finish_reason];
  }
  sched.wait_idle();
  const SchedulerStats st = sched.stats();
  EXPECT_EQ(st.finished, static_cast<uint64_t>(n));
  EXPECT_EQ(st.kv_blocks_used, 0);
  int total = 0;
  for (auto& [r, k] : reasons) {
    EXPECT_TRUE(r == "length" || r == "stop" || r == "cancelled" || r == "timeout") << r;
    total += k;
  }
  EXPECT_EQ(total, n);
}

}  // namespace
}  // namespace cyllm

namespace cyllm {
namespace {

// n > 1: the choices share the prompt's blocks, and choice k is exactly a single request sampled
// with seed + k (so forking the prompt's KV changed nothing).
TEST(Scheduler, ChoicesShareThePromptAndMatchSingleRuns) {
  REQUIRE_MODEL();
  SchedulerConfig cfg;
  cfg.block_tokens = 4;
  Scheduler sched(*L.model, *L.tok, cfg, L.pool);
  ServeRequest r = greedy(L.tok->encode("Tell me a story about a dragon and a", false, true), 10);
  r.sampling.temperature = 1.0f;
  r.sampling.top_k = 0;
  r.sampling.top_p = 1.0f;
  r.sampling.seed = 1234;
  r.n = 4;
  std::mutex mu;
  std::map<int, std::vector<int32_t>> toks;
  std::promise<void> all;
  int done = 0;
  sched.submit(r, [&](const ServeEvent& e) {
    std::lock_guard lock(mu);
    if (e.token >= 0) toks[e.choice].push_back(e.token);
    if (e.done && ++done == 4) all.set_value();
  });
  all.get_future().wait();
  EXPECT_EQ(sched.stats().prompt_tokens, r.prompt.size()) << "the prompt was computed once";
  std::set<std::vector<int32_t>> distinct;
  for (int k = 0; k < 4; ++k) {
    ServeRequest one = r;
    one.n = 1;
    one.sampling.seed = 1234 + static_cast<uint64_t>(k);
    Collector c;
    sched.submit(one, c.sink());
    c.wait();
    EXPECT_EQ(toks[k], c.tokens) << "choice " << k;
    distinct.insert(toks[k]);
  }
  EXPECT_GT(distinct.size(), 1u) << "four samples at temperature 1 were identical";
  sched.wait_idle();
  EXPECT_EQ(sched.stats().kv_blocks_used, 0);
}

}  // namespace
}  // namespace cyllm
