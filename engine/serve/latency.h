// Per-request latency records and their sliding-window percentiles.
// A record is derived from a request's timeline (monotonic timestamps), so
// queue_time <= ttft <= total holds by construction (Property 11).
#pragma once

#include <string>
#include <vector>

#include "serve/percentiles.h"

namespace cyllm {

struct RequestTimeline {
  double arrival_ms = 0;      // accepted by the scheduler
  double scheduled_ms = 0;    // first admitted into a batch
  double first_token_ms = -1; // first output token sampled (< 0: none)
  double finish_ms = 0;       // finished, cancelled or timed out
  std::vector<double> token_ms;  // time each output token was sampled
  int prompt_tokens = 0;
  int cached_prompt_tokens = 0;
};

struct LatencyRecord {
  double queue_time_ms = 0;   // arrival -> scheduled
  double ttft_ms = 0;         // arrival -> first token (the total when no token came)
  double total_time_ms = 0;   // arrival -> finish
  double tokens_per_second = 0;  // output tokens / total time
  std::vector<double> inter_token_ms;
  int prompt_tokens = 0;
  int cached_prompt_tokens = 0;
  int completion_tokens = 0;
};

LatencyRecord make_latency_record(const RequestTimeline& t);

// Sliding-window percentiles of each latency series; what /metrics and the Metrics panel read.
class LatencyStats {
 public:
  explicit LatencyStats(double window_ms = 60'000, size_t max_samples = 10'000);
  void record(const LatencyRecord& r, double now_ms);
  PercentileSummary queue_time(double now_ms) const { return queue_.summary(now_ms); }
  PercentileSummary ttft(double now_ms) const { return ttft_.summary(now_ms); }
  PercentileSummary inter_token(double now_ms) const { return itl_.summary(now_ms); }
  PercentileSummary total_time(double now_ms) const { return total_.summary(now_ms); }
  PercentileSummary tokens_per_second(double now_ms) const { return tps_.summary(now_ms); }

 private:
  SlidingWindow queue_, ttft_, itl_, total_, tps_;
};

}  // namespace cyllm
