// Chat-template loading, fallback selection, rendering and hashing (see chat-template.h). The
// Jinja interpreter lives in text/jinja/; this file adapts it to messages/tools/special tokens.
#include "text/chat-template.h"

#include <cstdio>
#include <new>

#include "model/gguf-reader.h"
#include "text/jinja/error.h"
#include "text/jinja/evaluator.h"
#include "text/jinja/parser.h"

namespace cyllm {

namespace {

Error to_error(const jinja::JinjaError& e, const std::string& origin) {
  using K = jinja::JinjaErrorKind;
  std::string where = e.has_position()
                          ? " at line " + std::to_string(e.line()) + ", column " + std::to_string(e.col())
                          : std::string();
  switch (e.kind()) {
    case K::kSyntax:
      return make_error(ErrorCode::kInvalidArgument, "chat template (" + origin + "): " + e.message() + where,
                        "fix the template, or pass --template with a corrected copy");
    case K::kUnsupported:
      return make_error(ErrorCode::kUnsupported, "chat template (" + origin + "): " + e.message() + where,
                        "this Jinja construct is not implemented; override the template with one that avoids it");
    case K::kRaised:
      return make_error(ErrorCode::kInvalidArgument,
                        "chat template raised an exception" + where + ": " + e.message(),
                        "the template rejected these messages (check the roles and their order)");
    case K::kLimit:
      return make_error(ErrorCode::kOutOfRange, "chat template (" + origin + "): " + e.message() + where);
    case K::kRuntime:
    default:
      return make_error(ErrorCode::kInvalidArgument, "chat template (" + origin + ") failed" + where + ": " + e.message(),
                        "the template cannot render these inputs (a missing field or a value of the wrong type)");
  }
}

// Fallback templates, written for this project in the standard published formats of each family.
constexpr const char* kChatml =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
constexpr const char* kLlama3 =
    "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt "
    "%}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
constexpr const char* kLlama2 =
    "{{ bos_token }}{% set ns = namespace(system='') %}{% for message in messages %}{% if message['role'] == 'system' "
    "%}{% set ns.system = '<<SYS>>\\n' + message['content'] + '\\n<</SYS>>\\n\\n' %}{% elif message['role'] == 'user' "
    "%}{{ '[INST] ' + ns.system + message['content'] | trim + ' [/INST]' }}{% set ns.system = '' %}{% elif "
    "message['role'] == 'assistant' %}{{ ' ' + message['content'] | trim + eos_token }}{% endif %}{% endfor %}";
constexpr const char* kGemma =
    "{{ bos_token }}{% for message in messages %}{% set role = 'model' if message['role'] == 'assistant' else "
    "message['role'] %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% "
    "endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";
constexpr const char* kPhi3 =
    "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}{% "
    "endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}";
constexpr const char* kDeepseek =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] }}{% elif "
    "message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}{% elif message['role'] == 'assistant' %}{{ "
    "'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>' }}{% endif %}{% endfor %}{% if "
    "add_generation_prompt %}{{ '<｜Assistant｜>' }}{% endif %}";

bool has_token(const GgufArray* toks, std::string_view t, size_t limit = 400000) {
  if (!toks) return false;
  size_t n = std::min(toks->items.size(), limit);
  for (size_t k = 0; k < n; ++k) {
    const std::string* s = toks->items[k].as_string();
    if (s && *s == t) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> builtin_chat_template(std::string_view family) {
  if (family == "chatml") return std::string(kChatml);
  if (family == "llama3") return std::string(kLlama3);
  if (family == "llama2") return std::string(kLlama2);
  if (family == "gemma") return std::string(kGemma);
  if (family == "phi3") return std::string(kPhi3);
  if (family == "deepseek") return std::string(kDeepseek);
  return std::nullopt;
}

FallbackTemplate choose_fallback_template(const GgufFile& gguf) {
  const GgufArray* toks = gguf.get_array("tokenizer.ggml.tokens");
  std::string arch = gguf.get_string("general.architecture").value_or("");
  auto pick = [](const char* fam, std::string why) { return FallbackTemplate{fam, *builtin_chat_template(fam), std::move(why)}; };
  if (has_token(toks, "<|im_start|>") && has_token(toks, "<|im_end|>"))
    return pick("chatml", "the vocabulary has <|im_start|>/<|im_end|>");
  if (has_token(toks, "<|start_header_id|>") && has_token(toks, "<|eot_id|>"))
    return pick("llama3", "the vocabulary has <|start_header_id|>/<|eot_id|>");
  if (has_token(toks, "<start_of_turn>") || arch.rfind("gemma", 0) == 0)
    return pick("gemma", "the vocabulary has <start_of_turn> or the architecture is gemma");
  if (has_token(toks, "<|user|>") && has_token(toks, "<|end|>"))
    return pick("phi3", "the vocabulary has <|user|>/<|end|>");
  if (has_token(toks, "<｜User｜>")) return pick("deepseek", "the vocabulary has <｜User｜>");
  if (has_token(toks, "[INST]") || ((arch == "llama" || arch == "mistral") && has_token(toks, "<s>")))
    return pick("llama2", "the vocabulary has [INST] or <s> with a llama/mistral architecture");
  if (arch.rfind("qwen", 0) == 0) return pick("chatml", "the architecture is " + arch + " (Qwen models use ChatML)");
  return pick("chatml", "no model family recognised; ChatML is the default");
}

std::vector<std::string> gguf_chat_template_names(const GgufFile& gguf) {
  std::vector<std::string> names;
  if (gguf.get_string("tokenizer.chat_template")) names.emplace_back();
  const std::string prefix = "tokenizer.chat_template.";
  for (const auto& kv : gguf.metadata())
    if (kv.first.rfind(prefix, 0) == 0 && kv.first.size() > prefix.size() && kv.second.as_string())
      names.push_back(kv.first.substr(prefix.size()));
  return names;
}

std::optional<std::string> gguf_token_text(const GgufFile& gguf, std::string_view id_key) {
  auto id = gguf.get_int(id_key);
  const GgufArray* toks = gguf.get_array("tokenizer.ggml.tokens");
  if (!id || !toks || *id < 0 || static_cast<uint64_t>(*id) >= toks->items.size()) return std::nullopt;
  const std::string* s = toks->items[static_cast<size_t>(*id)].as_string();
  if (!s) return std::nullopt;
  return *s;
}

Result<ChatTemplate> ChatTemplate::from_text(std::string text, std::string origin) {
  ChatTemplate ct;
  try {
    ct.tpl_ = std::make_shared<const jinja::Template>(jinja::parse_template(text));
  } catch (const jinja::JinjaError& e) {
    return to_error(e, origin);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kOutOfMemory, "out of memory while parsing the chat template");
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, std::string("chat template parser failed: ") + e.what());
  }
  ct.text_ = std::move(text);
  ct.origin_ = std::move(origin);
  return ct;
}

Result<ChatTemplate> ChatTemplate::from_gguf(const GgufFile& gguf, const std::string& name,
                                             const std::string& override_text) {
  if (!override_text.empty()) return from_text(override_text, "user override for " + gguf.path());
  std::string key = name.empty() ? "tokenizer.chat_template" : "tokenizer.chat_template." + name;
  if (auto t = gguf.get_string(key)) return from_text(*t, "GGUF " + key);
  if (!name.empty()) {
    std::string have;
    for (const auto& n : gguf_chat_template_names(gguf)) have += (have.empty() ? "" : ", ") + (n.empty() ? "(default)" : n);
    return make_error(ErrorCode::kNotFound, "the model has no chat template named '" + name + "'",
                      have.empty() ? "the model has no chat templates; omit the name to use a fallback"
                                   : "available: " + have);
  }
  FallbackTemplate fb = choose_fallback_template(gguf);
  auto r = from_text(fb.text, "fallback '" + fb.family + "' (the model has no tokenizer.chat_template; " + fb.reason + ")");
  if (r.ok()) r->fallback_ = true;
  return r;
}

Result<std::string> ChatTemplate::render(const ChatTemplateInputs& in) const {
  if (!tpl_) return make_error(ErrorCode::kInvalidArgument, "chat template not loaded");
  if (!in.messages.is_array())
    return make_error(ErrorCode::kInvalidArgument, "messages must be a JSON array of message objects");
  try {
    auto globals = jinja::make_builtin_scope();
    auto vars = std::make_shared<jinja::Scope>();
    vars->parent = globals;
    vars->vars["messages"] = jinja::from_json(in.messages);
    vars->vars["tools"] = in.tools.is_null() ? jinja::Value::none() : jinja::from_json(in.tools);
    vars->vars["documents"] = jinja::Value::none();
    vars->vars["add_generation_prompt"] = jinja::Value::boolean(in.add_generation_prompt);
    if (in.bos_token) vars->vars["bos_token"] = jinja::Value::string(*in.bos_token);
    if (in.eos_token) vars->vars["eos_token"] = jinja::Value::string(*in.eos_token);
    for (const auto& kv : in.extra_vars) vars->vars[kv.first] = jinja::from_json(kv.second);
    jinja::Evaluator ev;
    return ev.render(*tpl_, vars);
  } catch (const jinja::JinjaError& e) {
    return to_error(e, origin_);
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kOutOfMemory, "out of memory while rendering the chat template");
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kInternal, std::string("chat template renderer failed: ") + e.what());
  }
}

// FNV-1a 64-bit. A self-contained hash rather than SHA-256 from OpenSSL because OpenSSL is not
// linked to the engine; the hash only has to be stable across runs, builds and platforms (it is
// defined on bytes, with fixed-width little-endian lengths), not cryptographically strong.
// Each field is prefixed with its length so ("ab","c") and ("a","bc") hash differently.
uint64_t chat_template_hash(std::string_view template_text, std::string_view eos_token) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto byte = [&](unsigned char b) {
    h ^= b;
    h *= 0x100000001b3ull;
  };
  auto field = [&](std::string_view s) {
    uint64_t n = s.size();
    for (int k = 0; k < 8; ++k) byte(static_cast<unsigned char>((n >> (8 * k)) & 0xFF));
    for (char c : s) byte(static_cast<unsigned char>(c));
  };
  field(template_text);
  field(eos_token);
  return h;
}

std::string chat_template_hash_hex(std::string_view template_text, std::string_view eos_token) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "fnv1a64:%016llx",
                static_cast<unsigned long long>(chat_template_hash(template_text, eos_token)));
  return buf;
}

}  // namespace cyllm
