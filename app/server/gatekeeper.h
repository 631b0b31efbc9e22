// Admission of API requests, before any work is done: the trace context (traceparent or
// X-Request-Id, else a new id), authentication against the key store with the scope the endpoint
// needs, and the per-key / per-tenant rate limits. Qt-free: the HTTP layer passes the request head
// and acts on the verdict.
//
// Auth mode: authentication is off only while the server is bound to loopback and the key store
// holds no key; otherwise every endpoint but /health needs `Authorization: Bearer <key>`. The store
// is asked on each request, so a key created with `cyllm keys create` while the server runs turns
// authentication on at once. A server that is not on loopback refuses to start without keys.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "core/trace.h"
#include "server/api-error.h"
#include "server/key-store.h"
#include "server/rate-limit.h"

namespace cyllm::server {

struct RequestHead {
  std::string method;  // GET, POST, ...
  std::string path;
  std::string authorization;  // the raw header value ("" when absent)
  std::string traceparent;
  std::string request_id;     // X-Request-Id
};

struct Admission {
  TraceContext trace;
  std::string tenant = "default";  // from the key; "default" while auth is off
  std::string key_id;              // rate-limit identity: the key's id, "anonymous" while auth is off
  std::string key_hash;            // hash prefix for the audit log ("" when unauthenticated)
  RateLimits key_limits;           // the key's own limits (0: the server's default)
  std::optional<ApiError> error;   // set: answer this and stop
};

class Gatekeeper {
 public:
  // keys may be null (no store: auth off, only allowed on loopback); limiter may be null.
  Gatekeeper(KeyStore* keys, RateLimitBackend* limiter, bool loopback);
  // The limits every key and every tenant gets (0: unlimited).
  void set_default_limits(RateLimits per_key, RateLimits per_tenant);

  // Whether requests must carry a key right now.
  bool auth_required();
  // Trace + authentication. scope: "inference", "admin", or "" (no authentication: /health).
  Admission admit(const RequestHead& h, const std::string& scope, int64_t now_s);
  // Charges one request of `tokens` tokens to the admission's key and tenant; a refusal is a 429
  // whose retry_after_s goes into the Retry-After header.
  std::optional<ApiError> charge(const Admission& a, int tokens, double now_s);

  // The bearer token of an Authorization header value ("" when it is not "Bearer <token>").
  static std::string bearer_token(const std::string& authorization);

 private:
  KeyStore* keys_;
  RateLimitBackend* limiter_;
  bool loopback_;
  RateLimits key_limits_, tenant_limits_;
  std::mutex mu_;
  std::map<std::string, RateLimits> limited_keys_;  // limits each key was given
  std::set<std::string> limited_tenants_;           // tenants given their limits already
};

}  // namespace cyllm::server
