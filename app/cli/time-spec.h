// Times and durations as the CLI takes them: durations like "30d", "12h", "90m", "45s" (or plain
// seconds), and instants as ISO 8601 UTC ("2027-01-31", "2027-01-31T12:00:00Z") or a duration
// before now ("7d" for `--since`). Written by hand: std::chrono's parse() is not in GCC 12.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cyllm::cli {

// Seconds in a duration, or nullopt when it does not parse (negative durations do not parse).
std::optional<int64_t> parse_duration_s(const std::string& s);
// Unix seconds of an ISO 8601 UTC date or date-time, or nullopt.
std::optional<int64_t> parse_iso8601_s(const std::string& s);
// "2027-01-31T12:00:00Z"
std::string format_iso8601(int64_t unix_s);

}  // namespace cyllm::cli
