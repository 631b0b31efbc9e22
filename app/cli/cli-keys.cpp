// `cyllm keys create|list|rotate|revoke`: the server's API keys (app/server/key-store). A new key
// is printed once, on stdout, and never again: only its SHA-256 is stored. The store is the one
// `cyllm serve` and the workbench use (--db, default <data dir>/keys.sqlite).
#include <chrono>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/time-spec.h"
#include "server/key-store.h"
#include "server/server-config.h"

namespace cyllm::cli {

namespace {

const char* kHelp =
    "usage: cyllm keys <action> [options]\n"
    "Manages the API keys of `cyllm serve` (stored hashed in SQLite).\n"
    "  create --tenant T [--scope inference,admin] [--expires ISO8601 | --ttl 30d] [--rpm N] [--tpm N]\n"
    "                    prints the new key once, on stdout; --rpm/--tpm: this key's requests and\n"
    "                    tokens per minute (default: the server's rate_limit settings)\n"
    "  list              every key: id, tenant, scopes, created, expires, state\n"
    "  rotate ID [--grace 1h]  issues a new key; the old one works until the grace period ends\n"
    "  revoke ID         rejects the key from now on\n"
    "options:\n"
    "      --db FILE     key store (default: $CYLLM_DATA_DIR or ~/.local/share/cyllm/keys.sqlite)\n"
    "      --json        machine-readable output\n";

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string scopes_text(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ",") + x;
  return out;
}

nlohmann::ordered_json info_json(const server::KeyInfo& k, int64_t now) {
  const char* state = k.revoked_s != 0 && now >= k.revoked_s   ? "revoked"
                      : k.expires_s != 0 && now >= k.expires_s ? "expired"
                      : k.revoked_s != 0                        ? "rotating"
                                                                : "active";
  return {{"id", k.id},
          {"tenant", k.tenant},
          {"scopes", scopes_text(k.scopes)},
          {"created", format_iso8601(k.created_s)},
          {"expires", k.expires_s ? nlohmann::ordered_json(format_iso8601(k.expires_s)) : nullptr},
          {"revoked_at", k.revoked_s ? nlohmann::ordered_json(format_iso8601(k.revoked_s)) : nullptr},
          {"state", state},
          {"requests_per_min", k.requests_per_min},
          {"tokens_per_min", k.tokens_per_min},
          {"hash_prefix", k.hash_prefix}};
}

int fail(const std::string& msg) {
  std::fprintf(stderr, "cyllm keys: %s\n", msg.c_str());
  return 1;
}

void print_new(const server::NewKey& k, bool json, const char* what) {
  if (json) {
    nlohmann::ordered_json j = info_json(k.info, now_s());
    j["key"] = k.plaintext;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s\n", k.plaintext.c_str());
    std::fprintf(stderr, "%s key %lld for tenant '%s' (scopes %s%s). It is shown only now: store it safely.\n", what,
                 static_cast<long long>(k.info.id), k.info.tenant.c_str(), scopes_text(k.info.scopes).c_str(),
                 k.info.expires_s ? (", expires " + format_iso8601(k.info.expires_s)).c_str() : "");
  }
}

std::optional<int64_t> key_id(const Args& a) {
  if (a.positionals().size() != 2) return std::nullopt;
  try {
    size_t used = 0;
    const long long id = std::stoll(a.positionals()[1], &used);
    if (used != a.positionals()[1].size() || id <= 0) return std::nullopt;
    return id;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

int cmd_keys(int argc, char** argv) {
  Args a(argc, argv, {"--tenant", "--scope", "--expires", "--ttl", "--grace", "--db", "--rpm", "--tpm"},
         {"--help", "--json"});
  if (!a.ok() || a.flag("--help") || a.positionals().empty()) {
    if (!a.ok()) std::fprintf(stderr, "cyllm keys: %s\n", a.error().c_str());
    std::fprintf(a.flag("--help") ? stdout : stderr, "%s", kHelp);
    return a.flag("--help") ? 0 : 2;
  }
  const std::string action = a.positionals()[0];
  const bool json = a.flag("--json");
  const std::string db =
      a.get_or("--db", (std::filesystem::path(server::default_data_dir()) / "keys.sqlite").string());
  auto store = server::KeyStore::open(db);
  if (!store) return fail(store.error().to_string());
  const int64_t now = now_s();

  if (action == "create") {
    auto tenant = a.get("--tenant");
    if (!tenant || tenant->empty()) return fail("create needs --tenant NAME");
    std::set<std::string> scopes;
    std::stringstream ss(a.get_or("--scope", "inference"));
    for (std::string s; std::getline(ss, s, ',');)
      if (!s.empty()) scopes.insert(s);
    int64_t expires = 0;
    if (a.get("--expires") && a.get("--ttl")) return fail("give --expires or --ttl, not both");
    if (auto e = a.get("--expires")) {
      auto t = parse_iso8601_s(*e);
      if (!t) return fail("--expires '" + *e + "' is not an ISO 8601 UTC time like 2027-01-31 or 2027-01-31T12:00:00Z");
      if (*t <= now) return fail("--expires '" + *e + "' is in the past");
      expires = *t;
    } else if (auto t = a.get("--ttl")) {
      auto d = parse_duration_s(*t);
      if (!d || *d <= 0) return fail("--ttl '" + *t + "' is not a duration like 30d, 12h, 90m or 3600");
      expires = now + *d;
    }
    const long long rpm = a.get_int("--rpm", 0), tpm = a.get_int("--tpm", 0);
    if (!a.ok() || rpm < 0 || tpm < 0 || rpm > INT32_MAX || tpm > INT32_MAX)
      return fail(a.ok() ? "--rpm and --tpm must be between 0 and 2147483647" : a.error());
    auto k = (*store)->create(*tenant, scopes, expires, now, static_cast<int>(rpm), static_cast<int>(tpm));
    if (!k) return fail(k.error().to_string());
    print_new(*k, json, "Created");
    return 0;
  }
  if (action == "list") {
    auto keys = (*store)->list();
    if (!keys) return fail(keys.error().to_string());
    if (json) {
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      for (const auto& k : *keys) arr.push_back(info_json(k, now));
      std::printf("%s\n", arr.dump().c_str());
      return 0;
    }
    std::printf("%-5s %-16s %-17s %-21s %-21s %-9s %s\n", "ID", "TENANT", "SCOPES", "CREATED", "EXPIRES", "STATE", "HASH");
    for (const auto& k : *keys) {
      const auto j = info_json(k, now);
      std::printf("%-5lld %-16s %-17s %-21s %-21s %-9s %s\n", static_cast<long long>(k.id), k.tenant.c_str(),
                  j["scopes"].get<std::string>().c_str(), j["created"].get<std::string>().c_str(),
                  k.expires_s ? j["expires"].get<std::string>().c_str() : "never", j["state"].get<std::string>().c_str(),
                  k.hash_prefix.c_str());
    }
    return 0;
  }
  if (action == "rotate" || action == "revoke") {
    auto id = key_id(a);
    if (!id) return fail(action + " needs one key ID (see `cyllm keys list`)");
    if (action == "revoke") {
      if (auto st = (*store)->revoke(*id, now); !st) return fail(st.error().to_string());
      std::fprintf(stderr, "Revoked key %lld: it is rejected from now on.\n", static_cast<long long>(*id));
      return 0;
    }
    int64_t grace = 3600;
    if (auto g = a.get("--grace")) {
      auto d = parse_duration_s(*g);
      if (!d) return fail("--grace '" + *g + "' is not a duration like 1h, 30m or 0");
      grace = *d;
    }
    auto k = (*store)->rotate(*id, grace, now);
    if (!k) return fail(k.error().to_string());
    print_new(*k, json, "Rotated: new");
    std::fprintf(stderr, "The old key %lld stays valid until %s.\n", static_cast<long long>(*id),
                 format_iso8601(now + grace).c_str());
    return 0;
  }
  std::fprintf(stderr, "cyllm keys: unknown action '%s'\n%s", action.c_str(), kHelp);
  return 2;
}

}  // namespace cyllm::cli
