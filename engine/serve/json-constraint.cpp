#include "serve/json-constraint.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <numeric>

#include "text/tokenizer.h"

namespace cyllm {

JsonVocab::JsonVocab(std::vector<std::string> bytes, std::vector<JsonTokenKind> kinds)
    : bytes_(std::move(bytes)), kinds_(std::move(kinds)) {
  kinds_.resize(bytes_.size(), JsonTokenKind::kNever);
  std::vector<int32_t> text;
  for (int32_t id = 0; id < n_vocab(); ++id) {
    const auto i = static_cast<size_t>(id);
    if (kinds_[i] == JsonTokenKind::kText && bytes_[i].empty()) kinds_[i] = JsonTokenKind::kNever;
    if (kinds_[i] == JsonTokenKind::kEog) eog_.push_back(id);
    if (kinds_[i] == JsonTokenKind::kText) text.push_back(id);
  }
  std::sort(text.begin(), text.end(), [this](int32_t a, int32_t b) {
    const int c = bytes_[static_cast<size_t>(a)].compare(bytes_[static_cast<size_t>(b)]);
    return c < 0 || (c == 0 && a < b);
  });
  // Preorder trie from the sorted strings: the path of open nodes is the previous string; a string
  // shares its longest common prefix with it and opens nodes for the rest. Sorting makes a string's
  // last node the most recently created one, so token ranges per node are contiguous.
  std::vector<uint32_t> open;
  const std::string* prev = nullptr;
  for (int32_t id : text) {
    const std::string& b = bytes_[static_cast<size_t>(id)];
    size_t lcp = 0;
    if (prev != nullptr)
      while (lcp < b.size() && lcp < prev->size() && b[lcp] == (*prev)[lcp]) ++lcp;
    while (open.size() > lcp) {
      node_end_[open.back()] = static_cast<uint32_t>(node_byte_.size());
      open.pop_back();
    }
    for (size_t k = lcp; k < b.size(); ++k) {
      open.push_back(static_cast<uint32_t>(node_byte_.size()));
      node_byte_.push_back(static_cast<unsigned char>(b[k]));
      node_depth_.push_back(static_cast<uint16_t>(std::min<size_t>(k + 1, std::numeric_limits<uint16_t>::max())));
      node_end_.push_back(0);
      node_tok_.push_back(static_cast<uint32_t>(tok_ids_.size()));
    }
    tok_ids_.push_back(id);
    max_len_ = std::max(max_len_, b.size());
    prev = &b;
  }
  for (uint32_t n : open) node_end_[n] = static_cast<uint32_t>(node_byte_.size());
  node_tok_.push_back(static_cast<uint32_t>(tok_ids_.size()));
}

std::shared_ptr<const JsonVocab> JsonVocab::from_tokenizer(const Tokenizer& tok, int32_t n_vocab) {
  if (n_vocab <= 0) n_vocab = tok.n_vocab();
  std::vector<std::string> bytes(static_cast<size_t>(n_vocab));
  std::vector<JsonTokenKind> kinds(static_cast<size_t>(n_vocab), JsonTokenKind::kNever);
  for (int32_t id = 0; id < n_vocab && id < tok.n_vocab(); ++id) {
    const auto i = static_cast<size_t>(id);
    bytes[i] = tok.token_piece(id);
    if (tok.is_eog(id)) {
      kinds[i] = JsonTokenKind::kEog;
      continue;
    }
    switch (tok.type(id)) {
      case TokenType::kControl:
      case TokenType::kUnknown:
      case TokenType::kUnused:
        kinds[i] = JsonTokenKind::kNever;
        break;
      default:
        kinds[i] = JsonTokenKind::kText;
    }
  }
  return std::make_shared<const JsonVocab>(std::move(bytes), std::move(kinds));
}

TokenMask JsonVocab::compute_allowed(const JsonState& s) const {
  TokenMask m;
  m.bits.assign((bytes_.size() + 63) / 64, 0);
  auto set = [&m](int32_t id) { m.bits[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63); };
  if (s.failed()) return m;
  if (s.complete()) {
    for (int32_t id : eog_) set(id);
  } else {
    // One pass over the preorder trie; st[d] is the state after the first d bytes of the current
    // path. A failing byte skips the node's whole subtree.
    std::vector<JsonState> st(max_len_ + 1, s);
    const size_t n = node_byte_.size();
    size_t i = 0;
    while (i < n) {
      const size_t d = node_depth_[i];
      st[d] = st[d - 1];
      if (!st[d].feed_byte(node_byte_[i])) {
        i = node_end_[i];
        continue;
      }
      for (uint32_t k = node_tok_[i]; k < node_tok_[i + 1]; ++k) set(tok_ids_[k]);
      ++i;
    }
  }
  for (uint64_t w : m.bits) m.count += std::popcount(w);
  return m;
}

std::shared_ptr<const TokenMask> JsonVocab::allowed(const JsonState& s) const {
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(s); it != cache_.end()) {
      ++stats_.hits;
      return it->second;
    }
    ++stats_.misses;
  }
  auto m = std::make_shared<const TokenMask>(compute_allowed(s));
  std::lock_guard lock(mu_);
  if (cache_.size() >= kMaxCachedMasks) cache_.clear();
  cache_.emplace(s, m);
  return m;
}

JsonMaskStats JsonVocab::stats() const {
  std::lock_guard lock(mu_);
  JsonMaskStats out = stats_;
  out.cached = cache_.size();
  return out;
}

JsonConstraint::JsonConstraint(std::shared_ptr<const JsonVocab> vocab, int max_depth)
    : vocab_(std::move(vocab)), state_(max_depth) {}

int JsonConstraint::mask_logits(std::span<float> logits) const {
  const auto m = vocab_->allowed(state_);
  const size_t n = std::min(logits.size(), static_cast<size_t>(vocab_->n_vocab()));
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  for (size_t w = 0; w < m->bits.size(); ++w) {
    const uint64_t word = m->bits[w];
    if (word == ~uint64_t{0}) continue;
    const size_t end = std::min(n, (w + 1) * 64);
    for (size_t i = w * 64; i < end; ++i)
      if (!((word >> (i & 63)) & 1u)) logits[i] = kNegInf;
  }
  for (size_t i = n; i < logits.size(); ++i) logits[i] = kNegInf;
  return m->count;
}

bool JsonConstraint::accept(int32_t token) {
  if (token >= 0 && token < vocab_->n_vocab()) {
    switch (vocab_->kind(token)) {
      case JsonTokenKind::kText:
        if (!state_.complete()) return state_.feed(vocab_->bytes(token));
        break;
      case JsonTokenKind::kEog:
        if (state_.complete()) return true;
        break;
      case JsonTokenKind::kNever:
        break;
    }
  }
  state_.feed_byte(0);  // not allowed: NUL continues no document, so this fails the state
  return false;
}

}  // namespace cyllm
