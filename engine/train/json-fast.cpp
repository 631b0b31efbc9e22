// The fast JSON row parser (see json-fast.h).
#include "train/json-fast.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace cyllm::train {

namespace {

using json = nlohmann::ordered_json;

class Parser {
 public:
  explicit Parser(std::string_view s) : p_(s.data()), n_(s.size()) {}

  bool parse(json* out, std::string* error) {
    ws();
    if (!value(out, 0)) {
      *error = err_ + " at byte " + std::to_string(pos_);
      return false;
    }
    ws();
    if (pos_ != n_) {
      *error = "unexpected text after the value at byte " + std::to_string(pos_);
      return false;
    }
    return true;
  }

 private:
  bool fail(const char* what) {
    if (err_.empty()) err_ = what;
    return false;
  }
  void ws() {
    while (pos_ < n_ && (p_[pos_] == ' ' || p_[pos_] == '\n' || p_[pos_] == '\r' || p_[pos_] == '\t')) ++pos_;
  }
  bool lit(const char* w, size_t len) {
    if (n_ - pos_ < len || std::memcmp(p_ + pos_, w, len) != 0) return fail("invalid literal");
    pos_ += len;
    return true;
  }

  bool value(json* out, int depth) {
    if (pos_ >= n_) return fail("unexpected end of input");
    char c = p_[pos_];
    switch (c) {
      case '{': return object(out, depth + 1);
      case '[': return array(out, depth + 1);
      case '"': {
        std::string s;
        if (!string(&s)) return false;
        *out = std::move(s);
        return true;
      }
      case 't': if (!lit("true", 4)) return false; *out = true; return true;
      case 'f': if (!lit("false", 5)) return false; *out = false; return true;
      case 'n': if (!lit("null", 4)) return false; *out = nullptr; return true;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return number(out);
        return fail("unexpected character");
    }
  }

  bool object(json* out, int depth) {
    if (depth > kMaxJsonDepth) return fail("nesting too deep");
    ++pos_;
    *out = json::object();
    ws();
    if (pos_ < n_ && p_[pos_] == '}') {
      ++pos_;
      return true;
    }
    std::string key;
    while (true) {
      if (pos_ >= n_ || p_[pos_] != '"') return fail("expected a string key");
      key.clear();
      if (!string(&key)) return false;
      ws();
      if (pos_ >= n_ || p_[pos_] != ':') return fail("expected ':'");
      ++pos_;
      ws();
      json v;
      if (!value(&v, depth)) return false;
      (*out)[key] = std::move(v);  // a repeated key keeps its first position, takes the last value
      ws();
      if (pos_ >= n_) return fail("unterminated object");
      if (p_[pos_] == ',') {
        ++pos_;
        ws();
        continue;
      }
      if (p_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool array(json* out, int depth) {
    if (depth > kMaxJsonDepth) return fail("nesting too deep");
    ++pos_;
    *out = json::array();
    ws();
    if (pos_ < n_ && p_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      json v;
      if (!value(&v, depth)) return false;
      out->push_back(std::move(v));
      ws();
      if (pos_ >= n_) return fail("unterminated array");
      if (p_[pos_] == ',') {
        ++pos_;
        ws();
        continue;
      }
      if (p_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  static bool hex4(const char* s, uint32_t* v) {
    uint32_t x = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s[i];
      x <<= 4;
      if (c >= '0' && c <= '9') x |= c - '0';
      else if (c >= 'a' && c <= 'f') x |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') x |= c - 'A' + 10;
      else return false;
    }
    *v = x;
    return true;
  }

  static void put_utf8(std::string* s, uint32_t cp) {
    if (cp < 0x80) {
      s->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // Length of a valid UTF-8 sequence at p_[i] (lead byte >= 0x80), 0 when invalid.
  size_t utf8_len(size_t i) const {
    auto b = [&](size_t k) { return static_cast<unsigned char>(p_[k]); };
    unsigned char c = b(i);
    size_t left = n_ - i;
    auto cont = [&](size_t k) { return (b(k) & 0xC0) == 0x80; };
    if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
      if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
      if (c == 0xE0 && b(i + 1) < 0xA0) return 0;
      if (c == 0xED && b(i + 1) >= 0xA0) return 0;
      return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
      if (c == 0xF0 && b(i + 1) < 0x90) return 0;
      if (c == 0xF4 && b(i + 1) >= 0x90) return 0;
      return 4;
    }
    return 0;
  }

  bool string(std::string* s) {
    ++pos_;  // opening quote
    size_t run = pos_;
    while (true) {
      // Skip plain ASCII eight bytes at a time: stop at '"', '\\', control bytes or bytes >= 0x80.
      while (pos_ + 8 <= n_) {
        uint64_t x;
        std::memcpy(&x, p_ + pos_, 8);
        constexpr uint64_t k01 = 0x0101010101010101ull, k80 = 0x8080808080808080ull;
        uint64_t q = x ^ (k01 * '"'), b = x ^ (k01 * '\\');
        uint64_t special = ((q - k01) & ~q) | ((b - k01) & ~b) | (x - k01 * 0x20) | x;
        if (special & k80) break;
        pos_ += 8;
      }
      if (pos_ >= n_) return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(p_[pos_]);
      if (c == '"') {
        s->append(p_ + run, pos_ - run);
        ++pos_;
        return true;
      }
      if (c < 0x20) return fail("control character in a string");
      if (c >= 0x80) {
        size_t k = utf8_len(pos_);
        if (k == 0) return fail("ill-formed UTF-8 in a string");
        pos_ += k;
        continue;
      }
      if (c != '\\') {
        ++pos_;
        continue;
      }
      s->append(p_ + run, pos_ - run);
      if (pos_ + 1 >= n_) return fail("unterminated string");
      char e = p_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case '"': s->push_back('"'); break;
        case '\\': s->push_back('\\'); break;
        case '/': s->push_back('/'); break;
        case 'b': s->push_back('\b'); break;
        case 'f': s->push_back('\f'); break;
        case 'n': s->push_back('\n'); break;
        case 'r': s->push_back('\r'); break;
        case 't': s->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (n_ - pos_ < 4 || !hex4(p_ + pos_, &cp)) return fail("bad \\u escape");
          pos_ += 4;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (n_ - pos_ < 6 || p_[pos_] != '\\' || p_[pos_ + 1] != 'u' || !hex4(p_ + pos_ + 2, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
              return fail("unpaired surrogate in a \\u escape");
            pos_ += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("unpaired surrogate in a \\u escape");
          }
          put_utf8(s, cp);
          break;
        }
        default: return fail("bad escape in a string");
      }
      run = pos_;
    }
  }

  bool number(json* out) {
    size_t start = pos_;
    bool neg = false;
    if (p_[pos_] == '-') {
      neg = true;
      ++pos_;
    }
    auto digit = [&] { return pos_ < n_ && p_[pos_] >= '0' && p_[pos_] <= '9'; };
    if (!digit()) return fail("bad number");
    if (p_[pos_] == '0') {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    bool is_int = true;
    if (pos_ < n_ && p_[pos_] == '.') {
      is_int = false;
      ++pos_;
      if (!digit()) return fail("bad number");
      while (digit()) ++pos_;
    }
    if (pos_ < n_ && (p_[pos_] == 'e' || p_[pos_] == 'E')) {
      is_int = false;
      ++pos_;
      if (pos_ < n_ && (p_[pos_] == '+' || p_[pos_] == '-')) ++pos_;
      if (!digit()) return fail("bad number");
      while (digit()) ++pos_;
    }
    std::string text(p_ + start, pos_ - start);
    if (is_int) {
      errno = 0;
      char* end = nullptr;
      if (neg) {
        long long v = std::strtoll(text.c_str(), &end, 10);
        if (errno == 0) {
          *out = static_cast<int64_t>(v);
          return true;
        }
      } else {
        unsigned long long v = std::strtoull(text.c_str(), &end, 10);
        if (errno == 0) {
          *out = static_cast<uint64_t>(v);
          return true;
        }
      }
    }
    double d = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(d)) return fail("number overflow");
    *out = d;
    return true;
  }

  const char* p_;
  size_t n_;
  size_t pos_ = 0;
  std::string err_;
};

}  // namespace

bool parse_json_fast(std::string_view text, nlohmann::ordered_json* out, std::string* error) {
  Parser p(text);
  return p.parse(out, error);
}

}  // namespace cyllm::train
