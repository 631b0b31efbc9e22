#include "core/log.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace cyllm {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool is_credential_field(std::string_view name) {
  const std::string n = lower(name);
  for (const char* k : {"authorization", "api_key", "apikey", "api-key", "x-api-key", "key", "secret", "password",
                        "token", "access_token", "refresh_token", "bearer"})
    if (n == k) return true;
  return n.size() > 4 && (n.ends_with("_key") || n.ends_with("_secret") || n.ends_with("_token") || n.ends_with("password"));
}

bool is_prompt_field(std::string_view name) {
  const std::string n = lower(name);
  for (const char* k : {"prompt", "messages", "content", "completion", "text", "input", "output"})
    if (n == k) return true;
  return false;
}

bool token_char(char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '"' && c != '\'' && c != ','; }

}  // namespace

const char* log_level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

bool parse_log_level(std::string_view s, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError})
    if (s == log_level_name(l)) {
      *out = l;
      return true;
    }
  return false;
}

// Masks "Bearer <token>" (any case) and API-key-shaped words ("sk-...", "cyk-..." / "cyk_...").
std::string redact_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const std::string low = lower(s);
  size_t i = 0;
  while (i < s.size()) {
    if (low.compare(i, 7, "bearer ") == 0) {
      out.append(s.substr(i, 7));
      i += 7;
      while (i < s.size() && s[i] == ' ') out += s[i++];
      if (i < s.size() && token_char(s[i])) {
        while (i < s.size() && token_char(s[i])) ++i;
        out += "[REDACTED]";
      }
      continue;
    }
    const bool word_start = i == 0 || !token_char(s[i - 1]);
    if (word_start && (low.compare(i, 3, "sk-") == 0 || low.compare(i, 4, "cyk-") == 0 || low.compare(i, 4, "cyk_") == 0)) {
      size_t j = i;
      while (j < s.size() && token_char(s[j])) ++j;
      if (j - i >= 8) {  // long enough to be a key; short words like "sk-1" stay
        out += "[REDACTED]";
        i = j;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

nlohmann::json redact(const nlohmann::json& v, bool redact_prompts) {
  if (v.is_string()) return redact_text(v.get<std::string>());
  if (v.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& x : v) out.push_back(redact(x, redact_prompts));
    return out;
  }
  if (!v.is_object()) return v;
  nlohmann::json out = nlohmann::json::object();
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string key = redact_text(it.key());
    if (is_credential_field(it.key())) {
      out[key] = "[REDACTED]";
    } else if (redact_prompts && is_prompt_field(it.key())) {
      out[key] = "[REDACTED " + std::to_string(it->dump().size()) + " bytes]";
    } else {
      out[key] = redact(*it, redact_prompts);
    }
  }
  return out;
}

Logger::Logger(LogConfig cfg, Sink sink) : cfg_(cfg), sink_(std::move(sink)) {
  if (!sink_) sink_ = [](std::string_view line) {
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  };
}

void Logger::log(LogLevel level, std::string_view event, const nlohmann::json& fields) {
  if (!enabled(level)) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const long ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[40];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  nlohmann::json line = {{"ts", ts}, {"level", log_level_name(level)}, {"event", redact_text(event)}};
  const nlohmann::json safe = redact(fields.is_object() ? fields : nlohmann::json{{"value", fields}}, cfg_.redact_prompts);
  for (auto it = safe.begin(); it != safe.end(); ++it)
    if (!line.contains(it.key())) line[it.key()] = *it;
  // Invalid UTF-8 is replaced, never passed through; control characters are \u-escaped by dump.
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(mu_);
  sink_(text);
}

}  // namespace cyllm
