// Sliding-window rate limits per API key and per tenant, on requests per minute and tokens per
// minute (Property 28). A request is admitted only if every applicable window has room; a refusal
// says which limit was hit and when to retry (the Retry-After header, in whole seconds).
//
// Two backends implement RateLimitBackend: RateLimiter (below, in-process, the default) and
// RedisRateLimiter (server/rate-limit-redis.h: the same windows kept in one Redis server, shared by
// several server instances). Limits are configured in each process; the caller supplies the clock.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"

namespace cyllm {
class Logger;
}

namespace cyllm::server {

struct RateLimits {
  int requests_per_min = 0;  // 0: unlimited
  int tokens_per_min = 0;
};

struct RateDecision {
  bool allowed = true;
  std::string limit;         // "key requests/min", "tenant tokens/min", ...
  double retry_after_s = 0;  // when allowed == false
  // Set when the backend could not decide (Redis unreachable, or a reply it did not understand).
  // Fail-open: allowed == true. Fail-closed: allowed == false, limit == "rate limiter unavailable"
  // and retry_after_s == 1; serve that as 503 with Retry-After rather than 429.
  std::string backend_error;
};

// What a rate-limit backend offers the server. Thread-safe.
class RateLimitBackend {
 public:
  virtual ~RateLimitBackend() = default;
  // Limits for a key or a tenant; a key or tenant without limits is not limited (and not recorded).
  virtual void set_key_limits(const std::string& key_id, RateLimits l) = 0;
  virtual void set_tenant_limits(const std::string& tenant, RateLimits l) = 0;
  // Admits (and records) a request of `tokens` tokens at time now_s (seconds, any epoch, the same
  // for every caller sharing the windows), or refuses it.
  virtual RateDecision admit(const std::string& key_id, const std::string& tenant, int tokens, double now_s) = 0;
};

// The in-process backend.
class RateLimiter final : public RateLimitBackend {
 public:
  explicit RateLimiter(double window_s = 60.0) : window_s_(window_s) {}
  void set_key_limits(const std::string& key_id, RateLimits l) override;
  void set_tenant_limits(const std::string& tenant, RateLimits l) override;
  RateDecision admit(const std::string& key_id, const std::string& tenant, int tokens, double now_s) override;

 private:
  struct Window {
    std::deque<std::pair<double, int>> events;  // (time, tokens)
    int64_t tokens = 0;
  };
  void expire(Window& w, double now_s) const;
  // Room for one more request of `tokens`? Otherwise the seconds until there is.
  double wait_for(Window& w, const RateLimits& l, int tokens, double now_s, bool* tokens_limited) const;

  double window_s_;
  std::mutex mu_;
  std::map<std::string, RateLimits> key_limits_, tenant_limits_;
  std::map<std::string, Window> key_windows_, tenant_windows_;
};

// Which backend the server uses (server config "rate_limit": backend, redis_url, fail_open, ...).
struct RateLimitBackendConfig {
  std::string backend = "memory";  // "memory" | "redis"
  // redis://[[user]:password@]host[:port][/db] (port 6379, db 0 by default) or unix:/path/to/socket
  std::string redis_url;
  int timeout_ms = 250;               // connect and per-command timeout
  bool fail_open = true;              // Redis unreachable: admit (and warn once) or refuse
  int reconnect_interval_ms = 1000;   // after a failure, the next connection try is this much later
  double window_s = 60.0;             // every instance sharing a Redis must use the same window
  std::string key_prefix = "cyllm:rl:";
  Logger* log = nullptr;              // warnings (backend down / up); nullptr: stderr. Must outlive the limiter
};

// Builds the configured backend. Errors: an unknown backend, or a malformed redis_url
// (invalid_argument). A Redis server that cannot be reached is not an error here: the limiter
// connects on first use and keeps retrying (see RedisRateLimiter).
Result<std::unique_ptr<RateLimitBackend>> make_rate_limiter(const RateLimitBackendConfig& cfg);

}  // namespace cyllm::server
