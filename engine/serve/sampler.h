// Token sampling: greedy, temperature, top-k, top-p, min-p, repetition/presence/frequency
// penalties and logit bias, with a seeded generator so that the same seed and input always give
// the same output.
//
// Order (as vLLM applies them, so OpenAI-style parameters mean the same here):
//   logit_bias -> repetition penalty -> presence/frequency penalties -> (greedy if temperature==0)
//   -> temperature -> top_k -> top_p -> min_p -> draw.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace cyllm {

struct SamplingParams {
  float temperature = 0.8f;     // 0 = greedy
  int top_k = 0;                // 0 = off
  float top_p = 1.0f;           // 1 = off
  float min_p = 0.0f;           // 0 = off; keep tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // 1 = off; llama.cpp/HF style: logit /= rp if > 0 else *= rp
  float presence_penalty = 0.0f;    // OpenAI: -= presence if the token occurred
  float frequency_penalty = 0.0f;   // OpenAI: -= frequency * count
  int penalty_last_n = 64;          // tokens of history the penalties look at (-1 = all)
  std::map<int32_t, float> logit_bias;  // added to the logit; -100 effectively bans a token
  uint64_t seed = 0xC1C1C1C1ull;

  // Every field in its range; the error names the field (HTTP maps this to 400 with `param`).
  Status validate(int n_vocab) const;
};

class Sampler {
 public:
  explicit Sampler(SamplingParams params);

  // Picks the next token from `logits` (modified in place) given the tokens produced so far
  // (the prompt and generated tokens; penalties look at the last penalty_last_n of them).
  // A logit of -inf bans its token: it is never drawn and the filters (top-k, top-p, min-p) and
  // the draw work on the distribution over the other tokens. At least one must be finite.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);

  const SamplingParams& params() const { return p_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  SamplingParams p_;
  std::mt19937_64 rng_;
  std::vector<Candidate> cand_;
  std::vector<uint32_t> counts_;
};

}  // namespace cyllm
