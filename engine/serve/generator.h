// Single-sequence text generation: prompt tokens in, streamed text out. Keeps the KV cache of the
// previous call and reuses the longest common token prefix, so a chat that appends a turn only
// computes the new tokens. Used by `cyllm generate`, `cyllm chat` and `cyllm bench`; the serving
// scheduler (continuous batching) builds on the same pieces.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/thread-pool.h"
#include "model/inference-context.h"
#include "serve/sampler.h"
#include "text/tokenizer.h"

namespace cyllm {

struct GenerateRequest {
  std::vector<int32_t> prompt;
  int max_tokens = 256;
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings; the text ends before the first one found
  bool ignore_eos = false;        // keep going past end-of-generation tokens (benchmarks)
};

struct GenerateStats {
  int prompt_tokens = 0;
  int cached_prompt_tokens = 0;  // reused from the previous call's KV cache
  int completion_tokens = 0;
  double prefill_ms = 0;         // evaluating the (uncached) prompt
  double ttft_ms = 0;            // until the first token was sampled
  double decode_ms = 0;          // the rest
  double decode_tok_s() const { return completion_tokens > 1 ? (completion_tokens - 1) * 1000.0 / decode_ms : 0.0; }
  double prefill_tok_s() const {
    const int n = prompt_tokens - cached_prompt_tokens;
    return prefill_ms > 0 ? n * 1000.0 / prefill_ms : 0.0;
  }
};

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;
  std::string finish_reason;  // "stop" (end token or stop string), "length" or "cancelled"
  GenerateStats stats;
};

class Generator {
 public:
  Generator(const LlamaModel& model, const Tokenizer& tokenizer, ContextOptions opts, ThreadPool& pool);

  // on_text receives each piece of text as soon as it is safe to show (complete UTF-8, not part
  // of a possible stop string); returning false cancels.
  Result<GenerateResult> run(const GenerateRequest& req,
                             const std::function<bool(std::string_view)>& on_text = {});

  InferenceContext& context() { return ctx_; }
  const std::vector<int32_t>& cached_tokens() const { return history_; }
  void reset();

 private:
  const LlamaModel& model_;
  const Tokenizer& tok_;
  InferenceContext ctx_;
  std::vector<int32_t> history_;  // tokens whose keys/values are in ctx_
};

}  // namespace cyllm
