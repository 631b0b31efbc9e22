#include "train/job-queue.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <utility>

#include "core/sqlite-db.h"

namespace cyllm {

namespace {

Error db_error(sqlite3* db, const std::string& what) { return sqlite_error(db, "job queue: " + what); }

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t self_pid() { return static_cast<int64_t>(::getpid()); }

bool process_alive(int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

constexpr const char* kJobColumns =
    "id, priority, state, config, message, name, request, owner, heartbeat_ms, created_ms, started_ms, finished_ms, "
    "error, checkpoint, step, total_steps, epoch, loss, eval_loss, lr, grad_norm, tokens_per_s, samples_per_s, eta_s, "
    "progress_ms";

std::string select_jobs(const char* tail) { return std::string("SELECT ") + kJobColumns + " FROM jobs " + tail; }

Job read_job(SqliteStmt& st) {
  sqlite3_stmt* s = st.get();
  Job j;
  j.id = sqlite3_column_int64(s, 0);
  j.priority = sqlite3_column_int(s, 1);
  j.state = static_cast<JobState>(sqlite3_column_int(s, 2));
  j.config = st.text(3);
  j.message = st.text(4);
  j.name = st.text(5);
  j.request = static_cast<JobRequest>(sqlite3_column_int(s, 6));
  j.owner = sqlite3_column_int64(s, 7);
  j.heartbeat_ms = sqlite3_column_int64(s, 8);
  j.created_ms = sqlite3_column_int64(s, 9);
  j.started_ms = sqlite3_column_int64(s, 10);
  j.finished_ms = sqlite3_column_int64(s, 11);
  j.error = st.text(12);
  j.checkpoint = st.text(13);
  if (const int64_t at = sqlite3_column_int64(s, 24); at > 0) {
    JobProgress p;
    p.step = sqlite3_column_int64(s, 14);
    p.total_steps = sqlite3_column_int64(s, 15);
    p.epoch = sqlite3_column_double(s, 16);
    p.loss = sqlite3_column_double(s, 17);
    if (sqlite3_column_type(s, 18) != SQLITE_NULL) p.eval_loss = sqlite3_column_double(s, 18);
    p.lr = sqlite3_column_double(s, 19);
    p.grad_norm = sqlite3_column_double(s, 20);
    p.tokens_per_s = sqlite3_column_double(s, 21);
    p.samples_per_s = sqlite3_column_double(s, 22);
    p.eta_s = sqlite3_column_double(s, 23);
    p.time_ms = at;
    j.progress = p;
  }
  return j;
}

Result<std::vector<Job>> query_jobs(sqlite3* db, const std::string& sql, int64_t arg = -1) {
  SqliteStmt st(db, sql.c_str());
  if (!st.ok()) return db_error(db, "query");
  if (arg >= 0) st.bind(1, arg);
  std::vector<Job> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.push_back(read_job(st));
  if (rc != SQLITE_DONE) return db_error(db, "query");
  return out;
}

// Columns added to the original (id, priority, state, config, message) table; older files gain
// them when opened.
struct Column {
  const char* name;
  const char* decl;
};
constexpr Column kAddedColumns[] = {
    {"name", "TEXT NOT NULL DEFAULT ''"},        {"request", "INTEGER NOT NULL DEFAULT 0"},
    {"owner", "INTEGER NOT NULL DEFAULT 0"},     {"heartbeat_ms", "INTEGER NOT NULL DEFAULT 0"},
    {"created_ms", "INTEGER NOT NULL DEFAULT 0"}, {"started_ms", "INTEGER NOT NULL DEFAULT 0"},
    {"finished_ms", "INTEGER NOT NULL DEFAULT 0"}, {"error", "TEXT NOT NULL DEFAULT ''"},
    {"checkpoint", "TEXT NOT NULL DEFAULT ''"},  {"step", "INTEGER NOT NULL DEFAULT 0"},
    {"total_steps", "INTEGER NOT NULL DEFAULT 0"}, {"epoch", "REAL NOT NULL DEFAULT 0"},
    {"loss", "REAL NOT NULL DEFAULT 0"},         {"eval_loss", "REAL"},
    {"lr", "REAL NOT NULL DEFAULT 0"},           {"grad_norm", "REAL NOT NULL DEFAULT 0"},
    {"tokens_per_s", "REAL NOT NULL DEFAULT 0"}, {"samples_per_s", "REAL NOT NULL DEFAULT 0"},
    {"eta_s", "REAL NOT NULL DEFAULT 0"},        {"progress_ms", "INTEGER NOT NULL DEFAULT 0"},
};

constexpr int kQueued = static_cast<int>(JobState::kQueued), kRunning = static_cast<int>(JobState::kRunning),
              kPaused = static_cast<int>(JobState::kPaused), kDone = static_cast<int>(JobState::kDone),
              kCancelled = static_cast<int>(JobState::kCancelled), kFailed = static_cast<int>(JobState::kFailed);

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

std::string_view job_request_name(JobRequest r) {
  switch (r) {
    case JobRequest::kNone: return "";
    case JobRequest::kPause: return "pause";
    case JobRequest::kCancel: return "cancel";
  }
  return "";
}

Result<std::unique_ptr<JobQueue>> JobQueue::open(const std::string& path) {
  sqlite3* db = nullptr;
  if (auto st = open_sqlite(path,
                            {"CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, priority INTEGER NOT "
                             "NULL, state INTEGER NOT NULL, config TEXT NOT NULL, message TEXT NOT NULL DEFAULT '')",
                             "CREATE TABLE IF NOT EXISTS job_progress (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL, "
                             "kind INTEGER NOT NULL, step INTEGER NOT NULL, total_steps INTEGER NOT NULL, epoch REAL "
                             "NOT NULL, loss REAL NOT NULL, eval_loss REAL, lr REAL NOT NULL, grad_norm REAL NOT NULL, "
                             "tokens_per_s REAL NOT NULL, samples_per_s REAL NOT NULL, eta_s REAL NOT NULL, time_ms "
                             "INTEGER NOT NULL)",
                             "CREATE INDEX IF NOT EXISTS job_progress_by_job ON job_progress (job_id, step)"},
                            &db, "job queue");
      !st)
    return st.error();
  std::unique_ptr<JobQueue> q(new JobQueue(db, path));
  if (auto st = q->migrate(); !st) return st.error();
  return q;
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

Status JobQueue::commit() {
  Status st = exec("COMMIT");
  if (!st) (void)exec("ROLLBACK");  // never leave the connection inside a transaction
  return st;
}

Status JobQueue::migrate() {
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st;
  std::vector<std::string> have;
  {
    SqliteStmt st(db_, "PRAGMA table_info(jobs)");
    while (st.ok() && sqlite3_step(st.get()) == SQLITE_ROW) have.push_back(st.text(1));
  }
  for (const auto& c : kAddedColumns) {
    bool present = false;
    for (const auto& h : have) present |= h == c.name;
    if (present) continue;
    const std::string sql = std::string("ALTER TABLE jobs ADD COLUMN ") + c.name + " " + c.decl;
    if (auto st = exec(sql.c_str()); !st) {
      (void)exec("ROLLBACK");
      return st;
    }
  }
  return commit();
}

Result<int64_t> JobQueue::submit(const std::string& config_json, int priority, const std::string& name) {
  SqliteStmt st(db_, "INSERT INTO jobs (priority, state, config, name, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!st.ok()) return db_error(db_, "submit");
  st.bind(1, priority);
  st.bind(2, kQueued);
  st.bind(3, config_json);
  st.bind(4, name);
  st.bind(5, now_ms());
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "submit");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<std::optional<Job>> JobQueue::claim_queued_locked(int64_t now) {
  auto rows = query_jobs(db_, select_jobs("WHERE state = ?1 ORDER BY priority DESC, id ASC LIMIT 1"), kQueued);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<Job>{};
  Job j = rows->front();
  SqliteStmt st(db_,
                "UPDATE jobs SET state = ?1, owner = ?2, heartbeat_ms = ?3, request = 0, "
                "started_ms = CASE started_ms WHEN 0 THEN ?3 ELSE started_ms END WHERE id = ?4");
  if (!st.ok()) return db_error(db_, "claim");
  st.bind(1, kRunning);
  st.bind(2, self_pid());
  st.bind(3, now);
  st.bind(4, j.id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "claim");
  j.state = JobState::kRunning;
  j.owner = self_pid();
  j.heartbeat_ms = now;
  j.request = JobRequest::kNone;
  if (j.started_ms == 0) j.started_ms = now;
  return std::optional<Job>{j};
}

Result<std::optional<Job>> JobQueue::claim_next() {
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st.error();
  auto r = claim_queued_locked(now_ms());
  if (!r) {
    (void)exec("ROLLBACK");
    return r.error();
  }
  if (auto c = commit(); !c) return c.error();
  return r;
}

Result<std::optional<JobClaim>> JobQueue::claim(int64_t stale_ms) {
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st.error();
  auto fail = [&](Error e) -> Result<std::optional<JobClaim>> {
    (void)exec("ROLLBACK");
    return e;
  };
  const int64_t now = now_ms();
  auto running = query_jobs(db_, select_jobs("WHERE state = ?1 ORDER BY priority DESC, id ASC"), kRunning);
  if (!running) return fail(running.error());
  for (Job& j : *running) {
    const bool alive = process_alive(j.owner) && now - j.heartbeat_ms <= stale_ms;
    if (alive) continue;
    if (j.request != JobRequest::kNone) {
      // The worker died before it could act on a pause or cancel: apply it now.
      SqliteStmt st(db_,
                    "UPDATE jobs SET state = ?1, request = 0, owner = 0, message = ?2, "
                    "finished_ms = CASE WHEN ?1 = ?3 THEN ?4 ELSE finished_ms END WHERE id = ?5");
      if (!st.ok()) return fail(db_error(db_, "recover"));
      const bool pause = j.request == JobRequest::kPause;
      st.bind(1, pause ? kPaused : kCancelled);
      st.bind(2, std::string(pause ? "paused" : "cancelled") + " (its worker had stopped)");
      st.bind(3, kCancelled);
      st.bind(4, now);
      st.bind(5, j.id);
      if (sqlite3_step(st.get()) != SQLITE_DONE) return fail(db_error(db_, "recover"));
      continue;
    }
    SqliteStmt st(db_, "UPDATE jobs SET owner = ?1, heartbeat_ms = ?2 WHERE id = ?3");
    if (!st.ok()) return fail(db_error(db_, "recover"));
    st.bind(1, self_pid());
    st.bind(2, now);
    st.bind(3, j.id);
    if (sqlite3_step(st.get()) != SQLITE_DONE) return fail(db_error(db_, "recover"));
    if (auto c = commit(); !c) return c.error();
    j.owner = self_pid();
    j.heartbeat_ms = now;
    return std::optional<JobClaim>{JobClaim{std::move(j), true}};
  }
  auto q = claim_queued_locked(now);
  if (!q) return fail(q.error());
  if (auto c = commit(); !c) return c.error();
  if (!q->has_value()) return std::optional<JobClaim>{};
  return std::optional<JobClaim>{JobClaim{std::move(**q), false}};
}

Status JobQueue::set_state(int64_t id, JobState state, const std::string& message) {
  SqliteStmt st(db_,
                "UPDATE jobs SET state = ?1, message = ?2, owner = CASE WHEN ?1 = ?4 THEN owner ELSE 0 END, "
                "request = CASE WHEN ?1 = ?4 THEN request ELSE 0 END WHERE id = ?3");
  if (!st.ok()) return db_error(db_, "update");
  st.bind(1, static_cast<int>(state));
  st.bind(2, message);
  st.bind(3, id);
  st.bind(4, kRunning);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "update");
  if (sqlite3_changes(db_) == 0) return make_error(ErrorCode::kNotFound, "job " + std::to_string(id) + " does not exist");
  return {};
}

namespace {
// Runs a conditional UPDATE (?1 = id; ?2..?6 = queued, running, paused, cancelled, failed; ?7 = now;
// the SQL uses those it needs: binding an unused index is a no-op) and turns "no row changed" into
// not-found or a message naming the job's state.
Status transition(sqlite3* db, JobQueue& q, int64_t id, const char* sql, const char* verb, const char* allowed) {
  SqliteStmt st(db, sql);
  if (!st.ok()) return db_error(db, verb);
  st.bind(1, id);
  st.bind(2, kQueued);
  st.bind(3, kRunning);
  st.bind(4, kPaused);
  st.bind(5, kCancelled);
  st.bind(6, kFailed);
  st.bind(7, now_ms());
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db, verb);
  if (sqlite3_changes(db) > 0) return {};
  auto j = q.get(id);
  if (!j) return j.error();
  return make_error(ErrorCode::kInvalidArgument,
                    "job " + std::to_string(id) + " is " + std::string(job_state_name(j->state)) + ": cannot " + verb +
                        " it",
                    std::string("Only ") + allowed + " jobs can be " + verb + "d.");
}
}  // namespace

Status JobQueue::pause(int64_t id) {
  return transition(db_, *this, id,
                    "UPDATE jobs SET state = CASE WHEN state = ?2 THEN ?4 ELSE state END, "
                    "request = CASE WHEN state = ?3 AND request = 0 THEN 1 ELSE request END "
                    "WHERE id = ?1 AND state IN (?2, ?3, ?4)",
                    "pause", "queued or running");
}

Status JobQueue::resume(int64_t id) {
  return transition(db_, *this, id,
                    "UPDATE jobs SET state = CASE WHEN state IN (?4, ?6) THEN ?2 ELSE state END, "
                    "request = CASE WHEN state = ?3 AND request = 1 THEN 0 ELSE request END "
                    "WHERE id = ?1 AND state IN (?2, ?3, ?4, ?6)",
                    "resume", "paused or failed");
}

Status JobQueue::cancel(int64_t id) {
  return transition(db_, *this, id,
                    "UPDATE jobs SET state = CASE WHEN state IN (?2, ?4) THEN ?5 ELSE state END, "
                    "finished_ms = CASE WHEN state IN (?2, ?4) THEN ?7 ELSE finished_ms END, "
                    "request = CASE WHEN state = ?3 THEN 2 ELSE request END "
                    "WHERE id = ?1 AND state IN (?2, ?3, ?4, ?5)",
                    "cancel", "queued, running or paused");
}

Result<Job> JobQueue::get(int64_t id) {
  auto rows = query_jobs(db_, select_jobs("WHERE id = ?1"), id);
  if (!rows) return rows.error();
  if (rows->empty()) return make_error(ErrorCode::kNotFound, "job " + std::to_string(id) + " does not exist",
                                       "`cyllm jobs list` shows the jobs.");
  return rows->front();
}

Result<std::vector<Job>> JobQueue::list() { return query_jobs(db_, select_jobs("ORDER BY id ASC")); }

Result<std::vector<Job>> JobQueue::recover() {
  return query_jobs(db_, select_jobs("WHERE state = ?1 ORDER BY id ASC"), kRunning);
}

Result<JobQueue::Beat> JobQueue::heartbeat(int64_t id) {
  SqliteStmt up(db_, "UPDATE jobs SET heartbeat_ms = ?1 WHERE id = ?2 AND state = ?3 AND owner = ?4");
  if (!up.ok()) return db_error(db_, "heartbeat");
  up.bind(1, now_ms());
  up.bind(2, id);
  up.bind(3, kRunning);
  up.bind(4, self_pid());
  if (sqlite3_step(up.get()) != SQLITE_DONE) return db_error(db_, "heartbeat");
  Beat b;
  if (sqlite3_changes(db_) == 0) return b;
  SqliteStmt q(db_, "SELECT request FROM jobs WHERE id = ?1");
  if (!q.ok()) return db_error(db_, "heartbeat");
  q.bind(1, id);
  if (sqlite3_step(q.get()) != SQLITE_ROW) return db_error(db_, "heartbeat");
  b.owned = true;
  b.request = static_cast<JobRequest>(sqlite3_column_int(q.get(), 0));
  return b;
}

Result<JobQueue::Beat> JobQueue::record_progress(int64_t id, const JobProgress& p, bool add_point, int max_points) {
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st.error();
  auto fail = [&](const char* what) -> Result<Beat> {
    Error e = db_error(db_, what);
    (void)exec("ROLLBACK");
    return e;
  };
  const int64_t at = p.time_ms > 0 ? p.time_ms : now_ms();
  {
    SqliteStmt st(db_,
                  "UPDATE jobs SET step = ?1, total_steps = ?2, epoch = ?3, loss = ?4, eval_loss = COALESCE(?5, "
                  "eval_loss), lr = ?6, grad_norm = ?7, tokens_per_s = ?8, samples_per_s = ?9, eta_s = ?10, "
                  "progress_ms = ?11, heartbeat_ms = ?11 WHERE id = ?12 AND state = ?13 AND owner = ?14");
    if (!st.ok()) return fail("progress");
    st.bind(1, p.step);
    st.bind(2, p.total_steps);
    st.bind(3, p.epoch);
    st.bind(4, p.loss);
    if (p.eval_loss) st.bind(5, *p.eval_loss);
    else sqlite3_bind_null(st.get(), 5);
    st.bind(6, p.lr);
    st.bind(7, p.grad_norm);
    st.bind(8, p.tokens_per_s);
    st.bind(9, p.samples_per_s);
    st.bind(10, p.eta_s);
    st.bind(11, at);
    st.bind(12, id);
    st.bind(13, kRunning);
    st.bind(14, self_pid());
    if (sqlite3_step(st.get()) != SQLITE_DONE) return fail("progress");
    if (sqlite3_changes(db_) == 0) {
      (void)exec("ROLLBACK");
      return Beat{};
    }
  }
  Beat beat{true, JobRequest::kNone};
  {
    SqliteStmt q(db_, "SELECT request FROM jobs WHERE id = ?1");
    if (!q.ok()) return fail("progress");
    q.bind(1, id);
    if (sqlite3_step(q.get()) != SQLITE_ROW) return fail("progress");
    beat.request = static_cast<JobRequest>(sqlite3_column_int(q.get(), 0));
  }
  if (add_point) {
    SqliteStmt st(db_,
                  "INSERT INTO job_progress (job_id, kind, step, total_steps, epoch, loss, eval_loss, lr, grad_norm, "
                  "tokens_per_s, samples_per_s, eta_s, time_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                  "?12, ?13)");
    if (!st.ok()) return fail("progress");
    st.bind(1, id);
    st.bind(2, p.eval ? 1 : 0);
    st.bind(3, p.step);
    st.bind(4, p.total_steps);
    st.bind(5, p.epoch);
    st.bind(6, p.loss);
    if (p.eval_loss) st.bind(7, *p.eval_loss);
    else sqlite3_bind_null(st.get(), 7);
    st.bind(8, p.lr);
    st.bind(9, p.grad_norm);
    st.bind(10, p.tokens_per_s);
    st.bind(11, p.samples_per_s);
    st.bind(12, p.eta_s);
    st.bind(13, at);
    if (sqlite3_step(st.get()) != SQLITE_DONE) return fail("progress");
    SqliteStmt count(db_, "SELECT COUNT(*) FROM job_progress WHERE job_id = ?1");
    if (!count.ok()) return fail("progress");
    count.bind(1, id);
    if (sqlite3_step(count.get()) != SQLITE_ROW) return fail("progress");
    if (max_points > 0 && sqlite3_column_int64(count.get(), 0) > max_points) {
      // Halve the resolution: drop every second point of each kind, never the first or the newest.
      SqliteStmt thin(db_,
                      "DELETE FROM job_progress WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION "
                      "BY kind ORDER BY step, id) AS rn, COUNT(*) OVER (PARTITION BY kind) AS n FROM job_progress "
                      "WHERE job_id = ?1) WHERE rn % 2 = 0 AND rn < n)");
      if (!thin.ok()) return fail("progress");
      thin.bind(1, id);
      if (sqlite3_step(thin.get()) != SQLITE_DONE) return fail("progress");
    }
  }
  if (auto c = commit(); !c) return c.error();
  return beat;
}

Status JobQueue::set_checkpoint(int64_t id, const std::string& dir) {
  SqliteStmt st(db_, "UPDATE jobs SET checkpoint = ?1 WHERE id = ?2");
  if (!st.ok()) return db_error(db_, "checkpoint");
  st.bind(1, dir);
  st.bind(2, id);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "checkpoint");
  return {};
}

Status JobQueue::drop_progress_after(int64_t id, int64_t step) {
  SqliteStmt st(db_, "DELETE FROM job_progress WHERE job_id = ?1 AND step > ?2");
  if (!st.ok()) return db_error(db_, "progress");
  st.bind(1, id);
  st.bind(2, step);
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "progress");
  return {};
}

Result<std::vector<JobProgress>> JobQueue::progress_series(int64_t id) {
  SqliteStmt st(db_,
                "SELECT kind, step, total_steps, epoch, loss, eval_loss, lr, grad_norm, tokens_per_s, samples_per_s, "
                "eta_s, time_ms FROM job_progress WHERE job_id = ?1 ORDER BY step, kind, id");
  if (!st.ok()) return db_error(db_, "progress");
  st.bind(1, id);
  std::vector<JobProgress> out;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    sqlite3_stmt* s = st.get();
    JobProgress p;
    p.eval = sqlite3_column_int(s, 0) == 1;
    p.step = sqlite3_column_int64(s, 1);
    p.total_steps = sqlite3_column_int64(s, 2);
    p.epoch = sqlite3_column_double(s, 3);
    p.loss = sqlite3_column_double(s, 4);
    if (sqlite3_column_type(s, 5) != SQLITE_NULL) p.eval_loss = sqlite3_column_double(s, 5);
    p.lr = sqlite3_column_double(s, 6);
    p.grad_norm = sqlite3_column_double(s, 7);
    p.tokens_per_s = sqlite3_column_double(s, 8);
    p.samples_per_s = sqlite3_column_double(s, 9);
    p.eta_s = sqlite3_column_double(s, 10);
    p.time_ms = sqlite3_column_int64(s, 11);
    out.push_back(p);
  }
  if (rc != SQLITE_DONE) return db_error(db_, "progress");
  return out;
}

Result<std::optional<JobState>> JobQueue::finish(int64_t id, JobState outcome, const std::string& message,
                                                 const std::string& error) {
  // done / failed as given; anything else: by the pending request (pause -> paused, cancel ->
  // cancelled, none -> queued again).
  SqliteStmt st(db_,
                "UPDATE jobs SET state = CASE WHEN ?1 IN (?2, ?3) THEN ?1 WHEN request = 1 THEN ?4 WHEN request = 2 "
                "THEN ?5 ELSE ?6 END, finished_ms = CASE WHEN ?1 IN (?2, ?3) OR request = 2 THEN ?7 ELSE finished_ms "
                "END, error = CASE WHEN ?1 = ?3 THEN ?8 ELSE error END, message = ?9, request = 0, owner = 0 "
                "WHERE id = ?10 AND state = ?11 AND owner = ?12 RETURNING state");
  if (!st.ok()) return db_error(db_, "finish");
  st.bind(1, static_cast<int>(outcome));
  st.bind(2, kDone);
  st.bind(3, kFailed);
  st.bind(4, kPaused);
  st.bind(5, kCancelled);
  st.bind(6, kQueued);
  st.bind(7, now_ms());
  st.bind(8, error);
  st.bind(9, message);
  st.bind(10, id);
  st.bind(11, kRunning);
  st.bind(12, self_pid());
  const int rc = sqlite3_step(st.get());
  if (rc == SQLITE_DONE) return std::optional<JobState>{};
  if (rc != SQLITE_ROW) return db_error(db_, "finish");
  const auto state = static_cast<JobState>(sqlite3_column_int(st.get(), 0));
  if (sqlite3_step(st.get()) != SQLITE_DONE) return db_error(db_, "finish");
  return std::optional<JobState>{state};
}

}  // namespace cyllm
