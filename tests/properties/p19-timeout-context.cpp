// Property 19 — timeout error context: a timeout error names its phase and the configured value
// (and the level that expired).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "serve/timeouts.h"

namespace cyllm {
namespace {

RC_GTEST_PROP(P19TimeoutContext, ErrorNamesPhaseLevelAndValue, ()) {
  TimeoutHit hit;
  hit.phase = *rc::gen::element(TimeoutPhase::kQueue, TimeoutPhase::kInference, TimeoutPhase::kStreaming);
  hit.level = *rc::gen::element(TimeoutLevel::kRequest, TimeoutLevel::kEngine, TimeoutLevel::kScheduler, TimeoutLevel::kServer);
  hit.limit_ms = *rc::gen::inRange(1, 10'000'000);
  hit.elapsed_ms = hit.limit_ms + *rc::gen::inRange(0, 1000);
  const Error e = timeout_error(hit);
  RC_ASSERT(e.code == ErrorCode::kTimeout);
  RC_ASSERT(e.message.find(std::string(timeout_phase_name(hit.phase)) + " phase") != std::string::npos);
  RC_ASSERT(e.message.find(std::string(timeout_level_name(hit.level))) != std::string::npos);
  RC_ASSERT(e.message.find(std::to_string(static_cast<long long>(hit.limit_ms)) + " ms") != std::string::npos);
  RC_ASSERT(!e.suggestion.empty());
}

}  // namespace
}  // namespace cyllm
