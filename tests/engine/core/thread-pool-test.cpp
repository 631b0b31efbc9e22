// ThreadPool: every slice of a region runs exactly once and parallel_for covers its range exactly
// once, also when the pool has more threads than the machine has cores (late workers must not run
// a closed region, and the caller must take over slices nobody claimed).
#include "core/thread-pool.h"
#include "core/thread-priority.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
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

// Compute threads at a higher nice value (what Scheduler does with SchedulerConfig::compute_nice):
// the workers take it when they next wake, other threads keep theirs, and it is never lowered.
TEST(ThreadPriority, WorkersTakeTheNiceValueOthersKeepTheirs) {
  const int mine = current_thread_nice();
  if (mine > 15) GTEST_SKIP() << "the test already runs at nice " << mine << ": no room to raise it";
  int before = 0, after = 0;
  std::thread t([&] {
    before = current_thread_nice();
    EXPECT_TRUE(set_current_thread_nice(std::min(19, before + 3)));
    after = current_thread_nice();
    EXPECT_FALSE(set_current_thread_nice(before)) << "lowering needs privileges; it is refused";
    EXPECT_EQ(current_thread_nice(), after);
  });
  t.join();
  EXPECT_EQ(after, std::min(19, before + 3));
  EXPECT_EQ(current_thread_nice(), mine) << "another thread's change must not touch this one";

  ThreadPool pool(3);
  const int want = std::min(19, mine + 4);
  pool.set_worker_nice(want);
  std::mutex mu;
  std::set<int> seen;
  // Each slice takes ~50 us, so the caller cannot run every slice itself before the workers join.
  for (int round = 0; round < 2000 && seen.empty(); ++round)
    pool.run([&](int, int) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
      while (std::chrono::steady_clock::now() < until) {
      }
      if (current_thread_nice() == mine) return;  // the caller (or a worker before its next wake)
      std::lock_guard lk(mu);
      seen.insert(current_thread_nice());
    });
  EXPECT_EQ(seen, std::set<int>{want});
  EXPECT_EQ(current_thread_nice(), mine);
}

}  // namespace
}  // namespace cyllm
