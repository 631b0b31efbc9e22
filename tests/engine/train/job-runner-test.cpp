// The training job runner (engine/train/job-runner.h) over the SQLite queue, on a tiny generated
// model: jobs run by priority then FIFO; a pause made from another connection stops the trainer
// with a checkpoint, and after resume the job ends bitwise where an uninterrupted run ends; cancel
// stops with a checkpoint and state cancelled; a job left running by a worker process that was
// killed is taken over first and resumes from its checkpoint; failures record their error; the
// progress series is stored and bounded; an old-format queue file is upgraded in place.
#include <gtest/gtest.h>

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "tiny-train-model.h"
#include "train/checkpoint.h"
#include "train/job-queue.h"
#include "train/job-runner.h"
#include "train/trainer.h"

namespace cyllm::train {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSteps = 8;

const test::TinyTrainModel& tiny_model() {
  static const test::TinyTrainModel tm = test::make_tiny_train_model({.matrix_type = GgmlType::Q8_0});
  return tm;
}

// Rows that follow a fixed rule (next = 3 * current + 1 mod V), as in trainer-test.cpp.
std::vector<TrainExample> pattern_rows(int n, int vocab, int len, int offset = 0) {
  std::vector<TrainExample> rows;
  for (int r = 0; r < n; ++r) {
    TrainExample ex;
    int x = (r * 7 + 1 + offset) % vocab;
    for (int i = 0; i < len; ++i) {
      ex.ids.push_back(x);
      ex.mask.push_back(i >= 2 ? 1 : 0);
      x = (3 * x + 1) % vocab;
    }
    rows.push_back(ex);
  }
  return rows;
}

// The trainer the tests' jobs get: the in-memory tiny model and generated rows (the config's model
// and dataset files only have to exist, for validation).
Result<std::unique_ptr<Trainer>> tiny_trainer(const TrainConfig& c, ThreadPool& pool) {
  const int V = tiny_model().model->config().n_vocab;
  return std::make_unique<Trainer>(c, *tiny_model().model, pattern_rows(7, V, 10), pattern_rows(2, V, 8, 3), pool);
}

class JobRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    dir_ = fs::temp_directory_path() / ("cyllm-jobrunner-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const char* f : {"model.gguf", "data.jsonl"}) std::ofstream(dir_ / f) << "placeholder\n";
    auto q = JobQueue::open((dir_ / "jobs.sqlite").string());
    ASSERT_TRUE(q.ok()) << q.error().to_string();
    q_ = std::move(q.value());
  }
  void TearDown() override {
    q_.reset();
    fs::remove_all(dir_);
  }

  nlohmann::json config(const std::string& out, uint64_t seed = 1234, int64_t steps = kSteps) const {
    return {{"model", (dir_ / "model.gguf").string()},
            {"dataset", (dir_ / "data.jsonl").string()},
            {"output_dir", (dir_ / out).string()},
            {"seed", seed},
            {"threads", 1},
            {"lora", {{"rank", 4}, {"alpha", 8}, {"dropout", 0.1}}},
            {"optim",
             {{"lr", 1e-2}, {"batch_size", 2}, {"grad_accum", 2}, {"warmup_steps", 2}, {"max_steps", steps},
              {"weight_decay", 0.01}}},
            {"eval", {{"every", 2}}},
            {"checkpoint", {{"every", 2}, {"keep", 10}}}};
  }

  JobRunnerOptions options() const {
    JobRunnerOptions o;
    o.make_trainer = tiny_trainer;
    o.threads = 1;
    o.poll_ms = 60000;  // requests are then seen at progress events only: deterministic stops
    return o;
  }

  struct Reference {
    std::vector<double> losses;
    std::string adapter;  // the final checkpoint's adapter.bin
  };
  // The same config run straight through, with the trainer alone.
  Reference reference(const nlohmann::json& cfg_json) {
    nlohmann::json j = cfg_json;
    j["output_dir"] = (dir_ / ("ref-" + std::to_string(refs_++))).string();
    TrainConfig cfg;
    EXPECT_TRUE(parse_train_config(j, &cfg).empty());
    ThreadPool pool(1);
    auto t = tiny_trainer(cfg, pool);
    auto r = (*t)->run(nullptr);
    EXPECT_TRUE(r.ok());
    return {r->losses, final_adapter(cfg.output_dir)};
  }

  static std::string final_adapter(const std::string& output_dir) {
    auto ck = CheckpointStore((fs::path(output_dir) / "checkpoints").string()).find_latest();
    if (!ck || !ck->has_value()) return "";
    return (*ck)->blobs.at("adapter.bin");
  }
  static bool has_checkpoint(const std::string& output_dir, int64_t step) {
    return fs::exists(fs::path(output_dir) / "checkpoints" / CheckpointStore::dir_name(step) / "manifest.json");
  }
  std::string out_dir(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
  std::unique_ptr<JobQueue> q_;
  int refs_ = 0;
};

TEST_F(JobRunnerTest, RunsJobsByPriorityThenFifoAndSkipsHeldOnes) {
  struct Spec {
    const char* name;
    int prio;
  };
  const Spec specs[] = {{"a", 0}, {"b", 5}, {"c", 0}, {"d", 5}, {"e", -1}, {"held", 9}, {"gone", 9}};
  std::map<int64_t, std::string> names;
  for (const auto& s : specs) {
    auto id = q_->submit(config(s.name, 1234, 2).dump(), s.prio, s.name);
    ASSERT_TRUE(id.ok());
    names[*id] = s.name;
    if (std::string(s.name) == "held") ASSERT_TRUE(q_->pause(*id).ok());
    if (std::string(s.name) == "gone") ASSERT_TRUE(q_->cancel(*id).ok());
  }
  std::vector<std::string> order;
  JobRunnerOptions o = options();
  o.on_start = [&](const Job& j, bool recovered) {
    EXPECT_FALSE(recovered);
    EXPECT_EQ(j.state, JobState::kRunning);
    order.push_back(j.name);
  };
  JobRunner runner(*q_, o);
  auto r = runner.run_until_empty();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(order, (std::vector<std::string>{"b", "d", "a", "c", "e"}));
  ASSERT_EQ(r->size(), 5u);
  for (const auto& o : *r) EXPECT_EQ(o.state, JobState::kDone) << names[o.id] << ": " << o.message;
  auto jobs = q_->list();
  ASSERT_TRUE(jobs.ok());
  for (const auto& j : *jobs) {
    if (j.name == "held") {
      EXPECT_EQ(j.state, JobState::kPaused);
      EXPECT_FALSE(j.progress.has_value());
    } else if (j.name == "gone") {
      EXPECT_EQ(j.state, JobState::kCancelled);
    } else {
      EXPECT_EQ(j.state, JobState::kDone) << j.name;
      ASSERT_TRUE(j.progress.has_value()) << j.name;
      EXPECT_EQ(j.progress->step, 2);
      EXPECT_EQ(j.progress->total_steps, 2);
      EXPECT_EQ(j.owner, 0);
      EXPECT_GT(j.finished_ms, 0);
      EXPECT_TRUE(has_checkpoint(out_dir(j.name), 2)) << j.name;
      EXPECT_EQ(j.checkpoint, (fs::path(out_dir(j.name)) / "checkpoints" / CheckpointStore::dir_name(2)).string());
    }
  }
  // Nothing left to run.
  auto again = runner.run_one();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

// (checkpoint.resume = false: the job still continues from its own pause checkpoint.)
TEST_F(JobRunnerTest, PauseFromAnotherConnectionThenResumeEndsBitwiseAsAnUninterruptedRun) {
  auto cfg = config("paused");
  cfg["checkpoint"]["resume"] = false;
  const Reference ref = reference(cfg);
  ASSERT_EQ(ref.losses.size(), static_cast<size_t>(kSteps));
  auto id = q_->submit(cfg.dump(), 0, "p");
  ASSERT_TRUE(id.ok());

  JobRunnerOptions o = options();
  std::vector<std::string> resumed_from;
  o.on_event = [&](const Job& j, const TrainEvent& e) {
    if (e.kind == TrainEvent::Kind::kResumed) resumed_from.push_back(e.message);
    if (e.kind == TrainEvent::Kind::kStep && e.step == 3) {
      auto other = JobQueue::open(q_->path());  // as `cyllm jobs pause` in another process would
      ASSERT_TRUE(other.ok());
      ASSERT_TRUE((*other)->pause(j.id).ok());
      auto seen = (*other)->get(j.id);
      EXPECT_EQ(seen->state, JobState::kRunning);  // only the worker moves it out of running
      EXPECT_EQ(seen->request, JobRequest::kPause);
    }
  };
  JobRunner runner(*q_, o);
  auto r = runner.run_until_empty();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].state, JobState::kPaused) << (*r)[0].message;
  auto j = q_->get(*id);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->state, JobState::kPaused);
  EXPECT_EQ(j->request, JobRequest::kNone);
  EXPECT_EQ(j->owner, 0);
  ASSERT_TRUE(j->progress.has_value());
  const int64_t stopped = j->progress->step;
  EXPECT_GE(stopped, 3);  // the request is seen at the next progress event: step 4 at the latest
  EXPECT_LE(stopped, 4);
  EXPECT_TRUE(has_checkpoint(out_dir("paused"), stopped)) << "the stop writes a checkpoint";
  for (int64_t s = stopped + 1; s <= kSteps; ++s) EXPECT_FALSE(has_checkpoint(out_dir("paused"), s)) << s;

  // A paused job is not taken by a worker.
  auto idle = runner.run_until_empty();
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(idle->empty());

  ASSERT_TRUE(q_->resume(*id).ok());
  EXPECT_EQ(q_->get(*id)->state, JobState::kQueued);
  auto r2 = runner.run_until_empty();
  ASSERT_TRUE(r2.ok());
  ASSERT_EQ(r2->size(), 1u);
  EXPECT_EQ((*r2)[0].state, JobState::kDone) << (*r2)[0].message;
  ASSERT_EQ(resumed_from.size(), 1u);
  EXPECT_NE(resumed_from[0].find(CheckpointStore::dir_name(stopped)), std::string::npos) << resumed_from[0];
  EXPECT_EQ(final_adapter(out_dir("paused")), ref.adapter) << "pause + resume must end bitwise as a straight run";

  // The stored series: each step once (the resumed run did not duplicate any), losses bitwise.
  auto series = q_->progress_series(*id);
  ASSERT_TRUE(series.ok());
  std::vector<int64_t> steps;
  for (const auto& p : *series)
    if (!p.eval) {
      steps.push_back(p.step);
      EXPECT_EQ(p.loss, ref.losses[static_cast<size_t>(p.step - 1)]) << p.step;
    }
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  int evals = 0;
  for (const auto& p : *series) evals += p.eval && p.eval_loss.has_value();
  EXPECT_EQ(evals, 4);  // every 2 steps
  auto done = q_->get(*id);
  EXPECT_EQ(done->progress->step, kSteps);
  EXPECT_EQ(done->progress->loss, ref.losses.back());
  EXPECT_TRUE(done->progress->eval_loss.has_value());
}

// With progress events rare (progress_every 1000, no eval set), the watcher thread's periodic check
// is what sees the request.
TEST_F(JobRunnerTest, TheWatcherSeesAPauseBetweenProgressEvents) {
  nlohmann::json cfg = config("quiet", 3, 200);
  cfg["progress_every"] = 1000;
  cfg.erase("eval");
  auto id = q_->submit(cfg.dump(), 0, "quiet");
  ASSERT_TRUE(id.ok());
  JobRunnerOptions o = options();
  o.poll_ms = 10;
  o.make_trainer = [](const TrainConfig& c, ThreadPool& pool) -> Result<std::unique_ptr<Trainer>> {
    const int V = tiny_model().model->config().n_vocab;
    return std::make_unique<Trainer>(c, *tiny_model().model, pattern_rows(7, V, 10), std::vector<TrainExample>{}, pool);
  };
  int step_events = 0;
  o.on_event = [&](const Job& j, const TrainEvent& e) {
    step_events += e.kind == TrainEvent::Kind::kStep;
    if (e.kind == TrainEvent::Kind::kCheckpoint && e.step == 2) ASSERT_TRUE((*JobQueue::open(q_->path()))->pause(j.id).ok());
  };
  JobRunner runner(*q_, o);
  auto r = runner.run_until_empty();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].state, JobState::kPaused) << (*r)[0].message;
  EXPECT_EQ(step_events, 0);
  auto j = q_->get(*id);
  EXPECT_EQ(j->state, JobState::kPaused);
  ASSERT_FALSE(j->checkpoint.empty());
  auto ck = CheckpointStore((fs::path(out_dir("quiet")) / "checkpoints").string()).load(j->checkpoint);
  ASSERT_TRUE(ck.ok()) << ck.error().to_string();
  EXPECT_GT(ck->state.step, 2);  // the stop's own checkpoint, well before the end
  EXPECT_LT(ck->state.step, 200);
}

TEST_F(JobRunnerTest, CancelStopsWithACheckpointAndStaysCancelled) {
  auto id = q_->submit(config("cancelled").dump(), 0, "c");
  ASSERT_TRUE(id.ok());
  JobRunnerOptions o = options();
  o.on_event = [&](const Job& j, const TrainEvent& e) {
    if (e.kind == TrainEvent::Kind::kStep && e.step == 3) {
      auto other = JobQueue::open(q_->path());
      ASSERT_TRUE((*other)->cancel(j.id).ok());
      EXPECT_EQ((*other)->get(j.id)->request, JobRequest::kCancel);
    }
  };
  JobRunner runner(*q_, o);
  auto r = runner.run_until_empty();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].state, JobState::kCancelled);
  auto j = q_->get(*id);
  EXPECT_EQ(j->state, JobState::kCancelled);
  EXPECT_GT(j->finished_ms, 0);
  const int64_t stopped = j->progress->step;
  EXPECT_LT(stopped, kSteps);
  EXPECT_TRUE(has_checkpoint(out_dir("cancelled"), stopped));
  EXPECT_FALSE(has_checkpoint(out_dir("cancelled"), kSteps));
  EXPECT_EQ(j->checkpoint, (fs::path(out_dir("cancelled")) / "checkpoints" / CheckpointStore::dir_name(stopped)).string());
  // Cancelled is final: not resumable, not paused, never run again; cancelling again is a no-op.
  EXPECT_EQ(q_->resume(*id).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(q_->pause(*id).ok());
  EXPECT_TRUE(q_->cancel(*id).ok());
  auto again = runner.run_until_empty();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(q_->cancel(424242).error().code, ErrorCode::kNotFound);
}

TEST_F(JobRunnerTest, AJobLeftRunningByAKilledWorkerIsResumedFirst) {
  const auto cfg = config("crashed", 99);
  const Reference ref = reference(cfg);
  auto id = q_->submit(cfg.dump(), 0, "crashed");
  ASSERT_TRUE(id.ok());

  // A worker process that dies (SIGKILL) after step 5; checkpoints exist up to step 4. (No SQLite
  // connection is open across the fork.)
  const std::string db_path = q_->path();
  q_.reset();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto q = JobQueue::open(db_path);
    if (!q) ::_exit(3);
    JobRunnerOptions o = options();
    o.on_event = [](const Job&, const TrainEvent& e) {
      if (e.kind == TrainEvent::Kind::kStep && e.step == 5) ::raise(SIGKILL);
    };
    JobRunner runner(**q, o);
    (void)runner.run_one();
    ::_exit(4);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "worker exit status " << status;
  q_ = std::move(JobQueue::open(db_path).value());
  auto left = q_->get(*id);
  EXPECT_EQ(left->state, JobState::kRunning);
  EXPECT_EQ(left->owner, child);
  EXPECT_TRUE(has_checkpoint(out_dir("crashed"), 4));
  EXPECT_FALSE(has_checkpoint(out_dir("crashed"), 6));

  // A higher-priority job queued since: the job left running still goes first.
  auto urgent = q_->submit(config("urgent", 5, 2).dump(), 10, "urgent");
  ASSERT_TRUE(urgent.ok());
  std::vector<std::pair<std::string, bool>> starts;
  std::vector<std::string> resumed;
  JobRunnerOptions o = options();
  o.on_start = [&](const Job& j, bool recovered) { starts.emplace_back(j.name, recovered); };
  o.on_event = [&](const Job& j, const TrainEvent& e) {
    if (j.id == *id && e.kind == TrainEvent::Kind::kResumed) resumed.push_back(e.message);
  };
  JobRunner runner(*q_, o);
  auto r = runner.run_until_empty();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(starts, (std::vector<std::pair<std::string, bool>>{{"crashed", true}, {"urgent", false}}));
  ASSERT_EQ(r->size(), 2u);
  EXPECT_TRUE((*r)[0].recovered);
  EXPECT_EQ((*r)[0].state, JobState::kDone) << (*r)[0].message;
  EXPECT_EQ((*r)[1].state, JobState::kDone) << (*r)[1].message;
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_NE(resumed[0].find(CheckpointStore::dir_name(4)), std::string::npos) << resumed[0];
  EXPECT_EQ(final_adapter(out_dir("crashed")), ref.adapter);
  // The series has each step once: the points of step 5 the killed worker stored were dropped and
  // stored again by the resumed run.
  auto series = q_->progress_series(*id);
  ASSERT_TRUE(series.ok());
  std::vector<int64_t> steps;
  for (const auto& p : *series)
    if (!p.eval) steps.push_back(p.step);
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST_F(JobRunnerTest, ARunningJobOfALiveWorkerIsLeftAloneUntilItsHeartbeatIsStale) {
  auto id = q_->submit(config("live", 1, 2).dump(), 0, "live");
  ASSERT_TRUE(id.ok());
  auto claimed = q_->claim_next();  // this (live) process owns it now, with a fresh heartbeat
  ASSERT_TRUE(claimed.ok() && claimed->has_value());
  JobRunner patient(*q_, options());
  auto r = patient.run_one();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value()) << "a live worker's job must not be taken over";
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  JobRunnerOptions o = options();
  o.stale_ms = 5;
  JobRunner eager(*q_, o);
  auto r2 = eager.run_one();
  ASSERT_TRUE(r2.ok() && r2->has_value());
  EXPECT_TRUE((*r2)->recovered);
  EXPECT_EQ((*r2)->state, JobState::kDone);

  // A pause requested of a job whose worker died is applied when the job is found, not run.
  auto id2 = q_->submit(config("dying", 1, 2).dump(), 0, "dying");
  ASSERT_TRUE(q_->claim_next().ok());
  ASSERT_TRUE(q_->pause(*id2).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto r3 = eager.run_one();
  ASSERT_TRUE(r3.ok());
  EXPECT_FALSE(r3->has_value());
  EXPECT_EQ(q_->get(*id2)->state, JobState::kPaused);
}

TEST_F(JobRunnerTest, FailuresRecordTheirErrorAndCanBeRetried) {
  nlohmann::json missing = config("missing");
  missing["model"] = (dir_ / "no-such-model.gguf").string();
  auto bad_cfg = q_->submit(missing.dump(), 3, "missing");
  auto bad_json = q_->submit("{not json", 2, "garbage");
  auto bad_load = q_->submit(config("load").dump(), 1, "load");
  ASSERT_TRUE(bad_cfg.ok() && bad_json.ok() && bad_load.ok());
  JobRunnerOptions o = options();
  o.make_trainer = [](const TrainConfig&, ThreadPool&) -> Result<std::unique_ptr<Trainer>> {
    return make_error(ErrorCode::kMalformedFile, "the model file is truncated");
  };
  JobRunner runner(*q_, o);
  auto r = runner.run_until_empty();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  for (const auto& x : *r) EXPECT_EQ(x.state, JobState::kFailed);
  auto j1 = q_->get(*bad_cfg);
  EXPECT_EQ(j1->state, JobState::kFailed);
  EXPECT_NE(j1->error.find("no-such-model.gguf"), std::string::npos) << j1->error;
  EXPECT_EQ(j1->message, j1->error);
  EXPECT_NE(q_->get(*bad_json)->error.find("not valid JSON"), std::string::npos);
  auto j3 = q_->get(*bad_load);
  EXPECT_NE(j3->error.find("the model file is truncated"), std::string::npos) << j3->error;
  EXPECT_EQ(j3->owner, 0);

  // Retried with a trainer that works: resume requeues it, it runs, the old error is kept.
  ASSERT_TRUE(q_->resume(*bad_load).ok());
  EXPECT_EQ(q_->get(*bad_load)->state, JobState::kQueued);
  JobRunner good(*q_, options());
  auto r2 = good.run_until_empty();
  ASSERT_TRUE(r2.ok());
  ASSERT_EQ(r2->size(), 1u);
  EXPECT_EQ((*r2)[0].state, JobState::kDone);
  EXPECT_NE(q_->get(*bad_load)->error.find("truncated"), std::string::npos);
}

TEST_F(JobRunnerTest, TheProgressSeriesIsBounded) {
  auto id = q_->submit(config("long", 7, 40).dump(), 0, "long");
  ASSERT_TRUE(id.ok());
  JobRunnerOptions o = options();
  o.max_series_points = 10;
  JobRunner runner(*q_, o);
  ASSERT_TRUE(runner.run_until_empty().ok());
  auto series = q_->progress_series(*id);
  ASSERT_TRUE(series.ok());
  EXPECT_LE(series->size(), 10u);
  std::vector<int64_t> steps;
  for (const auto& p : *series)
    if (!p.eval) steps.push_back(p.step);
  ASSERT_GE(steps.size(), 3u);
  EXPECT_EQ(steps.front(), 1);   // the start of the curve is kept
  EXPECT_EQ(steps.back(), 40);   // and its newest point
  EXPECT_TRUE(std::is_sorted(steps.begin(), steps.end()));
  EXPECT_EQ(std::adjacent_find(steps.begin(), steps.end()), steps.end());
  EXPECT_EQ(q_->get(*id)->progress->step, 40);
}

// A queue file from before the runner (five columns) is upgraded when opened; its jobs keep their
// order and run.
TEST_F(JobRunnerTest, AnOldQueueFileIsUpgraded) {
  const std::string path = (dir_ / "old.sqlite").string();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string cfg = config("old", 1, 2).dump();
  const std::string sql =
      "CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, priority INTEGER NOT NULL, state INTEGER NOT NULL, "
      "config TEXT NOT NULL, message TEXT NOT NULL DEFAULT '');"
      "INSERT INTO jobs (priority, state, config) VALUES (0, 0, '" + cfg + "'), (4, 0, '" + cfg + "');";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto q = JobQueue::open(path);
  ASSERT_TRUE(q.ok()) << q.error().to_string();
  auto jobs = (*q)->list();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].name, "");
  EXPECT_FALSE((*jobs)[0].progress.has_value());
  auto next = (*q)->claim_next();
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_EQ((*next)->id, 2);
  EXPECT_EQ((*next)->owner, ::getpid());
  ASSERT_TRUE(JobQueue::open(path).ok());  // opening again is a no-op
}

}  // namespace
}  // namespace cyllm::train
