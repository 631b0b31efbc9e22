// Logprobs: the top-n selection and normalizer against a sort and a double-precision sum; the
// release of entries with the text (split characters, stop strings); and on the real model,
// greedy decoding's reported log-probabilities against an independent single-sequence forward
// (InferenceContext) with a double log-softmax.
#include "serve/logprobs.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <future>
#include <mutex>
#include <numeric>

#include "model/inference-context.h"
#include "serve/scheduler.h"
#include "serve/stop-matcher.h"
#include "support/default-model.h"
#include "support/test-paths.h"
#include "text/utf8-stream.h"

namespace cyllm {
namespace {

RC_GTEST_PROP(Logprobs, TopNIsTheSortedPrefix, ()) {
  // Small integer-valued logits make ties common.
  const auto ints = *rc::gen::nonEmpty(rc::gen::container<std::vector<int>>(rc::gen::inRange(-20, 20)));
  std::vector<float> logits(ints.begin(), ints.end());
  const int n = *rc::gen::inRange(0, static_cast<int>(logits.size()) + 3);
  const double log_z = log_normalizer(logits);
  const auto top = top_logprobs(logits, n, log_z);
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)]; });
  RC_ASSERT(top.size() == std::min(static_cast<size_t>(n), logits.size()));
  for (size_t i = 0; i < top.size(); ++i) {
    RC_ASSERT(top[i].first == ids[i]);  // descending, ties by lower id
    RC_ASSERT(top[i].second == static_cast<float>(logits[static_cast<size_t>(ids[i])] - log_z));
  }
  // The normalizer: the probabilities of all tokens sum to 1 (double sum of float-rounded
  // logprobs: each exp carries a relative error near 1e-7, so 1e-5 is ample).
  double sum = 0;
  for (const auto& [id, lp] : top_logprobs(logits, static_cast<int>(logits.size()), log_z)) sum += std::exp(static_cast<double>(lp));
  RC_ASSERT(std::abs(sum - 1.0) < 1e-5);
}

TEST(Logprobs, NormalizerIsStableForLargeLogits) {
  std::vector<float> logits = {1000.0f, 1000.0f, -1000.0f};
  EXPECT_NEAR(log_normalizer(logits), 1000.0 + std::log(2.0), 1e-9);
}

TokenLogprob entry(int32_t id) {
  TokenLogprob t;
  t.token = id;
  return t;
}
std::vector<int32_t> ids_of(const std::vector<TokenLogprob>& v) {
  std::vector<int32_t> out;
  for (const auto& t : v) out.push_back(t.token);
  return out;
}

// Offsets by hand: a 3-byte character split over tokens 1-3 comes out with token 3, and the
// entries of tokens 1 and 2 wait for it.
TEST(LogprobRelease, SplitCharacterWaitsForItsLastByte) {
  LogprobRelease r;
  r.pushed(entry(0), 2, 2, 0);  // "ab"
  EXPECT_EQ(ids_of(r.release(2, false)), (std::vector<int32_t>{0}));
  r.pushed(entry(1), 1, 0, 1);  // E2
  EXPECT_TRUE(r.release(0, false).empty());
  r.pushed(entry(2), 1, 0, 2);  // 80
  EXPECT_TRUE(r.release(0, false).empty());
  r.pushed(entry(3), 2, 4, 0);  // 99 'x': the character and x
  EXPECT_EQ(ids_of(r.release(4, false)), (std::vector<int32_t>{1, 2, 3}));
}

// Held by the stop matcher, then cut: the token straddling the cut is reported, the ones inside
// the stop string are not.
TEST(LogprobRelease, StopStringCut) {
  LogprobRelease r;
  r.pushed(entry(0), 3, 3, 0);  // "abc"
  EXPECT_EQ(ids_of(r.release(3, false)), (std::vector<int32_t>{0}));
  r.pushed(entry(1), 3, 3, 0);  // "dEN": the stop matcher holds "EN" (stop "END")
  EXPECT_TRUE(r.release(1, false).empty()) << "token 1 is not out completely";
  r.pushed(entry(2), 1, 1, 0);  // "D": stop found at offset 4
  EXPECT_EQ(ids_of(r.release(0, true)), (std::vector<int32_t>{1}));
  r.pushed(entry(3), 1, 1, 0);
  EXPECT_TRUE(r.release(1, false).empty()) << "nothing after a stop";
  // A stop string right at a token boundary drops the tokens that form it.
  LogprobRelease b;
  b.pushed(entry(0), 2, 2, 0);
  b.pushed(entry(1), 3, 3, 0);
  EXPECT_EQ(ids_of(b.release(2, true)), (std::vector<int32_t>{0}));
}

TEST(LogprobRelease, FlushReleasesHeldBytes) {
  LogprobRelease r;
  r.pushed(entry(0), 1, 0, 1);  // a lone lead byte, held by the decoder
  EXPECT_TRUE(r.release(0, false).empty());
  r.flushed(3);  // flushed as U+FFFD
  EXPECT_EQ(ids_of(r.release(3, false)), (std::vector<int32_t>{0}));
}

#define REQUIRE_MODEL()                     \
  CYLLM_REQUIRE_DEFAULT_MODEL(model_path_); \
  test::DefaultModel& L = test::default_model();

// The scheduler's composition (decoder -> stop matcher -> release) on real token ids, with a
// character split over single-byte tokens: every entry comes out once, in order, never before
// the text that completes it.
TEST(LogprobRelease, WithTheRealDecoder) {
  REQUIRE_MODEL();
  const Tokenizer& tok = *L.tok;
  auto byte_token = [&](unsigned char b) -> int32_t {
    for (int32_t id = 0; id < tok.n_vocab(); ++id)
      if (tok.token_piece(id) == std::string(1, static_cast<char>(b))) return id;
    return -1;
  };
  std::vector<int32_t> ids = tok.encode("Hello", false, false);
  for (unsigned char b : {0xE2, 0x80, 0x99}) {  // U+2019 one byte per token
    ids.push_back(byte_token(b));
    ASSERT_GE(ids.back(), 0);
  }
  for (int32_t id : tok.encode(" world END tail", false, false)) ids.push_back(id);
  StreamDecoder dec(tok);
  StopMatcher stops({"END"});
  LogprobRelease r;
  std::string text;
  std::vector<int32_t> reported;
  for (int32_t id : ids) {
    const std::string d = dec.push(id);
    const std::string out = stops.push(d);
    text += out;
    r.pushed(entry(id), tok.token_piece(id).size(), d.size(), dec.pending_bytes());
    for (int32_t got : ids_of(r.release(out.size(), stops.stopped()))) {
      reported.push_back(got);
      // Released with text that contains the whole token (the last may straddle the cut).
      std::string pieces;
      for (int32_t x : reported) pieces += tok.token_piece(x);
      if (!stops.stopped()) EXPECT_LE(pieces.size(), text.size());
    }
    if (stops.stopped()) break;
  }
  EXPECT_EQ(text, "Hello\xE2\x80\x99 world ");
  ASSERT_FALSE(reported.empty());
  std::string pieces;
  for (int32_t x : reported) pieces += tok.token_piece(x);
  EXPECT_EQ(pieces.substr(0, text.size()), text) << "the reported tokens spell the text, in order";
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + static_cast<long>(reported.size())), reported);
  // Each reported token put at least one byte into the text (the last one, " END", straddles the
  // cut); the tokens after it are not reported.
  EXPECT_LT(pieces.size() - tok.token_piece(reported.back()).size(), text.size());
  EXPECT_EQ(pieces.find("tail"), std::string::npos);
}

struct Events {
  std::mutex mu;
  std::vector<int32_t> tokens;
  std::vector<TokenLogprob> lps;
  std::string text;
  ServeEvent last;
  std::promise<void> p;
  ServeSink sink() {
    return [this](const ServeEvent& e) {
      std::lock_guard lock(mu);
      if (e.token >= 0) tokens.push_back(e.token);
      text += e.text;
      lps.insert(lps.end(), e.logprobs.begin(), e.logprobs.end());
      if (e.done) {
        last = e;
        p.set_value();
      }
    };
  }
  void wait() { ASSERT_EQ(p.get_future().wait_for(std::chrono::seconds(300)), std::future_status::ready); }
};

// Greedy: the sampled token is the top alternative with the same logprob, alternatives descend,
// and every number matches an independent forward pass. The scheduler's batched pass and
// InferenceContext run the same kernels, but summation order may differ between paths (the model
// tests allow 1e-3 per logit); a logprob is a logit minus the normalizer, so 3e-3 covers both.
// The second case biases and penalizes the logits: the reported numbers must still be the raw
// model's, while the sampled token follows the processed logits.
class LogprobsScheduler : public ::testing::TestWithParam<bool> {};

TEST_P(LogprobsScheduler, GreedyMatchesAnIndependentForward) {
  REQUIRE_MODEL();
  const bool processed = GetParam();
  constexpr double kTol = 3e-3;  // observed: below 1e-7 (both paths run the same kernels here)
  const std::vector<int32_t> prompt = L.tok->encode("The three primary colors are", false, true);
  Scheduler sched(*L.model, *L.tok, {}, L.pool);
  ServeRequest r;
  r.prompt = prompt;
  r.max_tokens = 12;
  r.sampling.temperature = 0.0f;
  r.ignore_eos = true;
  r.logprobs = 5;
  if (processed) {
    r.sampling.presence_penalty = 2.0f;
    r.sampling.repetition_penalty = 1.5f;
    for (int32_t t : L.tok->encode(" red blue green yellow", false, false)) r.sampling.logit_bias[t] = 5.0f;
  }
  Events ev;
  sched.submit(r, ev.sink());
  ev.wait();
  ASSERT_EQ(ev.tokens.size(), 12u);
  ASSERT_EQ(ev.lps.size(), ev.tokens.size()) << "no stop string: every token is reported";

  InferenceContext ctx(*L.model, {512, 256}, L.pool);
  ASSERT_TRUE(ctx.eval(prompt).ok());
  const auto V = static_cast<size_t>(ctx.n_vocab());
  double worst = 0;
  int differs = 0;  // processed: steps where the bias/penalties changed the choice
  for (size_t i = 0; i < ev.tokens.size(); ++i) {
    const TokenLogprob& lp = ev.lps[i];
    EXPECT_EQ(lp.token, ev.tokens[i]);
    EXPECT_EQ(lp.bytes, L.tok->token_piece(lp.token));
    ASSERT_EQ(lp.top.size(), 5u);
    if (!processed) {
      EXPECT_EQ(lp.top[0].token, lp.token) << "greedy takes the most likely token";
      EXPECT_EQ(lp.top[0].logprob, lp.logprob);
    } else {
      differs += lp.top[0].token != lp.token;
    }
    for (size_t k = 1; k < lp.top.size(); ++k) EXPECT_GE(lp.top[k - 1].logprob, lp.top[k].logprob);
    // Oracle: log-softmax in double of the same step's logits.
    const std::span<const float> logits(ctx.logits(), V);
    const double mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float l : logits) sum += std::exp(l - mx);
    const double log_z = mx + std::log(sum);
    auto oracle = [&](int32_t id) { return logits[static_cast<size_t>(id)] - log_z; };
    EXPECT_NEAR(lp.logprob, oracle(lp.token), kTol) << "step " << i;
    if (!processed) EXPECT_NEAR(oracle(lp.token), mx - log_z, kTol) << "the greedy token is (near) the oracle's argmax";
    worst = std::max(worst, std::abs(lp.logprob - oracle(lp.token)));
    for (const auto& t : lp.top) {
      EXPECT_NEAR(t.logprob, oracle(t.token), kTol);
      EXPECT_EQ(t.bytes, L.tok->token_piece(t.token));
    }
    // The full distribution from the library function sums to 1 (see TopNIsTheSortedPrefix).
    if (i == 0) {
      const auto all = top_logprobs(logits, static_cast<int>(V), log_normalizer(logits));
      ASSERT_EQ(all.size(), V);
      double total = 0;
      for (const auto& [id, v] : all) total += std::exp(static_cast<double>(v));
      EXPECT_NEAR(total, 1.0, 1e-4);
    }
    ASSERT_TRUE(ctx.eval(std::span(&ev.tokens[i], 1)).ok());
  }
  std::printf("largest |scheduler - oracle| logprob difference: %.2e\n", worst);
  if (processed) EXPECT_GT(differs, 0) << "the bias and penalties were meant to change some choices";
}
INSTANTIATE_TEST_SUITE_P(RawAndProcessed, LogprobsScheduler, ::testing::Bool());

// With a stop string that begins inside a token: the reported tokens are those that produced
// the returned text (the last may reach into the stop string), in order.
TEST(LogprobsStop, StopStringTrimsTheReportedTokens) {
  REQUIRE_MODEL();
  const std::vector<int32_t> prompt = L.tok->encode("Once upon a time", false, true);
  Scheduler sched(*L.model, *L.tok, {}, L.pool);
  ServeRequest r;
  r.prompt = prompt;
  r.max_tokens = 24;
  r.sampling.temperature = 0.0f;
  r.ignore_eos = true;
  r.logprobs = 0;
  Events full;
  sched.submit(r, full.sink());
  full.wait();
  // A stop string starting at the second byte of a multi-byte token well inside the output.
  std::string all;
  std::vector<size_t> starts;
  for (int32_t t : full.tokens) {
    starts.push_back(all.size());
    all += L.tok->token_piece(t);
  }
  ASSERT_EQ(full.text, all) << "an ASCII continuation is expected from this prompt";
  size_t k = 6;
  while (k < full.tokens.size() && L.tok->token_piece(full.tokens[k]).size() < 3) ++k;
  ASSERT_LT(k, full.tokens.size());
  const std::string stop = all.substr(starts[k] + 1, 4);
  const size_t cut = all.find(stop);
  r.stop = {stop};
  Events ev;
  sched.submit(r, ev.sink());
  ev.wait();
  EXPECT_EQ(ev.last.finish_reason, "stop");
  EXPECT_EQ(ev.text, all.substr(0, cut));
  size_t expect = 0;
  while (expect < starts.size() && starts[expect] < cut) ++expect;  // tokens starting before the cut
  ASSERT_EQ(ev.lps.size(), expect);
  for (size_t i = 0; i < expect; ++i) {
    EXPECT_EQ(ev.lps[i].token, full.tokens[i]);
    EXPECT_TRUE(ev.lps[i].top.empty()) << "logprobs=0 gives no alternatives";
  }
}

TEST(LogprobsStop, OutOfRangeIsRejected) {
  REQUIRE_MODEL();
  Scheduler sched(*L.model, *L.tok, {}, L.pool);
  ServeRequest r;
  r.prompt = {1, 2, 3};
  r.logprobs = 21;
  Events ev;
  EXPECT_EQ(sched.submit(r, ev.sink()), 0u);
  ev.wait();
  EXPECT_EQ(ev.last.finish_reason, "error");
}

}  // namespace
}  // namespace cyllm
