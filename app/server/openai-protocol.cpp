#include "server/openai-protocol.h"
#include "server/request-reader.h"
#include "text/utf8-stream.h"

#include <charconv>
#include <cmath>
#include <mutex>
#include <random>
#include <set>

namespace cyllm::server {

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using detail::Reader;
using detail::read_messages;

// Parameters chat and completions share. OpenAI's defaults: temperature 1, top_p 1, no penalties;
// engine extensions (top_k, min_p, repetition_penalty) default to off.
void read_common(Reader& r, GenerationParams& p, bool chat) {
  if (auto m = r.string("model")) {
    p.model = *m;
  } else if (r.ok()) {
    r.fail(missing_param("model"));
  }
  SamplingParams& s = p.sampling;
  s.temperature = 1.0f;
  s.top_p = 1.0f;
  s.top_k = 0;
  s.min_p = 0.0f;
  s.repetition_penalty = 1.0f;
  s.penalty_last_n = -1;  // OpenAI's penalties count the whole output
  if (auto v = r.number("temperature", 0, 2)) s.temperature = static_cast<float>(*v);
  if (auto v = r.number("top_p", 0, 1, /*lo_open=*/true)) s.top_p = static_cast<float>(*v);
  if (auto v = r.number("presence_penalty", -2, 2)) s.presence_penalty = static_cast<float>(*v);
  if (auto v = r.number("frequency_penalty", -2, 2)) s.frequency_penalty = static_cast<float>(*v);
  if (auto v = r.integer("top_k", 0, 1 << 20)) s.top_k = static_cast<int>(*v);
  if (auto v = r.number("min_p", 0, 1)) s.min_p = static_cast<float>(*v);
  if (auto v = r.number("repetition_penalty", 0, 10, /*lo_open=*/true)) s.repetition_penalty = static_cast<float>(*v);
  if (auto v = r.integer("seed", INT64_MIN, INT64_MAX)) {
    s.seed = static_cast<uint64_t>(*v);
    p.seed_given = true;
  }
  if (auto v = r.integer("max_tokens", 1, 1 << 24)) p.max_tokens = static_cast<int>(*v);
  if (auto v = r.integer("max_completion_tokens", 1, 1 << 24)) p.max_tokens = static_cast<int>(*v);
  if (auto v = r.integer("n", 1, 16)) p.n = static_cast<int>(*v);
  if (auto v = r.boolean("stream")) p.stream = *v;
  if (const ojson* so = r.get("stream_options")) {
    if (!so->is_object()) {
      r.fail(invalid_param("stream_options", "must be an object"));
    } else if (!p.stream) {
      r.fail(invalid_param("stream_options", "is only allowed when stream is true"));
    } else if (so->contains("include_usage")) {
      if (!(*so)["include_usage"].is_boolean())
        r.fail(invalid_param("stream_options.include_usage", "must be true or false"));
      else
        p.include_usage = (*so)["include_usage"].get<bool>();
    }
  }
  if (const ojson* st = r.get("stop")) {
    if (st->is_string()) {
      p.stop.push_back(st->get<std::string>());
    } else if (st->is_array() && st->size() <= 4) {
      for (const auto& x : *st) {
        if (!x.is_string()) {
          r.fail(invalid_param("stop", "must be a string or a list of at most 4 strings"));
          break;
        }
        p.stop.push_back(x.get<std::string>());
      }
    } else {
      r.fail(invalid_param("stop", "must be a string or a list of at most 4 strings"));
    }
    for (const auto& x : p.stop)
      if (x.empty()) r.fail(invalid_param("stop", "must not contain empty strings"));
  }
  if (const ojson* lb = r.get("logit_bias")) {
    if (!lb->is_object()) {
      r.fail(invalid_param("logit_bias", "must be an object mapping token ids to numbers"));
    } else {
      for (auto it = lb->begin(); it != lb->end(); ++it) {
        int64_t id = -1;
        const std::string& k = it.key();
        auto [ptr, ec] = std::from_chars(k.data(), k.data() + k.size(), id);
        if (ec != std::errc() || ptr != k.data() + k.size() || id < 0 || id > INT32_MAX) {
          r.fail(invalid_param("logit_bias", "key '" + k + "' is not a token id"));
          break;
        }
        if (!it->is_number() || it->get<double>() < -100 || it->get<double>() > 100) {
          r.fail(invalid_param("logit_bias", "values must be numbers between -100 and 100"));
          break;
        }
        s.logit_bias[static_cast<int32_t>(id)] = it->get<float>();
      }
    }
  }
  if (auto v = r.string("user")) p.user = *v;
  if (auto v = r.integer("priority", -1000, 1000)) p.priority = static_cast<int>(*v);
  if (auto v = r.boolean("ignore_eos")) p.ignore_eos = *v;  // extension (vLLM's): benchmarks
  if (auto v = r.string("lora")) p.lora = *v;               // extension: per-request adapter
  if (auto v = r.string("tier")) {
    p.tier = parse_tier(*v);
    if (!p.tier) r.fail(invalid_param("tier", "must be interactive, default or batch"));
  }
  if (const ojson* rf = r.get("response_format")) {
    const std::string type = rf->is_object() && rf->contains("type") && (*rf)["type"].is_string()
                                 ? (*rf)["type"].get<std::string>() : "";
    if (type == "json_object") {
      p.json_mode = true;
    } else if (type != "text") {
      r.fail(invalid_param("response_format", type == "json_schema" ? "json_schema is not supported yet; use json_object"
                                                                    : "type must be text or json_object"));
    }
  }
  if (chat) {
    if (auto v = r.boolean("logprobs")) p.logprobs = *v;
    if (auto v = r.integer("top_logprobs", 0, 20)) {
      p.top_logprobs = static_cast<int>(*v);
      if (!p.logprobs) r.fail(invalid_param("top_logprobs", "requires logprobs to be true"));
    }
  } else if (auto v = r.integer("logprobs", 0, 5)) {  // completions: the number of alternatives
    p.logprobs = true;
    p.top_logprobs = static_cast<int>(*v);
  }
}

}  // namespace

Parsed<ChatRequest> parse_chat_request(std::string_view body) {
  ApiError err;
  const std::optional<ojson> parsed = detail::parse_object(body, &err);
  if (!parsed) return err;
  const ojson& j = *parsed;
  ChatRequest req;
  Reader r(j);
  read_common(r, req, /*chat=*/true);
  req.messages = read_messages(r);
  if (const ojson* t = r.get("tools")) {
    if (!t->is_array()) r.fail(invalid_param("tools", "must be a list"));
    else req.tools = *t;
  }
  if (!r.ok()) return r.error();
  req.ignored_fields = r.unused();
  return req;
}

Parsed<CompletionRequest> parse_completion_request(std::string_view body) {
  ApiError err;
  const std::optional<ojson> parsed = detail::parse_object(body, &err);
  if (!parsed) return err;
  const ojson& j = *parsed;
  CompletionRequest req;
  Reader r(j);
  read_common(r, req, /*chat=*/false);
  const ojson* p = r.get("prompt");
  if (p == nullptr) {
    r.fail(missing_param("prompt"));
  } else if (p->is_string()) {
    req.prompt = p->get<std::string>();
  } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
    req.prompt = (*p)[0].get<std::string>();
  } else {
    r.fail(invalid_param("prompt", "must be a string (or a list holding one string)"));
  }
  if (auto v = r.boolean("echo")) req.echo = *v;
  if (!r.ok()) return r.error();
  req.ignored_fields = r.unused();
  return req;
}

namespace {

ojson usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

ojson byte_list(const std::string& raw) {
  ojson bytes = ojson::array();
  for (unsigned char c : raw) bytes.push_back(static_cast<int>(c));
  return bytes;
}

ojson logprob_entry(const TokenLogprob& t) {
  ojson top = ojson::array();
  for (const auto& [tok, lp] : t.top)
    top.push_back({{"token", sanitize_utf8(tok)}, {"logprob", lp}, {"bytes", byte_list(tok)}});
  return {{"token", sanitize_utf8(t.token)}, {"logprob", t.logprob}, {"bytes", byte_list(t.token)}, {"top_logprobs", top}};
}

ojson chat_logprobs(const std::vector<TokenLogprob>& lps) {
  ojson content = ojson::array();
  for (const auto& t : lps) content.push_back(logprob_entry(t));
  return {{"content", content}};
}

// Legacy completions logprobs: parallel arrays; text_offset counts bytes of the choice's text.
ojson completion_logprobs(const std::vector<TokenLogprob>& lps, size_t off = 0) {
  ojson tokens = ojson::array(), logprobs = ojson::array(), top = ojson::array(), offsets = ojson::array();
  for (const auto& t : lps) {
    tokens.push_back(sanitize_utf8(t.token));
    logprobs.push_back(t.logprob);
    ojson alt = ojson::object();
    for (const auto& [tok, lp] : t.top) alt[sanitize_utf8(tok)] = lp;
    top.push_back(alt);
    offsets.push_back(off);
    off += t.token.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", logprobs}, {"top_logprobs", top}, {"text_offset", offsets}};
}

}  // namespace

ojson chat_completion_response(const std::string& id, int64_t created, const std::string& model,
                               const std::vector<ChoiceResult>& choices, const Usage& usage, bool with_logprobs) {
  ojson cs = ojson::array();
  for (size_t i = 0; i < choices.size(); ++i)
    cs.push_back({{"index", i},
                  {"message", {{"role", "assistant"}, {"content", choices[i].text}}},
                  {"logprobs", with_logprobs ? chat_logprobs(choices[i].logprobs) : ojson(nullptr)},
                  {"finish_reason", choices[i].finish_reason}});
  return {{"id", id},       {"object", "chat.completion"}, {"created", created},
          {"model", model}, {"choices", cs},               {"usage", usage_json(usage)},
          {"system_fingerprint", "cyllm"}};
}

ojson completion_response(const std::string& id, int64_t created, const std::string& model,
                          const std::vector<ChoiceResult>& choices, const Usage& usage, bool with_logprobs) {
  ojson cs = ojson::array();
  for (size_t i = 0; i < choices.size(); ++i)
    cs.push_back({{"text", choices[i].text},
                  {"index", i},
                  {"logprobs", with_logprobs ? completion_logprobs(choices[i].logprobs) : ojson(nullptr)},
                  {"finish_reason", choices[i].finish_reason}});
  return {{"id", id},       {"object", "text_completion"}, {"created", created},
          {"model", model}, {"choices", cs},               {"usage", usage_json(usage)},
          {"system_fingerprint", "cyllm"}};
}

ojson chat_chunk(const std::string& id, int64_t created, const std::string& model, int index,
                 const std::optional<std::string>& role, const std::optional<std::string>& content,
                 const std::optional<std::string>& finish_reason, const std::vector<TokenLogprob>* logprobs) {
  ojson delta = ojson::object();
  if (role) delta["role"] = *role;
  if (content) delta["content"] = *content;
  ojson choice = {{"index", index},
                  {"delta", delta},
                  {"logprobs", logprobs ? chat_logprobs(*logprobs) : ojson(nullptr)},
                  {"finish_reason", finish_reason ? ojson(*finish_reason) : ojson(nullptr)}};
  return {{"id", id},       {"object", "chat.completion.chunk"}, {"created", created},
          {"model", model}, {"choices", ojson::array({choice})},  {"system_fingerprint", "cyllm"}};
}

ojson completion_chunk(const std::string& id, int64_t created, const std::string& model, int index,
                       const std::string& text, const std::optional<std::string>& finish_reason,
                       const std::vector<TokenLogprob>* logprobs, size_t text_offset) {
  ojson choice = {{"text", text},
                  {"index", index},
                  {"logprobs", logprobs ? completion_logprobs(*logprobs, text_offset) : ojson(nullptr)},
                  {"finish_reason", finish_reason ? ojson(*finish_reason) : ojson(nullptr)}};
  return {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model},
          {"choices", ojson::array({choice})}, {"system_fingerprint", "cyllm"}};
}

ojson usage_chunk(const std::string& id, int64_t created, const std::string& model, const Usage& usage, bool chat) {
  return {{"id", id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", ojson::array()},
          {"usage", usage_json(usage)},
          {"system_fingerprint", "cyllm"}};
}

ojson model_object(const std::string& id, int64_t created) {
  return {{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "cyllm"}};
}

ojson models_response(const std::vector<std::string>& ids, int64_t created) {
  ojson data = ojson::array();
  for (const auto& id : ids) data.push_back(model_object(id, created));
  return {{"object", "list"}, {"data", data}};
}

ContentChunks::ContentChunks(const std::string& id, int64_t created, const std::string& model, bool chat,
                             int n_choices) {
  // Rendered by the slow path with a marker for the piece, then split there: the two paths cannot
  // disagree about anything but the piece, and the piece goes through the same JSON escaping.
  static const std::string kMarker = "@@cyllm-piece@@";
  const std::string quoted = "\"" + kMarker + "\"";
  for (int i = 0; i < n_choices; ++i) {
    const std::string full = chat ? sse_event(chat_chunk(id, created, model, i, std::nullopt, kMarker, std::nullopt))
                                  : sse_event(completion_chunk(id, created, model, i, kMarker, std::nullopt));
    const size_t at = full.find(quoted);
    parts_.emplace_back(full.substr(0, at), full.substr(at + quoted.size()));
  }
}

std::string ContentChunks::event(int index, const std::string& piece) const {
  const auto& [before, after] = parts_[static_cast<size_t>(index)];
  return before + ojson(piece).dump(-1, ' ', false, ojson::error_handler_t::replace) + after;
}

std::string sse_event(const ojson& j) { return "data: " + j.dump(-1, ' ', false, ojson::error_handler_t::replace) + "\n\n"; }
std::string sse_done() { return "data: [DONE]\n\n"; }

std::string new_id(const std::string& prefix) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng() & 0xffffffffull));
  return prefix + "-" + buf;
}

}  // namespace cyllm::server
