// Python str algorithms on UTF-8 strings, shared by the filters and the str methods:
// split/rsplit, splitlines, replace, find (code-point indices), padding and predicates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cyllm::jinja {

// str.split(sep, maxsplit) / str.rsplit; sep == nullopt splits on whitespace runs.
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit, bool from_right);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count);
// str.find / str.rfind returning a code-point index or -1.
int64_t py_find(std::string_view s, std::string_view sub, bool from_right);
int64_t py_count(std::string_view s, std::string_view sub);
// str.center / ljust / rjust with a one-character fill.
std::string py_pad(std::string_view s, int64_t width, std::string_view fill, int where /* -1 left-justify, 0 center, 1 right-justify */);
bool py_islower(std::string_view s);
bool py_isupper(std::string_view s);
// float(str) as Python parses it; nullopt when Python raises ValueError.
std::optional<double> py_parse_float(std::string_view s);
// int(str, 10) as Python parses it; nullopt when Python raises ValueError or on 64-bit overflow.
std::optional<int64_t> py_parse_int(std::string_view s);

}  // namespace cyllm::jinja
