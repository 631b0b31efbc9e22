// The worker side of the training job queue (train/job-queue.h): runs queued jobs one at a time,
// in priority order (FIFO among equals), with train::Trainer.
//
// - Claiming: a job left "running" by a worker that is gone (killed, crashed) is taken first and
//   resumes from its last checkpoint (the trainer resumes from its output_dir); then the next
//   queued job.
// - Control from other processes: while a job runs, the runner re-reads the job's row at every
//   progress event and, from a second connection on a watcher thread, every poll_ms (which also
//   refreshes the heartbeat that tells other workers this one is alive). A pause or cancel request
//   sets the trainer's cancel flag; the trainer stops after its current step and writes a
//   checkpoint, and the runner records paused / cancelled. resume puts a paused job back in the
//   queue and it continues from that checkpoint, bitwise as if never stopped (Property 7).
// - The worker's own stop flag (Ctrl-C) stops the same way and puts the job back in the queue.
// - A job whose config does not validate, whose model or data does not load, or whose run fails is
//   recorded as failed with the error message.
// - Progress: every step and eval event updates the job's latest values, and is added to its
//   series (bounded: thinned to half resolution beyond max_series_points); a resumed run first drops
//   the points after the step it resumes from.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread-pool.h"
#include "train/job-queue.h"
#include "train/train-config.h"
#include "train/trainer.h"

namespace cyllm::train {

// Builds the trainer for a job (default: Trainer::create, which loads the model and dataset).
using TrainerFactory = std::function<Result<std::unique_ptr<Trainer>>(const TrainConfig&, ThreadPool&)>;

struct JobRunnerOptions {
  int threads = 0;                // 0: the job config's "threads" (0 there too: all cores)
  int64_t poll_ms = 500;          // watcher period: heartbeat and request check (keep it well
                                  // below the stale_ms other workers use)
  int64_t stale_ms = 30000;       // a running job whose worker's heartbeat is older is taken over
  int max_series_points = 4000;   // per job
  TrainerFactory make_trainer;    // empty: Trainer::create
  // Hooks (called on the runner's thread).
  std::function<void(const Job&, bool recovered)> on_start;
  std::function<void(const Job&, const TrainEvent&)> on_event;
  std::function<void(const Job&)> on_end;  // the job as recorded after its run
};

struct JobOutcome {
  int64_t id = 0;
  JobState state = JobState::kQueued;  // as recorded: done, failed, paused, cancelled, queued
  bool recovered = false;              // taken over from a worker that was gone
  std::string message;                 // stop reason or error
};

class JobRunner {
 public:
  explicit JobRunner(JobQueue& queue, JobRunnerOptions opt = {});

  // Claims and runs one job. nullopt: nothing to run. stop (may be null): this worker is stopping.
  Result<std::optional<JobOutcome>> run_one(const std::atomic<bool>* stop = nullptr);
  // run_one until nothing is left to run (or stop is set); the outcomes in order.
  Result<std::vector<JobOutcome>> run_until_empty(const std::atomic<bool>* stop = nullptr);
  // Runs jobs as they come, checking for new ones every idle_poll_ms, until stop is set.
  Status run_forever(const std::atomic<bool>& stop, int64_t idle_poll_ms = 1000);

 private:
  JobOutcome run_claimed(const JobClaim& claim, const std::atomic<bool>* stop);

  JobQueue& queue_;
  JobRunnerOptions opt_;
};

}  // namespace cyllm::train
