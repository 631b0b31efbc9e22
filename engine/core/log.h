// Structured logs: one JSON object per line ({"ts", "level", "event", ...fields}) at a configurable
// level, with secrets redacted before anything is written (Property 30): values of credential
// fields (authorization, api_key, password, token, ...), bearer tokens and API-key-shaped strings
// anywhere in text, and — when the setting is on — prompt and completion text. Field values are
// JSON-escaped, so a value cannot start a forged log line.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cyllm {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
const char* log_level_name(LogLevel l);
bool parse_log_level(std::string_view s, LogLevel* out);

struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  bool redact_prompts = false;  // also hide prompt/messages/content/completion text
};

// Redaction, usable on its own (audit records, error messages).
std::string redact_text(std::string_view s);
nlohmann::json redact(const nlohmann::json& fields, bool redact_prompts);

class Logger {
 public:
  using Sink = std::function<void(std::string_view line)>;
  explicit Logger(LogConfig cfg, Sink sink = {});  // default sink: stderr
  bool enabled(LogLevel l) const { return l >= cfg_.level; }
  void log(LogLevel level, std::string_view event, const nlohmann::json& fields = nlohmann::json::object());
  const LogConfig& config() const { return cfg_; }

 private:
  LogConfig cfg_;
  Sink sink_;
  std::mutex mu_;
};

}  // namespace cyllm
