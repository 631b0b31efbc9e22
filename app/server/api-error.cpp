#include "server/api-error.h"

#include <cmath>

#include "text/utf8-stream.h"

namespace cyllm::server {

namespace {

ApiError make(int status, std::string type, std::string code, std::string message, std::string param,
              std::string suggestion) {
  return ApiError{status, std::move(message), std::move(type), std::move(param), std::move(code), std::move(suggestion)};
}

}  // namespace

const std::vector<CatalogEntry>& error_catalog() {
  static const std::vector<CatalogEntry> c = {
      {"invalid_value", 400, "invalid_request_error"},
      {"missing_required_parameter", 400, "invalid_request_error"},
      {"invalid_json", 400, "invalid_request_error"},
      {"context_length_exceeded", 400, "invalid_request_error"},
      {"unsupported", 400, "invalid_request_error"},
      {"invalid_api_key", 401, "authentication_error"},
      {"insufficient_scope", 403, "permission_error"},
      {"model_not_found", 404, "not_found_error"},
      {"not_found", 404, "not_found_error"},
      {"request_too_large", 413, "invalid_request_error"},
      {"rate_limit_exceeded", 429, "rate_limit_error"},
      {"internal_error", 500, "server_error"},
      {"server_overloaded", 503, "server_error"},
      {"timeout", 504, "timeout_error"},
  };
  return c;
}

nlohmann::json ApiError::to_json() const {
  // Messages can quote request text; whatever bytes it held, the body stays valid UTF-8 JSON.
  std::string text = sanitize_utf8(message);
  if (!suggestion.empty()) text += " " + sanitize_utf8(suggestion);
  return {{"error",
           {{"message", text},
            {"type", type},
            {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(sanitize_utf8(param))},
            {"code", code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code)}}}};
}

ApiError invalid_param(const std::string& param, const std::string& why) {
  return make(400, "invalid_request_error", "invalid_value", "Invalid value for '" + param + "': " + why + ".", param,
              "Fix that field and send the request again.");
}

ApiError missing_param(const std::string& param) {
  return make(400, "invalid_request_error", "missing_required_parameter", "Missing required parameter: '" + param + "'.",
              param, "Add the field; see the OpenAI API reference for its format.");
}

ApiError invalid_json(const std::string& why) {
  return make(400, "invalid_request_error", "invalid_json", "The request body is not valid JSON: " + why + ".", "",
              "Send a JSON object with Content-Type: application/json.");
}

ApiError model_not_found(const std::string& model) {
  return make(404, "not_found_error", "model_not_found", "The model '" + model + "' does not exist.", "model",
              "GET /v1/models lists the models this server has.");
}

ApiError route_not_found(const std::string& method, const std::string& path) {
  return make(404, "not_found_error", "not_found", "No route for " + method + " " + path + ".", "",
              "The server offers POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics, "
              "POST /tokenize, POST /detokenize and POST /apply-template.");
}

ApiError unauthorized(const std::string& why) {
  return make(401, "authentication_error", "invalid_api_key", why, "",
              "Send 'Authorization: Bearer <key>' with a valid, unexpired key.");
}

ApiError forbidden(const std::string& scope) {
  return make(403, "permission_error", "insufficient_scope", "The API key lacks the '" + scope + "' scope this endpoint needs.",
              "", "Use a key created with --scope " + scope + " (cyllm keys create --tenant T --scope " + scope + ").");
}

ApiError body_too_large(size_t limit_bytes) {
  return make(413, "invalid_request_error", "request_too_large",
              "The request body is larger than the limit of " + std::to_string(limit_bytes) + " bytes.", "",
              "Send a smaller request, or raise the server's body size limit.");
}

ApiError rate_limited(double retry_after_s) {
  ApiError e = make(429, "rate_limit_error", "rate_limit_exceeded", "Rate limit reached.", "",
                    "Retry after " + std::to_string(static_cast<long long>(std::ceil(retry_after_s))) + " s.");
  e.retry_after_s = retry_after_s;
  return e;
}

ApiError overloaded(const std::string& why) {
  return make(503, "server_error", "server_overloaded", why, "", "Retry later.");
}

ApiError timed_out(const Error& e) {
  return make(504, "timeout_error", "timeout", e.message, "",
              e.suggestion.empty() ? std::string(error_code_default_suggestion(ErrorCode::kTimeout)) : e.suggestion);
}

ApiError from_engine_error(const Error& e, const std::string& param) {
  const std::string suggestion = e.suggestion.empty() ? std::string(error_code_default_suggestion(e.code)) : e.suggestion;
  switch (e.code) {
    case ErrorCode::kInvalidArgument:
      return make(400, "invalid_request_error", "invalid_value", e.message, param, suggestion);
    case ErrorCode::kOutOfRange:
      return make(400, "invalid_request_error", "context_length_exceeded", e.message, param, suggestion);
    case ErrorCode::kUnsupported:
      return make(400, "invalid_request_error", "unsupported", e.message, param, suggestion);
    case ErrorCode::kNotFound:
      return make(404, "not_found_error", "not_found", e.message, param, suggestion);
    case ErrorCode::kTimeout:
      return timed_out(e);
    case ErrorCode::kOutOfMemory:
      return make(503, "server_error", "server_overloaded", e.message, param, suggestion);
    case ErrorCode::kCancelled:
    case ErrorCode::kIoError:
    case ErrorCode::kMalformedFile:
    case ErrorCode::kInternal:
      break;
  }
  return make(500, "server_error", "internal_error", e.message, param, suggestion);
}

}  // namespace cyllm::server
