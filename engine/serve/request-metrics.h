// Per-request metrics in the shared MetricsRegistry: request counts and latency histograms (queue,
// TTFT, inter-token, end to end) labelled by model_id, tenant and status, token counts by model_id
// and tenant. Every finished request is recorded exactly once (Property 22); series
// are keyed by tenant, so one tenant's series never count another's requests (Property 27).
#pragma once

#include <string>

#include "core/metrics.h"
#include "serve/latency.h"

namespace cyllm {

class RequestMetrics {
 public:
  explicit RequestMetrics(MetricsRegistry& registry);
  void record(const std::string& model_id, const std::string& tenant, int status, const LatencyRecord& r);

  static constexpr const char* kRequests = "cyllm_requests_total";
  static constexpr const char* kPromptTokens = "cyllm_prompt_tokens_total";
  static constexpr const char* kGenerationTokens = "cyllm_generation_tokens_total";
  static constexpr const char* kQueueSeconds = "cyllm_request_queue_seconds";
  static constexpr const char* kTtftSeconds = "cyllm_request_ttft_seconds";
  static constexpr const char* kInterTokenSeconds = "cyllm_request_inter_token_seconds";
  static constexpr const char* kE2eSeconds = "cyllm_request_e2e_seconds";

 private:
  MetricsRegistry& reg_;
};

}  // namespace cyllm
