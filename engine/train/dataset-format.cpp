// Format names, content-based format detection, the reader dispatch, the memory-mapped dataset
// file with page release, and the UTF-8 helpers the readers share.
#include "train/dataset-format.h"
#include "train/json-fast.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace cyllm::train {

std::string_view format_name(DatasetFormat f) {
  switch (f) {
    case DatasetFormat::kJsonl: return "jsonl";
    case DatasetFormat::kJson: return "json";
    case DatasetFormat::kCsv: return "csv";
    case DatasetFormat::kParquet: return "parquet";
  }
  return "?";
}

std::optional<DatasetFormat> parse_format_name(std::string_view n) {
  if (n == "jsonl") return DatasetFormat::kJsonl;
  if (n == "json") return DatasetFormat::kJson;
  if (n == "csv") return DatasetFormat::kCsv;
  if (n == "parquet") return DatasetFormat::kParquet;
  return std::nullopt;
}

namespace {

size_t skip_bom_ws(std::string_view d) {
  size_t i = 0;
  if (d.size() >= 3 && static_cast<unsigned char>(d[0]) == 0xEF && static_cast<unsigned char>(d[1]) == 0xBB &&
      static_cast<unsigned char>(d[2]) == 0xBF)
    i = 3;
  while (i < d.size() && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n')) ++i;
  return i;
}

}  // namespace

Result<DatasetFormat> detect_format(std::string_view d) {
  if (d.size() >= 8 && d.substr(0, 4) == "PAR1" && d.substr(d.size() - 4) == "PAR1") return DatasetFormat::kParquet;
  size_t i = skip_bom_ws(d);
  if (i >= d.size()) return make_error(ErrorCode::kMalformedFile, "the dataset file is empty", "add rows to the file");
  // Binary data (NUL bytes near the start) is not a text dataset.
  if (std::memchr(d.data(), 0, std::min<size_t>(d.size(), 4096)) != nullptr)
    return make_error(ErrorCode::kMalformedFile, "the file is binary and not a Parquet file (no PAR1 magic)",
                      "give a JSONL, JSON, CSV or Parquet file");
  if (d[i] == '[') {
    // JSON Lines whose first row happens to be an array (a problem row) rather than a JSON array:
    // the first line is a complete value and the next line starts another one.
    size_t nl = d.find('\n', i);
    if (nl == std::string_view::npos) return DatasetFormat::kJson;
    std::string_view first = d.substr(i, nl - i);
    while (!first.empty() && (first.back() == '\r' || first.back() == ' ' || first.back() == '\t')) first.remove_suffix(1);
    nlohmann::ordered_json v;
    std::string err;
    size_t j = nl + skip_bom_ws(d.substr(nl));
    if (j < d.size() && (d[j] == '{' || d[j] == '[') && parse_json_fast(first, &v, &err)) return DatasetFormat::kJsonl;
    return DatasetFormat::kJson;
  }
  if (d[i] == '{') {
    size_t nl = d.find('\n', i);
    std::string_view first = d.substr(i, nl == std::string_view::npos ? std::string_view::npos : nl - i);
    while (!first.empty() && (first.back() == '\r' || first.back() == ' ' || first.back() == '\t')) first.remove_suffix(1);
    nlohmann::ordered_json v;
    std::string err;
    if (!parse_json_fast(first, &v, &err) && !parse_json_fast(sanitize_utf8(first), &v, &err)) {
      // Not a complete value on its own line: a pretty-printed JSON object ("{" or "{\"data\": ["
      // first), or JSON Lines whose first row is broken: that line still ends with '}' and the next
      // line (if any) starts another object.
      if (first.empty() || first.back() != '}') return DatasetFormat::kJson;
      if (nl == std::string_view::npos) return DatasetFormat::kJsonl;
      size_t j = nl + skip_bom_ws(d.substr(nl));
      return j >= d.size() || d[j] == '{' ? DatasetFormat::kJsonl : DatasetFormat::kJson;
    }
    // One complete object on the first line. A lone object holding an array is a JSON file.
    bool more = false;
    if (nl != std::string_view::npos) {
      size_t j = skip_bom_ws(d.substr(nl));
      more = nl + j < d.size();
    }
    if (!more) {
      // ...unless its one key is a row field that holds a list (a one-row chat dataset).
      static const char* kRowLists[] = {"messages", "conversations", "history", "tools"};
      bool row_field = false;
      if (v.is_object() && v.size() == 1)
        for (const char* k : kRowLists) row_field |= v.begin().key() == k;
      if (v.is_object() && v.size() == 1 && v.begin()->is_array() && !row_field) return DatasetFormat::kJson;
    }
    return DatasetFormat::kJsonl;
  }
  return DatasetFormat::kCsv;
}

Status read_rows(DatasetFormat f, std::string_view data, const RowVisitor& visit) {
  switch (f) {
    case DatasetFormat::kJsonl: return read_jsonl(data, visit);
    case DatasetFormat::kJson: return read_json(data, visit);
    case DatasetFormat::kCsv: return read_csv(data, visit);
    case DatasetFormat::kParquet: return read_parquet(data, visit);
  }
  return make_error(ErrorCode::kInternal, "unknown dataset format");
}

Result<DatasetFile> DatasetFile::open(const std::string& path) {
  auto m = MappedFile::open(path);
  if (!m) return m.error();
  DatasetFile f;
  f.map_ = std::move(m.value());
  if (f.map_.size() > 0) ::madvise(const_cast<uint8_t*>(f.map_.data()), f.map_.size(), MADV_SEQUENTIAL);
  return f;
}

void DatasetFile::release_before(uint64_t offset) {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  constexpr uint64_t kChunk = 8u << 20;  // release in 8 MiB steps
  offset = std::min<uint64_t>(offset, map_.size());
  uint64_t end = offset / page * page;
  if (end < released_ + kChunk) return;
  ::madvise(const_cast<uint8_t*>(map_.data()) + released_, end - released_, MADV_DONTNEED);
  released_ = end;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF).
size_t utf8_seq(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = s.size() - i;
  auto cont = [&](size_t k) { return (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return n >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    // Fast path over ASCII, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    size_t k = utf8_seq(s, i);
    if (k == 0) return false;
    i += k;
  }
  return true;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    size_t k = utf8_seq(s, i);
    if (k == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, k));
      i += k;
    }
  }
  return out;
}

void find_replacement_chars(const nlohmann::ordered_json& v, const std::string& path, std::vector<std::string>* out) {
  static constexpr std::string_view kRep = "\xEF\xBF\xBD";
  if (v.is_string()) {
    if (v.get_ref<const std::string&>().find(kRep) != std::string::npos) out->push_back(path);
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) find_replacement_chars(v[i], path + "[" + std::to_string(i) + "]", out);
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string p = path.empty() ? it.key() : path + "." + it.key();
      if (it.key().find(kRep) != std::string::npos) out->push_back(p);
      else find_replacement_chars(it.value(), p, out);
    }
  }
}

uint64_t count_lines(std::string_view data, uint64_t from_offset, uint64_t from_line, uint64_t to_offset) {
  to_offset = std::min<uint64_t>(to_offset, data.size());
  if (to_offset <= from_offset) return from_line;
  return from_line + static_cast<uint64_t>(std::count(data.data() + from_offset, data.data() + to_offset, '\n'));
}

}  // namespace cyllm::train
