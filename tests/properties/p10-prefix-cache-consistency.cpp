// Property 10 — prefix cache hit consistency: greedy output with a prefix-cache hit equals the
// output without the cache, and a shared prefix is a hit. Generated prompts share a random prefix
// (random length, so block boundaries fall anywhere) and differ in their suffixes; they run on
// the real default model, one scheduler with the cache and one without.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <future>

#include "serve/scheduler.h"
#include "support/default-model.h"
#include "support/test-paths.h"

namespace cyllm {
namespace {

std::vector<int32_t> run(Scheduler& s, const std::vector<int32_t>& prompt, int* cached) {
  std::promise<void> done;
  std::vector<int32_t> out;
  ServeRequest r;
  r.prompt = prompt;
  r.max_tokens = 6;
  r.sampling.temperature = 0.0f;
  r.ignore_eos = true;
  s.submit(r, [&](const ServeEvent& e) {
    if (e.token >= 0) out.push_back(e.token);
    if (e.done) {
      *cached = e.cached_prompt_tokens;
      done.set_value();
    }
  });
  done.get_future().wait();
  return out;
}

TEST(P10PrefixCacheConsistency, CachedEqualsUncached) {
  CYLLM_REQUIRE_DEFAULT_MODEL(path);
  test::DefaultModel& E = test::default_model();
  SchedulerConfig with, without;
  with.block_tokens = without.block_tokens = 8;
  without.prefix_cache.enabled = false;
  Scheduler cached(*E.model, *E.tok, with, E.pool), plain(*E.model, *E.tok, without, E.pool);
  const bool ok = rc::check("greedy output with a cache hit equals output without the cache", [&] {
    auto word = rc::gen::inRange<int32_t>(200, 20000);
    const auto prefix = *rc::gen::container<std::vector<int32_t>>(*rc::gen::inRange<size_t>(1, 40), word);
    int hits = 0;
    for (int k = 0; k < 2; ++k) {
      auto prompt = prefix;
      const auto suffix = *rc::gen::container<std::vector<int32_t>>(*rc::gen::inRange<size_t>(1, 6), word);
      prompt.insert(prompt.end(), suffix.begin(), suffix.end());
      int c1 = 0, c2 = 0;
      const auto a = run(cached, prompt, &c1);
      const auto b = run(plain, prompt, &c2);
      RC_ASSERT(a == b);
      RC_ASSERT(c2 == 0);
      hits += c1;
    }
    // The second prompt shares the prefix: every full block of it is a hit.
    RC_ASSERT(hits >= static_cast<int>(prefix.size() / 8 * 8));
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace cyllm
