// Fuzz target: every request parser and validator of the HTTP server (chat, completions,
// /tokenize, /detokenize, /apply-template, input limits) and the server config loader. Any bytes
// must give a request or an ApiError / config problems whose JSON serialises, never a crash or a
// sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/input-limits.h"
#include "server/openai-protocol.h"
#include "server/server-config.h"
#include "server/utility-protocol.h"

namespace {
template <class T>
void check(const cyllm::server::Parsed<T>& p) {
  if (auto* e = std::get_if<cyllm::server::ApiError>(&p)) (void)e->to_json().dump();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cyllm::server;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  InputLimits lim;
  lim.max_field_bytes = 256;
  lim.max_messages = 8;
  lim.context_tokens = 512;
  auto chat = parse_chat_request(body);
  check(chat);
  if (auto* r = std::get_if<ChatRequest>(&chat))
    if (auto e = check_chat_input(*r, lim)) (void)e->to_json().dump();
  auto comp = parse_completion_request(body);
  check(comp);
  if (auto* r = std::get_if<CompletionRequest>(&comp))
    if (auto e = check_completion_input(*r, lim)) (void)e->to_json().dump();
  check(parse_tokenize_request(body));
  check(parse_detokenize_request(body));
  check(parse_apply_template_request(body));
  const nlohmann::json cfg = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!cfg.is_discarded()) {
    ServerSettings s;
    for (const auto& p : apply_server_config(cfg, s)) (void)nlohmann::json(p.path + ": " + p.reason).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return 0;
}
