// What the server records about its requests and its own state, in one place: every finished
// request (rejected ones included) becomes one audit record, one set of metric samples and one
// log line, all carrying its trace id and tenant; scheduler gauges (queue depth, running requests,
// KV usage, prefix-cache hit rate) and threshold alerts are refreshed from the scheduler's stats.
// /metrics, the audit export and the GUI read from here. Qt-free and thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/alerts.h"
#include "core/log.h"
#include "core/metrics.h"
#include "serve/latency.h"
#include "serve/request-metrics.h"
#include "serve/scheduler.h"
#include "server/audit-log.h"

namespace cyllm::server {

struct RequestOutcome {
  std::string trace_id;
  std::string tenant;
  std::string key_hash;   // hash prefix, never the key
  std::string endpoint;   // the route path, e.g. /v1/chat/completions
  std::string method;
  std::string model_id;   // generation requests
  int status = 0;
  double duration_ms = 0;
  std::optional<LatencyRecord> latency;  // generation requests that reached the engine
  std::string error_code;  // the catalog code when status >= 400
  std::string error_message;
};

struct AlertThresholds {
  double queue_depth = 64;
  double kv_usage = 0.90;
  double gpu_utilisation = 0.95;
};

class Telemetry {
 public:
  Telemetry(Logger& log, AuditLog* audit, AlertThresholds thresholds);

  MetricsRegistry& registry() { return reg_; }
  Logger& logger() { return log_; }

  void request_finished(const RequestOutcome& o);
  // Gauges and alerts from a scheduler snapshot; gpu_utilisation when a GPU reports one. Alert
  // transitions are logged (warn when firing, info when recovered).
  void refresh(const SchedulerStats& st, std::optional<double> gpu_utilisation = std::nullopt);
  std::string exposition() const { return reg_.exposition(); }
  // Per token event of a generation (not a request's last event): seconds it waited for the HTTP
  // thread, wall seconds until its bytes were on the socket, and the HTTP thread's CPU seconds for
  // it (the HTTP layer's own work per token; wall time also counts being descheduled).
  void stream_event(double dispatch_s, double write_s, double cpu_s);
  std::vector<std::string> active_alerts() const { return alerts_.active(); }
  uint64_t audit_failures() const { return audit_failures_; }

  static constexpr const char* kHttpRequests = "cyllm_http_requests_total";
  static constexpr const char* kEventDispatch = "cyllm_http_event_dispatch_seconds";
  static constexpr const char* kEventWrite = "cyllm_http_event_write_seconds";
  static constexpr const char* kEventCpu = "cyllm_http_event_cpu_seconds";

 private:
  Logger& log_;
  AuditLog* audit_;
  MetricsRegistry reg_;
  RequestMetrics req_;
  Alerts alerts_;
  std::mutex mu_;
  uint64_t last_queried_ = 0, last_hits_ = 0, last_preemptions_ = 0;
  uint64_t audit_failures_ = 0;
};

}  // namespace cyllm::server
