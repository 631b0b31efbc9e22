#include "serve/logprobs.h"

#include <algorithm>
#include <cmath>

#include "text/tokenizer.h"

namespace cyllm {

double log_normalizer(std::span<const float> logits) {
  if (logits.empty()) return 0.0;
  // exp in float (relative error near 1e-7, far below the float logprobs reported) summed in
  // double: a third of the cost of a double exp per vocabulary entry.
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float l : logits) sum += static_cast<double>(std::exp(l - mx));
  return static_cast<double>(mx) + std::log(sum);
}

std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int n, double log_z) {
  const size_t k = std::min(static_cast<size_t>(std::max(n, 0)), logits.size());
  std::vector<int32_t> best;  // ids, best first
  best.reserve(k + 1);
  if (k > 0) {
    for (size_t i = 0; i < logits.size(); ++i) {
      const float l = logits[i];
      // Ids come in increasing order, so an equal logit never displaces an earlier one.
      if (best.size() == k && !(l > logits[static_cast<size_t>(best.back())])) continue;
      auto at = std::upper_bound(best.begin(), best.end(), l, [&](float v, int32_t id) { return v > logits[static_cast<size_t>(id)]; });
      best.insert(at, static_cast<int32_t>(i));
      if (best.size() > k) best.pop_back();
    }
  }
  std::vector<std::pair<int32_t, float>> out;
  out.reserve(best.size());
  for (int32_t id : best) out.emplace_back(id, static_cast<float>(static_cast<double>(logits[static_cast<size_t>(id)]) - log_z));
  return out;
}

TokenLogprob make_token_logprob(std::span<const float> raw_logits, int32_t sampled, int top_n, const Tokenizer& tok) {
  const double log_z = log_normalizer(raw_logits);
  TokenLogprob lp;
  lp.token = sampled;
  lp.bytes = tok.token_piece(sampled);
  if (sampled >= 0 && static_cast<size_t>(sampled) < raw_logits.size())
    lp.logprob = static_cast<float>(static_cast<double>(raw_logits[static_cast<size_t>(sampled)]) - log_z);
  for (const auto& [id, v] : top_logprobs(raw_logits, top_n, log_z)) lp.top.push_back({id, tok.token_piece(id), v});
  return lp;
}

// An entry's bytes are all out of the decoder once nothing of it is among the held bytes (the held
// bytes are the last pending_ raw bytes).
void LogprobRelease::resolve() {
  for (auto& e : q_)
    if (e.out_end == kUnknown && e.raw_end + pending_ <= raw_) e.out_end = out_;
}

void LogprobRelease::pushed(TokenLogprob lp, size_t raw_bytes, size_t decoded_bytes, size_t pending_after) {
  if (stopped_) return;
  raw_ += raw_bytes;
  out_ += decoded_bytes;
  pending_ = pending_after;
  q_.push_back({std::move(lp), raw_, kUnknown});
  resolve();
}

void LogprobRelease::flushed(size_t decoded_bytes) {
  out_ += decoded_bytes;
  pending_ = 0;
  resolve();
}

std::vector<TokenLogprob> LogprobRelease::release(size_t released_bytes, bool stopped) {
  std::vector<TokenLogprob> out;
  if (stopped_) return out;
  released_ += released_bytes;
  if (!stopped) {
    while (!q_.empty() && q_.front().out_end != kUnknown && q_.front().out_end <= released_) {
      last_end_ = q_.front().out_end;
      out.push_back(std::move(q_.front().lp));
      q_.pop_front();
    }
    return out;
  }
  // Cut by a stop string at released_: keep the tokens that start before the cut. An entry starts
  // where the previous one ended; after one whose end is still unknown, nothing is known to start
  // before the cut.
  stopped_ = true;
  while (!q_.empty() && last_end_ < released_) {
    last_end_ = q_.front().out_end;
    out.push_back(std::move(q_.front().lp));
    q_.pop_front();
  }
  q_.clear();
  return out;
}

}  // namespace cyllm
