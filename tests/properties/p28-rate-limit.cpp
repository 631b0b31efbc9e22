// Property 28 — rate limit enforcement: no more than the limit is accepted in any window (requests
// and tokens, per key and per tenant); every refusal carries a Retry-After after which the same
// request is admitted.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>

#include "server/rate-limit.h"

namespace cyllm::server {
namespace {

RC_GTEST_PROP(P28RateLimit, NeverMoreThanTheLimitInAnyWindow, ()) {
  const double W = 60;
  const int rpm = *rc::gen::inRange(1, 20), tpm = *rc::gen::inRange(50, 2000), trpm = *rc::gen::inRange(1, 30);
  RateLimiter rl(W);
  rl.set_key_limits("k1", {rpm, tpm});
  rl.set_key_limits("k2", {rpm, 0});
  rl.set_tenant_limits("t", {trpm, 0});
  struct Accepted { double t; std::string key; int tokens; };
  std::vector<Accepted> acc;
  double now = 0;
  const int n = *rc::gen::inRange(1, 300);
  for (int i = 0; i < n; ++i) {
    now += *rc::gen::inRange(0, 4000) / 1000.0;
    const std::string key = *rc::gen::element<std::string>("k1", "k2");
    const int tokens = *rc::gen::inRange(1, 200);
    const RateDecision d = rl.admit(key, "t", tokens, now);
    if (d.allowed) {
      acc.push_back({now, key, tokens});
    } else {
      RC_ASSERT(d.retry_after_s >= 1 && d.retry_after_s == std::ceil(d.retry_after_s));
      RC_ASSERT(!d.limit.empty());
    }
    // Check every window ending now: (now - W, now].
    int key_reqs = 0, key_tokens = 0, tenant_reqs = 0;
    for (const auto& a : acc) {
      if (a.t <= now - W) continue;
      ++tenant_reqs;
      if (a.key == key) {
        ++key_reqs;
        key_tokens += a.tokens;
      }
    }
    RC_ASSERT(key_reqs <= rpm);
    RC_ASSERT(tenant_reqs <= trpm);
    if (key == "k1") RC_ASSERT(key_tokens <= tpm);
  }
}

RC_GTEST_PROP(P28RateLimit, RetryAfterIsHonest, ()) {
  RateLimiter rl(60);
  const int rpm = *rc::gen::inRange(1, 10);
  rl.set_key_limits("k", {rpm, 0});
  double now = 0;
  for (int i = 0; i < rpm; ++i) RC_ASSERT(rl.admit("k", "t", 1, now += 0.5).allowed);
  const RateDecision d = rl.admit("k", "t", 1, now);
  RC_ASSERT(!d.allowed);
  RC_ASSERT(d.limit == "key requests/min");
  RC_ASSERT(rl.admit("k", "t", 1, now + d.retry_after_s).allowed);
}

}  // namespace
}  // namespace cyllm::server
