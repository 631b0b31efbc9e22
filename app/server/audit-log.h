// The audit log: one SQLite record (WAL mode) per API request, rejected ones included, with
// timestamp, trace_id, api_key_hash (a prefix of the key's SHA-256, never the key), tenant,
// endpoint, method, status_code and duration_ms (Property 25). Retention deletes old records;
// export writes JSON Lines. SQL uses bound parameters only.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"

struct sqlite3;

namespace cyllm::server {

struct AuditRecord {
  int64_t ts_ms = 0;  // unix time in milliseconds
  std::string trace_id;
  std::string api_key_hash;  // "" for unauthenticated requests
  std::string tenant;
  std::string endpoint;
  std::string method;
  int status_code = 0;
  double duration_ms = 0;
};

class AuditLog {
 public:
  static Result<std::unique_ptr<AuditLog>> open(const std::string& path);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  Status append(const AuditRecord& r);
  Result<std::vector<AuditRecord>> since(int64_t ts_ms);
  Result<int64_t> count();
  // Deletes records older than before_ts_ms; returns how many.
  Result<int64_t> purge_before(int64_t before_ts_ms);
  // One JSON object per line for every record at or after ts_ms.
  Status export_jsonl(int64_t ts_ms, std::ostream& out);

 private:
  explicit AuditLog(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace cyllm::server
