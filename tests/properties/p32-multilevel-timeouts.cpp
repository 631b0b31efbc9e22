// Property 32 — multi-level timeout enforcement: the effective timeout follows the precedence
// defined in serve/timeouts.h, and the level that expires is the one reported. Checked against an
// independent reference that lists, per phase, each level's (start, limit) and takes the earliest
// expiry, ties broken request > engine > scheduler > server.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <optional>
#include <tuple>
#include <vector>

#include "serve/timeouts.h"

namespace cyllm {
namespace {

std::optional<std::pair<TimeoutLevel, double>> reference(const TimeoutConfig& cfg, const RequestClock& c, double now) {
  struct Cand { TimeoutLevel level; double start, limit; int rank; };
  std::vector<Cand> cands;
  const bool queued = c.scheduled_ms < 0;
  const bool streaming = !queued && c.streaming && c.last_token_ms >= 0;
  cands.push_back({TimeoutLevel::kRequest, c.arrival_ms, c.deadline_ms, 0});
  if (queued) cands.push_back({TimeoutLevel::kScheduler, c.arrival_ms, cfg.queue_ms, 2});
  if (!queued) cands.push_back({TimeoutLevel::kEngine, c.scheduled_ms, cfg.inference_ms, 1});
  if (streaming) cands.push_back({TimeoutLevel::kEngine, c.last_token_ms, cfg.stream_idle_ms, 1});
  cands.push_back({TimeoutLevel::kServer, c.arrival_ms, cfg.server_ms, 3});
  std::optional<Cand> best;
  for (const auto& k : cands) {
    if (k.limit <= 0 || now - k.start < k.limit) continue;
    if (!best || std::make_tuple(k.start + k.limit, k.rank) < std::make_tuple(best->start + best->limit, best->rank)) best = k;
  }
  if (!best) return std::nullopt;
  return std::make_pair(best->level, best->limit);
}

RC_GTEST_PROP(P32MultilevelTimeouts, EnforcedLevelFollowsPrecedence, ()) {
  auto limit = [] { return static_cast<double>(*rc::gen::element(0, 0, 10, 50, 100, 200, 1000)); };
  TimeoutConfig cfg{limit(), limit(), limit(), limit()};
  RequestClock c;
  c.arrival_ms = 0;
  c.deadline_ms = limit();
  c.streaming = *rc::gen::arbitrary<bool>();
  const bool scheduled = *rc::gen::arbitrary<bool>();
  c.scheduled_ms = scheduled ? *rc::gen::inRange(0, 300) : -1;
  c.last_token_ms = scheduled && *rc::gen::arbitrary<bool>() ? c.scheduled_ms + *rc::gen::inRange(0, 300) : -1;
  const double now = std::max(c.scheduled_ms, c.last_token_ms) + *rc::gen::inRange(0, 1500);
  const auto got = check_timeout(cfg, c, now);
  const auto want = reference(cfg, c, now);
  RC_ASSERT(got.has_value() == want.has_value());
  if (got) {
    RC_ASSERT(got->level == want->first);
    RC_ASSERT(got->limit_ms == want->second);
    RC_ASSERT(got->phase == current_phase(c));
    RC_ASSERT(got->elapsed_ms >= got->limit_ms);
  }
}

TEST(P32MultilevelTimeouts, TieGoesToTheMoreSpecificLevel) {
  TimeoutConfig cfg;
  cfg.server_ms = 100;
  cfg.queue_ms = 100;
  RequestClock c;  // queued since 0
  auto hit = check_timeout(cfg, c, 150);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->level, TimeoutLevel::kScheduler);
  c.deadline_ms = 100;
  hit = check_timeout(cfg, c, 150);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->level, TimeoutLevel::kRequest);
}

}  // namespace
}  // namespace cyllm
