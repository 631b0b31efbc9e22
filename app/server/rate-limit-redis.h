// The shared rate-limit backend: the sliding windows of RateLimiter (Property 28), kept in one Redis
// server so that several server processes serving one deployment enforce one set of limits.
//
// Semantics. Each admit() runs one Lua script (EVALSHA, EVAL when the server has lost it), so the
// check and the record are atomic across every process sharing the server. Per key and per tenant
// that has limits, the window is a sorted set of events (score: the caller's time; member:
// "<tokens>:<unique id>") plus a running token sum. The script drops events at or before
// now - window, computes the wait for each limit exactly as RateLimiter does, refuses with the
// scope and limit of the longest wait (ties: the key's), and otherwise records the event in every
// window. With non-decreasing times the decisions equal RateLimiter's (tested side by side).
//
// Clock. Time is the caller's now_s, not Redis TIME, so tests can drive it and a decision depends
// only on its inputs. The price: instances must share a clock (NTP). An instance whose clock is d
// seconds off records events d seconds early or late, so they leave the window d seconds early or
// late for everyone, and its own checks see a window shifted by d. Events are ordered by their
// times, so out-of-order times from skewed clocks are still counted in the right window.
//
// Memory. Every key written gets PEXPIRE of twice the window after its last write, so windows of
// idle keys and tenants disappear; nothing else is stored.
//
// Failure. The connection (host:port or unix socket, with a connect and command timeout) is made on
// first use; after a failure the next try is reconnect_interval_ms later, so a dead or
// black-holed Redis costs at most one timeout per interval, not one per request. While Redis cannot
// be reached admit() never blocks longer than the timeout, never throws, and returns a decision
// with backend_error set: fail_open (the default, as many API gateways do) admits the request;
// fail-closed refuses it ("rate limiter unavailable", retry after 1 s). The first failure and the
// recovery are logged once each (events rate_limit_backend_down / rate_limit_backend_up).
//
// Limits are configured in each process (give every instance the same limits and window). One
// connection per limiter, used under a mutex. Redis Cluster is not supported (a request touches a
// key's and a tenant's window, which may live in different slots).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "server/rate-limit.h"

struct redisContext;
struct redisReply;

namespace cyllm::server {

// A parsed redis_url: redis://[[user]:password@]host[:port][/db] or unix:/path (unix:///path too).
struct RedisEndpoint {
  bool unix_socket = false;
  std::string host;  // without brackets for IPv6
  int port = 6379;
  std::string path;  // unix socket
  std::string user, password;
  int db = 0;
  // "host:port" or "unix:/path" (never the password), for messages and logs.
  std::string describe() const;
};
Result<RedisEndpoint> parse_redis_url(std::string_view url);

class RedisRateLimiter final : public RateLimitBackend {
 public:
  // Fails only on a malformed cfg.redis_url or settings out of range; does not connect.
  static Result<std::unique_ptr<RedisRateLimiter>> create(const RateLimitBackendConfig& cfg);
  ~RedisRateLimiter() override;
  RedisRateLimiter(const RedisRateLimiter&) = delete;
  RedisRateLimiter& operator=(const RedisRateLimiter&) = delete;

  void set_key_limits(const std::string& key_id, RateLimits l) override;
  void set_tenant_limits(const std::string& tenant, RateLimits l) override;
  RateDecision admit(const std::string& key_id, const std::string& tenant, int tokens, double now_s) override;

  // Whether the last call reached Redis (true before the first call), and its error otherwise.
  bool healthy() const;
  std::string last_error() const;

 private:
  RedisRateLimiter(const RateLimitBackendConfig& cfg, RedisEndpoint ep);
  struct ReplyDeleter { void operator()(redisReply* r) const; };
  using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

  bool connect(std::string* err);
  void disconnect();
  // One command on the open connection; nullptr (and *err) on an I/O error or timeout.
  Reply command(const std::vector<std::string>& args, std::string* err);
  // Runs the script once on the open connection: true with *d set, or false with *err.
  bool run_script(std::vector<std::string>& args, RateDecision* d, std::string* err);
  RateDecision unavailable(const std::string& err);

  RateLimitBackendConfig cfg_;
  RedisEndpoint ep_;
  std::string member_prefix_;  // random per instance: members stay unique across processes
  uint64_t seq_ = 0;

  mutable std::mutex mu_;
  std::map<std::string, RateLimits> key_limits_, tenant_limits_;
  redisContext* ctx_ = nullptr;
  std::string sha_;
  std::chrono::steady_clock::time_point next_connect_{};
  bool healthy_ = true;
  std::string last_error_;
};

}  // namespace cyllm::server
