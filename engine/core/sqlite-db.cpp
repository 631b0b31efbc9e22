#include "core/sqlite-db.h"

namespace cyllm {

Error sqlite_error(sqlite3* db, const std::string& what) {
  return make_error(ErrorCode::kIoError, what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"),
                    "Check that the data directory is writable and the disk is not full.");
}

Status open_sqlite(const std::string& path, std::initializer_list<const char*> schema, sqlite3** out,
                   const std::string& what) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    Error e = sqlite_error(db, what + ": cannot open '" + path + "'");
    sqlite3_close(db);
    return e;
  }
  sqlite3_busy_timeout(db, 5000);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"}) sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  for (const char* sql : schema) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      Error e = make_error(ErrorCode::kIoError, what + ": " + (err ? err : "schema error"));
      sqlite3_free(err);
      sqlite3_close(db);
      return e;
    }
  }
  *out = db;
  return {};
}

}  // namespace cyllm
