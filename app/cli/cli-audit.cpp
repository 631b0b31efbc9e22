// `cyllm audit export --since T [--out FILE]` and `cyllm audit purge --older-than D`: the server's
// audit log (app/server/audit-log), one JSON object per line.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/time-spec.h"
#include "server/audit-log.h"
#include "server/server-config.h"

namespace cyllm::cli {

namespace {
const char* kHelp =
    "usage: cyllm audit <action> [options]\n"
    "Reads the audit log of `cyllm serve` (one record per API request, rejected ones included).\n"
    "  export --since T [--out FILE]  records at or after T as JSON Lines (stdout by default);\n"
    "                                 T is ISO 8601 UTC (2027-01-31T00:00:00Z) or an age (24h, 7d)\n"
    "  count                          how many records the log holds\n"
    "  purge --older-than D           deletes records older than D (e.g. 30d)\n"
    "options:\n"
    "      --db FILE  audit log (default: $CYLLM_DATA_DIR or ~/.local/share/cyllm/audit.sqlite)\n";

int fail(const std::string& msg) {
  std::fprintf(stderr, "cyllm audit: %s\n", msg.c_str());
  return 1;
}
}  // namespace

int cmd_audit(int argc, char** argv) {
  Args a(argc, argv, {"--since", "--out", "--older-than", "--db"}, {"--help"});
  if (!a.ok() || a.flag("--help") || a.positionals().size() != 1) {
    if (!a.ok()) std::fprintf(stderr, "cyllm audit: %s\n", a.error().c_str());
    std::fprintf(a.flag("--help") ? stdout : stderr, "%s", kHelp);
    return a.flag("--help") ? 0 : 2;
  }
  const std::string db =
      a.get_or("--db", (std::filesystem::path(server::default_data_dir()) / "audit.sqlite").string());
  if (!std::filesystem::exists(db)) return fail("no audit log at " + db + " (has the server run with this data dir?)");
  auto log = server::AuditLog::open(db);
  if (!log) return fail(log.error().to_string());
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string action = a.positionals()[0];
  if (action == "export") {
    auto since = a.get("--since");
    if (!since) return fail("export needs --since T (ISO 8601 UTC, or an age such as 24h)");
    int64_t since_ms = 0;
    if (auto t = parse_iso8601_s(*since)) since_ms = *t * 1000;
    else if (auto d = parse_duration_s(*since)) since_ms = now_ms - *d * 1000;
    else return fail("--since '" + *since + "' is neither an ISO 8601 UTC time nor an age like 24h");
    Status st;
    if (auto out = a.get("--out")) {
      std::ofstream f(*out, std::ios::binary | std::ios::trunc);
      if (!f) return fail("cannot write " + *out);
      st = (*log)->export_jsonl(since_ms, f);
    } else {
      st = (*log)->export_jsonl(since_ms, std::cout);
    }
    if (!st) return fail(st.error().to_string());
    return 0;
  }
  if (action == "count") {
    auto n = (*log)->count();
    if (!n) return fail(n.error().to_string());
    std::printf("%lld\n", static_cast<long long>(*n));
    return 0;
  }
  if (action == "purge") {
    auto age = a.get("--older-than");
    auto d = age ? parse_duration_s(*age) : std::nullopt;
    if (!d) return fail("purge needs --older-than D, e.g. 30d");
    auto n = (*log)->purge_before(now_ms - *d * 1000);
    if (!n) return fail(n.error().to_string());
    std::fprintf(stderr, "deleted %lld records\n", static_cast<long long>(*n));
    return 0;
  }
  std::fprintf(stderr, "cyllm audit: unknown action '%s'\n%s", action.c_str(), kHelp);
  return 2;
}

}  // namespace cyllm::cli
