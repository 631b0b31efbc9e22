// Turns a conversation (OpenAI-style messages) into the prompt text for a model, through the
// model's own chat template (engine/text/chat-template), or a template file the user gives.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/adapter-io.h"
#include "model/llama-model.h"
#include "text/chat-template.h"
#include "text/tokenizer.h"

namespace cyllm::cli {

class ChatPrompt {
 public:
  // template_override: template text to use instead of the model's (empty: the model's).
  static Result<std::unique_ptr<ChatPrompt>> create(const LlamaModel& model, const std::string& template_override = {});
  // The prompt for these messages, by default ending with the assistant's generation prompt.
  Result<std::string> render(const nlohmann::ordered_json& messages, bool add_generation_prompt = true) const;
  // One line for the user: which template is in use and where it came from.
  std::string describe() const;
  const ChatTemplate& chat_template() const { return tpl_; }
  const std::optional<std::string>& eos_text() const { return eos_; }
  // What an adapter served with this prompt should have been trained with (its template hash and
  // EOS), for the adapter registry's provenance check.
  AdapterProvenance adapter_provenance(const Tokenizer& tok) const;

 private:
  explicit ChatPrompt(ChatTemplate t) : tpl_(std::move(t)) {}
  ChatTemplate tpl_;
  std::optional<std::string> bos_, eos_;
};

}  // namespace cyllm::cli
