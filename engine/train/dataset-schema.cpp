// Schema detection, column mapping and the per-row checks of the four schemas (see
// dataset-schema.h). Reasons are short fixed phrases so tools and tests can match them:
// "missing", "empty", "expected a string, got number", "empty turn", "unknown role 'x'",
// "bad role order: ...".
#include "train/dataset-schema.h"

#include <cstring>
#include <set>

namespace cyllm::train {

using json = nlohmann::ordered_json;

std::string_view schema_name(Schema s) {
  switch (s) {
    case Schema::kAlpaca: return "alpaca";
    case Schema::kMessages: return "messages";
    case Schema::kShareGpt: return "sharegpt";
    case Schema::kText: return "text";
  }
  return "?";
}

std::optional<Schema> parse_schema_name(std::string_view n) {
  if (n == "alpaca") return Schema::kAlpaca;
  if (n == "messages" || n == "openai") return Schema::kMessages;
  if (n == "sharegpt") return Schema::kShareGpt;
  if (n == "text") return Schema::kText;
  return std::nullopt;
}

std::string ColumnMap::col(const std::string& canonical) const {
  auto it = columns.find(canonical);
  return it == columns.end() ? canonical : it->second;
}

Result<ColumnMap> ColumnMap::parse(const std::vector<std::string>& specs) {
  static const std::set<std::string> kFields = {"instruction", "input", "output", "system", "history",
                                                "messages", "tools", "conversations", "text",
                                                "role", "content", "from", "value"};
  ColumnMap m;
  for (const auto& s : specs) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
      return make_error(ErrorCode::kInvalidArgument, "column mapping '" + s + "' is not field=column",
                        "write e.g. --map instruction=prompt");
    std::string f = s.substr(0, eq);
    if (!kFields.count(f))
      return make_error(ErrorCode::kInvalidArgument, "unknown field '" + f + "' in column mapping",
                        "fields: instruction input output system history messages tools conversations text role "
                        "content from value");
    m.columns[f] = s.substr(eq + 1);
  }
  return m;
}

std::optional<Schema> guess_schema(const json& row, ColumnMap* map) {
  if (!row.is_object()) return std::nullopt;
  auto has = [&](const char* f) { return row.contains(map->col(f)); };
  if (has("messages")) {
    const json& m = row[map->col("messages")];
    if (m.is_array() && !m.empty() && m[0].is_object() && m[0].contains(map->col("from")) &&
        !m[0].contains(map->col("role")) && !map->columns.count("conversations")) {
      map->columns["conversations"] = map->col("messages");
      return Schema::kShareGpt;
    }
    return Schema::kMessages;
  }
  if (has("conversations")) return Schema::kShareGpt;
  if (has("instruction") || has("output")) return Schema::kAlpaca;
  if (has("text")) return Schema::kText;
  return std::nullopt;
}

namespace {

std::string got(const json& v) { return std::string("got ") + v.type_name(); }

struct Checker {
  std::vector<FieldProblem>* out;
  bool ok = true;
  void add(std::string field, std::string reason) {
    ok = false;
    out->push_back({std::move(field), std::move(reason)});
  }
  // A required string field: missing, null, wrong type or empty (when !allow_empty).
  const std::string* req_string(const json& row, const std::string& f, bool allow_empty = false) {
    auto it = row.find(f);
    if (it == row.end() || it->is_null()) {
      add(f, "missing");
      return nullptr;
    }
    if (!it->is_string()) {
      add(f, "expected a string, " + got(*it));
      return nullptr;
    }
    const std::string& s = it->get_ref<const std::string&>();
    if (!allow_empty && s.empty()) {
      add(f, "empty");
      return nullptr;
    }
    return &s;
  }
  // An optional string field: absent or null is fine; a wrong type is not.
  const std::string* opt_string(const json& row, const std::string& f, bool* bad = nullptr) {
    auto it = row.find(f);
    if (it == row.end() || it->is_null()) return nullptr;
    if (!it->is_string()) {
      add(f, "expected a string, " + got(*it));
      if (bad) *bad = true;
      return nullptr;
    }
    return &it->get_ref<const std::string&>();
  }
};

// tools: a JSON array, or a string holding one (ShareGPT); empty string / absent = none.
void check_tools(Checker& c, const json& row, const std::string& f, Conversation* conv) {
  auto it = row.find(f);
  if (it == row.end() || it->is_null()) return;
  if (it->is_array()) {
    if (!it->empty()) conv->tools = *it;
    return;
  }
  if (!it->is_string()) {
    c.add(f, "expected a JSON array or a string holding one, " + got(*it));
    return;
  }
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty()) return;
  auto v = json::parse(s, nullptr, false);
  if (v.is_discarded() || !v.is_array()) {
    c.add(f, "invalid JSON: tools must hold a JSON array");
    return;
  }
  if (!v.empty()) conv->tools = std::move(v);
}

// Text of a message content: a string, or a list of parts {"type":"text","text"|"value":...}.
template <class PathFn>
bool content_text(Checker& c, const json& v, const PathFn& path_of, std::string* out, bool* empty) {
  if (v.is_string()) {
    *out = v.get_ref<const std::string&>();
    *empty = out->empty();
    return true;
  }
  if (v.is_array()) {
    out->clear();
    bool good = true;
    for (size_t k = 0; k < v.size(); ++k) {
      const json& p = v[k];
      auto pp = [&] { return path_of() + "[" + std::to_string(k) + "]"; };
      if (!p.is_object()) {
        c.add(pp(), "expected a content part object, " + got(p));
        good = false;
        continue;
      }
      auto t = p.find("type");
      if (t != p.end() && !(t->is_string() && *t == "text")) {
        c.add(pp() + ".type", t->is_string() ? "unsupported content part type '" + t->get<std::string>() + "'"
                                           : "expected a string, " + got(*t));
        good = false;
        continue;
      }
      const char* key = p.contains("text") ? "text" : p.contains("value") ? "value" : nullptr;
      if (!key) {
        c.add(pp() + ".text", "missing");
        good = false;
        continue;
      }
      if (!p[key].is_string()) {
        c.add(pp() + "." + key, "expected a string, " + got(p[key]));
        good = false;
        continue;
      }
      *out += p[key].get<std::string>();
    }
    *empty = good && out->empty();
    return good;
  }
  if (v.is_null()) {
    out->clear();
    *empty = true;
    return true;
  }
  c.add(path_of(), "expected a string or a list of content parts, " + got(v));
  return false;
}

void check_alpaca(Checker& c, const ColumnMap& m, const json& row, Conversation* conv) {
  std::string fi = m.col("instruction"), fin = m.col("input"), fo = m.col("output"), fs = m.col("system"),
              fh = m.col("history");
  const std::string* sys = c.opt_string(row, fs);
  bool bad_input = false;
  const std::string* input = c.opt_string(row, fin, &bad_input);
  const std::string* ins = nullptr;
  {
    auto it = row.find(fi);
    if (it == row.end() || it->is_null()) c.add(fi, "missing");
    else if (!it->is_string()) c.add(fi, "expected a string, " + got(*it));
    else if (it->get_ref<const std::string&>().empty() && (!input || input->empty()) && !bad_input) c.add(fi, "empty");
    else ins = &it->get_ref<const std::string&>();
  }
  const std::string* out = c.req_string(row, fo);
  if (sys && !sys->empty()) conv->messages.push_back(json{{"role", "system"}, {"content", *sys}});
  auto h = row.find(fh);
  if (h != row.end() && !h->is_null()) {
    if (!h->is_array()) {
      c.add(fh, "expected a list of [instruction, response] pairs, " + got(*h));
    } else {
      for (size_t k = 0; k < h->size(); ++k) {
        const json& p = (*h)[k];
        std::string pp = fh + "[" + std::to_string(k) + "]";
        if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_string()) {
          c.add(pp, "expected an [instruction, response] pair of strings");
          continue;
        }
        if (p[0].get_ref<const std::string&>().empty()) c.add(pp + "[0]", "empty turn");
        if (p[1].get_ref<const std::string&>().empty()) c.add(pp + "[1]", "empty turn");
        conv->messages.push_back(json{{"role", "user"}, {"content", p[0]}});
        conv->messages.push_back(json{{"role", "assistant"}, {"content", p[1]}});
      }
    }
  }
  if (ins && out) {
    std::string prompt = *ins;
    if (input && !input->empty()) prompt = prompt.empty() ? *input : prompt + "\n" + *input;
    conv->messages.push_back(json{{"role", "user"}, {"content", prompt}});
    conv->messages.push_back(json{{"role", "assistant"}, {"content", *out}});
  }
}

// Role order shared by both chat schemas, in OpenAI roles. Reports the first violation only.
template <class FieldOf>
void check_order(Checker& c, const std::vector<std::string>& roles, const FieldOf& role_field,
                 const std::vector<bool>& known) {
  std::string prev;
  for (size_t i = 0; i < roles.size(); ++i) {
    if (!known[i]) return;  // an unknown role is already reported
    const std::string& r = roles[i];
    std::string why;
    if (r == "system") {
      if (i != 0) why = "'system' is only allowed as the first turn";
    } else if (prev.empty() || prev == "system") {
      if (r != "user") why = "the conversation must start with a user turn, not '" + r + "'";
    } else if (r == "user") {
      if (prev == "user") why = "'user' follows 'user'";
    } else if (r == "assistant") {
      if (prev == "assistant") why = "'assistant' follows 'assistant'";
    } else if (r == "tool") {
      if (prev != "assistant" && prev != "tool") why = "'tool' must follow an assistant tool call";
    }
    if (!why.empty()) {
      c.add(role_field(i), "bad role order: " + why);
      return;
    }
    prev = r;
  }
  if (!roles.empty() && prev != "assistant" && prev != "system")
    c.add(role_field(roles.size() - 1),
          "bad role order: the conversation must end with an assistant turn, not '" + prev + "'");
  else if (!roles.empty() && prev == "system")
    c.add(role_field(roles.size() - 1), "bad role order: the conversation has no user and assistant turns");
}

void check_chat(Checker& c, Schema schema, const ColumnMap& m, const json& row, Conversation* conv) {
  bool sg = schema == Schema::kShareGpt;
  std::string f = m.col(sg ? "conversations" : "messages");
  std::string frole = m.col(sg ? "from" : "role"), fcontent = m.col(sg ? "value" : "content");
  check_tools(c, row, m.col("tools"), conv);
  const std::string* sys = sg ? c.opt_string(row, m.col("system")) : nullptr;
  auto it = row.find(f);
  if (it == row.end() || it->is_null()) {
    c.add(f, "missing");
    return;
  }
  if (!it->is_array()) {
    c.add(f, "expected a list of turns, " + got(*it));
    return;
  }
  if (it->empty()) {
    c.add(f, "empty");
    return;
  }
  if (sys && !sys->empty()) conv->messages.push_back(json{{"role", "system"}, {"content", *sys}});
  std::vector<std::string> roles;
  std::vector<bool> known;
  roles.reserve(it->size() + 1);
  bool structure_ok = true;
  for (size_t i = 0; i < it->size(); ++i) {
    const json& t = (*it)[i];
    // The turn's path, built only when a problem is reported.
    struct Path {
      const std::string& f;
      size_t i;
      operator std::string() const { return f + "[" + std::to_string(i) + "]"; }
      std::string operator+(const std::string& s) const { return std::string(*this) + s; }
      std::string operator+(const char* s) const { return std::string(*this) + s; }
    } tp{f, i};
    if (!t.is_object()) {
      c.add(tp, "expected an object, " + got(t));
      structure_ok = false;
      continue;
    }
    std::string role;
    bool role_ok = false;
    auto r = t.find(frole);
    if (r == t.end() || r->is_null()) c.add(tp + "." + frole, "missing");
    else if (!r->is_string()) c.add(tp + "." + frole, "expected a string, " + got(*r));
    else {
      std::string v = r->get<std::string>();
      if (sg) {
        static const std::map<std::string, std::string> kTags = {{"human", "user"}, {"gpt", "assistant"},
                                                                 {"system", "system"}, {"function_call", "assistant"},
                                                                 {"observation", "tool"}};
        auto k = kTags.find(v);
        if (k == kTags.end()) c.add(tp + "." + frole, "unknown role '" + v + "'");
        else role = k->second, role_ok = true;
        // ShareGPT: function_call counts as an assistant turn and observation as a tool turn, but a
        // function_call must be followed by an observation, which check_order covers as tool-after-assistant.
      } else {
        if (v == "developer") v = "system";
        if (v == "function") v = "tool";
        if (v == "system" || v == "user" || v == "assistant" || v == "tool") role = v, role_ok = true;
        else c.add(tp + "." + frole, "unknown role '" + v + "'");
      }
    }
    if (!role_ok) structure_ok = false;
    std::string text;
    bool empty = false;
    bool has_tool_calls = !sg && t.contains("tool_calls") && t["tool_calls"].is_array() && !t["tool_calls"].empty();
    auto ct = t.find(fcontent);
    if (ct == t.end()) {
      if (!has_tool_calls) {
        c.add(tp + "." + fcontent, "missing");
        structure_ok = false;
      }
    } else if (!content_text(c, *ct, [&] { return tp + "." + fcontent; }, &text, &empty)) {
      structure_ok = false;
    } else if (empty && !has_tool_calls) {
      c.add(tp + "." + fcontent, "empty turn");
    }
    roles.push_back(role);
    known.push_back(role_ok);
    json msg = json::object();
    msg["role"] = std::move(role);
    msg["content"] = std::move(text);
    if (has_tool_calls) msg["tool_calls"] = t["tool_calls"];
    if (!sg && t.contains("tool_call_id")) msg["tool_call_id"] = t["tool_call_id"];
    if (!sg && t.contains("name") && t["name"].is_string()) msg["name"] = t["name"];
    conv->messages.push_back(std::move(msg));
  }
  if (structure_ok) {
    size_t shift = 0;
    if (sys && !sys->empty()) {
      // The system column comes first; a system turn in the list after it is out of order.
      roles.insert(roles.begin(), "system");
      known.insert(known.begin(), true);
      shift = 1;
    }
    check_order(c, roles, [&](size_t k) {
      if (k < shift) return m.col("system");
      return f + "[" + std::to_string(k - shift) + "]." + frole;
    }, known);
  }
}

}  // namespace

bool check_row(Schema schema, const ColumnMap& map, const json& row, std::vector<FieldProblem>* problems,
               Conversation* conv) {
  Checker c{problems};
  *conv = Conversation{};
  if (!row.is_object()) {
    c.add("", "expected a row object, " + got(row));
    return false;
  }
  switch (schema) {
    case Schema::kAlpaca: check_alpaca(c, map, row, conv); break;
    case Schema::kMessages:
    case Schema::kShareGpt: check_chat(c, schema, map, row, conv); break;
    case Schema::kText: {
      const std::string* t = c.req_string(row, map.col("text"));
      if (t) conv->text = *t;
      break;
    }
  }
  return c.ok;
}

uint64_t hash_bytes(std::string_view s, uint64_t h) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  h ^= s.size() * 0xC2B2AE3D27D4EB4Full;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  uint64_t w = 0;
  if (s.size() > i) std::memcpy(&w, s.data() + i, s.size() - i);
  h = (h ^ w) * kMul;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

namespace {
uint64_t hash_json(const json& v, uint64_t h) {
  if (v.is_string()) return hash_bytes(v.get_ref<const std::string&>(), h ^ 0x51);
  if (v.is_array()) {
    h = hash_bytes("[", h);
    for (const auto& e : v) h = hash_json(e, h);
    return hash_bytes("]", h);
  }
  if (v.is_object()) {
    h = hash_bytes("{", h);
    for (auto it = v.begin(); it != v.end(); ++it) h = hash_json(it.value(), hash_bytes(it.key(), h));
    return hash_bytes("}", h);
  }
  return hash_bytes(v.dump(), h ^ 0x77);
}
}  // namespace

uint64_t conversation_hash(const Conversation& conv) {
  if (conv.text) return hash_bytes(*conv.text, 0x7465787400000000ull);
  uint64_t h = hash_json(conv.messages, 0x6d73677300000000ull);
  if (!conv.tools.is_null()) h = hash_json(conv.tools, h ^ 0x746f6f6c73ull);
  return h;
}

}  // namespace cyllm::train
