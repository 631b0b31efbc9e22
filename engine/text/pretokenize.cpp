// Pre-tokenizer regexes (PCRE2, UTF + UCP, JIT when available) and the splitting loop.
//
// Whitespace: HF tokenizers (Oniguruma) treat \s as the Unicode White_Space set, which includes
// U+0085, U+00A0, U+2007 and U+3000 but not U+001C..U+001F or U+200B. To match it exactly on any
// PCRE2 version the patterns spell that set out instead of writing \s / \S.
// `\s+(?!\S)` (a whitespace run not followed by a non-space) takes all of a run but its last
// character when a word follows, so "a   b" splits as "a", "  ", " b": that is the lookahead.
#include "text/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <string>
#include <utility>

namespace cyllm {

namespace {

// The Unicode White_Space characters, as the inside of a character class.
#define CYLLM_WS "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

constexpr const char* kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" CYLLM_WS "\\p{L}\\p{N}]+"
    "|[" CYLLM_WS "]+(?![^" CYLLM_WS "])|[" CYLLM_WS "]+";

constexpr const char* kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
    "| ?[^" CYLLM_WS "\\p{L}\\p{N}]+[\\r\\n]*|[" CYLLM_WS "]*[\\r\\n]+"
    "|[" CYLLM_WS "]+(?![^" CYLLM_WS "])|[" CYLLM_WS "]+";

constexpr const char* kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
    "| ?[^" CYLLM_WS "\\p{L}\\p{N}]+[\\r\\n]*|[" CYLLM_WS "]*[\\r\\n]+"
    "|[" CYLLM_WS "]+(?![^" CYLLM_WS "])|[" CYLLM_WS "]+";

constexpr const char* kDigitPattern = "\\p{N}";

#undef CYLLM_WS

struct NameKind {
  const char* name;
  PreTokenizerKind kind;
};

// tokenizer.ggml.pre values (as written by convert_hf_to_gguf.py) and the regex family each uses.
constexpr NameKind kNames[] = {
    {"default", PreTokenizerKind::kGpt2},      {"gpt-2", PreTokenizerKind::kGpt2},
    {"gpt2", PreTokenizerKind::kGpt2},         {"phi-2", PreTokenizerKind::kGpt2},
    {"jina-es", PreTokenizerKind::kGpt2},      {"jina-de", PreTokenizerKind::kGpt2},
    {"jina-v2-es", PreTokenizerKind::kGpt2},   {"jina-v2-de", PreTokenizerKind::kGpt2},
    {"jina-v2-code", PreTokenizerKind::kGpt2}, {"olmo", PreTokenizerKind::kGpt2},
    {"mpt", PreTokenizerKind::kGpt2},
    {"llama3", PreTokenizerKind::kLlama3},     {"llama-bpe", PreTokenizerKind::kLlama3},
    {"llama-v3", PreTokenizerKind::kLlama3},   {"smaug-bpe", PreTokenizerKind::kLlama3},
    {"falcon3", PreTokenizerKind::kLlama3},    {"pixtral", PreTokenizerKind::kLlama3},
    {"qwen2", PreTokenizerKind::kQwen2},       {"deepseek-r1-qwen", PreTokenizerKind::kQwen2},
    {"stablelm2", PreTokenizerKind::kQwen2},   {"megrez", PreTokenizerKind::kQwen2},
    {"smollm", PreTokenizerKind::kSmollm},     {"starcoder", PreTokenizerKind::kSmollm},
    {"refact", PreTokenizerKind::kSmollm},     {"command-r", PreTokenizerKind::kSmollm},
    {"codeshell", PreTokenizerKind::kSmollm},  {"exaone", PreTokenizerKind::kSmollm},
    {"minerva-7b", PreTokenizerKind::kSmollm},
};

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() {
    if (code) pcre2_code_free(code);
  }
};

namespace {

Result<std::shared_ptr<const PreTokenizer::Regex>> compile(const char* pattern) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  auto re = std::make_shared<PreTokenizer::Regex>();
  re->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern), PCRE2_ZERO_TERMINATED,
                           PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr);
  if (!re->code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    return make_error(ErrorCode::kInternal,
                      "pre-tokenizer regex failed to compile at offset " + std::to_string(err_off) + ": " +
                          reinterpret_cast<const char*>(buf));
  }
  pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter works too
  return std::shared_ptr<const PreTokenizer::Regex>(std::move(re));
}

// Appends to out the pieces of text cut by re: every match, and every unmatched gap between
// matches, so that the pieces cover text exactly.
void split_with(const PreTokenizer::Regex& re, pcre2_match_data* md, std::string_view text,
                std::vector<std::string_view>& out) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;      // where the next search starts
  size_t emitted = 0;  // end of the last piece pushed
  while (pos < text.size()) {
    int rc = pcre2_match(re.code, subject, text.size(), pos, 0, md, nullptr);
    if (rc < 0) break;  // no more matches (or a match error: the rest becomes one gap piece)
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t start = ov[0], end = ov[1];
    if (end <= start) {  // an empty match cannot happen with our patterns; step over a char
      pos = start + 1;
      while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
      continue;
    }
    if (start > emitted) out.push_back(text.substr(emitted, start - emitted));
    out.push_back(text.substr(start, end - start));
    emitted = pos = end;
  }
  if (emitted < text.size()) out.push_back(text.substr(emitted));
}

}  // namespace

PreTokenizerKind pre_tokenizer_kind_from_name(std::string_view name, bool* known) {
  for (const auto& nk : kNames) {
    if (name == nk.name) {
      if (known) *known = true;
      return nk.kind;
    }
  }
  if (known) *known = name.empty();
  return PreTokenizerKind::kGpt2;
}

std::string_view pre_tokenizer_kind_name(PreTokenizerKind kind) {
  switch (kind) {
    case PreTokenizerKind::kGpt2: return "gpt2";
    case PreTokenizerKind::kLlama3: return "llama3";
    case PreTokenizerKind::kQwen2: return "qwen2";
    case PreTokenizerKind::kSmollm: return "smollm";
  }
  return "?";
}

Result<PreTokenizer> PreTokenizer::create(PreTokenizerKind kind) {
  std::vector<const char*> patterns;
  switch (kind) {
    case PreTokenizerKind::kGpt2: patterns = {kGpt2Pattern}; break;
    case PreTokenizerKind::kLlama3: patterns = {kLlama3Pattern}; break;
    case PreTokenizerKind::kQwen2: patterns = {kQwen2Pattern}; break;
    case PreTokenizerKind::kSmollm: patterns = {kDigitPattern, kGpt2Pattern}; break;
  }
  PreTokenizer p;
  p.kind_ = kind;
  for (const char* pat : patterns) {
    auto re = compile(pat);
    if (!re.ok()) return re.error();
    p.stages_.push_back(std::move(re.value()));
  }
  return p;
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> cur;
  if (text.empty()) return cur;
  cur.push_back(text);
  for (const auto& stage : stages_) {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(stage->code, nullptr);
    std::vector<std::string_view> next;
    next.reserve(cur.size() * 2);
    for (std::string_view piece : cur) split_with(*stage, md, piece, next);
    pcre2_match_data_free(md);
    cur = std::move(next);
  }
  return cur;
}

}  // namespace cyllm
