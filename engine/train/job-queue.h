// The training job queue, persisted in SQLite (one file per user data directory; WAL mode).
// Jobs start by priority, higher first, and FIFO among equal priorities (Property 8). Jobs can be
// paused, resumed and cancelled; after a restart queued jobs are still there and a job that was
// running is reported by recover() so the trainer resumes it from its last checkpoint.
// SQL uses bound parameters only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

struct sqlite3;

namespace cyllm {

enum class JobState { kQueued, kRunning, kPaused, kDone, kCancelled, kFailed };
std::string_view job_state_name(JobState s);

struct Job {
  int64_t id = 0;
  int priority = 0;
  JobState state = JobState::kQueued;
  std::string config;   // the job's JSON config
  std::string message;  // last status or error text
};

class JobQueue {
 public:
  static Result<std::unique_ptr<JobQueue>> open(const std::string& path);
  ~JobQueue();
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  Result<int64_t> submit(const std::string& config_json, int priority);
  // Claims the next queued job (highest priority, then oldest) and marks it running.
  Result<std::optional<Job>> claim_next();
  Status set_state(int64_t id, JobState state, const std::string& message = {});
  Status pause(int64_t id) { return set_state(id, JobState::kPaused); }
  Status resume(int64_t id) { return set_state(id, JobState::kQueued); }
  Status cancel(int64_t id) { return set_state(id, JobState::kCancelled); }
  Result<std::vector<Job>> list();
  // Jobs left running by a previous process (to resume from their checkpoints).
  Result<std::vector<Job>> recover();

 private:
  explicit JobQueue(sqlite3* db) : db_(db) {}
  Status exec(const char* sql);
  sqlite3* db_;
};

}  // namespace cyllm
