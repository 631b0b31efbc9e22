// Sliding-window rate limits per API key and per tenant, on requests per minute and tokens per
// minute (Property 28). A request is admitted only if every applicable window has room; a refusal
// says which limit was hit and when to retry (the Retry-After header, in whole seconds). In-process;
// a shared (Redis) backend for several server instances comes with the security issue.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>

namespace cyllm::server {

struct RateLimits {
  int requests_per_min = 0;  // 0: unlimited
  int tokens_per_min = 0;
};

struct RateDecision {
  bool allowed = true;
  std::string limit;         // "key requests/min", "tenant tokens/min", ...
  double retry_after_s = 0;  // when allowed == false
};

class RateLimiter {
 public:
  explicit RateLimiter(double window_s = 60.0) : window_s_(window_s) {}
  void set_key_limits(const std::string& key_id, RateLimits l);
  void set_tenant_limits(const std::string& tenant, RateLimits l);
  // Admits (and records) a request of `tokens` tokens at time now_s, or refuses it.
  RateDecision admit(const std::string& key_id, const std::string& tenant, int tokens, double now_s);

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

}  // namespace cyllm::server
