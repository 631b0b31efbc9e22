// API errors in OpenAI's format: {"error": {"message", "type", "param", "code"}} with the HTTP status
// that goes with them. Engine errors (core/status.h) map here in one place, so the HTTP layer, the
// CLI and the GUI report the same message and suggestion.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cyllm::server {

struct ApiError {
  int status = 500;
  std::string message;
  std::string type;        // invalid_request_error, authentication_error, not_found_error, ...
  std::string param;       // the offending request field ("" when none)
  std::string code;        // catalog code, e.g. "invalid_value", "model_not_found"
  std::string suggestion;  // what to do next; appended to the message for clients that show only it
  double retry_after_s = 0;  // > 0: sent as the Retry-After header (whole seconds, rounded up)

  nlohmann::json to_json() const;
};

// Catalog entries (HTTP status and OpenAI type per code). Every code has a default message and a
// suggestion (Property 17).
ApiError invalid_param(const std::string& param, const std::string& why);  // 400 invalid_value
ApiError missing_param(const std::string& param);                          // 400 missing_required_parameter
ApiError invalid_json(const std::string& why);                             // 400 invalid_json
ApiError model_not_found(const std::string& model);                        // 404 model_not_found
ApiError route_not_found(const std::string& method, const std::string& path);  // 404 not_found
ApiError unauthorized(const std::string& why);                              // 401 invalid_api_key
ApiError forbidden(const std::string& scope);                               // 403 insufficient_scope
ApiError body_too_large(size_t limit_bytes);                                // 413 request_too_large
ApiError rate_limited(double retry_after_s);                                // 429 rate_limit_exceeded
ApiError overloaded(const std::string& why);                                // 503 server_overloaded
ApiError timed_out(const Error& e);                                         // 504 timeout
// Any engine error: status and type chosen by its ErrorCode.
ApiError from_engine_error(const Error& e, const std::string& param = {});

// The catalog, for tests and docs: every code the server can answer with.
struct CatalogEntry {
  const char* code;
  int status;
  const char* type;
};
const std::vector<CatalogEntry>& error_catalog();

}  // namespace cyllm::server
