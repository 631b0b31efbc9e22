#include "serve/latency.h"

#include <algorithm>

namespace cyllm {

LatencyRecord make_latency_record(const RequestTimeline& t) {
  LatencyRecord r;
  // Timestamps come from one monotonic clock; clamping guards against callers that never
  // scheduled a request (cancelled in the queue) or finished it before scheduling.
  const double scheduled = std::max(t.arrival_ms, t.scheduled_ms);
  const double finish = std::max(scheduled, t.finish_ms);
  const double first = t.first_token_ms < 0 ? finish : std::clamp(t.first_token_ms, scheduled, finish);
  r.queue_time_ms = scheduled - t.arrival_ms;
  r.ttft_ms = first - t.arrival_ms;
  r.total_time_ms = finish - t.arrival_ms;
  r.completion_tokens = static_cast<int>(t.token_ms.size());
  r.tokens_per_second = r.total_time_ms > 0 ? r.completion_tokens * 1000.0 / r.total_time_ms : 0.0;
  for (size_t i = 1; i < t.token_ms.size(); ++i) r.inter_token_ms.push_back(std::max(0.0, t.token_ms[i] - t.token_ms[i - 1]));
  r.prompt_tokens = t.prompt_tokens;
  r.cached_prompt_tokens = t.cached_prompt_tokens;
  return r;
}

LatencyStats::LatencyStats(double window_ms, size_t max_samples)
    : queue_(window_ms, max_samples), ttft_(window_ms, max_samples), itl_(window_ms, max_samples * 8),
      total_(window_ms, max_samples), tps_(window_ms, max_samples) {}

void LatencyStats::record(const LatencyRecord& r, double now_ms) {
  queue_.add(r.queue_time_ms, now_ms);
  ttft_.add(r.ttft_ms, now_ms);
  total_.add(r.total_time_ms, now_ms);
  tps_.add(r.tokens_per_second, now_ms);
  for (double x : r.inter_token_ms) itl_.add(x, now_ms);
}

}  // namespace cyllm
