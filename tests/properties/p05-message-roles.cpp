// Property 5 — message role parsing correctness: any valid messages array is parsed in order with
// its roles (content strings, or text parts joined with "\n"); an unknown role or malformed content
// is rejected with `param` naming the message.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "server/openai-protocol.h"

namespace cyllm::server {
namespace {

using ojson = nlohmann::ordered_json;

RC_GTEST_PROP(P05MessageRoles, ValidArraysParseInOrder, ()) {
  const int n = *rc::gen::inRange(1, 12);
  ojson msgs = ojson::array();
  std::vector<std::pair<std::string, std::string>> expect;
  for (int i = 0; i < n; ++i) {
    const std::string role = *rc::gen::element<std::string>("system", "developer", "user", "assistant", "tool");
    const auto parts = *rc::gen::container<std::vector<std::string>>(*rc::gen::inRange(1, 4), rc::gen::string<std::string>());
    ojson m = {{"role", role}};
    if (parts.size() == 1 && *rc::gen::arbitrary<bool>()) {
      m["content"] = parts[0];
      expect.emplace_back(role, parts[0]);
    } else {
      ojson arr = ojson::array();
      std::string joined;
      for (size_t k = 0; k < parts.size(); ++k) {
        arr.push_back({{"type", "text"}, {"text", parts[k]}});
        joined += (k ? "\n" : "") + parts[k];
      }
      m["content"] = arr;
      expect.emplace_back(role, joined);
    }
    msgs.push_back(m);
  }
  auto parsed = parse_chat_request(ojson({{"model", "m"}, {"messages", msgs}}).dump(-1, ' ', false, ojson::error_handler_t::replace));
  RC_ASSERT(std::holds_alternative<ChatRequest>(parsed));
  const auto& out = std::get<ChatRequest>(parsed).messages;
  RC_ASSERT(out.size() == expect.size());
  for (size_t i = 0; i < expect.size(); ++i) {
    RC_ASSERT(out[i]["role"].get<std::string>() == expect[i].first);
    // JSON round trip replaces invalid UTF-8; compare against the same normalisation.
    const std::string want = ojson(expect[i].second).dump(-1, ' ', false, ojson::error_handler_t::replace);
    RC_ASSERT(out[i]["content"].dump(-1, ' ', false, ojson::error_handler_t::replace) == want);
  }
}

RC_GTEST_PROP(P05MessageRoles, BadRoleOrContentIsRejected, ()) {
  const int n = *rc::gen::inRange(1, 6);
  ojson msgs = ojson::array();
  for (int i = 0; i < n; ++i) msgs.push_back({{"role", "user"}, {"content", "ok"}});
  const int bad = *rc::gen::inRange(0, n);
  const int kind = *rc::gen::inRange(0, 5);
  ojson& m = msgs[static_cast<size_t>(bad)];
  std::string param = "messages[" + std::to_string(bad) + "]";
  switch (kind) {
    case 0: m["role"] = *rc::gen::element<std::string>("bot", "System", "", "function"); param += ".role"; break;
    case 1: m["content"] = 42; param += ".content"; break;
    case 2: m["content"] = ojson::array({{{"type", "image_url"}, {"image_url", "x"}}}); param += ".content[0].type"; break;
    case 3: m.erase("role"); param += ".role"; break;
    default: m["content"] = nullptr; param += ".content"; break;
  }
  auto parsed = parse_chat_request(ojson({{"model", "m"}, {"messages", msgs}}).dump());
  RC_ASSERT(std::holds_alternative<ApiError>(parsed));
  RC_ASSERT(std::get<ApiError>(parsed).status == 400);
  RC_ASSERT(std::get<ApiError>(parsed).param == param);
}

TEST(P05MessageRoles, AssistantToolCallsWithoutContent) {
  const ojson body = {{"model", "m"},
                      {"messages", ojson::array({{{"role", "user"}, {"content", "weather?"}},
                                                 {{"role", "assistant"}, {"content", nullptr},
                                                  {"tool_calls", ojson::array({{{"id", "c1"}, {"type", "function"}}})}},
                                                 {{"role", "tool"}, {"content", "21C"}, {"tool_call_id", "c1"}}})}};
  auto parsed = parse_chat_request(body.dump());
  ASSERT_TRUE(std::holds_alternative<ChatRequest>(parsed));
  EXPECT_EQ(std::get<ChatRequest>(parsed).messages[2]["tool_call_id"], "c1");
}

}  // namespace
}  // namespace cyllm::server
