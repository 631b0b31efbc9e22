#include "serve/percentiles.h"

#include <algorithm>
#include <cmath>

namespace cyllm {

double percentile(std::span<const double> samples, double p) {
  if (samples.empty()) return 0.0;
  std::vector<double> x(samples.begin(), samples.end());
  std::sort(x.begin(), x.end());
  p = std::clamp(p, 0.0, 100.0);
  const double h = static_cast<double>(x.size() - 1) * p / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= x.size()) return x.back();
  return x[lo] + (h - static_cast<double>(lo)) * (x[lo + 1] - x[lo]);
}

SlidingWindow::SlidingWindow(double window_ms, size_t max_samples)
    : window_ms_(window_ms), max_samples_(std::max<size_t>(1, max_samples)) {}

void SlidingWindow::expire(double now_ms) const {
  while (!samples_.empty() && samples_.front().first < now_ms - window_ms_) samples_.pop_front();
}

void SlidingWindow::add(double value, double now_ms) {
  std::lock_guard lock(mu_);
  samples_.emplace_back(now_ms, value);
  while (samples_.size() > max_samples_) samples_.pop_front();
  expire(now_ms);
}

std::vector<double> SlidingWindow::values(double now_ms) const {
  std::lock_guard lock(mu_);
  expire(now_ms);
  std::vector<double> v;
  v.reserve(samples_.size());
  for (const auto& s : samples_) v.push_back(s.second);
  return v;
}

PercentileSummary SlidingWindow::summary(double now_ms) const {
  const std::vector<double> v = values(now_ms);
  PercentileSummary s;
  s.count = v.size();
  if (v.empty()) return s;
  s.p50 = percentile(v, 50);
  s.p95 = percentile(v, 95);
  s.p99 = percentile(v, 99);
  double sum = 0;
  for (double x : v) {
    sum += x;
    s.max = std::max(s.max, x);
  }
  s.mean = sum / static_cast<double>(v.size());
  return s;
}

}  // namespace cyllm
