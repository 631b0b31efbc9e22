// UTF-8 helpers for the Jinja interpreter: decoding/encoding code points, Python's notion of
// whitespace (str.isspace), simple case mapping and str.isprintable, so that string operations
// count and transform characters the way Python does rather than bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cyllm::jinja {

// Decodes UTF-8 into code points. Invalid bytes decode to U+FFFD one byte at a time (never throws).
std::vector<char32_t> utf8_decode(std::string_view s);
void utf8_append(std::string& out, char32_t cp);
std::string utf8_encode(const std::vector<char32_t>& cps);
std::string utf8_encode(const char32_t* begin, const char32_t* end);
// Number of code points (Python len() of a str).
size_t utf8_length(std::string_view s);

// Python str.isspace() for one code point (Unicode White_Space / bidi WS/B/S as CPython has it).
bool py_isspace(char32_t c);
// Python str.isprintable() approximation: ASCII exact; Latin-1, general punctuation, specials and
// private-use areas handled; other assigned ranges are assumed printable.
bool py_isprintable(char32_t c);
bool py_isalpha(char32_t c);  // letters: ASCII, Latin-1, Latin Extended-A/B, Greek, Cyrillic, CJK
bool py_isdigit(char32_t c);  // ASCII digits only
// Simple (one-to-one) case mappings for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic.
// Other scripts map to themselves. 'ß'.upper() gives "SS" as Python does (special-cased).
char32_t py_lower(char32_t c);
char32_t py_upper(char32_t c);
bool py_iscased_upper(char32_t c);
bool py_iscased_lower(char32_t c);

std::string py_str_upper(std::string_view s);
std::string py_str_lower(std::string_view s);
std::string py_str_capitalize(std::string_view s);  // first upper, rest lower (str.capitalize)
std::string py_str_title(std::string_view s);       // str.title()
// str.strip/lstrip/rstrip: chars == nullptr strips whitespace; else strips any code point in chars.
std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right);

}  // namespace cyllm::jinja
