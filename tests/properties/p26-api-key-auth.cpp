// Property 26 — API key authentication correctness: valid unexpired keys pass; missing, unknown,
// expired or revoked keys are refused; a rotated key stays valid only through its grace period;
// keys are stored only as hashes.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <filesystem>
#include <memory>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "server/key-store.h"

namespace cyllm::server {
namespace {

std::string temp_db() {
  static int n = 0;
  auto p = std::filesystem::temp_directory_path() / ("cyllm-p26-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".db");
  std::filesystem::remove(p);
  return p.string();
}

RC_GTEST_PROP(P26ApiKeyAuth, AuthFollowsExpiryRevocationAndGrace, ()) {
  const std::string path = temp_db();
  auto ks = KeyStore::open(path);
  RC_ASSERT(ks.ok());
  const int64_t t0 = 1'700'000'000;
  const int64_t ttl = *rc::gen::element<int64_t>(0, 60, 3600);
  auto k = (*ks)->create("acme", {"inference"}, ttl ? t0 + ttl : 0, t0);
  RC_ASSERT(k.ok());
  const std::string key = k->plaintext;
  const int64_t dt = *rc::gen::inRange<int64_t>(0, 7200);
  // Valid until expiry.
  const AuthResult r = (*ks)->authenticate(key, "inference", t0 + dt);
  RC_ASSERT(r == ((ttl == 0 || dt < ttl) ? AuthResult::kOk : AuthResult::kExpired));
  // Missing and unknown keys, including a one-character change of the real key.
  RC_ASSERT((*ks)->authenticate("", "inference", t0) == AuthResult::kMissing);
  std::string wrong = key;
  const size_t at = *rc::gen::inRange<size_t>(4, wrong.size());
  wrong[at] = wrong[at] == 'a' ? 'b' : 'a';
  RC_ASSERT((*ks)->authenticate(wrong, "inference", t0) == AuthResult::kUnknown);
  // Scope: an inference key cannot use admin endpoints.
  RC_ASSERT((*ks)->authenticate(key, "admin", t0) == AuthResult::kInsufficientScope);
  // Rotation with grace: old key valid strictly before t1 + grace, refused after; new key valid.
  const int64_t t1 = t0 + 10, grace = *rc::gen::inRange<int64_t>(0, 600);
  auto fresh = (*ks)->rotate(k->info.id, grace, t1);
  RC_ASSERT(fresh.ok());
  const int64_t probe = t1 + *rc::gen::inRange<int64_t>(0, 1200);
  const bool expired_by_ttl = ttl != 0 && probe >= t0 + ttl;
  const AuthResult old_r = (*ks)->authenticate(key, "inference", probe);
  if (probe < t1 + grace && !expired_by_ttl) RC_ASSERT(old_r == AuthResult::kOk);
  if (probe >= t1 + grace) RC_ASSERT(old_r == AuthResult::kRevoked);
  RC_ASSERT((*ks)->authenticate(fresh->plaintext, "inference", t1) == AuthResult::kOk);
  // Revocation takes effect at once.
  RC_ASSERT((*ks)->revoke(fresh->info.id, t1 + 1).ok());
  RC_ASSERT((*ks)->authenticate(fresh->plaintext, "inference", t1 + 1) == AuthResult::kRevoked);
  ks->reset();
  // Only hashes are stored: the database file never contains a plaintext key.
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  RC_ASSERT(ss.str().find(key) == std::string::npos);
  RC_ASSERT(ss.str().find(fresh->plaintext) == std::string::npos);
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
}

}  // namespace
}  // namespace cyllm::server
