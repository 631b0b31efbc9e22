// Property 22 — request metrics recording completeness: every request is counted with its
// model_id, tenant and status labels, and its latencies are observed; and Property 27 — tenant
// metrics isolation: one tenant's series never count another tenant's requests.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <tuple>

#include "serve/request-metrics.h"

namespace cyllm {
namespace {

struct Req {
  std::string model, tenant;
  int status;
  LatencyRecord r;
};

std::vector<Req> gen_requests() {
  const int n = *rc::gen::inRange(0, 60);
  std::vector<Req> out;
  for (int i = 0; i < n; ++i) {
    Req q{*rc::gen::element<std::string>("smol", "smol:identity"), *rc::gen::element<std::string>("acme", "globex", ""),
          *rc::gen::element(200, 400, 429, 504), {}};
    q.r.queue_time_ms = *rc::gen::inRange(0, 1000);
    q.r.ttft_ms = q.r.queue_time_ms + *rc::gen::inRange(0, 1000);
    q.r.total_time_ms = q.r.ttft_ms + *rc::gen::inRange(0, 5000);
    q.r.prompt_tokens = *rc::gen::inRange(0, 100);
    q.r.completion_tokens = *rc::gen::inRange(0, 100);
    for (int k = 0; k < q.r.completion_tokens && k < 5; ++k) q.r.inter_token_ms.push_back(*rc::gen::inRange(1, 50));
    out.push_back(q);
  }
  return out;
}

RC_GTEST_PROP(P22RequestMetrics, EveryRequestIsCountedUnderItsLabels, ()) {
  MetricsRegistry reg;
  RequestMetrics rm(reg);
  const auto reqs = gen_requests();
  std::map<std::tuple<std::string, std::string, int>, int> count, itl;
  std::map<std::tuple<std::string, std::string, int>, double> e2e_sum;
  std::map<std::pair<std::string, std::string>, double> prompt, gen;
  for (const auto& q : reqs) {
    rm.record(q.model, q.tenant, q.status, q.r);
    const auto k = std::make_tuple(q.model, q.tenant, q.status);
    ++count[k];
    e2e_sum[k] += q.r.total_time_ms / 1000.0;
    itl[k] += static_cast<int>(q.r.inter_token_ms.size());
    prompt[{q.model, q.tenant}] += q.r.prompt_tokens;
    gen[{q.model, q.tenant}] += q.r.completion_tokens;
  }
  for (const auto& [k, n] : count) {
    const std::vector<std::string> lv = {std::get<0>(k), std::get<1>(k), std::to_string(std::get<2>(k))};
    RC_ASSERT(reg.value(RequestMetrics::kRequests, lv) == n);
    RC_ASSERT(reg.value(RequestMetrics::kE2eSeconds, lv) == n);
    RC_ASSERT(reg.value(RequestMetrics::kQueueSeconds, lv) == n);
    RC_ASSERT(reg.value(RequestMetrics::kTtftSeconds, lv) == n);
    RC_ASSERT(reg.value(RequestMetrics::kInterTokenSeconds, lv) == itl[k]);
    RC_ASSERT(std::abs(reg.histogram_sum(RequestMetrics::kE2eSeconds, lv) - e2e_sum[k]) < 1e-6);
  }
  for (const auto& [k, v] : prompt) {
    const std::vector<std::string> lv = {k.first, k.second};
    RC_ASSERT(reg.value(RequestMetrics::kPromptTokens, lv) == v);
    RC_ASSERT(reg.value(RequestMetrics::kGenerationTokens, lv) == gen[k]);
  }
}

RC_GTEST_PROP(P27TenantIsolation, ATenantsSeriesCountOnlyItsRequests, ()) {
  MetricsRegistry reg;
  RequestMetrics rm(reg);
  const auto reqs = gen_requests();
  for (const auto& q : reqs) rm.record(q.model, q.tenant, q.status, q.r);
  for (const std::string tenant : {"acme", "globex", ""}) {
    int mine = 0;
    for (const auto& q : reqs) mine += q.tenant == tenant;
    double counted = 0;
    for (const std::string model : {"smol", "smol:identity"})
      for (int status : {200, 400, 429, 504}) counted += reg.value(RequestMetrics::kRequests, {model, tenant, std::to_string(status)});
    RC_ASSERT(counted == mine);
    // The exposition line for this tenant never carries another tenant's label.
    const std::string text = reg.exposition();
    for (size_t at = text.find("tenant=\""); at != std::string::npos; at = text.find("tenant=\"", at + 1)) {
      const size_t end = text.find('"', at + 8);
      const std::string t = text.substr(at + 8, end - at - 8);
      RC_ASSERT(t == "acme" || t == "globex" || t.empty());
    }
  }
}

}  // namespace
}  // namespace cyllm
