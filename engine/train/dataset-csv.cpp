// CSV reader (RFC 4180): the first record names the columns; fields are separated by commas;
// a quoted field may hold commas, doubled quotes and line breaks; CRLF or LF line ends; a UTF-8
// BOM is skipped. Every cell becomes a string in the row object. Row = record number after the
// header. A record with the wrong number of fields, or an unterminated quote, is a row problem.
// Cells are plain strings (no JSON inside cells), so CSV carries the flat schemas (alpaca without
// history, text); chat datasets need JSON, JSON Lines or Parquet.
#include <cstring>

#include "train/dataset-format.h"

namespace cyllm::train {

namespace {

// Parses one record starting at pos. Returns false at the end of data. *unterminated is set when
// a quoted field runs to the end of the data.
bool next_record(std::string_view d, size_t* pos, std::vector<std::string>* fields, bool* unterminated) {
  fields->clear();
  *unterminated = false;
  size_t i = *pos;
  if (i >= d.size()) return false;
  std::string cur;
  while (true) {
    if (i < d.size() && d[i] == '"') {
      ++i;
      while (true) {
        if (i >= d.size()) {
          *unterminated = true;
          fields->push_back(std::move(cur));
          *pos = i;
          return true;
        }
        const void* q = std::memchr(d.data() + i, '"', d.size() - i);
        size_t k = q ? static_cast<const char*>(q) - d.data() : d.size();
        cur.append(d.substr(i, k - i));
        i = k;
        if (i >= d.size()) continue;
        if (i + 1 < d.size() && d[i + 1] == '"') {
          cur.push_back('"');
          i += 2;
        } else {
          ++i;
          break;
        }
      }
      // Text after the closing quote up to the delimiter is kept (lenient).
      while (i < d.size() && d[i] != ',' && d[i] != '\n' && d[i] != '\r') cur.push_back(d[i++]);
    } else {
      size_t k = i;
      while (k < d.size() && d[k] != ',' && d[k] != '\n' && d[k] != '\r') ++k;
      cur.append(d.substr(i, k - i));
      i = k;
    }
    fields->push_back(std::move(cur));
    cur.clear();
    if (i >= d.size()) {
      *pos = i;
      return true;
    }
    if (d[i] == ',') {
      ++i;
      continue;
    }
    // End of record.
    if (d[i] == '\r') ++i;
    if (i < d.size() && d[i] == '\n') ++i;
    *pos = i;
    return true;
  }
}

}  // namespace

Status read_csv(std::string_view d, const RowVisitor& visit) {
  size_t pos = 0;
  if (d.size() >= 3 && d.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  std::vector<std::string> header, fields;
  bool unterminated = false;
  // Skip blank lines before the header.
  while (pos < d.size() && (d[pos] == '\n' || d[pos] == '\r')) ++pos;
  if (!next_record(d, &pos, &header, &unterminated) || unterminated)
    return make_error(ErrorCode::kMalformedFile, "the CSV file has no header record",
                      "the first line of a CSV dataset names its columns");
  for (auto& h : header)
    if (!is_valid_utf8(h)) h = sanitize_utf8(h);
  uint64_t record = 0, line = count_lines(d, 0, 1, pos);
  size_t line_pos = pos;
  while (pos < d.size()) {
    // Blank lines between records are skipped (they are not records).
    if (d[pos] == '\n' || (d[pos] == '\r' && pos + 1 < d.size() && d[pos + 1] == '\n')) {
      pos += d[pos] == '\r' ? 2 : 1;
      continue;
    }
    size_t start = pos;
    if (!next_record(d, &pos, &fields, &unterminated)) break;
    RawRow row;
    row.row = ++record;
    line = count_lines(d, line_pos, line, start);
    line_pos = start;
    row.line = line;
    row.offset = start;
    if (unterminated) {
      row.error = "unterminated quoted field (the rest of the file is part of it)";
      visit(row);
      break;
    }
    if (fields.size() != header.size()) {
      row.error = "expected " + std::to_string(header.size()) + " fields, got " + std::to_string(fields.size());
      if (!visit(row)) break;
      continue;
    }
    row.value = nlohmann::ordered_json::object();
    for (size_t c = 0; c < header.size(); ++c) {
      if (!is_valid_utf8(fields[c])) {
        row.bad_utf8_fields.push_back(header[c]);
        row.value[header[c]] = sanitize_utf8(fields[c]);
      } else {
        row.value[header[c]] = std::move(fields[c]);
      }
    }
    if (!visit(row)) break;
  }
  return Status::Ok();
}

}  // namespace cyllm::train
