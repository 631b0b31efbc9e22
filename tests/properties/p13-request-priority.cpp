// Property 13 — request priority processing order: a higher tier queued is scheduled before a
// lower one, higher numeric priority first within a tier, FIFO among equals; aging lifts a
// request one tier per aging interval so that nothing starves.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <tuple>

#include "serve/request-queue.h"

namespace cyllm {
namespace {

RC_GTEST_PROP(P13RequestPriority, PopOrderIsTierThenPriorityThenFifo, ()) {
  const int n = *rc::gen::inRange(1, 60);
  RequestQueue q(/*aging_ms=*/1e12);  // no aging inside this test
  struct Req { uint64_t id; int tier; int prio; };
  std::vector<Req> reqs;
  for (int i = 0; i < n; ++i) {
    Req r{static_cast<uint64_t>(i), *rc::gen::inRange(0, 3), *rc::gen::inRange(-2, 3)};
    reqs.push_back(r);
    q.push(r.id, static_cast<Tier>(r.tier), r.prio, /*now_ms=*/i);
  }
  std::vector<Req> expect = reqs;
  std::stable_sort(expect.begin(), expect.end(), [](const Req& a, const Req& b) {
    return std::tie(a.tier, b.prio) < std::tie(b.tier, a.prio);
  });
  for (const auto& e : expect) {
    auto got = q.pop(1000);
    RC_ASSERT(got.has_value());
    RC_ASSERT(*got == e.id);
  }
  RC_ASSERT(q.empty());
}

RC_GTEST_PROP(P13RequestPriority, RemovedRequestsNeverRun, ()) {
  const int n = *rc::gen::inRange(1, 40);
  RequestQueue q(1e12);
  std::vector<bool> removed(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) q.push(static_cast<uint64_t>(i), static_cast<Tier>(*rc::gen::inRange(0, 3)), 0, i);
  for (int i = 0; i < n; ++i)
    if (*rc::gen::arbitrary<bool>()) {
      removed[static_cast<size_t>(i)] = true;
      RC_ASSERT(q.remove(static_cast<uint64_t>(i)));
    }
  while (auto id = q.pop(0)) RC_ASSERT(!removed[static_cast<size_t>(*id)]);
}

TEST(P13RequestPriority, AgingLiftsAWaitingBatchRequest) {
  RequestQueue q(/*aging_ms=*/100);
  q.push(1, Tier::kBatch, 0, 0);
  q.push(2, Tier::kInteractive, 0, 150);  // arrives later
  // At t=150 the batch request has waited 150 ms: lifted one tier (to default), still behind.
  EXPECT_EQ(q.peek(150), 2u);
  // At t=200 it has waited two intervals: interactive, and older, so it runs first.
  EXPECT_EQ(q.peek(200), 1u);
}

}  // namespace
}  // namespace cyllm
