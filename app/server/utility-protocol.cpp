// /tokenize, /detokenize and /apply-template: request parsing and answers.
#include "server/utility-protocol.h"

#include "server/request-reader.h"
#include "text/utf8-stream.h"

namespace cyllm::server {

using detail::ojson;
using detail::read_messages;
using detail::Reader;

using detail::parse_object;

Parsed<TokenizeRequest> parse_tokenize_request(std::string_view body) {
  ApiError err;
  auto j = parse_object(body, &err);
  if (!j) return err;
  Reader r(*j);
  TokenizeRequest req;
  if (auto m = r.string("model")) req.model = *m;
  const bool has_prompt = j->contains("prompt") && !(*j)["prompt"].is_null();
  const bool has_messages = j->contains("messages") && !(*j)["messages"].is_null();
  if (has_prompt == has_messages) {
    r.fail(has_prompt ? invalid_param("prompt", "send either 'prompt' or 'messages', not both")
                      : missing_param("prompt"));
  } else if (has_prompt) {
    req.prompt = r.string("prompt");
  } else {
    req.messages = read_messages(r);
  }
  if (auto v = r.boolean("add_special_tokens")) req.add_special_tokens = *v;
  if (auto v = r.boolean("add_generation_prompt")) req.add_generation_prompt = *v;
  if (auto v = r.boolean("return_token_strs")) req.return_token_strs = *v;
  if (!r.ok()) return r.error();
  req.ignored_fields = r.unused();
  return req;
}

Parsed<DetokenizeRequest> parse_detokenize_request(std::string_view body) {
  ApiError err;
  auto j = parse_object(body, &err);
  if (!j) return err;
  Reader r(*j);
  DetokenizeRequest req;
  if (auto m = r.string("model")) req.model = *m;
  const ojson* t = r.get("tokens");
  if (!t) {
    r.fail(missing_param("tokens"));
  } else if (!t->is_array()) {
    r.fail(invalid_param("tokens", "must be a list of token ids"));
  } else {
    for (size_t i = 0; i < t->size(); ++i) {
      const ojson& v = (*t)[i];
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX) {
        r.fail(invalid_param("tokens[" + std::to_string(i) + "]", "must be a non-negative integer token id"));
        break;
      }
      req.tokens.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
  }
  if (!r.ok()) return r.error();
  req.ignored_fields = r.unused();
  return req;
}

Parsed<ApplyTemplateRequest> parse_apply_template_request(std::string_view body) {
  ApiError err;
  auto j = parse_object(body, &err);
  if (!j) return err;
  Reader r(*j);
  ApplyTemplateRequest req;
  if (auto m = r.string("model")) req.model = *m;
  req.messages = read_messages(r);
  if (auto v = r.boolean("add_generation_prompt")) req.add_generation_prompt = *v;
  if (!r.ok()) return r.error();
  req.ignored_fields = r.unused();
  return req;
}

Parsed<ojson> tokenize_response(const TokenizeRequest& r, const Tokenizer& tok, const RenderChat& render, int n_ctx) {
  std::vector<int32_t> ids;
  if (r.prompt) {
    ids = tok.encode(*r.prompt, r.add_special_tokens && tok.add_bos_default(), /*parse_special=*/false);
  } else {
    auto text = render(r.messages, r.add_generation_prompt);
    if (!text) return invalid_param("messages", text.error().message);
    // The template writes the special tokens itself (BOS included), so they are parsed, not added.
    ids = tok.encode(*text, /*add_bos=*/false, /*parse_special=*/true);
  }
  ojson out = {{"count", ids.size()}, {"max_model_len", n_ctx}, {"tokens", ids}};
  if (r.return_token_strs) {
    ojson strs = ojson::array();
    for (int32_t id : ids) strs.push_back(sanitize_utf8(tok.token_piece(id)));
    out["token_strs"] = std::move(strs);
  }
  return out;
}

Parsed<ojson> detokenize_response(const DetokenizeRequest& r, const Tokenizer& tok) {
  for (size_t i = 0; i < r.tokens.size(); ++i)
    if (r.tokens[i] >= tok.n_vocab())
      return invalid_param("tokens[" + std::to_string(i) + "]", "token id " + std::to_string(r.tokens[i]) +
                                                                    " is outside the vocabulary (size " +
                                                                    std::to_string(tok.n_vocab()) + ")");
  // Token ids can end inside a UTF-8 character; invalid bytes become U+FFFD so the JSON stays valid.
  return ojson{{"prompt", sanitize_utf8(tok.decode(r.tokens))}};
}

Parsed<ojson> apply_template_response(const ApplyTemplateRequest& r, const RenderChat& render) {
  auto text = render(r.messages, r.add_generation_prompt);
  if (!text) return invalid_param("messages", text.error().message);
  return ojson{{"prompt", *text}};
}

}  // namespace cyllm::server
