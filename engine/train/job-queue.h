// The training job queue, persisted in SQLite (one file per user data directory; WAL mode, so the
// GUI, a `cyllm jobs run` worker and `cyllm jobs pause` in a shell can all use it at once).
// Jobs start by priority, higher first, and FIFO among equal priorities (Property 8).
//
// States: queued -> running -> done | failed, or (stopped) paused | cancelled | queued again.
// Only the worker that owns a running job moves it out of "running": pause() and cancel() on a
// running job record a request that the worker (train/job-runner.h) reads within a step and then
// stops the trainer with a checkpoint and records paused / cancelled. A running job carries its
// worker's process id and a heartbeat; a job whose worker process is gone (or whose heartbeat is
// older than a limit) is taken over by the next worker that claims work, before any queued job,
// and resumes from its last checkpoint.
//
// Per job the store also keeps the latest progress values and a bounded series of progress
// points (table job_progress) that charts read. SQL uses bound parameters only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

struct sqlite3;

namespace cyllm {

// Stored as integers: never reorder.
enum class JobState { kQueued, kRunning, kPaused, kDone, kCancelled, kFailed };
std::string_view job_state_name(JobState s);
// What another process asked of a running job; the worker acts on it and clears it.
enum class JobRequest { kNone, kPause, kCancel };
std::string_view job_request_name(JobRequest r);

// One progress event: the latest values of a job, or one point of its series.
struct JobProgress {
  bool eval = false;  // series: an evaluation point (eval_loss set) rather than a step
  int64_t step = 0, total_steps = 0;
  double epoch = 0;
  double loss = 0;
  std::optional<double> eval_loss;  // latest values: the last evaluation's
  double lr = 0, grad_norm = 0, tokens_per_s = 0, samples_per_s = 0, eta_s = 0;
  int64_t time_ms = 0;  // unix time
};

struct Job {
  int64_t id = 0;
  int priority = 0;
  JobState state = JobState::kQueued;
  std::string config;   // the job's JSON config
  std::string message;  // last status text (stop reason, ...) or, for a failed job, its error
  std::string name;
  JobRequest request = JobRequest::kNone;
  int64_t owner = 0;    // process id of the worker running it (0: none)
  int64_t heartbeat_ms = 0, created_ms = 0, started_ms = 0, finished_ms = 0;  // unix ms (0: never)
  std::string error;       // the last failure's message (kept when the job is retried)
  std::string checkpoint;  // the newest checkpoint directory the job wrote
  std::optional<JobProgress> progress;  // latest values (nullopt before the first progress event)
};

// A job a worker took: from the queue, or taken over from a worker that died.
struct JobClaim {
  Job job;
  bool recovered = false;
};

class JobQueue {
 public:
  static Result<std::unique_ptr<JobQueue>> open(const std::string& path);
  ~JobQueue();
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;
  const std::string& path() const { return path_; }

  Result<int64_t> submit(const std::string& config_json, int priority, const std::string& name = {});
  // Claims the next queued job (highest priority, then oldest) and marks it running, owned by this
  // process. Jobs left running are not considered (see claim()).
  Result<std::optional<Job>> claim_next();
  // What a worker calls: first a job left running whose worker is gone (its process no longer
  // exists, or its heartbeat is older than stale_ms; a pause or cancel requested of it is applied
  // instead of running it), highest priority then oldest; else claim_next(). The claimed job is
  // owned by this process with a fresh heartbeat.
  Result<std::optional<JobClaim>> claim(int64_t stale_ms);

  // Sets a state unconditionally (and clears owner and request unless running).
  Status set_state(int64_t id, JobState state, const std::string& message = {});
  // queued -> paused; running -> pause requested; paused: no change. In another state:
  // invalid_argument naming it; an unknown id: not_found (the same for resume and cancel).
  Status pause(int64_t id);
  // paused | failed -> queued (a failed job is retried from its last checkpoint); running with a
  // pause requested -> the request is withdrawn; queued, running: no change.
  Status resume(int64_t id);
  // queued | paused -> cancelled; running -> cancel requested; cancelled: no change.
  Status cancel(int64_t id);

  Result<Job> get(int64_t id);
  Result<std::vector<Job>> list();
  // Jobs in state running (whoever owns them).
  Result<std::vector<Job>> recover();

  // ---- the owning worker (owner = this process) ----
  struct Beat {
    bool owned = false;  // false: the job is no longer this process's (taken over, or not running)
    JobRequest request = JobRequest::kNone;
  };
  // Refreshes the heartbeat of a job this process runs and reads the request made of it.
  Result<Beat> heartbeat(int64_t id);
  // Latest values (every progress event) and, with add_point, one series point; the series is
  // thinned to half its resolution (per kind) when it exceeds max_points. Refreshes the heartbeat
  // and reads the request like heartbeat(); nothing is written when the job is not owned.
  Result<Beat> record_progress(int64_t id, const JobProgress& p, bool add_point, int max_points);
  Status set_checkpoint(int64_t id, const std::string& dir);
  // Drops series points after `step` (a resumed run repeats those steps).
  Status drop_progress_after(int64_t id, int64_t step);
  Result<std::vector<JobProgress>> progress_series(int64_t id);
  // How a run ended: kDone or kFailed are recorded as such; any other value means "stopped on
  // request" and the state becomes paused / cancelled / queued by the pending request (queued when
  // none: the worker itself stopped, or a pause was withdrawn). Only if this process owns the job;
  // returns the state recorded (nullopt when not owned).
  Result<std::optional<JobState>> finish(int64_t id, JobState outcome, const std::string& message,
                                         const std::string& error = {});

 private:
  JobQueue(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status exec(const char* sql);
  Status commit();
  Status migrate();
  Result<std::optional<Job>> claim_queued_locked(int64_t now);
  sqlite3* db_;
  std::string path_;
};

}  // namespace cyllm
