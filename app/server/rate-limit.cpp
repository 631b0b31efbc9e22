#include "server/rate-limit.h"

#include <algorithm>
#include <cmath>

#include "server/rate-limit-redis.h"

namespace cyllm::server {

void RateLimiter::set_key_limits(const std::string& key_id, RateLimits l) {
  std::lock_guard lock(mu_);
  key_limits_[key_id] = l;
}

void RateLimiter::set_tenant_limits(const std::string& tenant, RateLimits l) {
  std::lock_guard lock(mu_);
  tenant_limits_[tenant] = l;
}

void RateLimiter::expire(Window& w, double now_s) const {
  while (!w.events.empty() && w.events.front().first <= now_s - window_s_) {
    w.tokens -= w.events.front().second;
    w.events.pop_front();
  }
}

double RateLimiter::wait_for(Window& w, const RateLimits& l, int tokens, double now_s, bool* tokens_limited) const {
  expire(w, now_s);
  double wait = 0;
  *tokens_limited = false;
  if (l.requests_per_min > 0 && static_cast<int>(w.events.size()) >= l.requests_per_min) {
    // The oldest event that must leave for one more request to fit.
    const auto& e = w.events[w.events.size() - static_cast<size_t>(l.requests_per_min)];
    wait = std::max(wait, e.first + window_s_ - now_s);
  }
  if (l.tokens_per_min > 0 && w.tokens + tokens > l.tokens_per_min) {
    if (tokens > l.tokens_per_min) {  // can never fit: report a full window
      *tokens_limited = true;
      return std::max(wait, window_s_);
    }
    int64_t excess = w.tokens + tokens - l.tokens_per_min;
    for (const auto& e : w.events) {
      excess -= e.second;
      if (excess <= 0) {
        if (e.first + window_s_ - now_s > wait) *tokens_limited = true;
        wait = std::max(wait, e.first + window_s_ - now_s);
        break;
      }
    }
  }
  return wait;
}

RateDecision RateLimiter::admit(const std::string& key_id, const std::string& tenant, int tokens, double now_s) {
  std::lock_guard lock(mu_);
  struct Scope { std::map<std::string, RateLimits>* limits; std::map<std::string, Window>* windows; std::string id; const char* who; };
  const Scope scopes[] = {{&key_limits_, &key_windows_, key_id, "key"}, {&tenant_limits_, &tenant_windows_, tenant, "tenant"}};
  RateDecision d;
  for (const auto& sc : scopes) {
    auto it = sc.limits->find(sc.id);
    if (it == sc.limits->end()) continue;
    bool tok = false;
    const double wait = wait_for((*sc.windows)[sc.id], it->second, tokens, now_s, &tok);
    if (wait > 0 && wait > d.retry_after_s) {
      d.allowed = false;
      d.retry_after_s = wait;
      d.limit = std::string(sc.who) + (tok ? " tokens/min" : " requests/min");
    }
  }
  if (!d.allowed) {
    d.retry_after_s = std::ceil(d.retry_after_s);
    return d;
  }
  for (const auto& sc : scopes) {
    if (!sc.limits->count(sc.id)) continue;
    Window& w = (*sc.windows)[sc.id];
    w.events.emplace_back(now_s, tokens);
    w.tokens += tokens;
  }
  return d;
}

Result<std::unique_ptr<RateLimitBackend>> make_rate_limiter(const RateLimitBackendConfig& cfg) {
  if (!(cfg.window_s > 0) || !std::isfinite(cfg.window_s))
    return make_error(ErrorCode::kInvalidArgument, "rate limit window must be a positive number of seconds");
  if (cfg.backend == "memory") return std::unique_ptr<RateLimitBackend>(std::make_unique<RateLimiter>(cfg.window_s));
  if (cfg.backend == "redis") {
    auto r = RedisRateLimiter::create(cfg);
    if (!r) return r.error();
    return std::unique_ptr<RateLimitBackend>(std::move(*r));
  }
  return make_error(ErrorCode::kInvalidArgument, "unknown rate limit backend '" + cfg.backend + "'",
                    "use \"memory\" (one server process) or \"redis\" (several processes sharing a Redis server)");
}

}  // namespace cyllm::server
