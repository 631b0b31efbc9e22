// The tokenizer: built from a GGUF file's tokenizer.ggml.* metadata (works on vocab-only files),
// it turns text into token ids and ids back into bytes. Two model kinds: byte-level BPE
// (`gpt2`, tokenizer-bpe.cpp) and SentencePiece-style (`llama`, tokenizer-spm.cpp). Special
// tokens are matched in the text only when asked to (parse_special). All const methods are safe
// to call from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace cyllm {

class GgufFile;

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

class TokenizerModel;  // the per-kind encoder (tokenizer-impl.h)

// Hash for unordered_map<std::string, ...> lookups by std::string_view without a copy.
struct TokenTextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenIndex = std::unordered_map<std::string, int32_t, TokenTextHash, std::equal_to<>>;

class Tokenizer {
 public:
  // Reads tokenizer.ggml.model/pre/tokens/scores/token_type/merges and the special ids. Copies
  // what it needs: the GgufFile may be closed afterwards.
  static Result<std::unique_ptr<Tokenizer>> from_gguf(const GgufFile& file);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Text to ids. add_bos: put bos() first (when the vocab has one). parse_special: control and
  // unknown-type tokens written in the text (e.g. "<|im_start|>") become their ids, longest match
  // first; otherwise they are tokenized as plain text. User-defined tokens always match.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  // The raw bytes one token decodes to (byte-level and <0xXX> tokens mapped back to bytes, "▁"
  // to a space). Control tokens give their text. Empty for an out-of-range id.
  std::string token_piece(int32_t id) const;
  // Concatenated pieces. skip_special drops control tokens. SentencePiece vocabularies that add a
  // space prefix drop the leading space of the first text token, as their encoder added it.
  // The result may end inside a UTF-8 character; StreamDecoder (utf8-stream.h) handles streams.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  int32_t n_vocab() const { return static_cast<int32_t>(text_.size()); }
  int32_t bos() const { return bos_; }  // -1 when none
  int32_t eos() const { return eos_; }
  int32_t eot() const { return eot_; }
  int32_t unk() const { return unk_; }
  int32_t pad() const { return pad_; }
  int32_t eom() const { return eom_; }  // end of message (tool calls), -1 when none
  int32_t sep() const { return sep_; }
  // tokenizer.chat_template, empty when the file has none.
  const std::string& chat_template() const { return chat_template_; }
  // tokenizer.ggml.add_bos_token (default: true for `llama` SentencePiece, false for BPE).
  bool add_bos_default() const { return add_bos_; }
  bool add_eos_default() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }

  // End-of-generation: eos, eot, and control tokens named like <|im_end|>, <|eot_id|>,
  // <|endoftext|>, <end_of_turn>, </s>, ... that the vocab has.
  bool is_eog(int32_t id) const;
  const std::vector<int32_t>& eog_ids() const { return eog_; }
  bool is_control(int32_t id) const { return type(id) == TokenType::kControl; }
  TokenType type(int32_t id) const;
  float score(int32_t id) const;

  // The token as stored in the vocab (e.g. "Ġthe", "▁the", "<0x0A>"); empty for a bad id.
  const std::string& token_text(int32_t id) const;
  std::optional<int32_t> find_token(std::string_view text) const;

  const std::string& model_kind() const { return model_kind_; }  // "gpt2" or "llama"
  const std::string& pre_kind() const { return pre_kind_; }      // tokenizer.ggml.pre as stored

 private:
  Tokenizer();
  struct Special {
    std::string text;
    int32_t id;
    bool always;  // user-defined: matched even without parse_special
  };

  std::vector<std::string> text_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  TokenIndex index_;
  // Special tokens by first byte, longest first.
  std::vector<std::vector<Special>> specials_by_byte_;
  std::vector<int32_t> eog_;
  std::unique_ptr<TokenizerModel> model_;

  std::string model_kind_, pre_kind_, chat_template_;
  int32_t bos_ = -1, eos_ = -1, eot_ = -1, unk_ = -1, pad_ = -1, eom_ = -1, sep_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  bool spm_ = false;

};

}  // namespace cyllm
