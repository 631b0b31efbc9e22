// Internal to the JSON and JSON Lines readers: parsing one row's text into RawRow (with UTF-8
// repair) and skipping over a JSON value without building it.
#pragma once

#include <string>
#include <string_view>

#include "train/dataset-format.h"

namespace cyllm::train::detail {

// Parses `text` into row->value, or sets row->error. Invalid UTF-8 is repaired first and the
// fields that held it are listed in row->bad_utf8_fields.
void parse_json_row(std::string_view text, RawRow* row);

// The end (one past) of the JSON value starting at d[pos] (after no whitespace), or npos when the
// value is unterminated or malformed at the structural level (brackets, strings).
size_t skip_json_value(std::string_view d, size_t pos);

// Position of the first non-whitespace byte at or after pos.
size_t skip_ws(std::string_view d, size_t pos);

}  // namespace cyllm::train::detail
