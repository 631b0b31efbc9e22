#include "train/job-queue.h"

#include "core/sqlite-db.h"

namespace cyllm {

namespace {

Error db_error(sqlite3* db, const std::string& what) { return sqlite_error(db, "job queue: " + what); }

Job read_job(sqlite3_stmt* s) {
  Job j;
  j.id = sqlite3_column_int64(s, 0);
  j.priority = sqlite3_column_int(s, 1);
  j.state = static_cast<JobState>(sqlite3_column_int(s, 2));
  if (auto* t = sqlite3_column_text(s, 3)) j.config = reinterpret_cast<const char*>(t);
  if (auto* t = sqlite3_column_text(s, 4)) j.message = reinterpret_cast<const char*>(t);
  return j;
}

Result<std::vector<Job>> query_jobs(sqlite3* db, const char* sql, int state = -1) {
  SqliteStmt st(db, sql);
  if (!st.ok()) return db_error(db, "query");
  if (state >= 0) sqlite3_bind_int(st.get(), 1, state);
  std::vector<Job> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(read_job(st.get()));
  if (rc != SQLITE_DONE) return db_error(db, "query");
  return out;
}

}  // namespace

std::string_view job_state_name(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kPaused: return "paused";
    case JobState::kDone: return "done";
    case JobState::kCancelled: return "cancelled";
    case JobState::kFailed: return "failed";
  }
  return "queued";
}

Result<std::unique_ptr<JobQueue>> JobQueue::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (auto st = open_sqlite(path,
                            {"CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, priority INTEGER NOT "
                             "NULL, state INTEGER NOT NULL, config TEXT NOT NULL, message TEXT NOT NULL DEFAULT '')"},
                            &db, "job queue");
      !st)
    return st.error();
  return std::unique_ptr<JobQueue>(new JobQueue(db));
}

JobQueue::~JobQueue() { sqlite3_close(db_); }

Status JobQueue::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    Error e = make_error(ErrorCode::kIoError, std::string("job queue: ") + (err ? err : "error"));
    sqlite3_free(err);
    return e;
  }
  return {};
}

Result<int64_t> JobQueue::submit(const std::string& config_json, int priority) {
  SqliteStmt st(db_, "INSERT INTO jobs (priority, state, config) VALUES (?1, ?2, ?3)");
  if (!st.ok()) return db_error(db_, "submit");
  sqlite3_bind_int(st.get(), 1, priority);
  sqlite3_bind_int(st.get(), 2, static_cast<int>(JobState::kQueued));
  sqlite3_bind_text(st.get(), 3, config_json.c_str(), static_cast<int>(config_json.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "submit");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<std::optional<Job>> JobQueue::claim_next() {
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st.error();
  auto rows = query_jobs(db_,
                         "SELECT id, priority, state, config, message FROM jobs WHERE state = ?1 "
                         "ORDER BY priority DESC, id ASC LIMIT 1",
                         static_cast<int>(JobState::kQueued));
  if (!rows) {
    (void)exec("ROLLBACK");
    return rows.error();
  }
  if (rows->empty()) {
    (void)exec("COMMIT");
    return std::optional<Job>{};
  }
  Job j = rows->front();
  SqliteStmt st(db_, "UPDATE jobs SET state = ?1 WHERE id = ?2");
  sqlite3_bind_int(st.get(), 1, static_cast<int>(JobState::kRunning));
  sqlite3_bind_int64(st.get(), 2, j.id);
  if (!st.ok() || sqlite3_step(st.get()) != SQLITE_DONE) {
    (void)exec("ROLLBACK");
    return db_error(db_, "claim");
  }
  if (auto c = exec("COMMIT"); !c) return c.error();
  j.state = JobState::kRunning;
  return std::optional<Job>{j};
}

Status JobQueue::set_state(int64_t id, JobState state, const std::string& message) {
  SqliteStmt st(db_, "UPDATE jobs SET state = ?1, message = ?2 WHERE id = ?3");
  if (!st.ok()) return db_error(db_, "update");
  sqlite3_bind_int(st.get(), 1, static_cast<int>(state));
  sqlite3_bind_text(st.get(), 2, message.c_str(), static_cast<int>(message.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.get(), 3, id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "update");
  if (sqlite3_changes(db_) == 0) return make_error(ErrorCode::kNotFound, "job " + std::to_string(id) + " does not exist");
  return {};
}

Result<std::vector<Job>> JobQueue::list() {
  return query_jobs(db_, "SELECT id, priority, state, config, message FROM jobs ORDER BY id ASC");
}

Result<std::vector<Job>> JobQueue::recover() {
  return query_jobs(db_, "SELECT id, priority, state, config, message FROM jobs WHERE state = ?1 ORDER BY id ASC",
                    static_cast<int>(JobState::kRunning));
}

}  // namespace cyllm
