// Property 17 — structured error message format: every error carries a catalog code, a message
// and a suggestion: engine errors (any code, any text) and every API error the server can send.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>

#include "core/status.h"
#include "server/api-error.h"

namespace cyllm {
namespace {

RC_GTEST_PROP(P17StructuredErrors, EngineErrorsHaveCodeMessageSuggestion, ()) {
  const auto code = static_cast<ErrorCode>(*rc::gen::inRange(0, static_cast<int>(ErrorCode::kInternal) + 1));
  const auto msg = *rc::gen::nonEmpty(rc::gen::string<std::string>());
  const Error e = make_error(code, msg);
  RC_ASSERT(!error_code_name(e.code).empty());
  RC_ASSERT(!error_code_default_suggestion(e.code).empty());
  RC_ASSERT(e.to_string().find(msg) == 0);
  RC_ASSERT(e.to_string().size() > msg.size());  // the suggestion is appended
  const server::ApiError a = server::from_engine_error(e);
  RC_ASSERT(!a.code.empty() && !a.message.empty() && !a.suggestion.empty());
  std::set<std::string> codes;
  for (const auto& c : server::error_catalog()) codes.insert(c.code);
  RC_ASSERT(codes.count(a.code) == 1);
}

}  // namespace
}  // namespace cyllm
