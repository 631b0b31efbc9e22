#include "serve/generator.h"

#include <algorithm>
#include <chrono>

#include "serve/stop-matcher.h"
#include "text/utf8-stream.h"

namespace cyllm {

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

Generator::Generator(const LlamaModel& model, const Tokenizer& tokenizer, ContextOptions opts, ThreadPool& pool)
    : model_(model), tok_(tokenizer), ctx_(model, opts, pool) {}

void Generator::reset() {
  ctx_.truncate(0);
  history_.clear();
}

Result<GenerateResult> Generator::run(const GenerateRequest& req, const std::function<bool(std::string_view)>& on_text) {
  if (req.prompt.empty()) return make_error(ErrorCode::kInvalidArgument, "the prompt is empty");
  if (req.max_tokens < 0) return make_error(ErrorCode::kInvalidArgument, "max_tokens must not be negative");
  if (auto st = req.sampling.validate(model_.config().n_vocab); !st) return st.error();
  if (static_cast<int64_t>(req.prompt.size()) + 1 > ctx_.n_ctx())
    return make_error(ErrorCode::kOutOfRange,
                      "the prompt has " + std::to_string(req.prompt.size()) + " tokens but the context holds " +
                          std::to_string(ctx_.n_ctx()),
                      "Shorten the prompt or raise the context size (--ctx).");

  GenerateResult res;
  res.stats.prompt_tokens = static_cast<int>(req.prompt.size());
  const auto t0 = std::chrono::steady_clock::now();

  // Reuse the cached prefix; at least the last prompt token is evaluated to get fresh logits.
  size_t common = 0;
  while (common < history_.size() && common < req.prompt.size() && history_[common] == req.prompt[common]) ++common;
  common = std::min(common, req.prompt.size() - 1);
  ctx_.truncate(static_cast<int>(common));
  history_.resize(common);
  res.stats.cached_prompt_tokens = static_cast<int>(common);
  if (auto st = ctx_.eval(std::span(req.prompt).subspan(common)); !st) {
    reset();
    return st.error();
  }
  history_ = req.prompt;
  res.stats.prefill_ms = ms_since(t0);

  Sampler sampler(req.sampling);
  StreamDecoder decoder(tok_);
  StopMatcher stops(req.stop);
  std::vector<int32_t> seen = req.prompt;  // penalties look at the prompt and the output
  std::vector<float> logits(static_cast<size_t>(ctx_.n_vocab()));
  res.finish_reason = "length";
  auto emit = [&](const std::string& text) {
    if (text.empty()) return true;
    res.text += text;
    return on_text ? on_text(text) : true;
  };
  auto t_first = t0;
  for (int i = 0; i < req.max_tokens; ++i) {
    std::copy(ctx_.logits(), ctx_.logits() + logits.size(), logits.begin());
    const int32_t tok = sampler.sample(logits, seen);
    if (i == 0) {
      t_first = std::chrono::steady_clock::now();
      res.stats.ttft_ms = ms_since(t0);
    }
    if (!req.ignore_eos && tok_.is_eog(tok)) {
      res.finish_reason = "stop";
      break;
    }
    res.tokens.push_back(tok);
    seen.push_back(tok);
    const bool cont = emit(stops.push(decoder.push(tok)));
    if (stops.stopped()) {
      res.finish_reason = "stop";
      break;
    }
    if (!cont) {
      res.finish_reason = "cancelled";
      break;
    }
    if (i + 1 == req.max_tokens) break;
    if (ctx_.n_past() >= ctx_.n_ctx()) break;  // context full: finish with "length"
    if (auto st = ctx_.eval(std::span(&tok, 1)); !st) {
      reset();
      return st.error();
    }
    history_.push_back(tok);
  }
  if (!stops.stopped()) emit(stops.push(decoder.flush()) + stops.flush());
  res.stats.completion_tokens = static_cast<int>(res.tokens.size());
  if (res.stats.completion_tokens > 0) res.stats.decode_ms = ms_since(t_first);
  return res;
}

}  // namespace cyllm
