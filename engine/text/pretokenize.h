// Pre-tokenizers for byte-level BPE vocabularies: the regexes that cut a text into "words" before
// BPE merges run on each word. One PreTokenizer per `tokenizer.ggml.pre` family (gpt2, llama3,
// qwen2, smollm/starcoder/refact), compiled once with PCRE2 (UTF + UCP) and safe to share
// between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cyllm {

enum class PreTokenizerKind {
  kGpt2,    // GPT-2 ByteLevel regex
  kLlama3,  // Llama 3 (llama-bpe): case-insensitive contractions, digits in groups of 1-3
  kQwen2,   // Qwen2: like Llama 3 but every digit on its own
  kSmollm,  // SmolLM/StarCoder/Refact: every \p{N} isolated, then the GPT-2 regex on each piece
};

// Maps a `tokenizer.ggml.pre` value to a regex family. Unknown or empty names (and "default")
// map to kGpt2; *known is set to false for names this table does not list.
PreTokenizerKind pre_tokenizer_kind_from_name(std::string_view name, bool* known = nullptr);
std::string_view pre_tokenizer_kind_name(PreTokenizerKind kind);

class PreTokenizer {
 public:
  static Result<PreTokenizer> create(PreTokenizerKind kind);

  PreTokenizerKind kind() const { return kind_; }
  // Splits text into consecutive pieces that together cover every byte of text, in order.
  // Bytes no regex matches (invalid UTF-8, for instance) become pieces of their own.
  std::vector<std::string_view> split(std::string_view text) const;

  struct Regex;  // a compiled PCRE2 pattern (opaque here so that pcre2.h stays private)

 private:
  PreTokenizerKind kind_ = PreTokenizerKind::kGpt2;
  // Applied in sequence: regex i splits each piece produced by regex i-1.
  std::vector<std::shared_ptr<const Regex>> stages_;
};

}  // namespace cyllm
