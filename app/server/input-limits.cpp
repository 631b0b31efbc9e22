#include "server/input-limits.h"

namespace cyllm::server {

bool is_forbidden_control(unsigned char c) { return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f; }

namespace {

std::optional<ApiError> check_text(const std::string& s, const std::string& param, const InputLimits& lim) {
  if (s.size() > lim.max_field_bytes)
    return invalid_param(param, "is " + std::to_string(s.size()) + " bytes, over the limit of " +
                                    std::to_string(lim.max_field_bytes));
  for (size_t i = 0; i < s.size(); ++i)
    if (is_forbidden_control(static_cast<unsigned char>(s[i])))
      return invalid_param(param, "contains the control character 0x" +
                                      std::string(1, "0123456789abcdef"[static_cast<unsigned char>(s[i]) >> 4]) +
                                      std::string(1, "0123456789abcdef"[s[i] & 15]) + " at byte " + std::to_string(i));
  return std::nullopt;
}

std::optional<ApiError> check_common(const GenerationParams& p, const InputLimits& lim) {
  if (auto e = check_text(p.model, "model", lim)) return e;
  if (auto e = check_text(p.user, "user", lim)) return e;
  for (size_t i = 0; i < p.stop.size(); ++i)
    if (auto e = check_text(p.stop[i], "stop[" + std::to_string(i) + "]", lim)) return e;
  if (lim.context_tokens > 0 && p.max_tokens > lim.context_tokens)
    return invalid_param("max_tokens",
                         "asks for " + std::to_string(p.max_tokens) + " tokens but the context holds " +
                             std::to_string(lim.context_tokens));
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> check_chat_input(const ChatRequest& r, const InputLimits& lim) {
  if (auto e = check_common(r, lim)) return e;
  if (r.messages.size() > lim.max_messages)
    return invalid_param("messages", "has " + std::to_string(r.messages.size()) + " messages, over the limit of " +
                                         std::to_string(lim.max_messages));
  for (size_t i = 0; i < r.messages.size(); ++i) {
    const auto& m = r.messages[i];
    const std::string w = "messages[" + std::to_string(i) + "]";
    for (const char* key : {"content", "name", "tool_call_id"})
      if (m.contains(key) && m[key].is_string())
        if (auto e = check_text(m[key].get<std::string>(), w + "." + key, lim)) return e;
    if (m.contains("tool_calls") && m["tool_calls"].dump().size() > lim.max_field_bytes)
      return invalid_param(w + ".tool_calls", "is over the size limit");
  }
  return std::nullopt;
}

std::optional<ApiError> check_completion_input(const CompletionRequest& r, const InputLimits& lim) {
  if (auto e = check_common(r, lim)) return e;
  return check_text(r.prompt, "prompt", lim);
}

}  // namespace cyllm::server
