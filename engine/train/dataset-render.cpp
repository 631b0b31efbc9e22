// Conversation -> text -> token ids + loss mask through the model's chat template and tokenizer;
// the prefix-rendering method that finds the assistant spans is described in dataset-render.h.
#include "train/dataset-render.h"

#include "model/gguf-reader.h"

namespace cyllm::train {

using json = nlohmann::ordered_json;

Result<RenderModel> RenderModel::from_gguf(const std::string& path, const std::string& template_override) {
  auto g = GgufFile::open(path);
  if (!g) return g.error();
  auto tok = Tokenizer::from_gguf(*g);
  if (!tok) return tok.error();
  auto tpl = ChatTemplate::from_gguf(*g, {}, template_override);
  if (!tpl) return tpl.error();
  RenderModel m;
  m.tokenizer = std::move(tok.value());
  m.chat_template.emplace(std::move(tpl.value()));
  m.bos_token = gguf_token_text(*g, "tokenizer.ggml.bos_token_id");
  m.eos_token = gguf_token_text(*g, "tokenizer.ggml.eos_token_id");
  return m;
}

namespace {

Result<std::string> render_messages(const RenderModel& m, const Conversation& conv, size_t n, bool gen_prompt) {
  ChatTemplateInputs in;
  in.messages = json::array();
  for (size_t i = 0; i < n; ++i) in.messages.push_back(conv.messages[i]);
  in.tools = conv.tools;
  in.add_generation_prompt = gen_prompt;
  in.bos_token = m.bos_token;
  in.eos_token = m.eos_token;
  return m.chat_template->render(in);
}

bool add_bos_for(const RenderModel& m, const std::string& text) {
  if (!m.tokenizer->add_bos_default() || m.tokenizer->bos() < 0) return false;
  // Templates that write the BOS text themselves get no second one.
  return !(m.bos_token && !m.bos_token->empty() && text.rfind(*m.bos_token, 0) == 0);
}

}  // namespace

Result<std::string> render_text(const RenderModel& m, const Conversation& conv) {
  if (conv.text) return *conv.text + m.eos_token.value_or("");
  if (!m.chat_template) return make_error(ErrorCode::kInvalidArgument, "no chat template to render with");
  return render_messages(m, conv, conv.messages.size(), false);
}

Result<size_t> count_tokens(const RenderModel& m, const Conversation& conv) {
  auto t = render_text(m, conv);
  if (!t) return t.error();
  return m.tokenizer->encode(*t, add_bos_for(m, *t), true).size();
}

Result<RenderedRow> render_conversation(const RenderModel& m, const Conversation& conv, TrainOn train_on) {
  RenderedRow r;
  auto full = render_text(m, conv);
  if (!full) return full.error();
  r.text = std::move(full.value());
  if (conv.text || train_on == TrainOn::kAll) {
    r.trained.emplace_back(0, r.text.size());
  } else {
    for (size_t i = 0; i < conv.messages.size(); ++i) {
      if (conv.messages[i].value("role", "") != "assistant") continue;
      auto start = render_messages(m, conv, i, true);
      if (!start) return start.error();
      auto end = render_messages(m, conv, i + 1, false);
      if (!end) return end.error();
      if (r.text.compare(0, end->size(), *end) != 0 || end->compare(0, start->size(), *start) != 0)
        return make_error(ErrorCode::kUnsupported,
                          "the chat template's text for the first " + std::to_string(i + 1) +
                              " messages is not a prefix of the whole conversation's text, so the assistant turns "
                              "cannot be located",
                          "use --train-on all, or a template that renders earlier turns the same way");
      size_t s = start->size(), e = end->size();
      if (!r.trained.empty() && s < r.trained.back().second) s = r.trained.back().second;
      if (e > s) r.trained.emplace_back(s, e);
    }
  }
  // Tokenize span by span.
  size_t pos = 0;
  bool first = true;
  auto add = [&](size_t a, size_t b, uint8_t trained) {
    if (b <= a) return;
    auto ids = m.tokenizer->encode(std::string_view(r.text).substr(a, b - a), first && add_bos_for(m, r.text), true);
    first = false;
    r.ids.insert(r.ids.end(), ids.begin(), ids.end());
    r.mask.insert(r.mask.end(), ids.size(), trained);
  };
  if (add_bos_for(m, r.text) && !r.trained.empty() && r.trained.front().first == 0) {
    // The BOS token itself is never trained on.
    r.ids.push_back(m.tokenizer->bos());
    r.mask.push_back(0);
    first = false;
  }
  for (const auto& [a, b] : r.trained) {
    add(pos, a, 0);
    add(a, b, 1);
    pos = b;
  }
  add(pos, r.text.size(), 0);
  return r;
}

std::string mark_trained(const RenderedRow& r, const std::string& open, const std::string& close) {
  std::string out;
  size_t pos = 0;
  for (const auto& [a, b] : r.trained) {
    out.append(r.text, pos, a - pos);
    out += open;
    out.append(r.text, a, b - a);
    out += close;
    pos = b;
  }
  out.append(r.text, pos, std::string::npos);
  return out;
}

}  // namespace cyllm::train
