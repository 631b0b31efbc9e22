// Telemetry: audit record + metrics + log line per request; gauges and alerts from the scheduler.
#include "server/telemetry.h"

#include <algorithm>
#include <chrono>

namespace cyllm::server {

namespace {
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Telemetry::Telemetry(Logger& log, AuditLog* audit, AlertThresholds t)
    : log_(log),
      audit_(audit),
      req_(reg_),
      // Recovery 10% below each threshold (at most 0.05 for ratios), so a value hovering at the
      // threshold does not flap; a threshold of 0 recovers at 0.
      alerts_({{"queue_depth_high", t.queue_depth, t.queue_depth * 0.1},
               {"kv_usage_high", t.kv_usage, std::min(0.05, t.kv_usage * 0.1)},
               {"gpu_utilisation_high", t.gpu_utilisation, std::min(0.05, t.gpu_utilisation * 0.1)}}) {
  reg_.counter(kHttpRequests, "HTTP requests answered, by endpoint, method, tenant and status.",
               {"endpoint", "method", "tenant", "status"});
  const std::vector<double> us_buckets = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2, 0.1};
  reg_.histogram(kEventDispatch, "Time an engine event waited for the HTTP thread.", {}, us_buckets);
  reg_.histogram(kEventWrite, "Wall time from taking one engine event to its bytes on the socket.", {}, us_buckets);
  reg_.histogram(kEventCpu, "HTTP thread CPU time spent on one engine event.", {}, us_buckets);
  reg_.gauge("cyllm_queue_depth", "Requests waiting to be scheduled.", {});
  reg_.gauge("cyllm_running_requests", "Requests being generated.", {});
  reg_.gauge("cyllm_kv_blocks_capacity", "KV cache blocks in the budget.", {});
  reg_.gauge("cyllm_kv_blocks_used", "KV cache blocks held by running sequences.", {});
  reg_.gauge("cyllm_kv_usage_ratio", "Fraction of KV cache blocks in use.", {});
  reg_.gauge("cyllm_prefix_cache_hit_rate", "Prompt tokens served from the prefix cache / prompt tokens looked up.", {});
  reg_.counter("cyllm_prefix_cache_queried_tokens_total", "Prompt tokens looked up in the prefix cache.", {});
  reg_.counter("cyllm_prefix_cache_hit_tokens_total", "Prompt tokens found in the prefix cache.", {});
  reg_.counter("cyllm_preemptions_total", "Sequences preempted for KV space (recomputed later).", {});
  reg_.gauge("cyllm_alert_firing", "1 while the alert's value is beyond its threshold.", {"alert"});
  reg_.counter("cyllm_alerts_fired_total", "Times each alert has fired.", {"alert"});
  reg_.gauge("cyllm_alert_threshold", "Each alert's threshold.", {"alert"});
  reg_.set("cyllm_alert_threshold", {"queue_depth_high"}, t.queue_depth);
  reg_.set("cyllm_alert_threshold", {"kv_usage_high"}, t.kv_usage);
  reg_.set("cyllm_alert_threshold", {"gpu_utilisation_high"}, t.gpu_utilisation);
  for (const char* a : {"queue_depth_high", "kv_usage_high", "gpu_utilisation_high"}) {
    reg_.set("cyllm_alert_firing", {a}, 0);
    reg_.inc("cyllm_alerts_fired_total", {a}, 0);
  }
}

void Telemetry::request_finished(const RequestOutcome& o) {
  reg_.inc(kHttpRequests, {o.endpoint, o.method, o.tenant, std::to_string(o.status)});
  if (o.latency) req_.record(o.model_id, o.tenant, o.status, *o.latency);
  if (audit_) {
    AuditRecord r;
    r.ts_ms = now_ms();
    r.trace_id = o.trace_id;
    r.api_key_hash = o.key_hash;
    r.tenant = o.tenant;
    r.endpoint = o.endpoint;
    r.method = o.method;
    r.status_code = o.status;
    r.duration_ms = o.duration_ms;
    if (auto st = audit_->append(r); !st) {
      std::lock_guard lock(mu_);
      ++audit_failures_;
      log_.log(LogLevel::kError, "audit_write_failed", {{"trace_id", o.trace_id}, {"error", st.error().message}});
    }
  }
  const LogLevel level = o.status >= 500 ? LogLevel::kError : o.status >= 400 ? LogLevel::kWarn : LogLevel::kInfo;
  if (!log_.enabled(level)) return;
  nlohmann::json f = {{"trace_id", o.trace_id}, {"tenant", o.tenant},   {"method", o.method},
                      {"endpoint", o.endpoint}, {"status", o.status},   {"duration_ms", o.duration_ms}};
  if (!o.key_hash.empty()) f["api_key_hash"] = o.key_hash;
  if (!o.model_id.empty()) f["model"] = o.model_id;
  if (o.latency) {
    f["prompt_tokens"] = o.latency->prompt_tokens;
    f["cached_prompt_tokens"] = o.latency->cached_prompt_tokens;
    f["completion_tokens"] = o.latency->completion_tokens;
    f["queue_ms"] = o.latency->queue_time_ms;
    f["ttft_ms"] = o.latency->ttft_ms;
  }
  if (!o.error_code.empty()) {
    f["error_code"] = o.error_code;
    f["error"] = o.error_message;
  }
  log_.log(level, "request", f);
}

void Telemetry::stream_event(double dispatch_s, double write_s, double cpu_s) {
  reg_.observe(kEventDispatch, {}, dispatch_s);
  reg_.observe(kEventWrite, {}, write_s);
  reg_.observe(kEventCpu, {}, cpu_s);
}

void Telemetry::refresh(const SchedulerStats& st, std::optional<double> gpu_utilisation) {
  std::lock_guard lock(mu_);
  const double kv_ratio = st.kv_blocks_total > 0 ? static_cast<double>(st.kv_blocks_used) / st.kv_blocks_total : 0.0;
  reg_.set("cyllm_queue_depth", {}, static_cast<double>(st.waiting));
  reg_.set("cyllm_running_requests", {}, static_cast<double>(st.running));
  reg_.set("cyllm_kv_blocks_capacity", {}, st.kv_blocks_total);
  reg_.set("cyllm_kv_blocks_used", {}, st.kv_blocks_used);
  reg_.set("cyllm_kv_usage_ratio", {}, kv_ratio);
  reg_.set("cyllm_prefix_cache_hit_rate", {}, st.prefix.hit_rate());
  // The scheduler's totals only grow; counters advance by what is new since the last snapshot.
  if (st.prefix.queried_tokens >= last_queried_) {
    reg_.inc("cyllm_prefix_cache_queried_tokens_total", {}, static_cast<double>(st.prefix.queried_tokens - last_queried_));
    reg_.inc("cyllm_prefix_cache_hit_tokens_total", {}, static_cast<double>(st.prefix.hit_tokens - last_hits_));
  }
  if (st.preemptions >= last_preemptions_)
    reg_.inc("cyllm_preemptions_total", {}, static_cast<double>(st.preemptions - last_preemptions_));
  last_queried_ = st.prefix.queried_tokens;
  last_hits_ = st.prefix.hit_tokens;
  last_preemptions_ = st.preemptions;

  std::vector<AlertEvent> events = alerts_.observe("queue_depth_high", static_cast<double>(st.waiting));
  for (auto& e : alerts_.observe("kv_usage_high", kv_ratio)) events.push_back(e);
  if (gpu_utilisation)
    for (auto& e : alerts_.observe("gpu_utilisation_high", *gpu_utilisation)) events.push_back(e);
  for (const AlertEvent& e : events) {
    reg_.set("cyllm_alert_firing", {e.name}, e.firing ? 1 : 0);
    if (e.firing) reg_.inc("cyllm_alerts_fired_total", {e.name});
    log_.log(e.firing ? LogLevel::kWarn : LogLevel::kInfo, e.firing ? "alert_firing" : "alert_recovered",
             {{"alert", e.name}, {"value", e.value}, {"threshold", e.threshold}});
  }
}

}  // namespace cyllm::server
