// Property 3 — parameter passthrough integrity: every accepted parameter reaches the engine
// parameters unchanged, and an out-of-range value is rejected with 400 naming the `param`.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>

#include "server/openai-protocol.h"

namespace cyllm::server {
namespace {

using ojson = nlohmann::ordered_json;

ojson base() { return {{"model", "m"}, {"messages", ojson::array({{{"role", "user"}, {"content", "hi"}}})}}; }

double frac(int lo, int hi, int scale) { return *rc::gen::inRange(lo, hi + 1) / static_cast<double>(scale); }

RC_GTEST_PROP(P03ParameterPassthrough, ValidValuesReachTheEngine, ()) {
  ojson b = base();
  const double temperature = frac(0, 200, 100), top_p = frac(1, 100, 100), pp = frac(-200, 200, 100),
               fp = frac(-200, 200, 100), min_p = frac(0, 100, 100), rp = frac(1, 1000, 100);
  const int max_tokens = *rc::gen::inRange(1, 100000), n = *rc::gen::inRange(1, 17), top_k = *rc::gen::inRange(0, 1000);
  const int64_t seed = *rc::gen::arbitrary<int64_t>();
  const int priority = *rc::gen::inRange(-1000, 1001);
  const auto stops = *rc::gen::container<std::vector<std::string>>(*rc::gen::inRange(1, 5),
                                                                    rc::gen::nonEmpty(rc::gen::container<std::string>(rc::gen::inRange<char>(32, 127))));
  const int bias_tok = *rc::gen::inRange(0, 50000);
  const double bias = frac(-100, 100, 1);
  b["temperature"] = temperature;
  b["top_p"] = top_p;
  b["presence_penalty"] = pp;
  b["frequency_penalty"] = fp;
  b["min_p"] = min_p;
  b["repetition_penalty"] = rp;
  b["max_completion_tokens"] = max_tokens;
  b["n"] = n;
  b["top_k"] = top_k;
  b["seed"] = seed;
  b["priority"] = priority;
  b["stop"] = stops;
  b["logit_bias"] = {{std::to_string(bias_tok), bias}};
  b["user"] = "u1";
  b["stream"] = true;
  b["stream_options"] = {{"include_usage", true}};
  b["logprobs"] = true;
  b["top_logprobs"] = 3;
  b["some_sdk_extra"] = {{"x", 1}};
  auto parsed = parse_chat_request(b.dump());
  RC_ASSERT(std::holds_alternative<ChatRequest>(parsed));
  const ChatRequest& r = std::get<ChatRequest>(parsed);
  const SamplingParams& s = r.sampling;
  RC_ASSERT(s.temperature == static_cast<float>(temperature));
  RC_ASSERT(s.top_p == static_cast<float>(top_p));
  RC_ASSERT(s.presence_penalty == static_cast<float>(pp));
  RC_ASSERT(s.frequency_penalty == static_cast<float>(fp));
  RC_ASSERT(s.min_p == static_cast<float>(min_p));
  RC_ASSERT(s.repetition_penalty == static_cast<float>(rp));
  RC_ASSERT(s.top_k == top_k);
  RC_ASSERT(s.seed == static_cast<uint64_t>(seed));
  RC_ASSERT(s.logit_bias.at(bias_tok) == static_cast<float>(bias));
  RC_ASSERT(r.max_tokens == max_tokens);
  RC_ASSERT(r.n == n);
  RC_ASSERT(r.priority == priority);
  RC_ASSERT(r.stop == stops);
  RC_ASSERT(r.user == "u1");
  RC_ASSERT(r.stream && r.include_usage && r.logprobs && r.top_logprobs == 3);
  RC_ASSERT(r.ignored_fields == std::vector<std::string>{"some_sdk_extra"});
}

RC_GTEST_PROP(P03ParameterPassthrough, OutOfRangeIsRejectedNamingTheParam, ()) {
  struct Bad { const char* param; ojson value; };
  const std::vector<Bad> cases = {
      {"temperature", 2.5}, {"temperature", -0.1}, {"top_p", 0}, {"top_p", 1.5}, {"presence_penalty", 3},
      {"frequency_penalty", -2.5}, {"max_tokens", 0}, {"max_completion_tokens", -4}, {"n", 0}, {"n", 17},
      {"top_k", -1}, {"min_p", 1.5}, {"repetition_penalty", 0}, {"top_logprobs", 21}, {"seed", "abc"},
      {"stop", ojson::array({"a", "b", "c", "d", "e"})}, {"logit_bias", {{"x", 1}}}, {"logit_bias", {{"5", 101}}},
      {"temperature", "hot"}, {"stream", "yes"}, {"priority", 5000}, {"tier", "vip"}, {"response_format", {{"type", "yaml"}}},
  };
  const Bad& c = *rc::gen::elementOf(cases);
  ojson b = base();
  b[c.param] = c.value;
  if (std::string(c.param) == "top_logprobs") b["logprobs"] = true;
  auto parsed = parse_chat_request(b.dump());
  RC_ASSERT(std::holds_alternative<ApiError>(parsed));
  const ApiError& e = std::get<ApiError>(parsed);
  RC_ASSERT(e.status == 400);
  RC_ASSERT(e.param == c.param);
}

TEST(P03ParameterPassthrough, DefaultsAreOpenAIs) {
  auto parsed = parse_chat_request(base().dump());
  ASSERT_TRUE(std::holds_alternative<ChatRequest>(parsed));
  const auto& r = std::get<ChatRequest>(parsed);
  EXPECT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.n, 1);
  EXPECT_FALSE(r.stream);
}

}  // namespace
}  // namespace cyllm::server
