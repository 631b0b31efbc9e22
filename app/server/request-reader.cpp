// The "messages" field of chat-shaped requests (see request-reader.h).
#include "server/request-reader.h"

namespace cyllm::server::detail {

namespace {

const std::set<std::string> kRoles = {"system", "developer", "user", "assistant", "tool"};

// Text content: a string, or a list of {"type": "text", "text": ...} parts joined with "\n" (what
// a string-content chat template expects; vLLM does the same).
std::optional<std::string> read_content(const ojson& c, const std::string& where, Reader& r) {
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) {
    r.fail(invalid_param(where, "must be a string or a list of content parts"));
    return std::nullopt;
  }
  std::string out;
  for (size_t k = 0; k < c.size(); ++k) {
    const ojson& part = c[k];
    const std::string pw = where + "[" + std::to_string(k) + "]";
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) {
      r.fail(invalid_param(pw, "each content part must be an object with a 'type'"));
      return std::nullopt;
    }
    if (part["type"] != "text") {
      r.fail(invalid_param(pw + ".type", "only 'text' parts are supported, got '" + part["type"].get<std::string>() + "'"));
      return std::nullopt;
    }
    if (!part.contains("text") || !part["text"].is_string()) {
      r.fail(invalid_param(pw + ".text", "must be a string"));
      return std::nullopt;
    }
    if (k > 0) out += "\n";
    out += part["text"].get<std::string>();
  }
  return out;
}

}  // namespace

std::optional<ojson> parse_object(std::string_view body, ApiError* err) {
  ojson j = ojson::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) *err = invalid_json("it does not parse");
  else if (!j.is_object()) *err = invalid_json("the top level must be an object");
  else return j;
  return std::nullopt;
}

ojson read_messages(Reader& r) {
  ojson messages = ojson::array();
  const ojson* msgs = r.get("messages");
  if (msgs == nullptr) {
    r.fail(missing_param("messages"));
  } else if (!msgs->is_array() || msgs->empty()) {
    r.fail(invalid_param("messages", "must be a non-empty list of messages"));
  } else {
    messages = ojson::array();
    for (size_t i = 0; i < msgs->size() && r.ok(); ++i) {
      const ojson& m = (*msgs)[i];
      const std::string w = "messages[" + std::to_string(i) + "]";
      if (!m.is_object()) {
        r.fail(invalid_param(w, "must be an object"));
        break;
      }
      if (!m.contains("role") || !m["role"].is_string()) {
        r.fail(invalid_param(w + ".role", "is required and must be a string"));
        break;
      }
      const std::string role = m["role"].get<std::string>();
      if (!kRoles.count(role)) {
        r.fail(invalid_param(w + ".role", "'" + role + "' is not one of system, developer, user, assistant, tool"));
        break;
      }
      ojson out = ojson::object();
      out["role"] = role;
      const bool has_tool_calls = m.contains("tool_calls") && !m["tool_calls"].is_null();
      if (!m.contains("content") || m["content"].is_null()) {
        if (!(role == "assistant" && has_tool_calls)) {
          r.fail(invalid_param(w + ".content", "is required for role '" + role + "'"));
          break;
        }
        out["content"] = nullptr;
      } else if (auto text = read_content(m["content"], w + ".content", r)) {
        out["content"] = *text;
      } else {
        break;
      }
      if (has_tool_calls) {
        if (role != "assistant" || !m["tool_calls"].is_array()) {
          r.fail(invalid_param(w + ".tool_calls", "is a list and only allowed on assistant messages"));
          break;
        }
        out["tool_calls"] = m["tool_calls"];
      }
      for (const char* key : {"name", "tool_call_id"})
        if (m.contains(key) && !m[key].is_null()) {
          if (!m[key].is_string()) {
            r.fail(invalid_param(w + "." + key, "must be a string"));
            break;
          }
          out[key] = m[key];
        }
      messages.push_back(std::move(out));
    }
  }
  return messages;
}

}  // namespace cyllm::server::detail
