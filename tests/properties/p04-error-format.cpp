// Property 4 — error response format conformance: every error body is OpenAI's error object
// {"error": {"message", "type", "param", "code"}} with an HTTP status that matches its type.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "server/openai-protocol.h"

namespace cyllm::server {
namespace {

using ojson = nlohmann::ordered_json;

const std::map<std::string, std::vector<int>> kStatusOfType = {
    {"invalid_request_error", {400, 413}}, {"authentication_error", {401}}, {"permission_error", {403}},
    {"not_found_error", {404}},            {"rate_limit_error", {429}},     {"server_error", {500, 503}},
    {"timeout_error", {504}}};

void check(const ApiError& e) {
  const ojson j = ojson::parse(e.to_json().dump());
  RC_ASSERT(j.size() == 1u);
  const ojson& o = j["error"];
  RC_ASSERT(o["message"].is_string() && !o["message"].get<std::string>().empty());
  RC_ASSERT(o["type"].is_string());
  RC_ASSERT(o["param"].is_null() || o["param"].is_string());
  RC_ASSERT(o["code"].is_null() || o["code"].is_string());
  auto it = kStatusOfType.find(o["type"].get<std::string>());
  RC_ASSERT(it != kStatusOfType.end());
  RC_ASSERT(std::find(it->second.begin(), it->second.end(), e.status) != it->second.end());
}

RC_GTEST_PROP(P04ErrorFormat, GarbageBodiesGiveInvalidJson, ()) {
  const auto body = *rc::gen::string<std::string>();
  for (auto parsed : {parse_chat_request(body)}) {
    if (std::holds_alternative<ApiError>(parsed)) check(std::get<ApiError>(parsed));
  }
  auto c = parse_completion_request(body);
  if (std::holds_alternative<ApiError>(c)) check(std::get<ApiError>(c));
}

RC_GTEST_PROP(P04ErrorFormat, EveryConstructorAndEngineError, ()) {
  const auto s = *rc::gen::string<std::string>();
  for (const ApiError& e : {invalid_param(s, s), missing_param(s), invalid_json(s), model_not_found(s),
                            route_not_found("GET", s), unauthorized("bad key"), body_too_large(1024), rate_limited(1.5),
                            overloaded(s), timed_out(make_error(ErrorCode::kTimeout, "late"))})
    check(e);
  const auto code = static_cast<ErrorCode>(*rc::gen::inRange(0, static_cast<int>(ErrorCode::kInternal) + 1));
  check(from_engine_error(make_error(code, "x"), s));
}

TEST(P04ErrorFormat, CatalogStatusesMatchTypes) {
  for (const auto& c : error_catalog()) {
    auto it = kStatusOfType.find(c.type);
    ASSERT_NE(it, kStatusOfType.end()) << c.code;
    EXPECT_NE(std::find(it->second.begin(), it->second.end(), c.status), it->second.end()) << c.code;
  }
}

}  // namespace
}  // namespace cyllm::server
