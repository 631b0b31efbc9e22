// Dataset files: the four container formats (JSON Lines, JSON, CSV, Parquet), detection of the
// format from the content (the extension is never trusted), and the row stream every reader
// produces. Readers work on a byte buffer (a memory map of the file, see DatasetFile) and hand
// each row to a visitor as soon as it is parsed, so nothing holds the whole dataset in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mapped-file.h"
#include "core/status.h"

namespace cyllm::train {

enum class DatasetFormat { kJsonl, kJson, kCsv, kParquet };

std::string_view format_name(DatasetFormat f);  // "jsonl", "json", "csv", "parquet"
std::optional<DatasetFormat> parse_format_name(std::string_view name);

// Detects the format from the bytes: "PAR1" at both ends is Parquet; after an optional UTF-8 BOM
// and whitespace, '[' is JSON, '{' is JSON Lines when the first value ends on its line and another
// value or the end follows (else JSON; a lone one-line object whose only member is an array is
// JSON too, unless that member is a row field such as "messages"; a first line that does not parse
// but ends with '}' before a line starting with '{' is a broken JSON Lines row); anything else that
// is text is CSV. Empty or binary data is an error.
Result<DatasetFormat> detect_format(std::string_view data);

// One row as the file presents it.
struct RawRow {
  uint64_t row = 0;     // 1-based: JSONL line number, JSON array index + 1, CSV/Parquet record number
  uint64_t line = 0;    // 1-based line where the row starts (0 for Parquet)
  uint64_t offset = 0;  // byte offset of the row's start in the file
  nlohmann::ordered_json value;  // the row (normally an object) when error is empty
  // Fields whose text was not valid UTF-8 (paths like "output" or "messages[1].content"); the bad
  // bytes were replaced by U+FFFD in `value` so the rest of the row can still be checked.
  std::vector<std::string> bad_utf8_fields;
  std::string error_field;  // with error: the field at fault, "" for the whole row
  std::string error;        // non-empty: the row could not be parsed (the reason)
};

// Returns false to stop reading.
using RowVisitor = std::function<bool(RawRow&)>;

// Readers. A Status error means the file as a whole is unreadable (not a dataset of this format);
// a row that does not parse is handed to the visitor with `error` set and reading goes on.
Status read_jsonl(std::string_view data, const RowVisitor& visit);
Status read_json(std::string_view data, const RowVisitor& visit);
Status read_csv(std::string_view data, const RowVisitor& visit);
Status read_parquet(std::string_view data, const RowVisitor& visit);
Status read_rows(DatasetFormat format, std::string_view data, const RowVisitor& visit);

// A dataset file mapped read-only. release_before() drops pages already consumed from the
// process's resident set (madvise), which keeps memory flat while a large file streams through.
class DatasetFile {
 public:
  static Result<DatasetFile> open(const std::string& path);
  std::string_view data() const {
    return {reinterpret_cast<const char*>(map_.data()), map_.size()};
  }
  void release_before(uint64_t offset);
  void release_all() { released_ = 0; }

 private:
  MappedFile map_;
  uint64_t released_ = 0;
};

// UTF-8 helpers shared by the readers.
bool is_valid_utf8(std::string_view s);
// Replaces each invalid sequence by U+FFFD.
std::string sanitize_utf8(std::string_view s);
// Paths of string values (and keys) holding U+FFFD, e.g. "messages[1].content".
void find_replacement_chars(const nlohmann::ordered_json& v, const std::string& path,
                            std::vector<std::string>* out);
// Line number (1-based) at byte offset, counting from a known (offset, line) point.
uint64_t count_lines(std::string_view data, uint64_t from_offset, uint64_t from_line, uint64_t to_offset);

}  // namespace cyllm::train
