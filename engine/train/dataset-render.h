// Rendering a conversation for training: the model's chat template turns it into text, the
// model's tokenizer into token ids, and a loss mask marks the tokens trained on — the assistant
// turns only (the default) or everything.
//
// How the assistant spans are found: the template is rendered for growing prefixes of the
// conversation. For assistant message i, the text rendered for messages [0, i) with the generation
// prompt ends where the assistant's reply starts, and the text rendered for messages [0, i] ends
// where its turn (including the end-of-turn marker the template writes, e.g. "<|im_end|>\n")
// ends. Both must be prefixes of the whole conversation's text; a template whose output for a
// prefix is not a prefix of the whole (e.g. one that drops reasoning from earlier turns) is
// reported as unsupported rather than guessed at. The text is then tokenized span by span (special
// tokens parsed), so every token belongs wholly to one span.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "text/chat-template.h"
#include "text/tokenizer.h"
#include "train/dataset-schema.h"

namespace cyllm::train {

// What rendering needs from a model: its tokenizer, chat template and special token texts.
struct RenderModel {
  std::unique_ptr<Tokenizer> tokenizer;
  std::optional<ChatTemplate> chat_template;
  std::optional<std::string> bos_token, eos_token;

  // Reads the tokenizer and chat template of a GGUF file (vocab-only files work).
  static Result<RenderModel> from_gguf(const std::string& path, const std::string& template_override = {});
};

enum class TrainOn { kAssistant, kAll };

struct RenderedRow {
  std::string text;                                 // the rendered conversation
  std::vector<std::pair<size_t, size_t>> trained;   // byte spans of `text` that are trained on
  std::vector<int32_t> ids;                         // token ids
  std::vector<uint8_t> mask;                        // 1 = the token is trained on (same length as ids)
};

// The conversation's full text through the chat template (for the text schema: the text followed
// by the EOS token text).
Result<std::string> render_text(const RenderModel& m, const Conversation& conv);

// Token count of the whole rendered conversation (what the cutoff applies to).
Result<size_t> count_tokens(const RenderModel& m, const Conversation& conv);

// Text, trained spans, ids and loss mask.
Result<RenderedRow> render_conversation(const RenderModel& m, const Conversation& conv, TrainOn train_on);

// The text with each trained span wrapped in open/close markers (e.g. "«", "»", or ANSI colours).
std::string mark_trained(const RenderedRow& r, const std::string& open, const std::string& close);

}  // namespace cyllm::train
