// Small helpers over the SQLite C API shared by the stores (job queue, API keys, audit log):
// opening a database in WAL mode with its schema, and a prepared statement that finalizes itself.
// Values always go through sqlite3_bind_* (never into SQL text).
#pragma once

#include <initializer_list>
#include <string>

#include <sqlite3.h>

#include "core/status.h"

namespace cyllm {

class SqliteStmt {
 public:
  SqliteStmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~SqliteStmt() { sqlite3_finalize(s_); }
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return s_; }
  void bind(int i, const std::string& v) { sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, int v) { sqlite3_bind_int(s_, i, v); }
  void bind(int i, double v) { sqlite3_bind_double(s_, i, v); }
  std::string text(int col) {
    const auto* t = sqlite3_column_text(s_, col);
    return t ? reinterpret_cast<const char*>(t) : "";
  }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

// "what: <sqlite message>" as an io_error with a suggestion.
Error sqlite_error(sqlite3* db, const std::string& what);

// Opens (creating) a database, sets WAL mode and a busy timeout, and runs the schema statements.
// On success *db holds the handle (the caller closes it).
Status open_sqlite(const std::string& path, std::initializer_list<const char*> schema, sqlite3** db,
                   const std::string& what);

}  // namespace cyllm
