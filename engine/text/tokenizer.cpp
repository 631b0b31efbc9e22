// Tokenizer::from_gguf (reads and checks the tokenizer.ggml.* keys, works out the special and
// end-of-generation tokens) and the parts shared by both model kinds: cutting special tokens
// out of the text, BOS, decoding and lookups.
#include "text/tokenizer.h"

#include <algorithm>
#include <tuple>

#include "model/gguf-reader.h"
#include "text/tokenizer-impl.h"

namespace cyllm {

namespace {

// Control tokens that end a turn or a document in common chat vocabularies.
constexpr std::string_view kEogNames[] = {
    "<|eot_id|>",   "<|im_end|>", "<|end|>",       "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>",        "_<EOT>",     "</s>",          "<|end_of_text|>", "<|return|>",  "<|call|>",
    "<|eot|>",      "<end_of_utterance>", "<｜end▁of▁sentence｜>",
};
// Names that serve as end-of-turn when the file has no tokenizer.ggml.eot_token_id.
constexpr std::string_view kEotNames[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<EOT>", "_<EOT>"};

Error malformed(const std::string& what) {
  return make_error(ErrorCode::kMalformedFile, what, "re-export the model's GGUF with a current converter");
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_gguf(const GgufFile& f) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());

  auto model = f.get_string("tokenizer.ggml.model");
  if (!model)
    return make_error(ErrorCode::kNotFound, f.path() + ": no tokenizer.ggml.model key",
                      "this GGUF file carries no tokenizer");
  t->model_kind_ = *model;
  if (*model == "llama") {
    t->spm_ = true;
  } else if (*model != "gpt2") {
    return make_error(ErrorCode::kUnsupported, "tokenizer model '" + *model + "' is not supported",
                      "supported: gpt2 (byte-level BPE) and llama (SentencePiece)");
  }
  t->pre_kind_ = f.get_string("tokenizer.ggml.pre").value_or("");
  t->chat_template_ = f.get_string("tokenizer.chat_template").value_or("");

  // Tokens, scores and types.
  const GgufArray* tokens = f.get_array("tokenizer.ggml.tokens");
  if (!tokens || tokens->items.empty()) return malformed("tokenizer.ggml.tokens is missing or empty");
  const size_t n = tokens->items.size();
  if (n > 0x7FFFFFFF) return malformed("tokenizer.ggml.tokens has too many entries");
  t->text_.reserve(n);
  t->index_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string* s = tokens->items[i].as_string();
    if (!s) return malformed("tokenizer.ggml.tokens[" + std::to_string(i) + "] is not a string");
    t->text_.push_back(*s);
    t->index_.try_emplace(*s, static_cast<int32_t>(i));  // first id wins on duplicates
  }
  t->scores_.assign(n, 0.0f);
  if (const GgufArray* sc = f.get_array("tokenizer.ggml.scores")) {
    if (sc->items.size() != n) return malformed("tokenizer.ggml.scores has a different length than the tokens");
    for (size_t i = 0; i < n; ++i) {
      auto v = sc->items[i].as_float();
      if (!v) return malformed("tokenizer.ggml.scores[" + std::to_string(i) + "] is not a number");
      t->scores_[i] = static_cast<float>(*v);
    }
  }
  t->types_.assign(n, TokenType::kNormal);
  if (const GgufArray* ty = f.get_array("tokenizer.ggml.token_type")) {
    if (ty->items.size() != n) return malformed("tokenizer.ggml.token_type has a different length than the tokens");
    for (size_t i = 0; i < n; ++i) {
      auto v = ty->items[i].as_int();
      if (!v || *v < 0 || *v > 6)
        return malformed("tokenizer.ggml.token_type[" + std::to_string(i) + "] is not a token type (0..6)");
      t->types_[i] = static_cast<TokenType>(*v);
    }
  }

  // Special ids. A bad bos/eos/unk/eot/eom is an error; pad and sep are only informative.
  auto read_id = [&](const char* key, int32_t* out, bool strict) -> Status {
    auto v = f.get_int(key);
    if (!v) return Status::Ok();
    if (*v >= 0 && *v < static_cast<int64_t>(n)) {
      *out = static_cast<int32_t>(*v);
    } else if (strict) {
      return malformed(std::string(key) + " = " + std::to_string(*v) + " is outside the vocab (" + std::to_string(n) +
                       " tokens)");
    }
    return Status::Ok();
  };
  for (auto [key, out, strict] : {std::tuple{"tokenizer.ggml.bos_token_id", &t->bos_, true},
                                  std::tuple{"tokenizer.ggml.eos_token_id", &t->eos_, true},
                                  std::tuple{"tokenizer.ggml.unknown_token_id", &t->unk_, true},
                                  std::tuple{"tokenizer.ggml.eot_token_id", &t->eot_, true},
                                  std::tuple{"tokenizer.ggml.eom_token_id", &t->eom_, true},
                                  std::tuple{"tokenizer.ggml.padding_token_id", &t->pad_, false},
                                  std::tuple{"tokenizer.ggml.seperator_token_id", &t->sep_, false}}) {
    if (Status st = read_id(key, out, strict); !st.ok()) return st.error();
  }
  if (t->spm_ && t->unk_ < 0) {
    if (auto id = t->find_token("<unk>")) t->unk_ = *id;
  }

  bool known_pre = false;
  PreTokenizerKind pre = pre_tokenizer_kind_from_name(t->pre_kind_, &known_pre);
  t->add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token").value_or(t->spm_ || pre == PreTokenizerKind::kLlama3);
  t->add_eos_ = f.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  t->add_space_prefix_ = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(t->spm_);

  // The encoder for this kind.
  VocabView view{t->text_, t->scores_, t->types_, t->index_, t->unk_};
  if (t->spm_) {
    auto m = make_spm_model(view, t->add_space_prefix_);
    if (!m.ok()) return m.error();
    t->model_ = std::move(m.value());
  } else {
    const GgufArray* ma = f.get_array("tokenizer.ggml.merges");
    if (!ma) return malformed("a gpt2 (BPE) tokenizer needs tokenizer.ggml.merges");
    std::vector<std::string> merges;
    merges.reserve(ma->items.size());
    for (size_t i = 0; i < ma->items.size(); ++i) {
      const std::string* s = ma->items[i].as_string();
      if (!s) return malformed("tokenizer.ggml.merges[" + std::to_string(i) + "] is not a string");
      merges.push_back(*s);
    }
    auto m = make_bpe_model(view, merges, pre, pre == PreTokenizerKind::kLlama3);
    if (!m.ok()) return m.error();
    t->model_ = std::move(m.value());
  }

  // Special tokens matched in the text: control, unknown-type and user-defined ones.
  t->specials_by_byte_.resize(256);
  for (size_t i = 0; i < n; ++i) {
    TokenType ty = t->types_[i];
    if (t->text_[i].empty()) continue;
    if (ty != TokenType::kControl && ty != TokenType::kUserDefined && ty != TokenType::kUnknown) continue;
    auto& bucket = t->specials_by_byte_[static_cast<unsigned char>(t->text_[i][0])];
    bucket.push_back(Special{t->text_[i], static_cast<int32_t>(i), ty == TokenType::kUserDefined});
  }
  for (auto& bucket : t->specials_by_byte_)
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const Special& a, const Special& b) { return a.text.size() > b.text.size(); });

  // End of turn and end of generation.
  if (t->eot_ < 0) {
    for (auto name : kEotNames)
      if (auto id = t->find_token(name)) {
        t->eot_ = *id;
        break;
      }
  }
  for (int32_t id : {t->eos_, t->eot_, t->eom_})
    if (id >= 0) t->eog_.push_back(id);
  for (auto name : kEogNames)
    if (auto id = t->find_token(name); id && t->types_[*id] != TokenType::kNormal) t->eog_.push_back(*id);
  std::sort(t->eog_.begin(), t->eog_.end());
  t->eog_.erase(std::unique(t->eog_.begin(), t->eog_.end()), t->eog_.end());
  return Result<std::unique_ptr<Tokenizer>>(std::move(t));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  size_t seg = 0;             // start of the plain text not yet encoded
  bool after_special = true;  // the next plain segment starts the input or follows a special token
  for (size_t i = 0; i < text.size();) {
    const Special* hit = nullptr;
    for (const Special& sp : specials_by_byte_[static_cast<unsigned char>(text[i])]) {
      if ((sp.always || parse_special) && text.compare(i, sp.text.size(), sp.text) == 0) {
        hit = &sp;
        break;  // buckets are sorted longest first
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    if (i > seg) model_->encode(text.substr(seg, i - seg), after_special, out);
    out.push_back(hit->id);
    i += hit->text.size();
    seg = i;
    after_special = true;
  }
  if (seg < text.size()) model_->encode(text.substr(seg), after_special, out);
  return out;
}

std::string Tokenizer::token_piece(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return {};
  switch (types_[id]) {
    case TokenType::kControl:
    case TokenType::kUserDefined:
    case TokenType::kUnknown:
      return text_[id];
    default:
      return model_->piece(id);
  }
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string out;
  bool strip_space = spm_ && add_space_prefix_;  // until the first text token
  for (int32_t id : ids) {
    if (skip_special && is_control(id)) continue;
    std::string p = token_piece(id);
    if (strip_space && !is_control(id)) {
      if (!p.empty() && p[0] == ' ') p.erase(0, 1);
      strip_space = false;
    }
    out += p;
  }
  return out;
}

bool Tokenizer::is_eog(int32_t id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

TokenType Tokenizer::type(int32_t id) const {
  return id >= 0 && id < n_vocab() ? types_[id] : TokenType::kUndefined;
}

float Tokenizer::score(int32_t id) const { return id >= 0 && id < n_vocab() ? scores_[id] : 0.0f; }

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string kEmpty;
  return id >= 0 && id < n_vocab() ? text_[id] : kEmpty;
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  auto it = index_.find(text);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

}  // namespace cyllm
