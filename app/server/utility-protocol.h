// The utility endpoints beside the OpenAI API, without sockets: POST /tokenize (text or chat
// messages to token ids, vLLM's shape), POST /detokenize (ids to text) and POST /apply-template
// (messages to the prompt text the chat template makes, llama-server's shape). Parsing and
// validation give the same ApiError 400s as the OpenAI endpoints; the answers are built from the
// model's tokenizer and chat template.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "server/openai-protocol.h"
#include "text/tokenizer.h"

namespace cyllm::server {

struct TokenizeRequest {
  std::string model;                   // optional; when given it must name a served model
  std::optional<std::string> prompt;   // either prompt ...
  nlohmann::ordered_json messages;     // ... or messages (null when absent)
  bool add_special_tokens = true;      // BOS for prompts, as the model's metadata says
  bool add_generation_prompt = true;   // messages only
  bool return_token_strs = false;
  std::vector<std::string> ignored_fields;
};

struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;
  std::vector<std::string> ignored_fields;
};

struct ApplyTemplateRequest {
  std::string model;
  nlohmann::ordered_json messages;
  bool add_generation_prompt = true;
  std::vector<std::string> ignored_fields;
};

Parsed<TokenizeRequest> parse_tokenize_request(std::string_view body);
Parsed<DetokenizeRequest> parse_detokenize_request(std::string_view body);
Parsed<ApplyTemplateRequest> parse_apply_template_request(std::string_view body);

// Renders chat messages with the model's template.
using RenderChat = std::function<Result<std::string>(const nlohmann::ordered_json& messages, bool add_generation_prompt)>;

// The answers. n_ctx is the model's context (vLLM reports it as max_model_len).
Parsed<nlohmann::ordered_json> tokenize_response(const TokenizeRequest& r, const Tokenizer& tok,
                                                 const RenderChat& render, int n_ctx);
Parsed<nlohmann::ordered_json> detokenize_response(const DetokenizeRequest& r, const Tokenizer& tok);
Parsed<nlohmann::ordered_json> apply_template_response(const ApplyTemplateRequest& r, const RenderChat& render);

}  // namespace cyllm::server
