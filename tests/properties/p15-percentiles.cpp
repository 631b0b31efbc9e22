// Property 15 — percentile calculation correctness: P50/P95/P99 equal the reference definition
// (linear interpolation between closest ranks, numpy's default) on any sample, and the sliding
// window keeps exactly the samples inside it.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>

#include "serve/percentiles.h"

namespace cyllm {
namespace {

// Independent reference written from the definition with a full sort and no shared code.
double reference(std::vector<double> x, double p) {
  if (x.empty()) return 0;
  std::sort(x.begin(), x.end());
  const double rank = (x.size() - 1) * (p / 100.0);
  const double lo = std::floor(rank), hi = std::ceil(rank);
  return x[static_cast<size_t>(lo)] * (1.0 - (rank - lo)) + x[static_cast<size_t>(hi)] * (rank - lo);
}

RC_GTEST_PROP(P15Percentiles, MatchReferenceDefinition, ()) {
  const auto ints = *rc::gen::container<std::vector<int>>(rc::gen::inRange(-100000, 100000));
  std::vector<double> x(ints.begin(), ints.end());
  for (double& v : x) v /= 7.0;
  for (double p : {0.0, 50.0, 95.0, 99.0, 100.0, *rc::gen::inRange(0, 101) * 1.0}) {
    const double got = percentile(x, p), want = reference(x, p);
    RC_ASSERT(std::abs(got - want) <= 1e-9 * (1.0 + std::abs(want)));  // float rounding only
  }
}

RC_GTEST_PROP(P15Percentiles, WindowHoldsOnlyRecentSamples, ()) {
  const int n = *rc::gen::inRange(1, 200);
  const double window = 50.0;
  SlidingWindow w(window, 1'000'000);
  std::vector<std::pair<double, double>> all;
  double t = 0;
  for (int i = 0; i < n; ++i) {
    t += *rc::gen::inRange(0, 10);
    const double v = *rc::gen::inRange(0, 1000);
    w.add(v, t);
    all.emplace_back(t, v);
  }
  std::vector<double> inside;
  for (const auto& [ts, v] : all)
    if (ts >= t - window) inside.push_back(v);
  const PercentileSummary s = w.summary(t);
  RC_ASSERT(s.count == inside.size());
  RC_ASSERT(std::abs(s.p95 - reference(inside, 95)) < 1e-9);
  RC_ASSERT(std::abs(s.p99 - reference(inside, 99)) < 1e-9);
}

TEST(P15Percentiles, KnownValues) {
  const std::vector<double> x = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(percentile(x, 50), 2.5);  // numpy.percentile([1,2,3,4], 50) == 2.5
  EXPECT_DOUBLE_EQ(percentile(x, 95), 3.85);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0.0);
}

}  // namespace
}  // namespace cyllm
