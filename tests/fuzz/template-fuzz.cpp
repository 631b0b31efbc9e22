// libFuzzer target: the chat-template parser and renderer. The input is a template; it is parsed
// and rendered against a fixed conversation (system/user/assistant with tool calls/tool). Any
// outcome is fine except a crash, a hang or a sanitizer report: malformed templates must give
// errors. Limits are lowered so slow inputs fail fast instead of timing out.
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>

#include <nlohmann/json.hpp>

#include "text/chat-template.h"
#include "text/jinja/error.h"
#include "text/jinja/evaluator.h"
#include "text/jinja/parser.h"

namespace {

const nlohmann::ordered_json& messages() {
  static const nlohmann::ordered_json m = nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "You are {{ helpful }} {% raw %}"},
    {"role": "user", "content": "Hé \"quoted\" \\ {}\n"},
    {"role": "assistant", "content": null, "tool_calls": [
      {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2.5, true, null]}}}]},
    {"role": "tool", "content": "{\"temp\": 21}"},
    {"role": "user", "content": [{"type": "text", "text": "part"}]}
  ])");
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    cyllm::jinja::Template tpl = cyllm::jinja::parse_template(text);
    auto globals = cyllm::jinja::make_builtin_scope();
    auto vars = std::make_shared<cyllm::jinja::Scope>();
    vars->parent = globals;
    vars->vars["messages"] = cyllm::jinja::from_json(messages());
    vars->vars["tools"] = cyllm::jinja::from_json(nlohmann::ordered_json::parse(
        R"([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": ["string", "null"]}}}}}])"));
    vars->vars["add_generation_prompt"] = cyllm::jinja::Value::boolean(true);
    vars->vars["bos_token"] = cyllm::jinja::Value::string("<s>");
    vars->vars["eos_token"] = cyllm::jinja::Value::string("</s>");
    cyllm::jinja::EvalLimits limits;
    limits.max_output_bytes = 1 << 20;
    limits.max_call_depth = 64;
    limits.max_steps = 200000;
    cyllm::jinja::Evaluator ev(limits);
    std::string out = ev.render(tpl, vars);
    (void)out;
  } catch (const cyllm::jinja::JinjaError&) {
    // expected for malformed or failing templates
  } catch (const std::bad_alloc&) {
  }
  // The public API must turn the same input into a value or an Error, never throw.
  auto ct = cyllm::ChatTemplate::from_text(text);
  (void)ct;
  return 0;
}
