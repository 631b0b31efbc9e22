// Property 1 — API response schema conformance: every non-streaming response of the three
// endpoints (chat completions, completions, models) has the fields OpenAI's schema requires, with
// the right types, whatever the generated content.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "server/openai-protocol.h"

namespace cyllm::server {
namespace {

using ojson = nlohmann::ordered_json;

rc::Gen<std::string> any_text() { return rc::gen::container<std::string>(rc::gen::inRange<char>(1, 127)); }

std::vector<ChoiceResult> gen_choices(bool with_logprobs) {
  const int n = *rc::gen::inRange(1, 5);
  std::vector<ChoiceResult> cs;
  for (int i = 0; i < n; ++i) {
    ChoiceResult c;
    c.text = *any_text();
    c.finish_reason = *rc::gen::element(std::string("stop"), std::string("length"));
    if (with_logprobs)
      for (int k = 0; k < *rc::gen::inRange(0, 4); ++k)
        c.logprobs.push_back({*any_text(), -static_cast<float>(*rc::gen::inRange(0, 1000)) / 100.0f,
                              {{*any_text(), -1.5f}}});
    cs.push_back(c);
  }
  return cs;
}

void check_usage(const ojson& u) {
  RC_ASSERT(u["prompt_tokens"].is_number_integer());
  RC_ASSERT(u["completion_tokens"].is_number_integer());
  RC_ASSERT(u["total_tokens"].get<int>() == u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
}

RC_GTEST_PROP(P01ApiResponseSchema, ChatCompletion, ()) {
  const bool lp = *rc::gen::arbitrary<bool>();
  const auto choices = gen_choices(lp);
  const Usage u{*rc::gen::inRange(0, 5000), *rc::gen::inRange(0, 5000), 0};
  const ojson r = ojson::parse(chat_completion_response(new_id("chatcmpl"), 1700000000, "m", choices, u, lp).dump());
  RC_ASSERT(r["id"].is_string());
  RC_ASSERT(r["object"] == "chat.completion");
  RC_ASSERT(r["created"].is_number_integer());
  RC_ASSERT(r["model"].is_string());
  RC_ASSERT(r["choices"].size() == choices.size());
  for (size_t i = 0; i < choices.size(); ++i) {
    const ojson& c = r["choices"][i];
    RC_ASSERT(c["index"].get<size_t>() == i);
    RC_ASSERT(c["message"]["role"] == "assistant");
    RC_ASSERT(c["message"]["content"].get<std::string>() == choices[i].text);
    RC_ASSERT(c["finish_reason"].is_string());
    RC_ASSERT(c.contains("logprobs"));
    if (lp) {
      RC_ASSERT(c["logprobs"]["content"].is_array());
      for (const auto& e : c["logprobs"]["content"]) {
        RC_ASSERT(e["token"].is_string() && e["logprob"].is_number() && e["bytes"].is_array() && e["top_logprobs"].is_array());
      }
    } else {
      RC_ASSERT(c["logprobs"].is_null());
    }
  }
  check_usage(r["usage"]);
}

RC_GTEST_PROP(P01ApiResponseSchema, Completion, ()) {
  const bool lp = *rc::gen::arbitrary<bool>();
  const auto choices = gen_choices(lp);
  const ojson r = ojson::parse(completion_response(new_id("cmpl"), 1700000000, "m", choices, {3, 4, 0}, lp).dump());
  RC_ASSERT(r["object"] == "text_completion");
  RC_ASSERT(r["id"].is_string() && r["created"].is_number_integer() && r["model"].is_string());
  for (size_t i = 0; i < choices.size(); ++i) {
    const ojson& c = r["choices"][i];
    RC_ASSERT(c["text"].get<std::string>() == choices[i].text);
    RC_ASSERT(c["index"].get<size_t>() == i);
    RC_ASSERT(c["finish_reason"].is_string());
    if (lp) RC_ASSERT(c["logprobs"]["tokens"].size() == choices[i].logprobs.size());
  }
  check_usage(r["usage"]);
}

RC_GTEST_PROP(P01ApiResponseSchema, Models, ()) {
  const auto ids = *rc::gen::container<std::vector<std::string>>(rc::gen::nonEmpty(any_text()));
  const ojson r = models_response(ids, 1700000000);
  RC_ASSERT(r["object"] == "list");
  RC_ASSERT(r["data"].size() == ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    RC_ASSERT(r["data"][i]["id"].get<std::string>() == ids[i]);
    RC_ASSERT(r["data"][i]["object"] == "model");
    RC_ASSERT(r["data"][i]["created"].is_number_integer());
    RC_ASSERT(r["data"][i]["owned_by"].is_string());
  }
}

}  // namespace
}  // namespace cyllm::server
