// UTF-8 and Python-compatible character classification/case mapping for the Jinja interpreter.
// The tables cover the scripts that chat templates and their inputs commonly use; see unicode.h.
#include "text/jinja/unicode.h"

namespace cyllm::jinja {

std::vector<char32_t> utf8_decode(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > n) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    char32_t cp = c & (0x7F >> len);
    bool bad = false;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        bad = true;
        break;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (bad) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x110000) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    utf8_append(out, 0xFFFD);
  }
}

std::string utf8_encode(const char32_t* begin, const char32_t* end) {
  std::string out;
  out.reserve(static_cast<size_t>(end - begin));
  for (const char32_t* p = begin; p != end; ++p) utf8_append(out, *p);
  return out;
}

std::string utf8_encode(const std::vector<char32_t>& cps) { return utf8_encode(cps.data(), cps.data() + cps.size()); }

size_t utf8_length(std::string_view s) {
  // Counts what utf8_decode would produce, without allocating for the common valid case.
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    i += ok ? len : 1;
  }
  return n;
}

bool py_isspace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool py_isprintable(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;
  if (c < 0x100) return true;
  if (c == 0x1680 || c == 0x180E || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
      (c >= 0x205F && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) || c == 0x3000 || c == 0xFEFF ||
      (c >= 0xFFF9 && c <= 0xFFFB) || c == 0xFFFE || c == 0xFFFF || (c >= 0x600 && c <= 0x605) || c == 0x61C ||
      c == 0x6DD || c == 0x70F)
    return false;
  if ((c >= 0xD800 && c <= 0xF8FF) || c >= 0xF0000 || (c >= 0xE0000 && c <= 0xE0FFF)) return false;
  if (c > 0x10FFFF) return false;
  return true;
}

bool py_isdigit(char32_t c) { return c >= '0' && c <= '9'; }

namespace {

// Lower-case partner of an upper-case letter, or 0 when c is not an upper-case letter we know.
char32_t lower_of(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0xC0) return 0;
  if (c <= 0xDE && c != 0xD7) return c + 32;
  if (c >= 0x100 && c <= 0x137) return (c % 2 == 0) ? c + 1 : 0;
  if (c >= 0x139 && c <= 0x148) return (c % 2 == 1) ? c + 1 : 0;
  if (c >= 0x14A && c <= 0x177) return (c % 2 == 0) ? c + 1 : 0;
  if (c == 0x178) return 0xFF;
  if (c >= 0x179 && c <= 0x17E) return (c % 2 == 1) ? c + 1 : 0;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF)) return (c % 2 == 0) ? c + 1 : 0;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;
  return 0;
}

char32_t upper_of(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0xB5) return 0;
  if (c == 0xB5) return 0x39C;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c == 0x131) return 'I';
  if (c == 0x17F) return 'S';
  if (c >= 0x100 && c <= 0x137) return (c % 2 == 1) ? c - 1 : 0;
  if (c >= 0x139 && c <= 0x148) return (c % 2 == 0) ? c - 1 : 0;
  if (c >= 0x14A && c <= 0x177) return (c % 2 == 1) ? c - 1 : 0;
  if (c >= 0x179 && c <= 0x17E) return (c % 2 == 0) ? c - 1 : 0;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 37;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 63;
  if (c == 0x3C2) return 0x3A3;
  if (c >= 0x3B1 && c <= 0x3C9) return c - 32;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  if ((c >= 0x460 && c <= 0x481) || (c >= 0x48A && c <= 0x4BF)) return (c % 2 == 1) ? c - 1 : 0;
  if (c >= 0xFF41 && c <= 0xFF5A) return c - 32;
  return 0;
}

// Append the upper-case form of c (may be two code points, as for 'ß').
void append_upper(std::string& out, char32_t c) {
  if (c == 0xDF) {
    out += "SS";
    return;
  }
  if (c == 0x149) {
    utf8_append(out, 0x2BC);
    out += "N";
    return;
  }
  char32_t u = upper_of(c);
  utf8_append(out, u ? u : c);
}

void append_lower(std::string& out, char32_t c) {
  if (c == 0x130) {  // 'İ'.lower() is 'i' + COMBINING DOT ABOVE in Python
    out += "i";
    utf8_append(out, 0x307);
    return;
  }
  char32_t l = lower_of(c);
  utf8_append(out, l ? l : c);
}

}  // namespace

char32_t py_lower(char32_t c) {
  char32_t l = lower_of(c);
  return l ? l : c;
}
char32_t py_upper(char32_t c) {
  char32_t u = upper_of(c);
  return u ? u : c;
}
bool py_iscased_upper(char32_t c) { return lower_of(c) != 0 || c == 0x130; }
bool py_iscased_lower(char32_t c) { return upper_of(c) != 0 || c == 0xDF || c == 0x149; }

bool py_isalpha(char32_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  if (c < 0xAA) return false;
  if (c == 0xAA || c == 0xB5 || c == 0xBA) return true;
  if (c >= 0xC0 && c <= 0x24F) return c != 0xD7 && c != 0xF7;
  if (py_iscased_upper(c) || py_iscased_lower(c)) return true;
  if (c >= 0x4E00 && c <= 0x9FFF) return true;                  // CJK unified ideographs
  if ((c >= 0x3041 && c <= 0x3096) || (c >= 0x30A1 && c <= 0x30FA)) return true;  // kana
  if (c >= 0xAC00 && c <= 0xD7A3) return true;                  // Hangul syllables
  return false;
}

std::string py_str_upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : utf8_decode(s)) append_upper(out, c);
  return out;
}

std::string py_str_lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : utf8_decode(s)) append_lower(out, c);
  return out;
}

std::string py_str_capitalize(std::string_view s) {
  std::string out;
  auto cps = utf8_decode(s);
  for (size_t i = 0; i < cps.size(); ++i) {
    if (i == 0)
      append_upper(out, cps[i]);
    else
      append_lower(out, cps[i]);
  }
  return out;
}

std::string py_str_title(std::string_view s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : utf8_decode(s)) {
    bool cased = py_iscased_upper(c) || py_iscased_lower(c);
    if (prev_cased)
      append_lower(out, c);
    else
      append_upper(out, c);
    prev_cased = cased;
  }
  return out;
}

std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
  auto cps = utf8_decode(s);
  std::vector<char32_t> set;
  if (chars) set = utf8_decode(*chars);
  auto strip_it = [&](char32_t c) {
    if (!chars) return py_isspace(c);
    for (char32_t x : set)
      if (x == c) return true;
    return false;
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  return utf8_encode(cps.data() + b, cps.data() + e);
}

}  // namespace cyllm::jinja
