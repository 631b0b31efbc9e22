// ThreadPool: every slice of a region runs exactly once and parallel_for covers its range exactly
// once, also when the pool has more threads than the machine has cores (late workers must not run
// a closed region, and the caller must take over slices nobody claimed).
#include "core/thread-pool.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <vector>

namespace cyllm {
namespace {

TEST(ThreadPool, EverySliceRunsOnceUnderOversubscription) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 2000; ++round) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(threads));
      pool.run([&](int i, int n) {
        ASSERT_EQ(n, threads);
        hits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "threads " << threads << " round " << round;
    }
  }
}

RC_GTEST_PROP(ThreadPool, ParallelForCoversRangeExactlyOnce, ()) {
  static ThreadPool pool(4);
  const int64_t n = *rc::gen::inRange<int64_t>(0, 5000);
  const int64_t grain = *rc::gen::inRange<int64_t>(1, 300);
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
    RC_ASSERT(e - b <= grain);
    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  for (auto& h : hits) RC_ASSERT(h.load() == 1);
}

}  // namespace
}  // namespace cyllm
