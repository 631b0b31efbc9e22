// The adapter admin endpoints without sockets: POST /v1/adapters/load {"name", "path", "scale",
// "preload", "replace"}, POST /v1/adapters/unload {"name"}, and the JSON of an adapter as
// GET /v1/adapters and /v1/models show it (vLLM's shape for LoRA modules: "parent" is the base).
#pragma once

#include <nlohmann/json.hpp>

#include "serve/adapter-registry.h"
#include "server/openai-protocol.h"

namespace cyllm::server {

struct AdapterLoadRequest {
  AdapterSpec spec;
  std::vector<std::string> ignored_fields;
};

Parsed<AdapterLoadRequest> parse_adapter_load_request(std::string_view body);
Parsed<std::string> parse_adapter_unload_request(std::string_view body);  // the name

nlohmann::ordered_json adapter_json(const AdapterInfo& a);
nlohmann::ordered_json adapter_model_object(const AdapterInfo& a, int64_t created);

// Registry errors as API errors: unknown names 404, a full registry 503, missing or bad files and a
// mismatched base 400 naming `param` (the file is the client's input here), others by their code.
ApiError adapter_error(const Error& e, const std::string& param);

}  // namespace cyllm::server
