// Property 9 — early stopping trigger correctness: training stops exactly when `patience`
// evaluations in a row failed to improve on the best by more than `min_delta`, never earlier.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <limits>

#include "train/early-stop.h"

namespace cyllm {
namespace {

RC_GTEST_PROP(P09EarlyStopping, StopsExactlyAfterPatienceNonImprovements, ()) {
  EarlyStoppingConfig cfg;
  cfg.patience = *rc::gen::inRange(1, 6);
  cfg.min_delta = *rc::gen::inRange(0, 50) / 1000.0;
  const auto losses = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3000));
  EarlyStopping es(cfg);
  // Reference written from the definition.
  double best = std::numeric_limits<double>::infinity();
  int run = 0;
  for (size_t i = 0; i < losses.size(); ++i) {
    const double l = losses[i] / 1000.0;
    const bool improved = best == std::numeric_limits<double>::infinity() || l < best - cfg.min_delta;
    if (improved) {
      best = l;
      run = 0;
    } else {
      ++run;
    }
    const bool stop = es.update(l);
    RC_ASSERT(stop == (run >= cfg.patience));
    if (stop) break;  // a trainer stops here
    RC_ASSERT(es.best() == best);
  }
}

TEST(P09EarlyStopping, StopAtLossAndNaN) {
  EarlyStopping a({3, 0.0, 0.5});
  EXPECT_FALSE(a.update(1.0));
  EXPECT_TRUE(a.update(0.4));
  EarlyStopping b({2, 0.0, std::nullopt});
  EXPECT_FALSE(b.update(1.0));
  EXPECT_FALSE(b.update(std::nan("")));
  EXPECT_TRUE(b.update(std::nan("")));
}

}  // namespace
}  // namespace cyllm
