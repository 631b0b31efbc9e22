#include "serve/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cyllm {

Status SamplingParams::validate(int n_vocab) const {
  auto bad = [](const char* field, const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument, std::string(field) + " " + why, std::string("Fix the '") + field + "' parameter.");
  };
  if (!(temperature >= 0.0f && temperature <= 100.0f)) return bad("temperature", "must be between 0 and 100");
  if (top_k < 0) return bad("top_k", "must be 0 (off) or positive");
  if (!(top_p > 0.0f && top_p <= 1.0f)) return bad("top_p", "must be in (0, 1]");
  if (!(min_p >= 0.0f && min_p <= 1.0f)) return bad("min_p", "must be in [0, 1]");
  if (!(repetition_penalty > 0.0f && repetition_penalty <= 10.0f)) return bad("repetition_penalty", "must be in (0, 10]");
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) return bad("presence_penalty", "must be between -2 and 2");
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) return bad("frequency_penalty", "must be between -2 and 2");
  if (penalty_last_n < -1) return bad("penalty_last_n", "must be -1 (all) or >= 0");
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || id >= n_vocab) return bad("logit_bias", "names token " + std::to_string(id) + ", outside the vocabulary");
    if (!(bias >= -100.0f && bias <= 100.0f)) return bad("logit_bias", "values must be between -100 and 100");
  }
  return {};
}

Sampler::Sampler(SamplingParams params) : p_(std::move(params)), rng_(p_.seed) {}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  const int32_t n = static_cast<int32_t>(logits.size());
  for (const auto& [id, bias] : p_.logit_bias)
    if (id >= 0 && id < n) logits[static_cast<size_t>(id)] += bias;

  const bool penalise = p_.repetition_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  if (penalise && !history.empty()) {
    const size_t take = p_.penalty_last_n < 0 ? history.size()
                                              : std::min(history.size(), static_cast<size_t>(p_.penalty_last_n));
    auto recent = history.subspan(history.size() - take);
    counts_.assign(static_cast<size_t>(n), 0);
    for (int32_t t : recent)
      if (t >= 0 && t < n) ++counts_[static_cast<size_t>(t)];
    for (int32_t t : recent) {
      if (t < 0 || t >= n || counts_[static_cast<size_t>(t)] == 0) continue;
      float& l = logits[static_cast<size_t>(t)];
      const float count = static_cast<float>(counts_[static_cast<size_t>(t)]);
      if (p_.repetition_penalty != 1.0f) l = l > 0 ? l / p_.repetition_penalty : l * p_.repetition_penalty;
      l -= p_.presence_penalty + p_.frequency_penalty * count;
      counts_[static_cast<size_t>(t)] = 0;  // apply once per distinct token
    }
  }

  if (p_.temperature <= 0.0f) {  // greedy; ties go to the lowest id
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }

  // A logit of -inf bans its token (the JSON constraint masks this way): it never becomes a
  // candidate, so the filters and the draw see a proper distribution over the allowed tokens.
  cand_.clear();
  for (int32_t i = 0; i < n; ++i)
    if (logits[static_cast<size_t>(i)] != -std::numeric_limits<float>::infinity())
      cand_.push_back({i, logits[static_cast<size_t>(i)] / p_.temperature, 0.0f});
  if (cand_.empty()) return 0;  // everything banned: callers check before sampling
  auto by_logit = [](const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); };
  size_t keep = cand_.size();
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < keep) {
    keep = static_cast<size_t>(p_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + static_cast<long>(keep), cand_.end(), by_logit);
  } else {
    std::sort(cand_.begin(), cand_.end(), by_logit);
  }
  cand_.resize(keep);

  const float mx = cand_.front().logit;
  double sum = 0.0;
  for (auto& c : cand_) {
    c.p = std::exp(c.logit - mx);
    sum += c.p;
  }
  for (auto& c : cand_) c.p = static_cast<float>(c.p / sum);

  if (p_.top_p < 1.0f) {  // smallest prefix whose mass reaches top_p
    double cum = 0.0;
    size_t cut = cand_.size();
    for (size_t i = 0; i < cand_.size(); ++i) {
      cum += cand_[i].p;
      if (cum >= p_.top_p) {
        cut = i + 1;
        break;
      }
    }
    cand_.resize(cut);
  }
  if (p_.min_p > 0.0f) {
    const float floor_p = p_.min_p * cand_.front().p;
    size_t cut = 1;
    while (cut < cand_.size() && cand_[cut].p >= floor_p) ++cut;
    cand_.resize(cut);
  }

  double total = 0.0;
  for (const auto& c : cand_) total += c.p;
  // A uniform draw from 53 random bits, independent of the library's distribution code so that
  // a seed gives the same tokens with any standard library.
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) * total;
  double acc = 0.0;
  for (const auto& c : cand_) {
    acc += c.p;
    if (u < acc) return c.id;
  }
  return cand_.back().id;
}

}  // namespace cyllm
