// Sampler: greedy is argmax, seeds reproduce, filters keep exactly the tokens they should, and
// draws follow the distribution.
#include "serve/sampler.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace cyllm {
namespace {

std::vector<float> random_logits(int n) {
  return *rc::gen::container<std::vector<float>>(static_cast<size_t>(n), rc::gen::map(rc::gen::inRange(-1000, 1000), [](int x) { return x / 100.0f; }));
}

RC_GTEST_PROP(Sampler, GreedyIsArgmax, ()) {
  const int n = *rc::gen::inRange(1, 300);
  auto logits = random_logits(n);
  const auto expect = std::max_element(logits.begin(), logits.end()) - logits.begin();
  SamplingParams p;
  p.temperature = 0.0f;
  Sampler s(p);
  RC_ASSERT(s.sample(logits, {}) == expect);
}

RC_GTEST_PROP(Sampler, SameSeedSameTokens, ()) {
  const int n = *rc::gen::inRange(2, 200);
  auto logits = random_logits(n);
  SamplingParams p;
  p.temperature = *rc::gen::map(rc::gen::inRange(1, 300), [](int x) { return x / 100.0f; });
  p.top_k = *rc::gen::inRange(0, 50);
  p.top_p = *rc::gen::map(rc::gen::inRange(1, 101), [](int x) { return x / 100.0f; });
  p.min_p = *rc::gen::map(rc::gen::inRange(0, 50), [](int x) { return x / 100.0f; });
  p.seed = *rc::gen::arbitrary<uint64_t>();
  Sampler a(p), b(p);
  for (int i = 0; i < 20; ++i) {
    auto la = logits, lb = logits;
    RC_ASSERT(a.sample(la, {}) == b.sample(lb, {}));
  }
}

RC_GTEST_PROP(Sampler, TopKOneAndTinyTopPAndMinPOneAreGreedy, ()) {
  const int n = *rc::gen::inRange(2, 200);
  auto logits = random_logits(n);
  // Make the maximum unique so "the most likely token" is well defined.
  const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
  logits[static_cast<size_t>(best)] += 0.5f;
  for (int variant = 0; variant < 3; ++variant) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = variant == 0 ? 1 : 0;
    p.top_p = variant == 1 ? 1e-6f : 1.0f;
    p.min_p = variant == 2 ? 1.0f : 0.0f;
    p.seed = *rc::gen::arbitrary<uint64_t>();
    Sampler s(p);
    auto l = logits;
    RC_ASSERT(s.sample(l, {}) == best);
  }
}

RC_GTEST_PROP(Sampler, TopKNeverPicksOutsideTheK, ()) {
  const int n = *rc::gen::inRange(5, 100);
  auto logits = random_logits(n);
  const int k = *rc::gen::inRange(1, n);
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  SamplingParams p;
  p.temperature = 5.0f;  // flat, so a bug would show
  p.top_k = k;
  p.seed = *rc::gen::arbitrary<uint64_t>();
  Sampler s(p);
  for (int i = 0; i < 30; ++i) {
    auto l = logits;
    const int32_t t = s.sample(l, {});
    RC_ASSERT(logits[static_cast<size_t>(t)] >= sorted[static_cast<size_t>(k - 1)]);
  }
}

TEST(Sampler, LogitBiasBansAndForces) {
  std::vector<float> logits = {5.0f, 1.0f, 0.0f};
  SamplingParams p;
  p.temperature = 0.0f;
  p.logit_bias = {{0, -100.0f}};
  Sampler s(p);
  auto l = logits;
  EXPECT_EQ(s.sample(l, {}), 1);
  p.logit_bias = {{2, 100.0f}};
  Sampler s2(p);
  l = logits;
  EXPECT_EQ(s2.sample(l, {}), 2);
}

TEST(Sampler, PenaltiesFollowTheirFormulas) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.repetition_penalty = 2.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  Sampler s(p);
  std::vector<float> l = {4.0f, -1.0f, 3.0f};
  const std::vector<int32_t> hist = {0, 0, 1};
  (void)s.sample(l, hist);
  // token 0: 4/2 - 0.5 - 0.25*2 = 1.0; token 1: -1*2 - 0.5 - 0.25 = -2.75; token 2 untouched.
  EXPECT_FLOAT_EQ(l[0], 1.0f);
  EXPECT_FLOAT_EQ(l[1], -2.75f);
  EXPECT_FLOAT_EQ(l[2], 3.0f);
}

TEST(Sampler, DrawsFollowTheDistribution) {
  // Three tokens with probabilities 0.5, 0.3, 0.2 at temperature 1.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 7;
  Sampler s(p);
  const int N = 20000;
  int counts[3] = {};
  for (int i = 0; i < N; ++i) {
    auto l = logits;
    ++counts[s.sample(l, {})];
  }
  // Binomial standard deviation at N=20000 is at most 0.0036; allow 5 sigma.
  EXPECT_NEAR(counts[0] / double(N), 0.5, 0.018);
  EXPECT_NEAR(counts[1] / double(N), 0.3, 0.018);
  EXPECT_NEAR(counts[2] / double(N), 0.2, 0.018);
}

// A -inf logit bans its token (the JSON constraint masks this way): never drawn, whatever the
// filters, even when top_k asks for more tokens than are allowed.
RC_GTEST_PROP(Sampler, BannedTokensAreNeverDrawn, ()) {
  const int n = *rc::gen::inRange(2, 120);
  auto logits = random_logits(n);
  const auto allowed = *rc::gen::container<std::vector<bool>>(static_cast<size_t>(n), rc::gen::arbitrary<bool>());
  const auto keep = static_cast<size_t>(*rc::gen::inRange(0, n));  // at least one stays allowed
  for (size_t i = 0; i < logits.size(); ++i)
    if (!allowed[i] && i != keep) logits[i] = -std::numeric_limits<float>::infinity();
  SamplingParams p;
  p.temperature = *rc::gen::map(rc::gen::inRange(0, 300), [](int x) { return x / 100.0f; });
  p.top_k = *rc::gen::inRange(0, n + 5);
  p.top_p = *rc::gen::map(rc::gen::inRange(1, 101), [](int x) { return x / 100.0f; });
  p.min_p = *rc::gen::map(rc::gen::inRange(0, 50), [](int x) { return x / 100.0f; });
  p.seed = *rc::gen::arbitrary<uint64_t>();
  Sampler s(p);
  for (int i = 0; i < 30; ++i) {
    auto l = logits;
    const int32_t t = s.sample(l, {});
    RC_ASSERT(std::isfinite(logits[static_cast<size_t>(t)]));
  }
}

TEST(Sampler, MaskedDrawsFollowTheRenormalizedDistribution) {
  // p = 0.4, 0.3, 0.2, 0.1 with token 0 banned: 0.5, 1/3, 1/6 over the rest. With top_p = 0.8
  // the nucleus is taken over the allowed tokens (0.5 + 1/3 >= 0.8): 0.6 and 0.4.
  const std::vector<float> base = {std::log(0.4f), std::log(0.3f), std::log(0.2f), std::log(0.1f)};
  for (float top_p : {1.0f, 0.8f}) {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_p = top_p;
    p.seed = 11;
    Sampler s(p);
    const int N = 20000;
    int counts[4] = {};
    for (int i = 0; i < N; ++i) {
      auto l = base;
      l[0] = -std::numeric_limits<float>::infinity();
      ++counts[s.sample(l, {})];
    }
    const double want[2][4] = {{0, 0.5, 1.0 / 3, 1.0 / 6}, {0, 0.6, 0.4, 0}};
    for (int t = 0; t < 4; ++t)  // binomial sd at N=20000 is at most 0.0036; 5 sigma
      EXPECT_NEAR(counts[t] / double(N), want[top_p < 1.0f][t], 0.018) << "top_p " << top_p << " token " << t;
  }
}

TEST(Sampler, ValidateNamesTheField) {
  SamplingParams p;
  p.top_p = 0.0f;
  auto st = p.validate(10);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("top_p"), std::string::npos);
  p = {};
  p.logit_bias = {{99, 1.0f}};
  st = p.validate(10);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("logit_bias"), std::string::npos);
  p = {};
  p.temperature = -1.0f;
  EXPECT_FALSE(p.validate(10).ok());
  EXPECT_TRUE(SamplingParams{}.validate(10).ok());
}

}  // namespace
}  // namespace cyllm
