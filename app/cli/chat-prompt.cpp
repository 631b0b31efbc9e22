#include "cli/chat-prompt.h"

namespace cyllm::cli {

// Until the Jinja renderer (engine/text/chat-template) is wired in, conversations are rendered as
// ChatML, which is SmolLM2's own template format.
Result<std::unique_ptr<ChatPrompt>> ChatPrompt::create(const LlamaModel&, const Tokenizer& tok) {
  auto p = std::make_unique<ChatPrompt>();
  if (tok.bos() >= 0) p->bos_ = tok.token_text(tok.bos());
  if (tok.eos() >= 0) p->eos_ = tok.token_text(tok.eos());
  return p;
}

Result<std::string> ChatPrompt::render(const nlohmann::json& messages) const {
  std::string out;
  for (const auto& m : messages)
    out += "<|im_start|>" + m.at("role").get<std::string>() + "\n" + m.at("content").get<std::string>() + "<|im_end|>\n";
  out += "<|im_start|>assistant\n";
  return out;
}

std::string ChatPrompt::describe() const { return "chat template: ChatML (built-in)"; }

}  // namespace cyllm::cli
