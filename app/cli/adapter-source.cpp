#include "cli/adapter-source.h"

#include "text/chat-template.h"
#include "train/checkpoint-adapter.h"

namespace cyllm::cli {

Result<AdapterSource> load_adapter_source(const std::string& path, const ModelConfig& base) {
  AdapterSource out;
  if (train::is_checkpoint_path(path)) {
    auto ck = train::load_checkpoint_adapter(path, &out.warnings);
    if (!ck) return ck.error();
    if (auto st = validate_adapter(ck->adapter, base); !st) return st.error();
    out.adapter = std::move(ck->adapter);
    out.meta = std::move(ck->meta);
    out.path = ck->dir;
    out.what = "checkpoint " + ck->dir;
    return out;
  }
  auto la = load_adapter(path, base);
  if (!la) return la.error();
  out.adapter = std::move(la->adapter);
  out.meta = std::move(la->meta);
  out.path = path;
  out.what = std::string(adapter_format_name(la->format)) + " adapter " + path;
  out.warnings = std::move(la->notes);
  return out;
}

AdapterProvenance gguf_base_provenance(const GgufFile& g) {
  auto tpl = ChatTemplate::from_gguf(g);
  if (!tpl) return {};
  const auto eos_id = g.get_int("tokenizer.ggml.eos_token_id");
  return make_adapter_provenance(tpl->text(), eos_id ? std::optional<int32_t>(static_cast<int32_t>(*eos_id)) : std::nullopt,
                                 gguf_token_text(g, "tokenizer.ggml.eos_token_id"));
}

}  // namespace cyllm::cli
