#include "serve/request-metrics.h"

namespace cyllm {

namespace {
// Latency buckets in seconds: 1 ms to 2 min.
const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1, 2.5, 5, 10, 30, 60, 120};
}  // namespace

RequestMetrics::RequestMetrics(MetricsRegistry& registry) : reg_(registry) {
  reg_.counter(kRequests, "Requests finished, by model, tenant and HTTP status.", {"model_id", "tenant", "status"});
  reg_.counter(kPromptTokens, "Prompt tokens processed.", {"model_id", "tenant"});
  reg_.counter(kGenerationTokens, "Tokens generated.", {"model_id", "tenant"});
  reg_.histogram(kQueueSeconds, "Time requests waited in the queue.", {"model_id", "tenant", "status"}, kLatencyBuckets);
  reg_.histogram(kTtftSeconds, "Time to first token.", {"model_id", "tenant", "status"}, kLatencyBuckets);
  reg_.histogram(kInterTokenSeconds, "Time between streamed tokens.", {"model_id", "tenant", "status"}, kLatencyBuckets);
  reg_.histogram(kE2eSeconds, "End-to-end request time.", {"model_id", "tenant", "status"}, kLatencyBuckets);
}

void RequestMetrics::record(const std::string& model_id, const std::string& tenant, int status, const LatencyRecord& r) {
  const std::vector<std::string> mt = {model_id, tenant};
  const std::vector<std::string> mts = {model_id, tenant, std::to_string(status)};
  reg_.inc(kRequests, mts);
  reg_.inc(kPromptTokens, mt, r.prompt_tokens);
  reg_.inc(kGenerationTokens, mt, r.completion_tokens);
  reg_.observe(kQueueSeconds, mts, r.queue_time_ms / 1000.0);
  reg_.observe(kTtftSeconds, mts, r.ttft_ms / 1000.0);
  reg_.observe(kE2eSeconds, mts, r.total_time_ms / 1000.0);
  for (double x : r.inter_token_ms) reg_.observe(kInterTokenSeconds, mts, x / 1000.0);
}

}  // namespace cyllm
