#include "server/key-store.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include "core/sqlite-db.h"

#include <cstring>
#include <sstream>

namespace cyllm::server {

namespace {

Error db_error(sqlite3* db, const std::string& what) { return sqlite_error(db, "key store: " + what); }

std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

std::set<std::string> split(const std::string& s) {
  std::set<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) if (!item.empty()) out.insert(item);
  return out;
}

KeyInfo read_info(sqlite3_stmt* s) {
  KeyInfo k;
  k.id = sqlite3_column_int64(s, 0);
  k.tenant = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
  k.scopes = split(reinterpret_cast<const char*>(sqlite3_column_text(s, 2)));
  k.created_s = sqlite3_column_int64(s, 3);
  k.expires_s = sqlite3_column_int64(s, 4);
  k.revoked_s = sqlite3_column_int64(s, 5);
  k.hash_prefix = std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 6))).substr(0, 12);
  k.requests_per_min = sqlite3_column_int(s, 7);
  k.tokens_per_min = sqlite3_column_int(s, 8);
  return k;
}

}  // namespace

const char* auth_result_message(AuthResult r) {
  switch (r) {
    case AuthResult::kOk: return "ok";
    case AuthResult::kMissing: return "No API key was sent.";
    case AuthResult::kUnknown: return "The API key is not valid.";
    case AuthResult::kExpired: return "The API key has expired.";
    case AuthResult::kRevoked: return "The API key has been revoked or rotated out.";
    case AuthResult::kInsufficientScope: return "The API key lacks the scope this endpoint needs.";
  }
  return "The API key is not valid.";
}

std::string KeyStore::hash_hex(const std::string& key) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), d);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

Result<std::unique_ptr<KeyStore>> KeyStore::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (auto st = open_sqlite(path,
                            {"CREATE TABLE IF NOT EXISTS api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT "
                             "NULL, scopes TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL, revoked "
                             "INTEGER NOT NULL DEFAULT 0, hash TEXT NOT NULL UNIQUE, rpm INTEGER NOT NULL DEFAULT 0, tpm INTEGER NOT "
                             "NULL DEFAULT 0)"},
                            &db, "key store");
      !st)
    return st.error();
  return std::unique_ptr<KeyStore>(new KeyStore(db));
}

KeyStore::~KeyStore() { sqlite3_close(db_); }

Result<NewKey> KeyStore::insert(const std::string& tenant, const std::set<std::string>& scopes, int64_t expires_s,
                                int64_t now_s, int rpm, int tpm) {
  unsigned char raw[24];
  if (RAND_bytes(raw, sizeof raw) != 1) return make_error(ErrorCode::kInternal, "no randomness for a new key");
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string key = "cyk-";
  for (unsigned char c : raw) key += alphabet[c % 62];
  const std::string hash = hash_hex(key);
  SqliteStmt st(db_,
                "INSERT INTO api_keys (tenant, scopes, created, expires, hash, rpm, tpm) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!st.ok()) return db_error(db_, "create");
  const std::string sc = join(scopes);
  sqlite3_bind_text(st.get(), 1, tenant.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 2, sc.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.get(), 3, now_s);
  sqlite3_bind_int64(st.get(), 4, expires_s);
  sqlite3_bind_text(st.get(), 5, hash.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st.get(), 6, rpm);
  sqlite3_bind_int(st.get(), 7, tpm);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "create");
  NewKey k;
  k.plaintext = key;
  k.info = {static_cast<int64_t>(sqlite3_last_insert_rowid(db_)), tenant, scopes, now_s, expires_s, 0, hash.substr(0, 12),
            rpm, tpm};
  return k;
}

Result<NewKey> KeyStore::create(const std::string& tenant, std::set<std::string> scopes, int64_t expires_s, int64_t now_s,
                                int rpm, int tpm) {
  if (tenant.empty()) return make_error(ErrorCode::kInvalidArgument, "a key needs a tenant");
  if (rpm < 0 || tpm < 0) return make_error(ErrorCode::kInvalidArgument, "rate limits cannot be negative");
  if (scopes.empty()) scopes = {"inference"};
  for (const auto& s : scopes)
    if (s != "inference" && s != "admin")
      return make_error(ErrorCode::kInvalidArgument, "unknown scope '" + s + "'", "Scopes are inference and admin.");
  return insert(tenant, scopes, expires_s, now_s, rpm, tpm);
}

Result<NewKey> KeyStore::rotate(int64_t id, int64_t grace_s, int64_t now_s) {
  auto keys = list();
  if (!keys) return keys.error();
  for (const auto& k : *keys) {
    if (k.id != id) continue;
    auto fresh = insert(k.tenant, k.scopes, k.expires_s, now_s, k.requests_per_min, k.tokens_per_min);
    if (!fresh) return fresh.error();
    if (auto st = revoke(id, now_s + std::max<int64_t>(0, grace_s)); !st) return st.error();
    return fresh;
  }
  return make_error(ErrorCode::kNotFound, "key " + std::to_string(id) + " does not exist");
}

Status KeyStore::revoke(int64_t id, int64_t when_s) {
  SqliteStmt st(db_, "UPDATE api_keys SET revoked = ?1 WHERE id = ?2");
  if (!st.ok()) return db_error(db_, "revoke");
  sqlite3_bind_int64(st.get(), 1, when_s);
  sqlite3_bind_int64(st.get(), 2, id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "revoke");
  if (sqlite3_changes(db_) == 0) return make_error(ErrorCode::kNotFound, "key " + std::to_string(id) + " does not exist");
  return {};
}

Result<std::vector<KeyInfo>> KeyStore::list() {
  SqliteStmt st(db_, "SELECT id, tenant, scopes, created, expires, revoked, hash, rpm, tpm FROM api_keys ORDER BY id");
  if (!st.ok()) return db_error(db_, "list");
  std::vector<KeyInfo> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) out.push_back(read_info(st.get()));
  return out;
}

bool KeyStore::empty() {
  // Asked on every request (the auth mode depends on it), so one indexed probe, not a listing.
  SqliteStmt st(db_, "SELECT 1 FROM api_keys LIMIT 1");
  return st.ok() && sqlite3_step(st.get()) != SQLITE_ROW;
}

AuthResult KeyStore::authenticate(const std::string& presented, const std::string& scope, int64_t now_s, KeyInfo* out) {
  if (presented.empty()) return AuthResult::kMissing;
  const std::string hash = hash_hex(presented);
  // Look the row up by hash, then compare the stored hash in constant time (the lookup itself
  // sees only a hash, never the key).
  SqliteStmt st(db_, "SELECT id, tenant, scopes, created, expires, revoked, hash, rpm, tpm FROM api_keys WHERE hash = ?1");
  if (!st.ok()) return AuthResult::kUnknown;
  sqlite3_bind_text(st.get(), 1, hash.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st.get()) != SQLITE_ROW) return AuthResult::kUnknown;
  const std::string stored = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 6));
  if (stored.size() != hash.size() || CRYPTO_memcmp(stored.data(), hash.data(), hash.size()) != 0) return AuthResult::kUnknown;
  const KeyInfo k = read_info(st.get());
  if (out) *out = k;
  if (k.revoked_s != 0 && now_s >= k.revoked_s) return AuthResult::kRevoked;
  if (k.expires_s != 0 && now_s >= k.expires_s) return AuthResult::kExpired;
  if (!scope.empty() && !k.scopes.count(scope) && !k.scopes.count("admin")) return AuthResult::kInsufficientScope;
  return AuthResult::kOk;
}

}  // namespace cyllm::server
