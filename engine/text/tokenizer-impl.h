// Internal to engine/text: the interface between Tokenizer (vocab, special tokens, BOS) and the
// per-kind encoders (byte-level BPE in tokenizer-bpe.cpp, SentencePiece in tokenizer-spm.cpp).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "text/pretokenize.h"
#include "text/tokenizer.h"

namespace cyllm {

// The vocab as the encoders see it. The references point into the owning Tokenizer, which is
// neither copied nor moved after its model is built.
struct VocabView {
  const std::vector<std::string>& text;
  const std::vector<float>& scores;
  const std::vector<TokenType>& types;
  const TokenIndex& index;
  int32_t unk = -1;

  // Tokens that plain text may produce: normal (or untyped) ones. Control, user-defined, unknown,
  // unused and byte tokens never come out of a merge.
  bool mergeable(int32_t id) const {
    TokenType t = types[static_cast<size_t>(id)];
    return t == TokenType::kNormal || t == TokenType::kUndefined;
  }
  int32_t find(std::string_view s) const {
    auto it = index.find(s);
    return it == index.end() ? -1 : it->second;
  }
};

class TokenizerModel {
 public:
  virtual ~TokenizerModel() = default;
  // Encodes plain text (special tokens already cut out) and appends the ids to out.
  // after_special: the text starts the input or follows a special token; SentencePiece puts its
  // space prefix there.
  virtual void encode(std::string_view text, bool after_special, std::vector<int32_t>& out) const = 0;
  // The raw bytes a normal or byte token stands for.
  virtual std::string piece(int32_t id) const = 0;
};

// Byte-level BPE. merges: tokenizer.ggml.merges ("left right", best first). ignore_merges: a
// word that is itself a token is emitted whole (Llama 3).
Result<std::unique_ptr<TokenizerModel>> make_bpe_model(const VocabView& vocab, const std::vector<std::string>& merges,
                                                       PreTokenizerKind pre, bool ignore_merges);

// SentencePiece-style (`llama`): highest-score merges, "▁" for spaces, <0xXX> byte fallback.
Result<std::unique_ptr<TokenizerModel>> make_spm_model(const VocabView& vocab, bool add_space_prefix);

}  // namespace cyllm
