#include "train/job-runner.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

namespace cyllm::train {

namespace {

JobProgress to_progress(const TrainEvent& e) {
  JobProgress p;
  p.eval = e.kind == TrainEvent::Kind::kEval;
  p.step = e.step;
  p.total_steps = e.total_steps;
  p.epoch = e.epoch;
  p.loss = e.loss;
  if (p.eval) p.eval_loss = e.eval_loss;
  p.lr = e.lr;
  p.grad_norm = e.grad_norm;
  p.tokens_per_s = e.tokens_per_s;
  p.samples_per_s = e.samples_per_s;
  p.eta_s = e.eta_s;
  return p;
}

// Heartbeats and request checks from a second connection while the trainer computes a step
// (a step of a real model can take minutes; events only come between steps).
class Watcher {
 public:
  Watcher(const std::string& db_path, int64_t job, int64_t poll_ms, const std::atomic<bool>* stop,
          std::atomic<bool>& cancel, std::atomic<bool>& lost)
      : thread_([=, this, &cancel, &lost] {
          auto q = JobQueue::open(db_path);
          std::unique_lock lk(mu_);
          while (!done_) {
            lk.unlock();
            if (q) {
              auto b = (*q)->heartbeat(job);
              if (b && !b->owned) lost = true;
              if (b && (!b->owned || b->request != JobRequest::kNone)) cancel = true;
            }
            if (stop && stop->load()) cancel = true;
            lk.lock();
            cv_.wait_for(lk, std::chrono::milliseconds(poll_ms), [this] { return done_; });
          }
        }) {}
  ~Watcher() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts after the members above exist
};

std::string summary(const TrainSummary& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s at step %lld, loss %.6g", s.stop_reason.c_str(), static_cast<long long>(s.steps),
                s.last_loss);
  std::string out = buf;
  if (s.best_eval_loss) {
    std::snprintf(buf, sizeof buf, ", best eval %.6g", *s.best_eval_loss);
    out += buf;
  }
  return out;
}

}  // namespace

JobRunner::JobRunner(JobQueue& queue, JobRunnerOptions opt) : queue_(queue), opt_(std::move(opt)) {
  if (!opt_.make_trainer) opt_.make_trainer = [](const TrainConfig& c, ThreadPool& p) { return Trainer::create(c, p); };
  if (opt_.poll_ms < 1) opt_.poll_ms = 1;
}

JobOutcome JobRunner::run_claimed(const JobClaim& claim, const std::atomic<bool>* stop) {
  const Job& job = claim.job;
  JobOutcome out;
  out.id = job.id;
  out.recovered = claim.recovered;
  if (opt_.on_start) opt_.on_start(job, claim.recovered);

  std::atomic<bool> cancel{false}, lost{false};
  // Records how the run ended (only while this process still owns the job).
  auto end = [&](JobState outcome, const std::string& message, const std::string& error) {
    out.message = error.empty() ? message : error;
    if (lost) {
      out.state = JobState::kRunning;
      out.message = "taken over by another worker";
    } else if (auto st = queue_.finish(job.id, outcome, error.empty() ? message : error, error); !st) {
      out.state = outcome;
      out.message += " (could not record it: " + st.error().to_string() + ")";
    } else if (!st->has_value()) {
      out.state = JobState::kRunning;
      out.message = "taken over by another worker";
    } else {
      out.state = **st;
    }
    if (opt_.on_end) {
      if (auto j = queue_.get(job.id)) opt_.on_end(*j);
    }
    return out;
  };

  const nlohmann::json j = nlohmann::json::parse(job.config, nullptr, false);
  if (j.is_discarded()) return end(JobState::kFailed, "", "the job's config is not valid JSON");
  TrainConfig cfg;
  if (const auto problems = parse_train_config(j, &cfg); !problems.empty())
    return end(JobState::kFailed, "",
               std::to_string(problems.size()) + " problem" + (problems.size() == 1 ? "" : "s") + " in the config:\n" +
                   ConfigSchema::format(problems));

  // A job that already saved a checkpoint (then stopped, or its worker died) continues from its
  // checkpoints even when its config says checkpoint.resume = false, which then only means: do not
  // pick up what an earlier run left in output_dir the first time.
  if (!job.checkpoint.empty()) cfg.resume = true;

  Result<TrainSummary> result = make_error(ErrorCode::kInternal, "not run");
  {
    Watcher watcher(queue_.path(), job.id, opt_.poll_ms, stop, cancel, lost);
    try {
      ThreadPool pool(opt_.threads > 0 ? opt_.threads : cfg.threads);
      auto trainer = opt_.make_trainer(cfg, pool);
      if (!trainer) {
        result = trainer.error();
      } else {
        bool series_reset = false, wrote_checkpoint = false;
        auto on_event = [&](const TrainEvent& e) {
          using K = TrainEvent::Kind;
          if (e.kind == K::kResumed) {
            (void)queue_.drop_progress_after(job.id, e.step);  // the resumed run repeats later steps
            series_reset = true;
          } else if (e.kind == K::kStep || e.kind == K::kEval) {
            if (!series_reset) {
              (void)queue_.drop_progress_after(job.id, 0);  // a fresh start: earlier points are stale
              series_reset = true;
            }
            if (auto b = queue_.record_progress(job.id, to_progress(e), true, opt_.max_series_points)) {
              if (!b->owned) lost = true;
              if (!b->owned || b->request != JobRequest::kNone) cancel = true;
            }
          } else if (e.kind == K::kCheckpoint) {
            (void)queue_.set_checkpoint(job.id, e.message);
            wrote_checkpoint = true;
          }
          if (stop && stop->load()) cancel = true;
          if (opt_.on_event) opt_.on_event(job, e);
        };
        result = (*trainer)->run(on_event, &cancel);
        if (result && !wrote_checkpoint) {
          // Nothing new was saved (e.g. resumed at the end): record the checkpoint it resumed from.
          if (auto ck = CheckpointStore((*trainer)->checkpoint_root()).find_latest(); ck && ck->has_value())
            (void)queue_.set_checkpoint(job.id, (*ck)->dir);
        }
      }
    } catch (const std::exception& e) {
      result = make_error(ErrorCode::kInternal, std::string("training failed: ") + e.what());
    }
  }
  if (!result) return end(JobState::kFailed, "", result.error().to_string());
  if (result->stop_reason == "cancelled") {
    std::string msg = "stopped at step " + std::to_string(result->steps);
    if (!result->last_checkpoint.empty()) msg += " (checkpoint " + result->last_checkpoint + ")";
    return end(JobState::kQueued, msg, "");  // paused / cancelled / queued by the request
  }
  return end(JobState::kDone, summary(*result), "");
}

Result<std::optional<JobOutcome>> JobRunner::run_one(const std::atomic<bool>* stop) {
  if (stop && stop->load()) return std::optional<JobOutcome>{};
  auto c = queue_.claim(opt_.stale_ms);
  if (!c) return c.error();
  if (!c->has_value()) return std::optional<JobOutcome>{};
  return std::optional<JobOutcome>{run_claimed(**c, stop)};
}

Result<std::vector<JobOutcome>> JobRunner::run_until_empty(const std::atomic<bool>* stop) {
  std::vector<JobOutcome> done;
  while (!(stop && stop->load())) {
    auto r = run_one(stop);
    if (!r) return r.error();
    if (!r->has_value()) break;
    done.push_back(std::move(**r));
  }
  return done;
}

Status JobRunner::run_forever(const std::atomic<bool>& stop, int64_t idle_poll_ms) {
  while (!stop.load()) {
    auto r = run_until_empty(&stop);
    if (!r) return r.error();
    for (int64_t waited = 0; waited < idle_poll_ms && !stop.load(); waited += 50)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(50, idle_poll_ms - waited)));
  }
  return {};
}

}  // namespace cyllm::train
