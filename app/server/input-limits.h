// Input sanitisation for API requests (part of Property 29): text fields may not carry control
// characters other than tab, newline and carriage return; no field may exceed its size limit; a
// request may not carry too many messages or ask for more tokens than the context holds. Each
// rejection is a 400 naming the offending field. (Logs escape every value and SQL binds every
// value, so nothing unescaped reaches either; see core/log.h and the audit/key stores.)
#pragma once

#include <optional>
#include <string>

#include "server/api-error.h"
#include "server/openai-protocol.h"

namespace cyllm::server {

struct InputLimits {
  size_t max_field_bytes = 1 << 20;  // any single string
  size_t max_messages = 1024;
  int context_tokens = 0;            // > 0: max_tokens must not exceed it
};

// The first offending field of a parsed request, or nullopt when it is clean.
std::optional<ApiError> check_chat_input(const ChatRequest& r, const InputLimits& lim);
std::optional<ApiError> check_completion_input(const CompletionRequest& r, const InputLimits& lim);

// True for the characters a text field may not contain (C0 controls but \t \n \r, and DEL).
bool is_forbidden_control(unsigned char c);

}  // namespace cyllm::server
