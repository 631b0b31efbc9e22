// json_mode through the scheduler on the real model: sampled at temperature 1 with several seeds
// (and n > 1, each choice with its own constraint), every "stop" is a JSON object that
// nlohmann::json parses, every "length" is a valid prefix, and most finish with "stop". Also
// prints decode speed with json_mode on and off.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>

#include "serve/json-constraint.h"
#include "serve/scheduler.h"
#include "support/default-model.h"
#include "support/test-paths.h"

namespace cyllm {
namespace {

#define REQUIRE_MODEL()                     \
  CYLLM_REQUIRE_DEFAULT_MODEL(model_path_); \
  test::DefaultModel& L = test::default_model();

struct Choice {
  std::string text;
  int tokens = 0;
  std::vector<int32_t> ids;
  ServeEvent last;
};

// Runs one request and returns its choices once all are done.
std::map<int, Choice> run(Scheduler& sched, const ServeRequest& r) {
  std::mutex mu;
  std::map<int, Choice> out;
  std::promise<void> all;
  int done = 0;
  sched.submit(r, [&](const ServeEvent& e) {
    std::lock_guard lock(mu);
    Choice& c = out[e.choice];
    c.text += e.text;
    c.tokens += e.token >= 0;
    if (e.token >= 0) c.ids.push_back(e.token);
    if (e.done) {
      c.last = e;
      if (++done == r.n) all.set_value();
    }
  });
  EXPECT_EQ(all.get_future().wait_for(std::chrono::seconds(600)), std::future_status::ready);
  return out;
}

std::vector<int32_t> chat_prompt(const Tokenizer& tok, const std::string& user) {
  return tok.encode("<|im_start|>system\nYou are a helpful assistant. You answer with a JSON object.<|im_end|>\n"
                    "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n",
                    false, true);
}

TEST(JsonMode, SampledOutputsAreObjects) {
  REQUIRE_MODEL();
  Scheduler sched(*L.model, *L.tok, {}, L.pool);
  ServeRequest r;
  r.prompt = chat_prompt(*L.tok, "Describe a cat with the keys name, age and color.");
  r.max_tokens = 200;
  r.sampling.temperature = 1.0f;
  r.sampling.top_p = 1.0f;
  r.json_mode = true;
  r.n = 4;
  int stops = 0, total = 0;
  for (uint64_t seed : {11u, 22u, 33u}) {
    r.sampling.seed = seed;
    for (const auto& [k, c] : run(sched, r)) {
      ++total;
      JsonState st;
      EXPECT_TRUE(st.feed(c.text)) << "seed " << seed << " choice " << k << ": not a JSON prefix: " << c.text;
      if (c.last.finish_reason == "stop") {
        ++stops;
        EXPECT_TRUE(st.complete());
        nlohmann::json j;
        EXPECT_NO_THROW(j = nlohmann::json::parse(c.text)) << c.text;
        EXPECT_TRUE(j.is_object()) << c.text;
      } else {
        EXPECT_EQ(c.last.finish_reason, "length") << c.text;
        EXPECT_EQ(c.tokens, r.max_tokens);
      }
      std::printf("seed %llu choice %d (%s, %d tokens): %s\n", static_cast<unsigned long long>(seed), k,
                  c.last.finish_reason.c_str(), c.tokens, c.text.c_str());
    }
  }
  std::printf("%d of %d finished with stop\n", stops, total);
  EXPECT_GE(stops * 4, total * 3) << "most (3/4) of the samples should close their object within 200 tokens";
  sched.wait_idle();
  EXPECT_EQ(sched.stats().kv_blocks_used, 0);
}

// Greedy json_mode finishes with "stop" and a parseable object; with a tiny max_tokens it ends
// with "length" and an unfinished (but valid) prefix.
TEST(JsonMode, GreedyAndLength) {
  REQUIRE_MODEL();
  Scheduler sched(*L.model, *L.tok, {}, L.pool);
  ServeRequest r;
  r.prompt = chat_prompt(*L.tok, "Give the capital of France as {\"capital\": ...}.");
  r.max_tokens = 100;
  r.sampling.temperature = 0.0f;
  r.json_mode = true;
  r.ignore_eos = true;  // changes nothing: EOG is only allowed once the object is complete
  const Choice c = run(sched, r)[0];
  EXPECT_EQ(c.last.finish_reason, "stop") << c.text;
  EXPECT_TRUE(nlohmann::json::accept(c.text)) << c.text;
  std::printf("greedy: %s\n", c.text.c_str());
  r.max_tokens = 3;
  const Choice s = run(sched, r)[0];
  EXPECT_EQ(s.last.finish_reason, "length");
  JsonState st;
  EXPECT_TRUE(st.feed(s.text));
  EXPECT_FALSE(st.complete());
}

// Decode speed with json_mode on and off (same prompt, one sequence at a time; tokens per second
// from the inter-token times). Printed, not asserted: timings on a shared machine vary.
TEST(JsonMode, DecodeSpeed) {
  REQUIRE_MODEL();
  Scheduler sched(*L.model, *L.tok, {}, L.pool);
  std::vector<std::vector<int32_t>> json_outputs;
  auto measure = [&](bool json, uint64_t seed, int* tokens) {
    ServeRequest r;
    r.prompt = chat_prompt(*L.tok, "Describe a dog with the keys name, breed, age and toys.");
    r.max_tokens = 96;
    r.sampling.temperature = 1.0f;
    r.sampling.seed = seed;
    r.json_mode = json;
    r.ignore_eos = !json;
    const Choice c = run(sched, r)[0];
    const auto& itl = c.last.latency.inter_token_ms;
    *tokens += c.tokens;
    if (json) json_outputs.push_back(c.ids);
    return std::accumulate(itl.begin(), itl.end(), 0.0) / static_cast<double>(std::max<size_t>(itl.size(), 1));
  };
  double ms_json = 0, ms_plain = 0;
  int tok_json = 0, tok_plain = 0;
  const int rounds = 3;
  measure(true, 99, &tok_json);  // warm-up (builds the vocab and fills the mask cache)
  tok_json = 0;
  for (int i = 0; i < rounds; ++i) {
    ms_plain += measure(false, 100 + i, &tok_plain);
    ms_json += measure(true, 100 + i, &tok_json);
  }
  ms_plain /= rounds;
  ms_json /= rounds;
  std::printf("decode: plain %.1f tok/s (%.2f ms/token, %d tokens), json_mode %.1f tok/s (%.2f ms/token, %d tokens)\n",
              1000.0 / ms_plain, ms_plain, tok_plain, 1000.0 / ms_json, ms_json, tok_json);
  EXPECT_GT(tok_json, 0);
  EXPECT_GT(tok_plain, 0);

  // The mask's share of that: replay the json_mode outputs through a fresh vocabulary (cold mask
  // cache), timing mask_logits per generated token.
  const auto vocab = JsonVocab::from_tokenizer(*L.tok, L.model->config().n_vocab);
  std::vector<float> logits(static_cast<size_t>(vocab->n_vocab()));
  double mask_ms = 0;
  int steps = 0;
  for (const auto& ids : json_outputs) {
    JsonConstraint c(vocab);
    for (int32_t id : ids) {
      const auto t = std::chrono::steady_clock::now();
      EXPECT_GT(c.mask_logits(logits), 0);
      mask_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
      ++steps;
      ASSERT_TRUE(c.accept(id)) << "the scheduler sampled a token the mask forbids";
    }
  }
  const JsonMaskStats st = vocab->stats();
  std::printf("mask per generated token (cold cache, %d tokens): %.3f ms mean; %llu misses, %llu hits\n", steps,
              mask_ms / std::max(steps, 1), static_cast<unsigned long long>(st.misses), static_cast<unsigned long long>(st.hits));
}

}  // namespace
}  // namespace cyllm
