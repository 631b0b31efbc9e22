// The OpenAI-compatible protocol without sockets: parsing and validating request bodies into
// engine requests, and building response, chunk, model-list and SSE bytes. Qt-free, so it is
// tested directly (tests/server, properties 1-5) and fuzzed; the Qt HttpServer layer only moves
// bytes.
//
// Validation: every accepted parameter is checked against its range and a bad one is answered 400
// with `param` naming it (Property 3). Unknown fields are ignored and listed (the server logs them
// at debug level), as vLLM and llama-server do, so SDKs that send extra fields keep working.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "serve/request-queue.h"
#include "serve/sampler.h"
#include "server/api-error.h"

namespace cyllm::server {

// What chat and completion requests share.
struct GenerationParams {
  std::string model;
  SamplingParams sampling;      // temperature, top_p, top_k, min_p, penalties, logit_bias, seed
  bool seed_given = false;
  int max_tokens = -1;          // -1: until the context is full
  std::vector<std::string> stop;
  int n = 1;
  bool stream = false;
  bool include_usage = false;   // stream_options.include_usage
  bool logprobs = false;
  int top_logprobs = 0;
  bool json_mode = false;       // response_format {"type": "json_object"}
  std::string user;
  int priority = 0;             // extension: higher runs first within a tier
  bool ignore_eos = false;      // extension: generate max_tokens even past end-of-generation
  std::string lora;             // extension: a registered adapter's name (else "model" picks it)
  std::optional<Tier> tier;     // extension: "interactive" | "default" | "batch"
  std::vector<std::string> ignored_fields;
};

struct ChatRequest : GenerationParams {
  nlohmann::ordered_json messages;  // validated: roles and content as OpenAI defines them
  nlohmann::ordered_json tools;     // null when absent
};

struct CompletionRequest : GenerationParams {
  std::string prompt;
  bool echo = false;
};

template <class T>
using Parsed = std::variant<T, ApiError>;

Parsed<ChatRequest> parse_chat_request(std::string_view body);
Parsed<CompletionRequest> parse_completion_request(std::string_view body);

// One generated choice, as the engine produced it.
// token holds the token's raw bytes (possibly part of a UTF-8 character): the JSON "token" field is
// their valid-UTF-8 rendering (U+FFFD for broken sequences), "bytes" the raw values, as OpenAI does.
struct TokenLogprob {
  std::string token;
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // most likely alternatives at that position
};
struct ChoiceResult {
  std::string text;
  std::string finish_reason;  // stop | length
  std::vector<TokenLogprob> logprobs;  // empty unless requested
};
struct Usage {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
};

nlohmann::ordered_json chat_completion_response(const std::string& id, int64_t created, const std::string& model,
                                                const std::vector<ChoiceResult>& choices, const Usage& usage,
                                                bool with_logprobs);
nlohmann::ordered_json completion_response(const std::string& id, int64_t created, const std::string& model,
                                           const std::vector<ChoiceResult>& choices, const Usage& usage,
                                           bool with_logprobs);
// A streamed chat chunk: role on a choice's first chunk, content deltas, finish_reason on its last.
nlohmann::ordered_json chat_chunk(const std::string& id, int64_t created, const std::string& model, int index,
                                  const std::optional<std::string>& role, const std::optional<std::string>& content,
                                  const std::optional<std::string>& finish_reason,
                                  const std::vector<TokenLogprob>* logprobs = nullptr);
// text_offset: where this chunk's text starts in the choice's whole text (for logprobs.text_offset).
nlohmann::ordered_json completion_chunk(const std::string& id, int64_t created, const std::string& model, int index,
                                        const std::string& text, const std::optional<std::string>& finish_reason,
                                        const std::vector<TokenLogprob>* logprobs = nullptr, size_t text_offset = 0);
// The final usage chunk of a stream with include_usage (choices is empty).
nlohmann::ordered_json usage_chunk(const std::string& id, int64_t created, const std::string& model, const Usage& usage,
                                   bool chat);
nlohmann::ordered_json models_response(const std::vector<std::string>& ids, int64_t created);
nlohmann::ordered_json model_object(const std::string& id, int64_t created);

// The per-token fast path of a stream: the SSE event of a content-only chunk (no role, logprobs or
// finish_reason) for one request, byte for byte what sse_event(chat_chunk(...)) or
// sse_event(completion_chunk(...)) gives, built from a prefix and suffix rendered once per choice
// with the piece's JSON escaping spliced in (no object tree per token).
class ContentChunks {
 public:
  ContentChunks(const std::string& id, int64_t created, const std::string& model, bool chat, int n_choices);
  std::string event(int index, const std::string& piece) const;

 private:
  std::vector<std::pair<std::string, std::string>> parts_;  // per choice: before and after the piece
};

// SSE framing: "data: <compact json>\n\n" and the terminator "data: [DONE]\n\n".
std::string sse_event(const nlohmann::ordered_json& j);
std::string sse_done();

// A fresh id like "chatcmpl-<24 hex>" from a thread-safe random source.
std::string new_id(const std::string& prefix);

}  // namespace cyllm::server
