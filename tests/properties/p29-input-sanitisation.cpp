// Property 29 — input sanitisation effectiveness: control characters and oversized fields are
// rejected with a 400 naming the field; clean requests pass; and whatever a request carries, a log
// line about it stays one line with every control character escaped.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/log.h"
#include "server/input-limits.h"

namespace cyllm::server {
namespace {

using ojson = nlohmann::ordered_json;

rc::Gen<std::string> clean_text() {
  return rc::gen::container<std::string>(rc::gen::oneOf(rc::gen::inRange<char>(32, 127), rc::gen::element('\t', '\n', '\r')));
}

RC_GTEST_PROP(P29InputSanitisation, ControlCharsAndOversizeAreRejected, ()) {
  InputLimits lim;
  lim.max_field_bytes = 64;
  lim.max_messages = 8;
  lim.context_tokens = 1000;
  const int n = *rc::gen::inRange(1, 8);
  ojson msgs = ojson::array();
  for (int i = 0; i < n; ++i) {
    auto t = *clean_text();
    if (t.size() > 64) t.resize(64);
    msgs.push_back({{"role", "user"}, {"content", t}});
  }
  ojson body = {{"model", "m"}, {"messages", msgs}, {"max_tokens", *rc::gen::inRange(1, 1001)}};
  // Clean request: passes.
  auto ok = parse_chat_request(body.dump());
  RC_ASSERT(std::holds_alternative<ChatRequest>(ok));
  RC_ASSERT(!check_chat_input(std::get<ChatRequest>(ok), lim).has_value());

  const int kind = *rc::gen::inRange(0, 5);
  const int at = *rc::gen::inRange(0, n);
  std::string param;
  switch (kind) {
    case 0: {
      std::string s = body["messages"][at]["content"];
      const char bad = *rc::gen::element('\x00', '\x01', '\x1b', '\x7f', '\x08');
      s.insert(s.begin() + static_cast<long>(*rc::gen::inRange<size_t>(0, s.size() + 1)), bad);
      body["messages"][at]["content"] = s;
      param = "messages[" + std::to_string(at) + "].content";
      break;
    }
    case 1:
      body["messages"][at]["content"] = std::string(65, 'a');
      param = "messages[" + std::to_string(at) + "].content";
      break;
    case 2:
      for (int i = 0; i < 9; ++i) body["messages"].push_back({{"role", "user"}, {"content", "x"}});
      param = "messages";
      break;
    case 3:
      body["max_tokens"] = 1001;
      param = "max_tokens";
      break;
    default:
      body["user"] = std::string("name\x1b[31m");
      param = "user";
      break;
  }
  auto bad = parse_chat_request(body.dump());
  RC_ASSERT(std::holds_alternative<ChatRequest>(bad));
  const auto err = check_chat_input(std::get<ChatRequest>(bad), lim);
  RC_ASSERT(err.has_value());
  RC_ASSERT(err->status == 400);
  RC_ASSERT(err->param == param);
}

RC_GTEST_PROP(P29InputSanitisation, LogLinesCannotBeForged, ()) {
  std::vector<std::string> lines;
  Logger log({LogLevel::kDebug, false}, [&](std::string_view l) { lines.emplace_back(l); });
  const auto s = *rc::gen::string<std::string>();
  log.log(LogLevel::kInfo, s, {{"field", s}, {"user", s + "\n{\"level\":\"error\",\"event\":\"forged\"}"}});
  RC_ASSERT(lines.size() == 1u);
  const std::string& l = lines[0];
  RC_ASSERT(l.find('\n') == l.size() - 1);
  for (size_t i = 0; i + 1 < l.size(); ++i) RC_ASSERT(static_cast<unsigned char>(l[i]) >= 0x20);
}

}  // namespace
}  // namespace cyllm::server
