// Property 28 — rate limit enforcement: no more than the limit is accepted in any window (requests
// and tokens, per key and per tenant); every refusal carries a Retry-After after which the same
// request is admitted. The bodies (p28-rate-limit-property.h) are shared with the Redis backend's
// test (tests/server/rate-limit-redis-test.cpp).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "properties/p28-rate-limit-property.h"

namespace cyllm::server {
namespace {

std::unique_ptr<RateLimitBackend> in_process(double window_s) { return std::make_unique<RateLimiter>(window_s); }

RC_GTEST_PROP(P28RateLimit, NeverMoreThanTheLimitInAnyWindow, ()) { p28::never_more_than_the_limit_in_any_window(in_process); }

RC_GTEST_PROP(P28RateLimit, RetryAfterIsHonest, ()) { p28::retry_after_is_honest(in_process); }

}  // namespace
}  // namespace cyllm::server
