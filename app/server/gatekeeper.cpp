// Gatekeeper: trace context, authentication and rate limits for each request.
#include "server/gatekeeper.h"

#include <cctype>

namespace cyllm::server {

Gatekeeper::Gatekeeper(KeyStore* keys, RateLimitBackend* limiter, bool loopback)
    : keys_(keys), limiter_(limiter), loopback_(loopback) {}

bool Gatekeeper::auth_required() {
  if (!keys_) return !loopback_;
  return !loopback_ || !keys_->empty();
}

std::string Gatekeeper::bearer_token(const std::string& authorization) {
  size_t i = 0;
  while (i < authorization.size() && std::isspace(static_cast<unsigned char>(authorization[i]))) ++i;
  if (authorization.size() - i < 7) return {};
  static constexpr char kBearer[] = "bearer ";
  for (size_t k = 0; k < 7; ++k)
    if (std::tolower(static_cast<unsigned char>(authorization[i + k])) != kBearer[k]) return {};
  i += 7;
  while (i < authorization.size() && authorization[i] == ' ') ++i;
  size_t end = authorization.size();
  while (end > i && std::isspace(static_cast<unsigned char>(authorization[end - 1]))) --end;
  return authorization.substr(i, end - i);
}

Admission Gatekeeper::admit(const RequestHead& h, const std::string& scope, int64_t now_s) {
  Admission a;
  a.trace = trace_from_headers(h.traceparent, h.request_id);
  a.key_id = "anonymous";
  if (scope.empty() || !auth_required()) return a;
  const std::string token = bearer_token(h.authorization);
  if (token.empty()) {
    a.error = unauthorized(h.authorization.empty() ? "this server requires an API key"
                                                   : "the Authorization header must be 'Bearer <key>'");
    return a;
  }
  KeyInfo info;
  const AuthResult r = keys_ ? keys_->authenticate(token, scope, now_s, &info) : AuthResult::kUnknown;
  if (r != AuthResult::kOk) {
    const ApiError e = r == AuthResult::kInsufficientScope ? forbidden(scope) : unauthorized(auth_result_message(r));
    // The failed key's identity is still recorded (hash prefix only), so the audit log can tell
    // an expired or revoked key apart from a stranger.
    if (r != AuthResult::kUnknown) {
      a.key_hash = info.hash_prefix;
      a.tenant = info.tenant;
    }
    a.error = e;
    return a;
  }
  a.tenant = info.tenant;
  a.key_id = std::to_string(info.id);
  a.key_hash = info.hash_prefix;
  a.key_limits = {info.requests_per_min, info.tokens_per_min};
  return a;
}

void Gatekeeper::set_default_limits(RateLimits per_key, RateLimits per_tenant) {
  std::lock_guard lock(mu_);
  key_limits_ = per_key;
  tenant_limits_ = per_tenant;
  limited_keys_.clear();
  limited_tenants_.clear();
}

std::optional<ApiError> Gatekeeper::charge(const Admission& a, int tokens, double now_s) {
  if (!limiter_) return std::nullopt;
  {
    // Backends limit only the keys and tenants they were given limits for; each gets the
    // defaults the first time it is seen.
    // A key's own limit (set with `cyllm keys create --rpm/--tpm`) replaces the default, per field.
    std::lock_guard lock(mu_);
    RateLimits kl = key_limits_;
    if (a.key_limits.requests_per_min > 0) kl.requests_per_min = a.key_limits.requests_per_min;
    if (a.key_limits.tokens_per_min > 0) kl.tokens_per_min = a.key_limits.tokens_per_min;
    const bool key_on = kl.requests_per_min > 0 || kl.tokens_per_min > 0;
    const bool tenant_on = tenant_limits_.requests_per_min > 0 || tenant_limits_.tokens_per_min > 0;
    if (!key_on && !tenant_on) return std::nullopt;
    if (key_on) {
      auto [it, fresh] = limited_keys_.try_emplace(a.key_id, kl);
      if (fresh || it->second.requests_per_min != kl.requests_per_min || it->second.tokens_per_min != kl.tokens_per_min) {
        it->second = kl;
        limiter_->set_key_limits(a.key_id, kl);
      }
    }
    if (tenant_on && limited_tenants_.insert(a.tenant).second) limiter_->set_tenant_limits(a.tenant, tenant_limits_);
  }
  const RateDecision d = limiter_->admit(a.key_id, a.tenant, tokens, now_s);
  if (d.allowed) return std::nullopt;
  if (!d.backend_error.empty()) {
    ApiError e = overloaded("the shared rate-limit store is unreachable (" + d.backend_error + ")");
    e.suggestion = "Retry in a second; if it persists, check the Redis server in rate_limit.redis_url.";
    e.retry_after_s = d.retry_after_s > 0 ? d.retry_after_s : 1;
    return e;
  }
  ApiError e = rate_limited(d.retry_after_s);
  e.message += " (" + d.limit + ")";
  return e;
}

}  // namespace cyllm::server
