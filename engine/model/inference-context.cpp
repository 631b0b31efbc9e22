#include "model/inference-context.h"

#include <algorithm>

namespace cyllm {

namespace {
ContextOptions sanitize(ContextOptions o) {
  o.n_ctx = std::max(1, o.n_ctx);
  o.n_batch = std::clamp(o.n_batch, 1, o.n_ctx);
  return o;
}
}  // namespace

InferenceContext::InferenceContext(const LlamaModel& model, ContextOptions opts, ThreadPool& pool)
    : model_(model),
      opts_(sanitize(opts)),
      kv_(model.config().n_layer, model.config().kv_dim(), opts_.n_ctx, 1),
      forward_(model, pool, opts_.n_batch, opts_.exact_activations) {}

void InferenceContext::truncate(int n) { n_past_ = std::clamp(n, 0, n_past_); }

Status InferenceContext::eval(std::span<const int32_t> tokens, bool all_logits) {
  const ModelConfig& c = model_.config();
  if (tokens.empty()) return make_error(ErrorCode::kInvalidArgument, "eval() needs at least one token");
  if (n_past_ + static_cast<int64_t>(tokens.size()) > opts_.n_ctx)
    return make_error(ErrorCode::kOutOfRange,
                      "the context holds " + std::to_string(opts_.n_ctx) + " tokens; " + std::to_string(n_past_) +
                          " are used and " + std::to_string(tokens.size()) + " more were given",
                      "Start a new conversation, shorten the prompt, or raise the context size (--ctx).");
  for (int32_t t : tokens)
    if (t < 0 || t >= c.n_vocab)
      return make_error(ErrorCode::kOutOfRange, "token id " + std::to_string(t) + " is outside the vocabulary of " +
                                                    std::to_string(c.n_vocab));
  const size_t n = tokens.size();
  logits_.resize((all_logits ? n : 1) * static_cast<size_t>(c.n_vocab));
  for (size_t b = 0; b < n; b += static_cast<size_t>(opts_.n_batch)) {
    const size_t chunk = std::min(n - b, static_cast<size_t>(opts_.n_batch));
    SeqBatch sb;
    sb.tokens = tokens.subspan(b, chunk);
    sb.pos0 = n_past_;
    sb.block_table = std::span<const int>(block_table_, 1);
    sb.lora = lora_;
    if (all_logits) {
      sb.logits = SeqBatch::Logits::kAll;
      sb.logits_out = logits_.data() + b * c.n_vocab;
    } else {
      sb.logits = b + chunk == n ? SeqBatch::Logits::kLast : SeqBatch::Logits::kNone;
      sb.logits_out = logits_.data();
    }
    forward_.run(std::span<const SeqBatch>(&sb, 1), kv_);
    n_past_ += static_cast<int>(chunk);
  }
  return {};
}

}  // namespace cyllm
