// Server settings from a JSON config file: schema, validation (every problem, Property 18) and
// application onto ServerSettings.
#include "server/server-config.h"

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cyllm::server {

const ConfigSchema& server_config_schema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    s.string("host")
        .integer("port", 0, 65535)
        .integer("max_body_bytes", 1024, int64_t{1} << 34)
        .integer("kv_tokens", 64, 1 << 24)
        .integer("engine_nice", 0, 19)
        .object("log")
        .string("log.level", {"debug", "info", "warn", "error"})
        .boolean("log.redact_prompts")
        .object("limits")
        .integer("limits.max_field_bytes", 64, int64_t{1} << 30)
        .integer("limits.max_messages", 1, 1 << 20)
        .object("rate_limit")
        .integer("rate_limit.requests_per_min", 0, 1 << 30)
        .integer("rate_limit.tokens_per_min", 0, INT32_MAX)
        .integer("rate_limit.tenant_requests_per_min", 0, 1 << 30)
        .integer("rate_limit.tenant_tokens_per_min", 0, INT32_MAX)
        .string("rate_limit.backend", {"memory", "redis"})
        .string("rate_limit.redis_url")
        .boolean("rate_limit.fail_open")
        .object("auth")
        .string("auth.keys_db")
        .object("audit")
        .string("audit.db")
        .number("audit.retention_days", 0.0, 36500.0)
        .object("timeouts")
        .number("timeouts.server_ms", 0.0, 1e9)
        .number("timeouts.queue_ms", 0.0, 1e9)
        .number("timeouts.inference_ms", 0.0, 1e9)
        .number("timeouts.stream_idle_ms", 0.0, 1e9)
        .object("alerts")
        .number("alerts.queue_depth", 0.0, 1e9)
        .number("alerts.kv_usage", 0.0, 1.0)
        .number("alerts.gpu_utilisation", 0.0, 1.0);
    return s;
  }();
  return schema;
}

namespace {
template <class T>
void take(const nlohmann::json& j, const char* a, const char* b, T& out) {
  if (!j.contains(a)) return;
  const nlohmann::json& v = b ? j.at(a) : j;
  const char* key = b ? b : a;
  if (v.is_object() && v.contains(key)) out = v.at(key).get<T>();
}
}  // namespace

std::vector<ConfigProblem> apply_server_config(const nlohmann::json& config, ServerSettings& s) {
  auto problems = server_config_schema().validate(config);
  if (config.is_object() && config.contains("rate_limit") && config["rate_limit"].is_object()) {
    const auto& rl = config["rate_limit"];
    // A non-string backend is already a schema problem; only a string can name redis.
    const auto backend = rl.find("backend");
    if (backend != rl.end() && backend->is_string() && *backend == "redis" && !rl.contains("redis_url"))
      problems.push_back({"rate_limit.redis_url", "is required when rate_limit.backend is \"redis\""});
  }
  if (!problems.empty()) return problems;
  ServerSettings n = s;
  int64_t port = n.port, body = n.max_body_bytes, field = static_cast<int64_t>(n.input.max_field_bytes),
          msgs = static_cast<int64_t>(n.input.max_messages);
  int64_t nice = n.engine_nice;
  int64_t kv = n.kv_tokens, rpm = n.key_limits.requests_per_min, tpm = n.key_limits.tokens_per_min,
          trpm = n.tenant_limits.requests_per_min, ttpm = n.tenant_limits.tokens_per_min;
  std::string level = log_level_name(n.log.level);
  take(config, "host", nullptr, n.host);
  take(config, "port", nullptr, port);
  take(config, "max_body_bytes", nullptr, body);
  take(config, "kv_tokens", nullptr, kv);
  take(config, "engine_nice", nullptr, nice);
  take(config, "log", "level", level);
  take(config, "log", "redact_prompts", n.log.redact_prompts);
  take(config, "limits", "max_field_bytes", field);
  take(config, "limits", "max_messages", msgs);
  take(config, "rate_limit", "requests_per_min", rpm);
  take(config, "rate_limit", "tokens_per_min", tpm);
  take(config, "rate_limit", "tenant_requests_per_min", trpm);
  take(config, "rate_limit", "tenant_tokens_per_min", ttpm);
  take(config, "rate_limit", "backend", n.rate_backend);
  take(config, "rate_limit", "redis_url", n.redis_url);
  take(config, "rate_limit", "fail_open", n.rate_fail_open);
  take(config, "auth", "keys_db", n.keys_db);
  take(config, "audit", "db", n.audit_db);
  take(config, "audit", "retention_days", n.audit_retention_days);
  take(config, "timeouts", "server_ms", n.timeouts.server_ms);
  take(config, "timeouts", "queue_ms", n.timeouts.queue_ms);
  take(config, "timeouts", "inference_ms", n.timeouts.inference_ms);
  take(config, "timeouts", "stream_idle_ms", n.timeouts.stream_idle_ms);
  take(config, "alerts", "queue_depth", n.alert_queue_depth);
  take(config, "alerts", "kv_usage", n.alert_kv_usage);
  take(config, "alerts", "gpu_utilisation", n.alert_gpu_utilisation);
  n.port = static_cast<uint16_t>(port);
  n.max_body_bytes = body;
  n.kv_tokens = static_cast<int>(kv);
  n.engine_nice = static_cast<int>(nice);
  n.input.max_field_bytes = static_cast<size_t>(field);
  n.input.max_messages = static_cast<size_t>(msgs);
  n.key_limits = {static_cast<int>(rpm), static_cast<int>(tpm)};
  n.tenant_limits = {static_cast<int>(trpm), static_cast<int>(ttpm)};
  parse_log_level(level, &n.log.level);
  s = std::move(n);
  return {};
}

std::vector<ConfigProblem> load_server_config(const std::string& path, ServerSettings& s) {
  std::ifstream in(path);
  if (!in) return {{path, "cannot be opened: check the path and its permissions"}};
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return {{path, "is not valid JSON: check commas, quotes and brackets"}};
  return apply_server_config(j, s);
}

std::string default_data_dir() {
  namespace fs = std::filesystem;
  fs::path dir;
  if (const char* d = std::getenv("CYLLM_DATA_DIR"); d && *d) dir = d;
  else if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) dir = fs::path(x) / "cyllm";
  else if (const char* h = std::getenv("HOME"); h && *h) dir = fs::path(h) / ".local" / "share" / "cyllm";
  else dir = fs::temp_directory_path() / "cyllm";
  std::error_code ec;
  fs::create_directories(dir, ec);
  return dir.string();
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8 in dotted-quad form.
  unsigned a, b, c, d;
  char tail;
  if (std::sscanf(host.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4) return false;
  return a == 127 && b < 256 && c < 256 && d < 256;
}

}  // namespace cyllm::server
