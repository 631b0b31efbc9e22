// Property 28 bodies, shared by every rate-limit backend: the in-process RateLimiter
// (p28-rate-limit.cpp) and the Redis one (tests/server/rate-limit-redis-test.cpp). Call them inside a
// RapidCheck property; `make(window_s)` returns a fresh backend with empty windows.
#pragma once

#include <rapidcheck.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/rate-limit.h"

namespace cyllm::server::p28 {

using MakeBackend = std::function<std::unique_ptr<RateLimitBackend>(double window_s)>;

// No more than the limit is accepted in any window (requests and tokens, per key and per tenant),
// checked against a reference list of everything admitted; every refusal names a limit and gives
// a whole number of seconds.
inline void never_more_than_the_limit_in_any_window(const MakeBackend& make) {
  const double W = 60;
  const int rpm = *rc::gen::inRange(1, 20), tpm = *rc::gen::inRange(50, 2000), trpm = *rc::gen::inRange(1, 30);
  std::unique_ptr<RateLimitBackend> rl = make(W);
  rl->set_key_limits("k1", {rpm, tpm});
  rl->set_key_limits("k2", {rpm, 0});
  rl->set_tenant_limits("t", {trpm, 0});
  struct Accepted { double t; std::string key; int tokens; };
  std::vector<Accepted> acc;
  double now = 0;
  const int n = *rc::gen::inRange(1, 300);
  for (int i = 0; i < n; ++i) {
    now += *rc::gen::inRange(0, 4000) / 1000.0;
    const std::string key = *rc::gen::element<std::string>("k1", "k2");
    const int tokens = *rc::gen::inRange(1, 200);
    const RateDecision d = rl->admit(key, "t", tokens, now);
    RC_ASSERT(d.backend_error.empty());
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

// A refusal's Retry-After is honest: the same request is admitted that many seconds later.
inline void retry_after_is_honest(const MakeBackend& make) {
  std::unique_ptr<RateLimitBackend> rl = make(60);
  const int rpm = *rc::gen::inRange(1, 10);
  rl->set_key_limits("k", {rpm, 0});
  double now = 0;
  for (int i = 0; i < rpm; ++i) RC_ASSERT(rl->admit("k", "t", 1, now += 0.5).allowed);
  const RateDecision d = rl->admit("k", "t", 1, now);
  RC_ASSERT(!d.allowed);
  RC_ASSERT(d.limit == "key requests/min");
  RC_ASSERT(rl->admit("k", "t", 1, now + d.retry_after_s).allowed);
}

}  // namespace cyllm::server::p28
