// Property 30 — sensitive data redaction: API keys, Authorization headers and (when the setting is
// on) prompt text never appear in logs, wherever they sit in the logged fields; and a logged value
// can never start a new log line (part of Property 29).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/log.h"

namespace cyllm {
namespace {

rc::Gen<std::string> secret_body() {
  return rc::gen::container<std::string>(*rc::gen::inRange<size_t>(16, 48),
                                         rc::gen::elementOf(std::string("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")));
}

RC_GTEST_PROP(P30SensitiveRedaction, SecretsNeverReachTheLog, ()) {
  const bool redact_prompts = *rc::gen::arbitrary<bool>();
  std::vector<std::string> lines;
  Logger log({LogLevel::kDebug, redact_prompts}, [&](std::string_view l) { lines.emplace_back(l); });
  const std::string key = *rc::gen::element<std::string>("cyk-", "cyk_", "sk-") + *secret_body();
  const std::string bearer = *secret_body();
  const std::string prompt = "PROMPT" + *secret_body();
  const std::string noise = *rc::gen::string<std::string>();
  nlohmann::json fields = {
      {"endpoint", "/v1/chat/completions"},
      {*rc::gen::element<std::string>("authorization", "Authorization", "x-api-key", "api_key", "password", "access_token"),
       *rc::gen::element(std::string("Bearer ") + bearer, key)},
      {"note", noise + " Authorization: Bearer " + bearer + " " + noise},
      {"nested", {{"list", nlohmann::json::array({noise, "key is " + key, {{"Bearer", bearer}}})}}},
      {"error", "invalid key " + key + " for tenant"},
  };
  if (redact_prompts) fields["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", prompt}}});
  log.log(*rc::gen::element(LogLevel::kDebug, LogLevel::kInfo, LogLevel::kError), "request " + key, fields);
  RC_ASSERT(lines.size() == 1u);
  const std::string& l = lines[0];
  RC_ASSERT(l.find(key) == std::string::npos);
  RC_ASSERT(l.find(key.substr(4)) == std::string::npos || key.rfind("sk-", 0) == 0);
  RC_ASSERT(l.find(bearer) == std::string::npos);
  if (redact_prompts) RC_ASSERT(l.find(prompt) == std::string::npos);
  // One line, and it parses back as one JSON object.
  RC_ASSERT(l.find('\n') == l.size() - 1);
  RC_ASSERT(nlohmann::json::parse(l).is_object());
}

TEST(P30SensitiveRedaction, LevelFilterAndPlainText) {
  std::vector<std::string> lines;
  Logger log({LogLevel::kWarn, false}, [&](std::string_view l) { lines.emplace_back(l); });
  log.log(LogLevel::kInfo, "hidden", {});
  log.log(LogLevel::kWarn, "shown", {{"content", "hello"}, {"evil", "x\n{\"level\":\"error\"}"}});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("hello"), std::string::npos);  // prompts kept unless the setting is on
  EXPECT_EQ(lines[0].find('\n'), lines[0].size() - 1);
  EXPECT_EQ(redact_text("short sk-1 stays"), "short sk-1 stays");
}

}  // namespace
}  // namespace cyllm
