// Python str algorithms on UTF-8 strings (see strings.h).
#include "text/jinja/strings.h"

#include <cmath>
#include <cstdlib>

#include "text/jinja/unicode.h"

namespace cyllm::jinja {

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit,
                                  bool from_right) {
  std::vector<std::string> out;
  if (maxsplit < 0) maxsplit = INT64_MAX;
  if (sep) {
    const std::string& d = *sep;
    if (!from_right) {
      size_t pos = 0;
      int64_t n = 0;
      while (n < maxsplit) {
        size_t f = s.find(d, pos);
        if (f == std::string_view::npos) break;
        out.emplace_back(s.substr(pos, f - pos));
        pos = f + d.size();
        ++n;
      }
      out.emplace_back(s.substr(pos));
    } else {
      size_t end = s.size();
      int64_t n = 0;
      std::vector<std::string> rev;
      while (n < maxsplit && end >= d.size()) {
        size_t f = s.rfind(d, end - d.size());
        if (f == std::string_view::npos) break;
        rev.emplace_back(s.substr(f + d.size(), end - f - d.size()));
        end = f;
        ++n;
        if (f == 0 && d.empty()) break;
      }
      rev.emplace_back(s.substr(0, end));
      out.assign(rev.rbegin(), rev.rend());
    }
    return out;
  }
  auto cps = utf8_decode(s);
  const size_t n = cps.size();
  if (!from_right) {
    size_t i = 0;
    int64_t splits = 0;
    while (true) {
      while (i < n && py_isspace(cps[i])) ++i;
      if (i >= n) break;
      if (splits >= maxsplit) {
        size_t e = n;
        while (e > i && py_isspace(cps[e - 1])) --e;
        out.push_back(utf8_encode(&cps[i], cps.data() + e));
        break;
      }
      size_t j = i;
      while (j < n && !py_isspace(cps[j])) ++j;
      out.push_back(utf8_encode(&cps[i], cps.data() + j));
      ++splits;
      i = j;
    }
  } else {
    size_t e = n;
    int64_t splits = 0;
    std::vector<std::string> rev;
    while (true) {
      while (e > 0 && py_isspace(cps[e - 1])) --e;
      if (e == 0) break;
      if (splits >= maxsplit) {
        size_t b = 0;
        while (b < e && py_isspace(cps[b])) ++b;
        rev.push_back(utf8_encode(cps.data() + b, cps.data() + e));
        break;
      }
      size_t b = e;
      while (b > 0 && !py_isspace(cps[b - 1])) --b;
      rev.push_back(utf8_encode(cps.data() + b, cps.data() + e));
      ++splits;
      e = b;
    }
    out.assign(rev.rbegin(), rev.rend());
  }
  return out;
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  auto cps = utf8_decode(s);
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  const size_t n = cps.size();
  while (i < n) {
    char32_t c = cps[i];
    bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E || c == 0x85 ||
               c == 0x2028 || c == 0x2029;
    if (!brk) {
      ++i;
      continue;
    }
    size_t eol = i + 1;
    if (c == '\r' && eol < n && cps[eol] == '\n') ++eol;
    out.push_back(utf8_encode(cps.data() + start, cps.data() + (keepends ? eol : i)));
    start = i = eol;
  }
  if (start < n) out.push_back(utf8_encode(cps.data() + start, cps.data() + n));
  return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count) {
  if (count < 0) count = INT64_MAX;
  std::string out;
  if (old.empty()) {
    auto cps = utf8_decode(s);
    int64_t done = 0;
    for (char32_t c : cps) {
      if (done < count) {
        out += repl;
        ++done;
      }
      utf8_append(out, c);
    }
    if (done < count) out += repl;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (done < count) {
    size_t f = s.find(old, pos);
    if (f == std::string_view::npos) break;
    out.append(s.substr(pos, f - pos));
    out.append(repl);
    pos = f + old.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

int64_t py_find(std::string_view s, std::string_view sub, bool from_right) {
  size_t f = from_right ? s.rfind(sub) : s.find(sub);
  if (f == std::string_view::npos) return -1;
  return static_cast<int64_t>(utf8_length(s.substr(0, f)));
}

int64_t py_count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(utf8_length(s)) + 1;
  int64_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size())) ++n;
  return n;
}

std::string py_pad(std::string_view s, int64_t width, std::string_view fill, int where) {
  int64_t len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return std::string(s);
  int64_t marg = width - len;
  int64_t left = where < 0 ? 0 : where > 0 ? marg : marg / 2 + (marg & width & 1);
  int64_t right = marg - left;
  std::string out;
  for (int64_t k = 0; k < left; ++k) out += fill;
  out += s;
  for (int64_t k = 0; k < right; ++k) out += fill;
  return out;
}

bool py_islower(std::string_view s) {
  bool cased = false;
  for (char32_t c : utf8_decode(s)) {
    if (py_iscased_upper(c)) return false;
    if (py_iscased_lower(c)) cased = true;
  }
  return cased;
}

bool py_isupper(std::string_view s) {
  bool cased = false;
  for (char32_t c : utf8_decode(s)) {
    if (py_iscased_lower(c)) return false;
    if (py_iscased_upper(c)) cased = true;
  }
  return cased;
}

namespace {

std::string strip_ws(std::string_view s) { return py_strip(s, nullptr, true, true); }

// Digits with single underscores between them; returns the digits without underscores, or
// nullopt when malformed. Advances i.
std::optional<std::string> digit_run(const std::string& t, size_t& i) {
  std::string d;
  if (i >= t.size() || t[i] < '0' || t[i] > '9') return std::nullopt;
  while (i < t.size()) {
    if (t[i] >= '0' && t[i] <= '9') {
      d.push_back(t[i++]);
    } else if (t[i] == '_' && i + 1 < t.size() && t[i + 1] >= '0' && t[i + 1] <= '9') {
      ++i;
    } else {
      break;
    }
  }
  return d;
}

}  // namespace

std::optional<double> py_parse_float(std::string_view s) {
  std::string t = strip_ws(s);
  size_t i = 0;
  std::string clean;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) clean.push_back(t[i++]);
  std::string rest = t.substr(i);
  std::string lower;
  for (char c : rest) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  if (lower == "inf" || lower == "infinity") return clean == "-" ? -INFINITY : INFINITY;
  if (lower == "nan") return NAN;
  bool any = false;
  if (auto d = digit_run(t, i)) {
    clean += *d;
    any = true;
  }
  if (i < t.size() && t[i] == '.') {
    clean.push_back('.');
    ++i;
    if (auto d = digit_run(t, i)) {
      clean += *d;
      any = true;
    }
  }
  if (!any) return std::nullopt;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    clean.push_back('e');
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) clean.push_back(t[i++]);
    auto d = digit_run(t, i);
    if (!d) return std::nullopt;
    clean += *d;
  }
  if (i != t.size()) return std::nullopt;
  return std::strtod(clean.c_str(), nullptr);
}

std::optional<int64_t> py_parse_int(std::string_view s) {
  std::string t = strip_ws(s);
  size_t i = 0;
  bool neg = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) neg = t[i++] == '-';
  auto d = digit_run(t, i);
  if (!d || i != t.size()) return std::nullopt;
  int64_t v = 0;
  for (char c : *d) {
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, c - '0', &v)) return std::nullopt;
  }
  return neg ? -v : v;
}

}  // namespace cyllm::jinja
