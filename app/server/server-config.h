// The server's settings: defaults, the JSON config file (`cyllm serve --config FILE`) validated at
// start-up with every problem reported by path and reason (Property 18, core/config-schema.h), and
// command-line flags, which override the file. Qt-free. The accepted keys are listed in
// docs/SERVER.md; a config file may hold any subset of them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config-schema.h"
#include "core/log.h"
#include "serve/timeouts.h"
#include "server/input-limits.h"
#include "server/rate-limit.h"

namespace cyllm::server {

struct ServerSettings {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int64_t max_body_bytes = 8 << 20;
  int kv_tokens = 16384;
  // Nice value of the engine's compute threads (SchedulerConfig::compute_nice). Above the HTTP
  // thread's 0, a streamed token is written sooner when the engine keeps every core busy (see
  // docs/SERVER.md for the trade-off measured). 0: off.
  int engine_nice = 0;
  LogConfig log;
  InputLimits input;              // context_tokens is filled from the model
  RateLimits key_limits;          // per API key (0: unlimited)
  RateLimits tenant_limits;       // per tenant
  std::string rate_backend = "memory";  // memory | redis
  std::string redis_url;                // redis://host:port or unix:/path
  bool rate_fail_open = true;           // redis unreachable: admit (and warn) or refuse
  std::string keys_db;            // "" : <data dir>/keys.sqlite
  std::string audit_db;           // "" : <data dir>/audit.sqlite
  double audit_retention_days = 30;
  TimeoutConfig timeouts;
  double alert_queue_depth = 64;     // waiting requests
  double alert_kv_usage = 0.90;      // fraction of KV blocks in use
  double alert_gpu_utilisation = 0.95;
};

// The schema of the config file.
const ConfigSchema& server_config_schema();

// Applies a parsed config file to `s`; on any problem returns all of them (nothing applied).
std::vector<ConfigProblem> apply_server_config(const nlohmann::json& config, ServerSettings& s);
// Reads, parses and applies a config file; problems include I/O and JSON syntax errors.
std::vector<ConfigProblem> load_server_config(const std::string& path, ServerSettings& s);

// Where keys and the audit log live by default: $CYLLM_DATA_DIR, else $XDG_DATA_HOME/cyllm, else
// ~/.local/share/cyllm (created on demand).
std::string default_data_dir();

// Loopback addresses: 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

}  // namespace cyllm::server
