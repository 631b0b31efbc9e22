// Property 25 — audit log completeness: every API request, rejected ones included, leaves exactly
// one audit record with all fields, stored as given (quotes, control characters and SQL fragments
// in values included: bound parameters only); export writes one parseable JSON line per record.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <filesystem>
#include <memory>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "server/audit-log.h"

namespace cyllm::server {
namespace {

std::string temp_db() {
  static int n = 0;
  auto p = std::filesystem::temp_directory_path() / ("cyllm-p25-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".db");
  std::filesystem::remove(p);
  return p.string();
}

RC_GTEST_PROP(P25AuditCompleteness, OneCompleteRecordPerRequest, ()) {
  const std::string path = temp_db();
  auto log = AuditLog::open(path);
  RC_ASSERT(log.ok());
  const auto nasty = rc::gen::container<std::string>(rc::gen::inRange<char>(1, 127));
  const int n = *rc::gen::inRange(0, 40);
  std::vector<AuditRecord> sent;
  for (int i = 0; i < n; ++i) {
    AuditRecord r{1'700'000'000'000 + i, *nasty, *rc::gen::element<std::string>("", "3f9a0c1b2d4e"),
                  *rc::gen::element<std::string>("", "acme", "x'); DROP TABLE audit; --"),
                  *rc::gen::element<std::string>("/v1/chat/completions", "/v1/models", "/nope"),
                  *rc::gen::element<std::string>("GET", "POST"), *rc::gen::element(200, 400, 401, 404, 413, 429, 500, 504),
                  *rc::gen::inRange(0, 100000) / 10.0};
    RC_ASSERT((*log)->append(r).ok());
    sent.push_back(r);
  }
  auto got = (*log)->since(0);
  RC_ASSERT(got.ok());
  RC_ASSERT(got->size() == sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    const auto& a = sent[i];
    const auto& b = (*got)[i];
    RC_ASSERT(a.ts_ms == b.ts_ms && a.trace_id == b.trace_id && a.api_key_hash == b.api_key_hash &&
              a.tenant == b.tenant && a.endpoint == b.endpoint && a.method == b.method &&
              a.status_code == b.status_code && a.duration_ms == b.duration_ms);
  }
  std::ostringstream out;
  RC_ASSERT((*log)->export_jsonl(0, out).ok());
  std::istringstream in(out.str());
  std::string line;
  size_t lines = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    for (const char* k : {"timestamp_ms", "trace_id", "api_key_hash", "tenant", "endpoint", "method", "status_code", "duration_ms"})
      RC_ASSERT(j.contains(k));
    ++lines;
  }
  RC_ASSERT(lines == sent.size());
  if (n > 2) {
    auto purged = (*log)->purge_before(1'700'000'000'000 + 2);
    RC_ASSERT(purged.ok() && *purged == 2);
    RC_ASSERT(*(*log)->count() == n - 2);
  }
  log->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

}  // namespace
}  // namespace cyllm::server
