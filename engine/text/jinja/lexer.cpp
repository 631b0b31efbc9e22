// Jinja lexer (see lexer.h). Hand-written scanner reproducing jinja2's regex rules for the root
// state (text, comments, raw blocks, lstrip/trim rules) and the expression state inside tags.
#include "text/jinja/lexer.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "text/jinja/error.h"
#include "text/jinja/unicode.h"

namespace cyllm::jinja {

const char* tok_name(Tok t) {
  switch (t) {
    case Tok::kData: return "template data";
    case Tok::kVarBegin: return "begin of print statement";
    case Tok::kVarEnd: return "end of print statement";
    case Tok::kBlockBegin: return "begin of statement block";
    case Tok::kBlockEnd: return "end of statement block";
    case Tok::kName: return "name";
    case Tok::kString: return "string";
    case Tok::kInt: return "integer";
    case Tok::kFloat: return "float";
    case Tok::kOp: return "operator";
    case Tok::kEof: return "end of template";
  }
  return "token";
}

namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Length in bytes of the Python-whitespace run starting at `pos` (regex \s*).
size_t space_run(std::string_view s, size_t pos) {
  size_t p = pos;
  while (p < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[p]);
    if (c < 0x80) {
      if (!py_isspace(c)) break;
      ++p;
      continue;
    }
    // decode one multi-byte code point
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    if (p + len > s.size()) break;
    auto cps = utf8_decode(s.substr(p, len));
    if (cps.size() != 1 || !py_isspace(cps[0])) break;
    p += len;
  }
  return p - pos;
}

// Python str.rstrip() on UTF-8 text.
std::string_view rstrip_py(std::string_view s) {
  size_t e = s.size();
  while (e > 0) {
    size_t b = e - 1;
    while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80) --b;
    if (space_run(s.substr(0, e), b) != e - b) break;
    e = b;
  }
  return s.substr(0, e);
}

bool all_space(std::string_view s) { return !s.empty() && space_run(s, 0) == s.size(); }

class Lexer {
 public:
  Lexer(std::string_view src, const LexOptions& opt) : opt_(opt) {
    // Normalise \r\n and \r to \n; drop one trailing newline (keep_trailing_newline=False).
    src_.reserve(src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      if (src[i] == '\r') {
        if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
        src_.push_back('\n');
      } else {
        src_.push_back(src[i]);
      }
    }
    if (!opt_.keep_trailing_newline && !src_.empty() && src_.back() == '\n') src_.pop_back();
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    size_t pos = 0;
    const size_t n = src_.size();
    while (pos < n) {
      size_t p = find_tag(pos);
      if (p == std::string::npos) {
        emit_data(pos, std::string_view(src_).substr(pos));
        break;
      }
      char kind = src_[p + 1];  // '{', '%' or '#'
      char sign = p + 2 < n && (src_[p + 2] == '-' || src_[p + 2] == '+') ? src_[p + 2] : 0;
      size_t raw_end = 0;
      bool raw = kind == '%' && match_raw_begin(p, &raw_end);
      std::string_view text = std::string_view(src_).substr(pos, p - pos);
      text = strip_before(text, pos, sign, kind != '{');
      emit_data(pos, text);
      if (raw) {
        pos = lex_raw(p, raw_end);
      } else if (kind == '#') {
        pos = lex_comment(p, sign);
      } else {
        pos = lex_tag(p, kind, sign);
      }
    }
    push(Tok::kEof, n);
    return std::move(toks_);
  }

 private:
  const LexOptions& opt_;
  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> toks_;

  void position(size_t off, int* line, int* col) const {
    size_t lo = 0, hi = line_starts_.size();
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      if (line_starts_[mid] <= off) lo = mid; else hi = mid;
    }
    *line = static_cast<int>(lo + 1);
    *col = static_cast<int>(utf8_length(std::string_view(src_).substr(line_starts_[lo], off - line_starts_[lo])) + 1);
  }

  [[noreturn]] void fail(size_t off, const std::string& msg) const {
    int line, col;
    position(off, &line, &col);
    throw JinjaError(JinjaErrorKind::kSyntax, "syntax error: " + msg, line, col);
  }

  Token& push(Tok t, size_t off, std::string text = {}) {
    Token tok;
    tok.type = t;
    tok.text = std::move(text);
    position(off, &tok.line, &tok.col);
    toks_.push_back(std::move(tok));
    return toks_.back();
  }

  void emit_data(size_t off, std::string_view text) {
    if (!text.empty()) push(Tok::kData, off, std::string(text));
  }

  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i)
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    return std::string::npos;
  }

  bool line_starting(size_t text_start) const { return text_start == 0 || src_[text_start - 1] == '\n'; }

  // jinja2's OptionalLStrip handling of the text before a tag.
  std::string_view strip_before(std::string_view text, size_t text_start, char sign, bool lstrip_kind) const {
    if (sign == '-') return rstrip_py(text);
    if (sign != '+' && opt_.lstrip_blocks && lstrip_kind) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting(text_start)) && all_space(text.substr(l_pos))) return text.substr(0, l_pos);
    }
    return text;
  }

  // {%(-|+|)\s*raw\s*(-%}\s*|%})
  bool match_raw_begin(size_t p, size_t* end) const {
    size_t i = p + 2;
    if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ++i;
    i += space_run(src_, i);
    if (src_.compare(i, 3, "raw") != 0) return false;
    i += 3;
    if (i < src_.size() && is_name_char(src_[i])) return false;
    i += space_run(src_, i);
    if (src_.compare(i, 3, "-%}") == 0) {
      i += 3;
      i += space_run(src_, i);
    } else if (src_.compare(i, 2, "%}") == 0) {
      i += 2;
    } else {
      return false;
    }
    *end = i;
    return true;
  }

  size_t lex_raw(size_t tag_pos, size_t body) {
    for (size_t i = body; i + 1 < src_.size(); ++i) {
      if (src_[i] != '{' || src_[i + 1] != '%') continue;
      size_t j = i + 2;
      char sign = 0;
      if (j < src_.size() && (src_[j] == '-' || src_[j] == '+')) sign = src_[j++];
      j += space_run(src_, j);
      if (src_.compare(j, 6, "endraw") != 0) continue;
      j += 6;
      j += space_run(src_, j);
      size_t after;
      if (src_.compare(j, 3, "+%}") == 0) {
        after = j + 3;
      } else if (src_.compare(j, 3, "-%}") == 0) {
        after = j + 3;
        after += space_run(src_, after);
      } else if (src_.compare(j, 2, "%}") == 0) {
        after = j + 2;
        if (opt_.trim_blocks && after < src_.size() && src_[after] == '\n') ++after;
      } else {
        continue;
      }
      std::string_view text = std::string_view(src_).substr(body, i - body);
      emit_data(body, strip_before(text, body, sign, true));
      return after;
    }
    fail(tag_pos, "missing end of raw directive ({% endraw %})");
  }

  size_t lex_comment(size_t p, char sign) {
    size_t content = p + 2 + (sign ? 1 : 0);
    size_t e = src_.find("#}", content);
    if (e == std::string::npos) fail(p, "missing end of comment tag");
    size_t after = e + 2;
    if (e > content && src_[e - 1] == '-') {
      after += space_run(src_, after);
    } else if (e > content && src_[e - 1] == '+') {
      // no trim
    } else if (opt_.trim_blocks && after < src_.size() && src_[after] == '\n') {
      ++after;
    }
    return after;
  }

  size_t lex_tag(size_t p, char kind, char sign) {
    const bool block = kind == '%';
    push(block ? Tok::kBlockBegin : Tok::kVarBegin, p);
    size_t i = p + 2 + (sign ? 1 : 0);
    std::vector<char> stack;  // open brackets
    const size_t n = src_.size();
    while (true) {
      while (i < n && is_ascii_space(src_[i])) ++i;
      if (i >= n) fail(p, block ? "unexpected end of template: statement block opened here is never closed with '%}'"
                               : "unexpected end of template: print statement opened here is never closed with '}}'");
      if (stack.empty()) {
        if (block) {
          if (src_.compare(i, 3, "-%}") == 0) {
            push(Tok::kBlockEnd, i);
            i += 3;
            return i + space_run(src_, i);
          }
          if (src_.compare(i, 3, "+%}") == 0) {
            push(Tok::kBlockEnd, i);
            return i + 3;
          }
          if (src_.compare(i, 2, "%}") == 0) {
            push(Tok::kBlockEnd, i);
            i += 2;
            if (opt_.trim_blocks && i < n && src_[i] == '\n') ++i;
            return i;
          }
        } else {
          if (src_.compare(i, 3, "-}}") == 0) {
            push(Tok::kVarEnd, i);
            i += 3;
            return i + space_run(src_, i);
          }
          if (src_.compare(i, 2, "}}") == 0) {
            push(Tok::kVarEnd, i);
            return i + 2;
          }
        }
      }
      i = lex_expr_token(i, &stack);
    }
  }

  size_t lex_number(size_t i) {
    size_t start = i;
    auto digits = [&](size_t j) {  // (\d+_)*\d+ ; returns end or npos
      if (j >= src_.size() || !is_digit(src_[j])) return std::string::npos;
      while (j < src_.size()) {
        if (is_digit(src_[j])) { ++j; continue; }
        if (src_[j] == '_' && j + 1 < src_.size() && is_digit(src_[j + 1])) { ++j; continue; }
        break;
      }
      return j;
    };
    size_t e = digits(i);
    bool is_float = false;
    bool after_dot = start > 0 && src_[start - 1] == '.';
    if (!after_dot) {
      size_t f = e;
      if (f < src_.size() && src_[f] == '.') {
        size_t d = digits(f + 1);
        if (d != std::string::npos) {
          f = d;
          is_float = true;
        }
      }
      if (f < src_.size() && (src_[f] == 'e' || src_[f] == 'E')) {
        size_t x = f + 1;
        if (x < src_.size() && (src_[x] == '+' || src_[x] == '-')) ++x;
        size_t d = digits(x);
        if (d != std::string::npos) {
          f = d;
          is_float = true;
        }
      }
      if (is_float) e = f;
    }
    std::string text;
    for (size_t k = start; k < e; ++k)
      if (src_[k] != '_') text.push_back(src_[k]);
    if (is_float) {
      Token& t = push(Tok::kFloat, start, text);
      t.fval = std::strtod(text.c_str(), nullptr);
    } else {
      Token& t = push(Tok::kInt, start, text);
      errno = 0;
      char* endp = nullptr;
      long long v = std::strtoll(text.c_str(), &endp, 10);
      if (errno == ERANGE)
        throw JinjaError(JinjaErrorKind::kUnsupported, "integer literal " + text + " does not fit in 64 bits", t.line, t.col);
      t.ival = v;
    }
    return e;
  }

  size_t lex_string(size_t i) {
    char q = src_[i];
    size_t j = i + 1;
    std::string raw;
    while (true) {
      if (j >= src_.size()) fail(i, "unterminated string literal");
      char c = src_[j];
      if (c == q) break;
      if (c == '\\') {
        if (j + 1 >= src_.size()) fail(i, "unterminated string literal");
        raw.push_back(c);
        raw.push_back(src_[j + 1]);
        j += 2;
        continue;
      }
      raw.push_back(c);
      ++j;
    }
    push(Tok::kString, i, decode_escapes(raw, i));
    return j + 1;
  }

  // Python's "unicode-escape" decoding, which jinja2 applies to string literals.
  std::string decode_escapes(const std::string& s, size_t off) const {
    std::string out;
    for (size_t k = 0; k < s.size(); ++k) {
      if (s[k] != '\\') {
        out.push_back(s[k]);
        continue;
      }
      char c = s[++k];
      auto hex = [&](int count) -> char32_t {
        char32_t v = 0;
        for (int m = 0; m < count; ++m) {
          if (k + 1 >= s.size()) fail(off, "truncated \\x/\\u/\\U escape in string literal");
          char h = s[++k];
          int d = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
          if (d < 0) fail(off, "truncated \\x/\\u/\\U escape in string literal");
          v = v * 16 + static_cast<char32_t>(d);
        }
        return v;
      };
      switch (c) {
        case '\n': break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x': utf8_append(out, hex(2)); break;
        case 'u': utf8_append(out, hex(4)); break;
        case 'U': {
          char32_t v = hex(8);
          if (v > 0x10FFFF) fail(off, "illegal Unicode character in \\U escape");
          utf8_append(out, v);
          break;
        }
        case 'N': throw JinjaError(JinjaErrorKind::kUnsupported, "unsupported construct: \\N{...} escape in string literal");
        default:
          if (c >= '0' && c <= '7') {
            char32_t v = static_cast<char32_t>(c - '0');
            for (int m = 0; m < 2 && k + 1 < s.size() && s[k + 1] >= '0' && s[k + 1] <= '7'; ++m)
              v = v * 8 + static_cast<char32_t>(s[++k] - '0');
            utf8_append(out, v);
          } else {
            out.push_back('\\');
            out.push_back(c);
          }
      }
    }
    return out;
  }

  size_t lex_expr_token(size_t i, std::vector<char>* stack) {
    char c = src_[i];
    if (is_digit(c)) return lex_number(i);
    if (is_name_start(c)) {
      size_t j = i;
      while (j < src_.size() && is_name_char(src_[j])) ++j;
      push(Tok::kName, i, src_.substr(i, j - i));
      return j;
    }
    if (c == '\'' || c == '"') return lex_string(i);
    static const char* const kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwo)
      if (src_.compare(i, 2, op) == 0) {
        push(Tok::kOp, i, op);
        return i + 2;
      }
    if (std::strchr("+-/*%~[](){}><=.:|,;", c) && c != '\0') {
      if (c == '(' || c == '[' || c == '{') {
        stack->push_back(c);
      } else if (c == ')' || c == ']' || c == '}') {
        char want = c == ')' ? '(' : c == ']' ? '[' : '{';
        if (stack->empty()) fail(i, std::string("unexpected '") + c + "'");
        if (stack->back() != want) {
          char close = stack->back() == '(' ? ')' : stack->back() == '[' ? ']' : '}';
          fail(i, std::string("unexpected '") + c + "', expected '" + close + "'");
        }
        stack->pop_back();
      }
      push(Tok::kOp, i, std::string(1, c));
      return i + 1;
    }
    std::string ch;
    auto cps = utf8_decode(std::string_view(src_).substr(i, 4));
    utf8_append(ch, cps.empty() ? U'?' : cps[0]);
    fail(i, "unexpected char '" + ch + "'");
  }
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexOptions& opt) {
  Lexer lx(source, opt);
  return lx.run();
}

}  // namespace cyllm::jinja
