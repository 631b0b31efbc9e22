// Property 8 — training queue priority ordering: jobs start by priority (higher first), FIFO among
// equal priorities; the order survives closing and reopening the SQLite file; paused and
// cancelled jobs never start; a job left running is reported for recovery.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <filesystem>
#include <tuple>
#include <unistd.h>

#include "train/job-queue.h"

namespace cyllm {
namespace {

std::string temp_db() {
  static int n = 0;
  auto p = std::filesystem::temp_directory_path() / ("cyllm-p08-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".db");
  std::filesystem::remove(p);
  return p.string();
}

RC_GTEST_PROP(P08TrainingQueuePriority, StartOrderIsPriorityThenFifoAcrossRestarts, ()) {
  const std::string path = temp_db();
  struct J { int64_t id; int prio; bool held; };
  std::vector<J> jobs;
  {
    auto q = JobQueue::open(path);
    RC_ASSERT(q.ok());
    const int n = *rc::gen::inRange(1, 30);
    for (int i = 0; i < n; ++i) {
      const int prio = *rc::gen::inRange(-2, 3);
      auto id = (*q)->submit("{\"job\": " + std::to_string(i) + ", \"quote\": \"it's\"}", prio);
      RC_ASSERT(id.ok());
      const bool held = *rc::gen::inRange(0, 5) == 0;
      if (held) RC_ASSERT((*q)->pause(*id).ok());
      jobs.push_back({*id, prio, held});
    }
  }
  auto q = JobQueue::open(path);  // "application restart"
  RC_ASSERT(q.ok());
  std::vector<J> expect;
  for (const auto& j : jobs)
    if (!j.held) expect.push_back(j);
  std::stable_sort(expect.begin(), expect.end(), [](const J& a, const J& b) { return a.prio > b.prio; });
  for (const auto& e : expect) {
    auto next = (*q)->claim_next();
    RC_ASSERT(next.ok() && next->has_value());
    RC_ASSERT((*next)->id == e.id);
    RC_ASSERT((*next)->config.find("it's") != std::string::npos);  // bound parameters keep quotes intact
  }
  auto none = (*q)->claim_next();
  RC_ASSERT(none.ok() && !none->has_value());
  auto running = (*q)->recover();
  RC_ASSERT(running.ok() && running->size() == expect.size());
  std::filesystem::remove(path);
}

TEST(P08TrainingQueuePriority, ResumeAndCancel) {
  const std::string path = temp_db();
  auto q = JobQueue::open(path);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  auto a = *(*q)->submit("{}", 0);
  auto b = *(*q)->submit("{}", 5);
  ASSERT_TRUE((*q)->pause(b).ok());
  ASSERT_TRUE((*q)->cancel(a).ok());
  EXPECT_FALSE((*(*q)->claim_next()).has_value());
  ASSERT_TRUE((*q)->resume(b).ok());
  auto next = (*q)->claim_next();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->id, b);
  EXPECT_EQ((*q)->cancel(999).error().code, ErrorCode::kNotFound);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cyllm
