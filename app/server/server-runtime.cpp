// ServerRuntime: the server's stores, limiter, telemetry and gatekeeper from its settings.
#include "server/server-runtime.h"

#include <chrono>
#include <filesystem>

namespace cyllm::server {

Result<std::unique_ptr<ServerRuntime>> ServerRuntime::create(const ServerSettings& s, Logger::Sink log_sink) {
  auto rt = std::make_unique<ServerRuntime>();
  rt->settings = s;
  rt->log = std::make_unique<Logger>(s.log, std::move(log_sink));
  const std::string data = (s.keys_db.empty() || s.audit_db.empty()) ? default_data_dir() : std::string();
  const std::string keys_path = s.keys_db.empty() ? (std::filesystem::path(data) / "keys.sqlite").string() : s.keys_db;
  const std::string audit_path = s.audit_db.empty() ? (std::filesystem::path(data) / "audit.sqlite").string() : s.audit_db;

  auto keys = KeyStore::open(keys_path);
  if (!keys) return keys.error();
  rt->keys = std::move(*keys);
  const bool loopback = is_loopback_host(s.host);
  if (!loopback && rt->keys->empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "refusing to listen on " + s.host + " without API keys: anyone who can reach it could use it",
                      "Create a key first (cyllm keys create --tenant NAME), or bind to 127.0.0.1.");

  auto audit = AuditLog::open(audit_path);
  if (!audit) return audit.error();
  rt->audit = std::move(*audit);
  if (s.audit_retention_days > 0) {
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto purged = rt->audit->purge_before(now_ms - static_cast<int64_t>(s.audit_retention_days * 86'400'000.0));
    if (purged && *purged > 0)
      rt->log->log(LogLevel::kInfo, "audit_retention", {{"deleted_records", *purged}, {"days", s.audit_retention_days}});
  }

  RateLimitBackendConfig rc;
  rc.backend = s.rate_backend;
  rc.redis_url = s.redis_url;
  rc.fail_open = s.rate_fail_open;
  rc.log = rt->log.get();
  auto limiter = make_rate_limiter(rc);
  if (!limiter) return limiter.error();
  rt->limiter = std::move(*limiter);

  rt->telemetry = std::make_unique<Telemetry>(
      *rt->log, rt->audit.get(), AlertThresholds{s.alert_queue_depth, s.alert_kv_usage, s.alert_gpu_utilisation});
  rt->gate = std::make_unique<Gatekeeper>(rt->keys.get(), rt->limiter.get(), loopback);
  rt->gate->set_default_limits(s.key_limits, s.tenant_limits);
  rt->log->log(LogLevel::kInfo, "server_config",
               {{"host", s.host},
                {"port", s.port},
                {"keys_db", keys_path},
                {"audit_db", audit_path},
                {"auth", rt->gate->auth_required() ? "required" : "off (loopback, no keys)"},
                {"rate_limit_backend", s.rate_backend},
                {"engine_nice", s.engine_nice}});
  return rt;
}

}  // namespace cyllm::server
