// Property 14 — OOM error suggestions: an out-of-memory error always carries suggestions, each one
// fits the situation (it only changes something that is there to change) and, followed, fits in
// the free memory.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/oom-advice.h"

namespace cyllm {
namespace {

RC_GTEST_PROP(P14OomSuggestions, EverySuggestionFitsAndApplies, ()) {
  MemoryPlan p;
  const uint64_t MiB = 1 << 20;
  p.free_bytes = *rc::gen::inRange<uint64_t>(1, 80'000) * MiB;
  p.weights_bytes = *rc::gen::inRange<uint64_t>(1, 60'000) * MiB;
  p.n_adapters = *rc::gen::inRange(0, 8);
  p.adapter_bytes = static_cast<uint64_t>(p.n_adapters) * *rc::gen::inRange<uint64_t>(1, 2000) * MiB;
  p.kv_elements_per_token = *rc::gen::inRange<uint64_t>(1000, 400'000);
  p.kv_bytes_per_element = *rc::gen::element(4, 2, 1);
  p.context = *rc::gen::inRange(1, 131'072);
  p.parallel = *rc::gen::inRange(1, 256);
  p.batch_tokens = *rc::gen::inRange(1, 8192);
  p.activation_bytes_per_token = *rc::gen::inRange<uint64_t>(1000, 1'000'000);
  RC_PRE(!p.fits());  // only failing plans produce OOM errors

  const auto s = oom_suggestions(p);
  RC_ASSERT(!s.empty());
  for (const auto& x : s) {
    RC_ASSERT(!x.text.empty());
    if (x.kind != "model") RC_ASSERT(x.plan.fits());
    if (x.kind == "context") RC_ASSERT(x.plan.context < p.context && x.plan.context >= 1);
    if (x.kind == "parallel") RC_ASSERT(x.plan.parallel < p.parallel && x.plan.parallel >= 1);
    if (x.kind == "batch") RC_ASSERT(x.plan.batch_tokens < p.batch_tokens && x.plan.batch_tokens >= 1);
    if (x.kind == "kv_precision") RC_ASSERT(x.plan.kv_bytes_per_element < p.kv_bytes_per_element);
    if (x.kind == "adapters") RC_ASSERT(p.n_adapters > 0 && x.plan.n_adapters < p.n_adapters);
    if (x.kind == "model") RC_ASSERT(s.size() == 1u);  // only when nothing else fits
    // Suggested numbers appear in the text.
    if (x.kind == "context") RC_ASSERT(x.text.find(std::to_string(x.plan.context)) != std::string::npos);
    if (x.kind == "parallel") RC_ASSERT(x.text.find(std::to_string(x.plan.parallel)) != std::string::npos);
  }
  const Error e = oom_error(p, "allocating the KV cache");
  RC_ASSERT(e.code == ErrorCode::kOutOfMemory);
  RC_ASSERT(!e.suggestion.empty());
}

}  // namespace
}  // namespace cyllm
