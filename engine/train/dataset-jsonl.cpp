// JSON Lines reader: one JSON value per line; blank lines are skipped; the row number is the
// line number. Also holds the per-row JSON parsing (json-fast.h) the JSON reader shares.
#include <cstring>

#include "train/dataset-json-common.h"
#include "train/json-fast.h"

namespace cyllm::train {

namespace detail {

void parse_json_row(std::string_view text, RawRow* row) {
  // The parser rejects ill-formed UTF-8 itself, so the text is checked separately only when
  // parsing fails: then invalid bytes are replaced and the row parsed again to find their fields.
  std::string err;
  if (parse_json_fast(text, &row->value, &err)) return;
  row->value = nullptr;
  row->error = "invalid JSON: " + err;
  if (is_valid_utf8(text)) return;
  std::string fixed = sanitize_utf8(text);
  if (parse_json_fast(fixed, &row->value, &err)) {
    row->error.clear();
    find_replacement_chars(row->value, "", &row->bad_utf8_fields);
    if (row->bad_utf8_fields.empty()) row->bad_utf8_fields.push_back("");
  } else {
    row->value = nullptr;
    row->error = "invalid JSON: " + err;
  }
}

size_t skip_ws(std::string_view d, size_t pos) {
  while (pos < d.size() && (d[pos] == ' ' || d[pos] == '\t' || d[pos] == '\r' || d[pos] == '\n')) ++pos;
  return pos;
}

size_t skip_json_value(std::string_view d, size_t pos) {
  if (pos >= d.size()) return std::string_view::npos;
  char c = d[pos];
  if (c == '"') {
    size_t i = pos + 1;
    while (i < d.size()) {
      const void* q = std::memchr(d.data() + i, '"', d.size() - i);
      if (!q) return std::string_view::npos;
      size_t k = static_cast<const char*>(q) - d.data();
      size_t bs = 0;
      while (k - bs > pos && d[k - 1 - bs] == '\\') ++bs;
      if (bs % 2 == 0) return k + 1;
      i = k + 1;
    }
    return std::string_view::npos;
  }
  if (c == '[' || c == '{') {
    // Bracket depth with string awareness; closing brackets must match.
    std::string stack;
    size_t i = pos;
    while (i < d.size()) {
      char ch = d[i];
      if (ch == '"') {
        size_t e = skip_json_value(d, i);
        if (e == std::string_view::npos) return e;
        i = e;
        continue;
      }
      if (ch == '[' || ch == '{') {
        if (stack.size() > 10000) return std::string_view::npos;
        stack.push_back(ch == '[' ? ']' : '}');
      } else if (ch == ']' || ch == '}') {
        if (stack.empty() || stack.back() != ch) return std::string_view::npos;
        stack.pop_back();
        if (stack.empty()) return i + 1;
      }
      ++i;
    }
    return std::string_view::npos;
  }
  // A number or literal: up to a delimiter.
  size_t i = pos;
  while (i < d.size() && d[i] != ',' && d[i] != ']' && d[i] != '}' && d[i] != ' ' && d[i] != '\n' &&
         d[i] != '\r' && d[i] != '\t')
    ++i;
  return i == pos ? std::string_view::npos : i;
}

}  // namespace detail

Status read_jsonl(std::string_view d, const RowVisitor& visit) {
  size_t pos = 0;
  uint64_t line = 0;
  if (d.size() >= 3 && d.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  while (pos < d.size()) {
    ++line;
    const void* nl = std::memchr(d.data() + pos, '\n', d.size() - pos);
    size_t end = nl ? static_cast<const char*>(nl) - d.data() : d.size();
    std::string_view text = d.substr(pos, end - pos);
    size_t start = pos;
    pos = end + 1;
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    size_t lead = 0;
    while (lead < text.size() && (text[lead] == ' ' || text[lead] == '\t')) ++lead;
    text.remove_prefix(lead);
    if (text.empty()) continue;
    RawRow row;
    row.row = line;
    row.line = line;
    row.offset = start + lead;
    detail::parse_json_row(text, &row);
    if (!visit(row)) break;
  }
  return Status::Ok();
}

}  // namespace cyllm::train
