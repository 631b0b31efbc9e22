// Percentiles over a sliding window of samples (latency P50/P95/P99 for /metrics and the GUI).
//
// Definition (documented once, here): for sorted samples x[0..n-1] and p in [0, 100], the
// percentile is linear interpolation between closest ranks, h = (n - 1) * p / 100,
// P = x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]) — numpy's default
// ("linear") method. No samples: 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <vector>

namespace cyllm {

// The definition above over any set of samples (copied and sorted).
double percentile(std::span<const double> samples, double p);

struct PercentileSummary {
  size_t count = 0;
  double p50 = 0, p95 = 0, p99 = 0, mean = 0, max = 0;
};

// Keeps the samples of the last `window_ms` milliseconds, at most `max_samples` of them (the
// oldest go first). Thread-safe.
class SlidingWindow {
 public:
  explicit SlidingWindow(double window_ms = 60'000, size_t max_samples = 10'000);
  // now_ms: a monotonic timestamp of the sample (callers pass the same clock to summary()).
  void add(double value, double now_ms);
  PercentileSummary summary(double now_ms) const;
  std::vector<double> values(double now_ms) const;

 private:
  void expire(double now_ms) const;
  double window_ms_;
  size_t max_samples_;
  mutable std::mutex mu_;
  mutable std::deque<std::pair<double, double>> samples_;  // (time, value)
};

}  // namespace cyllm
