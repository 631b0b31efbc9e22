#include "server/audit-log.h"

#include "core/sqlite-db.h"

#include <nlohmann/json.hpp>

namespace cyllm::server {

namespace {

Error db_error(sqlite3* db, const std::string& what) { return sqlite_error(db, "audit log: " + what); }

std::string text(sqlite3_stmt* s, int col) {
  const auto* t = sqlite3_column_text(s, col);
  return t ? reinterpret_cast<const char*>(t) : "";
}

}  // namespace

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (auto st = open_sqlite(path,
                            {"CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT "
                             "NULL, trace_id TEXT NOT NULL, api_key_hash TEXT NOT NULL, tenant TEXT NOT NULL, endpoint "
                             "TEXT NOT NULL, method TEXT NOT NULL, status_code INTEGER NOT NULL, duration_ms REAL NOT NULL)",
                             "CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts_ms)"},
                            &db, "audit log");
      !st)
    return st.error();
  return std::unique_ptr<AuditLog>(new AuditLog(db));
}

AuditLog::~AuditLog() { sqlite3_close(db_); }

Status AuditLog::append(const AuditRecord& r) {
  SqliteStmt st(db_, "INSERT INTO audit (ts_ms, trace_id, api_key_hash, tenant, endpoint, method, status_code, duration_ms) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!st.ok()) return db_error(db_, "append");
  sqlite3_bind_int64(st.get(), 1, r.ts_ms);
  sqlite3_bind_text(st.get(), 2, r.trace_id.data(), static_cast<int>(r.trace_id.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 3, r.api_key_hash.data(), static_cast<int>(r.api_key_hash.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 4, r.tenant.data(), static_cast<int>(r.tenant.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 5, r.endpoint.data(), static_cast<int>(r.endpoint.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.get(), 6, r.method.data(), static_cast<int>(r.method.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int(st.get(), 7, r.status_code);
  sqlite3_bind_double(st.get(), 8, r.duration_ms);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "append");
  return {};
}

Result<std::vector<AuditRecord>> AuditLog::since(int64_t ts_ms) {
  SqliteStmt st(db_, "SELECT ts_ms, trace_id, api_key_hash, tenant, endpoint, method, status_code, duration_ms FROM audit "
               "WHERE ts_ms >= ?1 ORDER BY id");
  if (!st.ok()) return db_error(db_, "query");
  sqlite3_bind_int64(st.get(), 1, ts_ms);
  std::vector<AuditRecord> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW)
    out.push_back({sqlite3_column_int64(st.get(), 0), text(st.get(), 1), text(st.get(), 2), text(st.get(), 3),
                   text(st.get(), 4), text(st.get(), 5), sqlite3_column_int(st.get(), 6), sqlite3_column_double(st.get(), 7)});
  return out;
}

Result<int64_t> AuditLog::count() {
  SqliteStmt st(db_, "SELECT COUNT(*) FROM audit");
  if (!st.ok() || sqlite3_step(st.get()) != SQLITE_ROW) return db_error(db_, "count");
  return static_cast<int64_t>(sqlite3_column_int64(st.get(), 0));
}

Result<int64_t> AuditLog::purge_before(int64_t before_ts_ms) {
  SqliteStmt st(db_, "DELETE FROM audit WHERE ts_ms < ?1");
  if (!st.ok()) return db_error(db_, "purge");
  sqlite3_bind_int64(st.get(), 1, before_ts_ms);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "purge");
  return static_cast<int64_t>(sqlite3_changes(db_));
}

Status AuditLog::export_jsonl(int64_t ts_ms, std::ostream& out) {
  auto rows = since(ts_ms);
  if (!rows) return rows.error();
  for (const auto& r : *rows)
    out << nlohmann::json{{"timestamp_ms", r.ts_ms}, {"trace_id", r.trace_id}, {"api_key_hash", r.api_key_hash},
                          {"tenant", r.tenant}, {"endpoint", r.endpoint}, {"method", r.method},
                          {"status_code", r.status_code}, {"duration_ms", r.duration_ms}}
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  return {};
}

}  // namespace cyllm::server
