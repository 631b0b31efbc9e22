// API keys in SQLite, stored only as SHA-256 hashes (OpenSSL), compared in constant time. A key has
// a tenant, scopes (inference, admin), an optional expiry, and can be rotated (the old key stays
// valid through a grace period) or revoked (at once). The plaintext is returned once, at creation.
// SQL uses bound parameters only. Property 26.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

struct sqlite3;

namespace cyllm::server {

struct KeyInfo {
  int64_t id = 0;
  std::string tenant;
  std::set<std::string> scopes;
  int64_t created_s = 0;
  int64_t expires_s = 0;     // 0: never
  int64_t revoked_s = 0;     // 0: not revoked; else rejected from this time on
  std::string hash_prefix;   // first 12 hex chars of the hash, for listings and audit
  int requests_per_min = 0;  // this key's own rate limits; 0: the server's default
  int tokens_per_min = 0;
};

struct NewKey {
  std::string plaintext;  // shown once
  KeyInfo info;
};

enum class AuthResult { kOk, kMissing, kUnknown, kExpired, kRevoked, kInsufficientScope };
const char* auth_result_message(AuthResult r);

class KeyStore {
 public:
  static Result<std::unique_ptr<KeyStore>> open(const std::string& path);
  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // rpm / tpm: the key's own rate limits (0: the server's default for keys).
  Result<NewKey> create(const std::string& tenant, std::set<std::string> scopes, int64_t expires_s, int64_t now_s,
                        int rpm = 0, int tpm = 0);
  // Issues a new key with the same tenant and scopes; the old one is rejected from now + grace.
  Result<NewKey> rotate(int64_t id, int64_t grace_s, int64_t now_s);
  Status revoke(int64_t id, int64_t now_s);
  Result<std::vector<KeyInfo>> list();
  bool empty();

  // Checks a presented key (the Bearer token) at time now_s, needing `scope`.
  AuthResult authenticate(const std::string& presented, const std::string& scope, int64_t now_s, KeyInfo* out = nullptr);

  static std::string hash_hex(const std::string& key);  // SHA-256, lowercase hex

 private:
  explicit KeyStore(sqlite3* db) : db_(db) {}
  Result<NewKey> insert(const std::string& tenant, const std::set<std::string>& scopes, int64_t expires_s, int64_t now_s,
                        int rpm, int tpm);
  sqlite3* db_;
};

}  // namespace cyllm::server
