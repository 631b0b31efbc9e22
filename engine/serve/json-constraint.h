// JSON-constrained decoding (OpenAI `response_format: {"type": "json_object"}`): the tokens a
// sequence may sample next are those whose bytes keep the output a prefix of a JSON object
// (serve/json-grammar.h).
//
// JsonVocab is built once per tokenizer and shared by every constrained sequence: each token id's
// raw bytes (Tokenizer::token_piece), its kind, and a byte trie of the text tokens laid out in
// preorder. The allowed set from a state is one linear pass over the trie that copies the state per
// trie level and skips a whole subtree as soon as a byte fails, so tokens sharing a prefix share
// the work. Masks are cached per exact state (states repeat constantly: "inside a string at depth
// 2", "after a value in an object", ...), so most steps cost a hash lookup.
//
// Which tokens are allowed from a state s:
//   - s incomplete: text tokens with non-empty bytes that s.feed() accepts;
//   - s complete (the top-level object closed): only end-of-generation tokens;
//   - end-of-generation tokens only when s is complete; other special/control tokens never.
//
// Thread safety: a JsonVocab may be used from several threads (the cache has a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "serve/json-grammar.h"

namespace cyllm {

class Tokenizer;

enum class JsonTokenKind : uint8_t {
  kText,   // ordinary bytes: allowed when the grammar accepts them
  kEog,    // end of generation: allowed only once the document is complete
  kNever,  // control/unknown/unused tokens that are not end-of-generation, empty pieces
};

// One bit per token id: bit (id % 64) of word (id / 64).
struct TokenMask {
  std::vector<uint64_t> bits;
  int count = 0;  // bits set
  bool test(int32_t id) const { return (bits[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1u; }
};

struct JsonMaskStats {
  uint64_t hits = 0, misses = 0;
  size_t cached = 0;
};

class JsonVocab {
 public:
  // bytes[i] and kinds[i] describe token id i (same sizes).
  JsonVocab(std::vector<std::string> bytes, std::vector<JsonTokenKind> kinds);
  // From a tokenizer: token_piece() bytes; EOG ids are kEog; control, unknown and unused tokens
  // (and empty pieces) kNever. n_vocab is the model's logit count (ids past the tokenizer's
  // vocabulary are kNever); 0: the tokenizer's size.
  static std::shared_ptr<const JsonVocab> from_tokenizer(const Tokenizer& tok, int32_t n_vocab = 0);

  int32_t n_vocab() const { return static_cast<int32_t>(bytes_.size()); }
  const std::string& bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  JsonTokenKind kind(int32_t id) const { return kinds_[static_cast<size_t>(id)]; }
  size_t trie_nodes() const { return node_byte_.size(); }

  // The allowed tokens from s (cached per state; the pointer stays valid while held).
  std::shared_ptr<const TokenMask> allowed(const JsonState& s) const;
  // The same, computed now without the cache.
  TokenMask compute_allowed(const JsonState& s) const;
  JsonMaskStats stats() const;
  // Masks kept at most; the cache is emptied when it would grow past this.
  static constexpr size_t kMaxCachedMasks = 1024;

 private:
  std::vector<std::string> bytes_;
  std::vector<JsonTokenKind> kinds_;
  std::vector<int32_t> eog_;
  // The trie of kText tokens in preorder: node i holds one byte at depth node_depth_[i] (1-based);
  // its subtree is [i, node_end_[i]); tokens ending there are tok_ids_[node_tok_[i] .. node_tok_[i+1]).
  std::vector<unsigned char> node_byte_;
  std::vector<uint16_t> node_depth_;
  std::vector<uint32_t> node_end_;
  std::vector<uint32_t> node_tok_;
  std::vector<int32_t> tok_ids_;
  size_t max_len_ = 0;

  mutable std::mutex mu_;
  mutable std::unordered_map<JsonState, std::shared_ptr<const TokenMask>, JsonStateHash> cache_;
  mutable JsonMaskStats stats_;
};

// One sequence's constraint: the grammar state plus the shared vocab.
class JsonConstraint {
 public:
  explicit JsonConstraint(std::shared_ptr<const JsonVocab> vocab, int max_depth = JsonState::kDefaultMaxDepth);
  // Starting from a given state (e.g. after a prefix that was forced).
  JsonConstraint(std::shared_ptr<const JsonVocab> vocab, JsonState start) : vocab_(std::move(vocab)), state_(start) {}

  // Sets logits of tokens not allowed now to -inf; returns how many tokens stay allowed.
  // logits.size() must be the vocab's n_vocab.
  int mask_logits(std::span<float> logits) const;
  // Advances over a sampled token; false (and the state fails) when it was not allowed.
  bool accept(int32_t token);
  bool complete() const { return state_.complete(); }
  const JsonState& state() const { return state_; }

 private:
  std::shared_ptr<const JsonVocab> vocab_;
  JsonState state_;
};

}  // namespace cyllm
