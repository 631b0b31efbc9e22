// Chat templates: renders a model's Jinja chat template the way transformers' apply_chat_template
// does (jinja2 with trim_blocks, lstrip_blocks, loop controls, raise_exception, strftime_now and
// HF's tojson), byte for byte. Templates come from GGUF (`tokenizer.chat_template` or a named
// variant `tokenizer.chat_template.<name>`), from a user override, or — when a model has none — from
// a fallback chosen by recognising the model family, with the choice stated in origin().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cyllm {

class GgufFile;
namespace jinja {
struct Template;
}

struct ChatTemplateInputs {
  // A JSON array of messages: {"role": ..., "content": string | [parts], "tool_calls": [...], ...}.
  // ordered_json keeps key order, which tojson output depends on (Python dicts keep insertion order).
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;  // null: the template sees tools=None (as transformers passes it)
  bool add_generation_prompt = false;
  std::optional<std::string> bos_token;  // nullopt: the variable is undefined in the template
  std::optional<std::string> eos_token;
  // Extra template variables (e.g. {"enable_thinking", false}); they override the ones above.
  std::vector<std::pair<std::string, nlohmann::ordered_json>> extra_vars;
};

class ChatTemplate {
 public:
  // Parses `text`. A syntax error or an unsupported construct gives an Error naming the construct
  // and its line and column.
  static Result<ChatTemplate> from_text(std::string text, std::string origin = "user-supplied template");

  // The model's template: `override_text` when non-empty (a per-model user override), else the GGUF
  // key `tokenizer.chat_template` (or `tokenizer.chat_template.<name>` when name is non-empty),
  // else a fallback recognised from the model family (origin() says which and why). A named
  // variant that does not exist is an error, not a fallback.
  static Result<ChatTemplate> from_gguf(const GgufFile& gguf, const std::string& name = {},
                                        const std::string& override_text = {});

  // Renders. Errors (raise_exception, type errors, undefined values, limits) come back as Error
  // values with the template line and column; never an exception or a crash.
  Result<std::string> render(const ChatTemplateInputs& in) const;

  const std::string& text() const { return text_; }
  // Where the template came from, e.g. "GGUF tokenizer.chat_template" or
  // "fallback 'chatml' (model has no chat template; recognised ...)".
  const std::string& origin() const { return origin_; }
  bool is_fallback() const { return fallback_; }

 private:
  std::string text_;
  std::string origin_;
  bool fallback_ = false;
  std::shared_ptr<const jinja::Template> tpl_;
};

// Names of the chat templates a GGUF holds: "" for tokenizer.chat_template, then the named ones.
std::vector<std::string> gguf_chat_template_names(const GgufFile& gguf);

// The fallback for a model without a chat template: family name, template text and the reason.
struct FallbackTemplate {
  std::string family;  // "chatml", "llama3", "llama2", "gemma", "phi3", "deepseek"
  std::string text;
  std::string reason;
};
FallbackTemplate choose_fallback_template(const GgufFile& gguf);
// The built-in template of a family name above, or nullopt.
std::optional<std::string> builtin_chat_template(std::string_view family);

// Text of a special token given its id key ("tokenizer.ggml.bos_token_id", ...), from the
// tokenizer.ggml.tokens array; nullopt when absent or out of range.
std::optional<std::string> gguf_token_text(const GgufFile& gguf, std::string_view id_key);

// Stable 64-bit hash of (template text, EOS token), so adapters can record what they were trained
// with. FNV-1a 64 over length-prefixed fields; see chat-template.cpp. hex: "fnv1a64:<16 hex>".
uint64_t chat_template_hash(std::string_view template_text, std::string_view eos_token);
std::string chat_template_hash_hex(std::string_view template_text, std::string_view eos_token);

}  // namespace cyllm
