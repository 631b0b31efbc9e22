// JSON reader: a top-level array of rows, or an object holding one (the first key whose value is
// an array, e.g. {"data": [...]}). Elements are located by a structural scan and parsed one at a
// time, so a large array streams like JSON Lines. Row = array index + 1.
#include "train/dataset-json-common.h"

namespace cyllm::train {

Status read_json(std::string_view d, const RowVisitor& visit) {
  using detail::skip_json_value;
  using detail::skip_ws;
  constexpr auto npos = std::string_view::npos;
  size_t pos = 0;
  if (d.size() >= 3 && d.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  pos = skip_ws(d, pos);
  if (pos >= d.size()) return make_error(ErrorCode::kMalformedFile, "the JSON file is empty");
  bool wrapped = d[pos] == '{';
  if (wrapped) {
    // Find the first member whose value is an array.
    pos = skip_ws(d, pos + 1);
    bool found = false;
    while (pos < d.size() && d[pos] != '}') {
      if (d[pos] != '"') break;
      size_t ke = skip_json_value(d, pos);
      if (ke == npos) break;
      pos = skip_ws(d, ke);
      if (pos >= d.size() || d[pos] != ':') break;
      pos = skip_ws(d, pos + 1);
      if (pos < d.size() && d[pos] == '[') {
        found = true;
        break;
      }
      size_t ve = skip_json_value(d, pos);
      if (ve == npos) break;
      pos = skip_ws(d, ve);
      if (pos < d.size() && d[pos] == ',') pos = skip_ws(d, pos + 1);
    }
    if (!found)
      return make_error(ErrorCode::kMalformedFile, "the JSON object holds no array of rows",
                        "give a JSON array of rows, or an object with one array member");
  }
  if (d[pos] != '[')
    return make_error(ErrorCode::kMalformedFile, "the JSON file is not an array of rows",
                      "give a JSON array of rows, or an object with one array member");
  uint64_t line = count_lines(d, 0, 1, pos);
  uint64_t line_pos = pos;
  pos = skip_ws(d, pos + 1);
  uint64_t index = 0;
  if (pos < d.size() && d[pos] == ']') {
    size_t rest = skip_ws(d, pos + 1);
    if (!wrapped && rest < d.size())
      return make_error(ErrorCode::kMalformedFile, "unexpected text after the JSON array at byte " + std::to_string(rest));
    return Status::Ok();
  }
  while (pos < d.size()) {
    size_t end = skip_json_value(d, pos);
    RawRow row;
    row.row = ++index;
    line = count_lines(d, line_pos, line, pos);
    line_pos = pos;
    row.line = line;
    row.offset = pos;
    if (end == npos) {
      row.error = "invalid JSON: unterminated or malformed value (the rest of the file is unreadable)";
      visit(row);
      return Status::Ok();
    }
    detail::parse_json_row(d.substr(pos, end - pos), &row);
    if (!visit(row)) return Status::Ok();
    pos = skip_ws(d, end);
    if (pos >= d.size()) {
      RawRow bad;
      bad.row = index + 1;
      bad.line = count_lines(d, line_pos, line, pos);
      bad.offset = pos;
      bad.error = "invalid JSON: the array is not closed";
      visit(bad);
      return Status::Ok();
    }
    if (d[pos] == ']') {
      size_t rest = skip_ws(d, pos + 1);
      if (!wrapped && rest < d.size())
        return make_error(ErrorCode::kMalformedFile,
                          "unexpected text after the JSON array at byte " + std::to_string(rest),
                          "a JSON dataset holds one array; JSON Lines has one row per line");
      return Status::Ok();
    }
    if (d[pos] != ',') {
      RawRow bad;
      bad.row = index + 1;
      bad.line = count_lines(d, line_pos, line, pos);
      bad.offset = pos;
      bad.error = std::string("invalid JSON: expected ',' or ']' between rows, got '") + d[pos] + "'";
      visit(bad);
      return Status::Ok();
    }
    pos = skip_ws(d, pos + 1);
  }
  return Status::Ok();
}

}  // namespace cyllm::train
