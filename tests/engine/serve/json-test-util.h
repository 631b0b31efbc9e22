// Helpers for the JSON constraint tests: random JSON values (RapidCheck), their serializations,
// random byte mutations, and the oracle (nlohmann::json) for "is a JSON text whose value is an
// object".
#pragma once

#include <rapidcheck.h>

#include <nlohmann/json.hpp>
#include <cstdio>
#include <optional>
#include <string>

namespace cyllm::test {

// UTF-8 of one code point (no surrogates given).
inline std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// A random string: ASCII, control characters (escaped by dump), quotes, backslashes, and 2-, 3-
// and 4-byte characters (4-byte ones become surrogate pairs under ensure_ascii).
inline std::string random_string() {
  const int n = *rc::gen::inRange(0, 8);
  std::string s;
  for (int i = 0; i < n; ++i) {
    switch (*rc::gen::inRange(0, 6)) {
      case 0: s += utf8(static_cast<uint32_t>(*rc::gen::inRange(0x20, 0x7F))); break;
      case 1: s += utf8(static_cast<uint32_t>(*rc::gen::inRange(0, 0x20))); break;
      case 2: s += *rc::gen::element<std::string>("\"", "\\", "/", "\x7f"); break;
      case 3: s += utf8(static_cast<uint32_t>(*rc::gen::inRange(0x80, 0x800))); break;
      case 4: {
        uint32_t cp = static_cast<uint32_t>(*rc::gen::inRange(0x800, 0x10000));
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        s += utf8(cp);
        break;
      }
      default: s += utf8(static_cast<uint32_t>(*rc::gen::inRange(0x10000, 0x110000))); break;
    }
  }
  return s;
}

inline nlohmann::json random_json(int depth) {
  const int kind = *rc::gen::inRange(0, depth > 0 ? 9 : 7);
  switch (kind) {
    case 0: return nullptr;
    case 1: return *rc::gen::arbitrary<bool>();
    case 2: return *rc::gen::arbitrary<int64_t>();
    case 3: return *rc::gen::arbitrary<uint64_t>();
    case 4: {  // doubles over a wide exponent range: dump writes fractions and exponents
      const double m = *rc::gen::inRange(-1000000, 1000000) / 1000.0;
      return std::ldexp(m, *rc::gen::inRange(-1070, 1000));
    }
    case 5:
    case 6: return random_string();
    case 7: {
      nlohmann::json a = nlohmann::json::array();
      const int n = *rc::gen::inRange(0, 4);
      for (int i = 0; i < n; ++i) a.push_back(random_json(depth - 1));
      return a;
    }
    default: {
      nlohmann::json o = nlohmann::json::object();
      const int n = *rc::gen::inRange(0, 4);
      for (int i = 0; i < n; ++i) o[random_string()] = random_json(depth - 1);
      return o;
    }
  }
}

// A random object serialized in one of nlohmann's styles, maybe after leading whitespace.
inline std::string random_document() {
  nlohmann::json o = nlohmann::json::object();
  const int n = *rc::gen::inRange(0, 5);
  for (int i = 0; i < n; ++i) o[random_string()] = random_json(*rc::gen::inRange(0, 5));
  const int indent = *rc::gen::element(-1, 0, 1, 2, 4);
  const char indent_char = *rc::gen::element(' ', '\t');
  const bool ascii = *rc::gen::arbitrary<bool>();
  const std::string lead = *rc::gen::element<std::string>("", " ", "\n", " \t\r\n ");
  return lead + o.dump(indent, indent_char, ascii);
}

// The oracle: a JSON text (RFC 8259, as nlohmann::json reads it) whose value is an object.
// nlohmann skips a leading UTF-8 byte-order mark, which the constraint never allows. Empty when
// nlohmann stops at a number that overflows a double (out_of_range.406, e.g. 1e999): RFC 8259
// leaves number ranges to implementations and the constraint checks syntax only, so the oracle
// has no verdict on such a text.
// nlohmann also takes a NUL byte for the end of the input; RFC 8259 allows NUL nowhere outside a
// string (and raw inside none), so any text with one is invalid.
inline std::optional<bool> oracle_verdict(const std::string& s) {
  if (s.rfind("\xEF\xBB\xBF", 0) == 0) return false;
  if (s.find('\0') != std::string::npos) return false;
  try {
    return nlohmann::json::parse(s).is_object();
  } catch (const nlohmann::json::out_of_range& e) {
    if (e.id == 406) return std::nullopt;
    return false;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}
inline bool oracle_is_object(const std::string& s) { return oracle_verdict(s).value_or(false); }

// Bytes that matter to the grammar: structure, literals, numbers, escapes, and bytes that start,
// continue or break UTF-8.
inline const std::string& interesting_bytes() {
  static const std::string b = std::string("{}[]:,\"\\/ \t\n\r0123456789-+.eEtrufalsnbDdCcAaFf") +
                               std::string("\x00\x01\x1f\x7f\x80\xbf\xc0\xc2\xdf\xe0\xed\xef\xf0\xf4\xf5\xff", 16);
  return b;
}

// 1 to 3 random edits: insert, delete, replace a byte, duplicate or drop a span.
inline std::string mutate(std::string s) {
  const int edits = *rc::gen::inRange(1, 4);
  const std::string& alpha = interesting_bytes();
  for (int e = 0; e < edits; ++e) {
    const size_t at = s.empty() ? 0 : static_cast<size_t>(*rc::gen::inRange<size_t>(0, s.size() + 1));
    const char c = alpha[*rc::gen::inRange<size_t>(0, alpha.size())];
    switch (*rc::gen::inRange(0, 5)) {
      case 0: s.insert(at, 1, c); break;
      case 1: if (at < s.size()) s.erase(at, 1); break;
      case 2: if (at < s.size()) s[at] = c; break;
      case 3: {
        const size_t len = std::min<size_t>(s.size() - std::min(at, s.size()), *rc::gen::inRange<size_t>(1, 6));
        s.insert(at, s.substr(std::min(at, s.size()), len));
        break;
      }
      default: s.resize(at); break;
    }
  }
  return s;
}

// s with non-printable bytes as \xNN, for failure messages.
inline std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace cyllm::test
