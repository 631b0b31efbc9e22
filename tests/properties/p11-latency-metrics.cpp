// Property 11 — latency metrics completeness: every finished request records
// queue_time <= ttft <= total and tokens_per_second, whatever its timeline.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "serve/latency.h"

namespace cyllm {
namespace {

RC_GTEST_PROP(P11LatencyMetrics, EveryRecordIsCompleteAndOrdered, ()) {
  RequestTimeline t;
  t.arrival_ms = *rc::gen::inRange(0, 1'000'000) / 10.0;
  t.scheduled_ms = t.arrival_ms + *rc::gen::inRange(0, 50'000) / 10.0;
  const int n_tokens = *rc::gen::inRange(0, 50);
  double now = t.scheduled_ms + *rc::gen::inRange(0, 20'000) / 10.0;
  for (int i = 0; i < n_tokens; ++i) {
    t.token_ms.push_back(now);
    now += *rc::gen::inRange(0, 2'000) / 10.0;
  }
  t.first_token_ms = n_tokens > 0 ? t.token_ms.front() : -1;
  t.finish_ms = now;
  t.prompt_tokens = *rc::gen::inRange(1, 4096);
  t.cached_prompt_tokens = *rc::gen::inRange(0, t.prompt_tokens + 1);

  const LatencyRecord r = make_latency_record(t);
  RC_ASSERT(r.queue_time_ms >= 0.0);
  RC_ASSERT(r.queue_time_ms <= r.ttft_ms);
  RC_ASSERT(r.ttft_ms <= r.total_time_ms);
  RC_ASSERT(r.tokens_per_second >= 0.0);
  RC_ASSERT(r.completion_tokens == n_tokens);
  RC_ASSERT(r.inter_token_ms.size() == static_cast<size_t>(n_tokens > 0 ? n_tokens - 1 : 0));
  RC_ASSERT(r.cached_prompt_tokens == t.cached_prompt_tokens);
  if (r.total_time_ms > 0) RC_ASSERT(std::abs(r.tokens_per_second - n_tokens * 1000.0 / r.total_time_ms) < 1e-9);
}

TEST(P11LatencyMetrics, StatsSeeEveryRecord) {
  LatencyStats stats(1e9);
  for (int i = 0; i < 10; ++i) {
    RequestTimeline t{0, 1.0 * i, 2.0 * i, 3.0 * i + 1, {2.0 * i, 2.0 * i + 1}, 5, 0};
    stats.record(make_latency_record(t), 100);
  }
  EXPECT_EQ(stats.queue_time(100).count, 10u);
  EXPECT_EQ(stats.inter_token(100).count, 10u);
  EXPECT_DOUBLE_EQ(stats.queue_time(100).max, 9.0);
}

}  // namespace
}  // namespace cyllm
