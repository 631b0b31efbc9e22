// Jinja lexer: splits template source into text and tag tokens the way jinja2's lexer does with
// transformers' settings (trim_blocks, lstrip_blocks, keep_trailing_newline=False): newlines are
// normalised to "\n", one trailing newline is dropped, `{%-`/`-%}` strip whitespace, `{%+`/`+%}`
// disable lstrip/trim. Every token records its 1-based line and column (in characters).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cyllm::jinja {

enum class Tok { kData, kVarBegin, kVarEnd, kBlockBegin, kBlockEnd, kName, kString, kInt, kFloat, kOp, kEof };

struct Token {
  Tok type = Tok::kEof;
  std::string text;   // kData: the text; kName: the identifier; kString: decoded value; kOp: the operator
  int64_t ival = 0;   // kInt
  double fval = 0;    // kFloat
  int line = 0;
  int col = 0;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Throws JinjaError (kSyntax) on malformed input (unclosed tags or strings, unexpected characters).
std::vector<Token> tokenize(std::string_view source, const LexOptions& opt = {});

const char* tok_name(Tok t);

}  // namespace cyllm::jinja
