// Turns a conversation (OpenAI-style messages) into the prompt text for a model, through the
// model's chat template (engine/text/chat-template).
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/llama-model.h"
#include "text/tokenizer.h"

namespace cyllm::cli {

class ChatPrompt {
 public:
  static Result<std::unique_ptr<ChatPrompt>> create(const LlamaModel& model, const Tokenizer& tok);
  // The prompt for these messages, ending with the assistant's generation prompt.
  Result<std::string> render(const nlohmann::json& messages) const;
  // One line for the user: which template is in use and where it came from.
  std::string describe() const;

 private:
  std::string bos_, eos_;
};

}  // namespace cyllm::cli
