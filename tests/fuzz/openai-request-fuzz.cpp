// Fuzz target: the OpenAI request parser and validator (chat and completions). Any body must give
// a request or an ApiError whose JSON serialises, never a crash or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/openai-protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto chat = cyllm::server::parse_chat_request(body);
  if (auto* e = std::get_if<cyllm::server::ApiError>(&chat)) (void)e->to_json().dump();
  auto comp = cyllm::server::parse_completion_request(body);
  if (auto* e = std::get_if<cyllm::server::ApiError>(&comp)) (void)e->to_json().dump();
  return 0;
}
