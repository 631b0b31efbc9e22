// Incremental detokenization: StreamDecoder takes token ids one at a time (as a model generates
// them) and hands back only complete UTF-8 characters, holding back a multibyte character whose
// bytes are split across tokens until the rest arrives. Plus small UTF-8 helpers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cyllm {

class Tokenizer;

// True when s is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool is_valid_utf8(std::string_view s);
// s with every ill-formed sequence (and an incomplete one at the end) replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);

class StreamDecoder {
 public:
  // The tokenizer must outlive the decoder. skip_special: as in Tokenizer::decode.
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false);

  // Adds one token and returns the text completed by it: always valid UTF-8, possibly empty.
  // Bytes that can never become a character are replaced by U+FFFD right away; a sequence that
  // may still complete is kept for the next call.
  std::string push(int32_t id);
  // Returns what is held back (each incomplete sequence as U+FFFD) and clears it. The decoder may
  // be used again afterwards; it continues the same text.
  std::string flush();
  // Forgets everything, including that a text has started (SentencePiece space prefix).
  void reset();
  // Bytes held back, waiting for the rest of a character.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tok_;
  bool skip_special_;
  bool strip_space_;  // SentencePiece: the first text token's leading space is the added prefix
  std::string pending_;
};

}  // namespace cyllm
