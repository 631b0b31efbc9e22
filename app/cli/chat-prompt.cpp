#include "cli/chat-prompt.h"

namespace cyllm::cli {

Result<std::unique_ptr<ChatPrompt>> ChatPrompt::create(const LlamaModel& model, const std::string& template_override) {
  auto t = ChatTemplate::from_gguf(model.gguf(), {}, template_override);
  if (!t) return t.error();
  auto p = std::unique_ptr<ChatPrompt>(new ChatPrompt(std::move(t.value())));
  p->bos_ = gguf_token_text(model.gguf(), "tokenizer.ggml.bos_token_id");
  p->eos_ = gguf_token_text(model.gguf(), "tokenizer.ggml.eos_token_id");
  return p;
}

AdapterProvenance ChatPrompt::adapter_provenance(const Tokenizer& tok) const {
  return make_adapter_provenance(tpl_.text(), tok.eos() >= 0 ? std::optional<int32_t>(tok.eos()) : std::nullopt, eos_);
}

Result<std::string> ChatPrompt::render(const nlohmann::ordered_json& messages, bool add_generation_prompt) const {
  ChatTemplateInputs in;
  in.messages = messages;
  in.add_generation_prompt = add_generation_prompt;
  in.bos_token = bos_;
  in.eos_token = eos_;
  return tpl_.render(in);
}

std::string ChatPrompt::describe() const { return "chat template: " + tpl_.origin(); }

}  // namespace cyllm::cli
