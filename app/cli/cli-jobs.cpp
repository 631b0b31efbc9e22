// `cyllm jobs add|list|run|pause|resume|cancel|show`: the training job queue
// (engine/train/job-queue.h) and its worker (engine/train/job-runner.h). The store is the SQLite
// file the workbench uses (--db, default <data dir>/jobs.sqlite); every action may come from a
// different process than the worker: pause / cancel of a running job are requests the worker acts
// on after the current step (it saves a checkpoint first), resume requeues a paused job, which then
// continues from that checkpoint. A worker that is killed leaves its job "running"; the next
// worker takes it over first and resumes it from its last checkpoint.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/time-spec.h"
#include "cli/train-progress.h"
#include "server/server-config.h"
#include "train/checkpoint.h"
#include "train/job-queue.h"
#include "train/job-runner.h"

namespace cyllm::cli {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

const char* kHelp =
    "usage: cyllm jobs <action> [options]\n"
    "The training job queue: jobs run one at a time by priority (higher first, FIFO among equals).\n"
    "  add CONFIG.json [--priority N] [--name NAME]\n"
    "                    validates the config as `cyllm train` does (every problem reported, exit 2)\n"
    "                    and queues it; relative paths are taken from the current directory; prints\n"
    "                    the job id\n"
    "  list [--json]     every job: id, priority, state, progress, name\n"
    "  run [--once] [--json-progress] [--threads N] [--poll-ms MS]\n"
    "                    the worker: takes over a job left running by a worker that died (it resumes\n"
    "                    from its last checkpoint), then runs queued jobs; --once: until none is left,\n"
    "                    else waits for new ones until Ctrl-C (which saves the running job and queues\n"
    "                    it again). A progress bar goes to stderr; --json-progress: one JSON object\n"
    "                    per event on stdout (with \"job\", plus job_start / job_end events).\n"
    "                    --poll-ms: how often it checks for requests and new jobs (500, max 10000)\n"
    "  pause ID          a queued job is held; a running one stops after its current step with a\n"
    "                    checkpoint\n"
    "  resume ID         a paused (or failed) job is queued again and continues from its checkpoint\n"
    "  cancel ID         a queued or paused job is cancelled; a running one stops with a checkpoint\n"
    "  show ID [--json] [--series]\n"
    "                    state, progress, last error, checkpoints (--series: every stored progress\n"
    "                    point, with --json)\n"
    "options:\n"
    "      --db FILE     the queue (default: $CYLLM_DATA_DIR, else $XDG_DATA_HOME/cyllm, else\n"
    "                    ~/.local/share/cyllm; file jobs.sqlite)\n";

int fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "cyllm jobs: %s\n", msg.c_str());
  return code;
}

std::optional<int64_t> parse_id(const std::string& s) {
  try {
    size_t used = 0;
    const long long id = std::stoll(s, &used);
    if (used != s.size() || id <= 0) return std::nullopt;
    return id;
  } catch (...) {
    return std::nullopt;
  }
}

nlohmann::json config_of(const Job& j) {
  auto c = nlohmann::json::parse(j.config, nullptr, false);
  return c.is_object() ? c : nlohmann::json::object();
}

std::string str_field(const nlohmann::json& c, const char* key) {
  return c.contains(key) && c[key].is_string() ? c[key].get<std::string>() : std::string();
}

std::string state_text(const Job& j) {
  std::string s(job_state_name(j.state));
  if (j.state == JobState::kRunning && j.request != JobRequest::kNone)
    s += j.request == JobRequest::kPause ? " (pausing)" : " (cancelling)";
  return s;
}

std::string time_text(int64_t ms) { return ms > 0 ? format_iso8601(ms / 1000) : "-"; }

ojson progress_json(const JobProgress& p) {
  ojson o;
  if (p.eval) o["kind"] = "eval";
  o["step"] = p.step;
  o["total_steps"] = p.total_steps;
  o["epoch"] = p.epoch;
  o["loss"] = p.loss;
  o["eval_loss"] = p.eval_loss ? ojson(*p.eval_loss) : ojson(nullptr);
  o["lr"] = p.lr;
  o["grad_norm"] = p.grad_norm;
  o["tokens_per_s"] = p.tokens_per_s;
  o["samples_per_s"] = p.samples_per_s;
  o["eta_s"] = p.eta_s;
  o["time_ms"] = p.time_ms;
  return o;
}

ojson job_json(const Job& j) {
  const auto c = config_of(j);
  ojson o;
  o["id"] = j.id;
  o["name"] = j.name;
  o["priority"] = j.priority;
  o["state"] = std::string(job_state_name(j.state));
  o["request"] = j.request == JobRequest::kNone ? ojson(nullptr) : ojson(std::string(job_request_name(j.request)));
  o["worker_pid"] = j.owner ? ojson(j.owner) : ojson(nullptr);
  o["created_ms"] = j.created_ms;
  o["started_ms"] = j.started_ms;
  o["finished_ms"] = j.finished_ms;
  o["heartbeat_ms"] = j.heartbeat_ms;
  o["output_dir"] = str_field(c, "output_dir");
  o["message"] = j.message;
  o["error"] = j.error.empty() ? ojson(nullptr) : ojson(j.error);
  o["checkpoint"] = j.checkpoint.empty() ? ojson(nullptr) : ojson(j.checkpoint);
  o["progress"] = j.progress ? progress_json(*j.progress) : ojson(nullptr);
  return o;
}

// The checkpoint directories under <output_dir>/checkpoints, oldest first, each verified as a
// resume would verify it.
ojson checkpoints_json(const std::string& output_dir) {
  ojson out = ojson::array();
  if (output_dir.empty()) return out;
  const fs::path root = fs::path(output_dir) / "checkpoints";
  std::error_code ec;
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name.rfind("ckpt-", 0) == 0 && name.find(".tmp-") == std::string::npos)
      dirs.push_back(e.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  CheckpointStore store(root.string());
  for (const auto& d : dirs) {
    ojson o;
    o["dir"] = d;
    auto c = store.load(d);
    if (c) {
      o["step"] = c->state.step;
      o["loss"] = c->state.loss;
      o["eval_loss"] = c->state.eval_loss ? ojson(*c->state.eval_loss) : ojson(nullptr);
      o["intact"] = true;
    } else {
      o["intact"] = false;
      o["problem"] = c.error().message;
    }
    out.push_back(o);
  }
  return out;
}

std::string progress_text(const JobProgress& p) {
  char buf[256];
  const double pct = p.total_steps > 0 ? 100.0 * static_cast<double>(p.step) / static_cast<double>(p.total_steps) : 0;
  std::snprintf(buf, sizeof buf, "step %lld/%lld (%.0f%%), epoch %.2f, loss %.4f", static_cast<long long>(p.step),
                static_cast<long long>(p.total_steps), pct, p.epoch, p.loss);
  std::string s = buf;
  if (p.eval_loss) {
    std::snprintf(buf, sizeof buf, ", eval %.4f", *p.eval_loss);
    s += buf;
  }
  std::snprintf(buf, sizeof buf, ", lr %.2e, grad norm %.3f, %.0f tok/s, ETA %s", p.lr, p.grad_norm, p.tokens_per_s,
                format_duration(p.eta_s).c_str());
  return s + buf;
}

// ---- add ----

int do_add(Args& a, JobQueue& q) {
  if (a.positionals().size() != 2) return fail("add needs one CONFIG.json", 2);
  const std::string path = a.positionals()[1];
  const long long priority = a.get_int("--priority", 0);
  if (!a.ok() || priority < INT_MIN || priority > INT_MAX)
    return fail(a.ok() ? "--priority is out of range" : a.error(), 2);
  std::string text;
  if (!read_input(path, &text)) return fail("cannot read " + path, 2);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return fail(path + " is not valid JSON", 2);
  train::TrainConfig cfg;
  auto problems = train::parse_train_config(j, &cfg);
  // Paths are stored absolute: the worker may run from another directory.
  if (j.is_object())
    for (const char* key : {"model", "dataset", "eval_dataset", "output_dir"})
      if (j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty()) {
        std::error_code ec;
        const fs::path abs = fs::absolute(j[key].get<std::string>(), ec);
        if (!ec) j[key] = abs.lexically_normal().string();
      }
  // Two unfinished jobs in one output_dir would resume from each other's checkpoints.
  if (j.is_object() && j.contains("output_dir") && j["output_dir"].is_string()) {
    auto jobs = q.list();
    if (!jobs) return fail(jobs.error().to_string());
    const std::string out = j["output_dir"].get<std::string>();
    for (const auto& other : *jobs) {
      if (other.state != JobState::kQueued && other.state != JobState::kRunning && other.state != JobState::kPaused)
        continue;
      if (str_field(config_of(other), "output_dir") == out)
        problems.push_back({"output_dir", "job " + std::to_string(other.id) + " (" +
                                              std::string(job_state_name(other.state)) + ") already trains into " + out});
    }
  }
  if (!problems.empty()) {
    std::fprintf(stderr, "cyllm jobs add: %zu problem%s in %s:\n%s", problems.size(), problems.size() == 1 ? "" : "s",
                 path.c_str(), ConfigSchema::format(problems).c_str());
    return 2;
  }
  std::string name = a.get_or("--name", "");
  if (name.empty()) name = path == "-" ? "job" : fs::path(path).stem().string();
  auto id = q.submit(j.dump(), static_cast<int>(priority), name);
  if (!id) return fail(id.error().to_string());
  std::printf("%lld\n", static_cast<long long>(*id));
  std::fprintf(stderr, "queued job %lld '%s' (priority %lld)\n", static_cast<long long>(*id), name.c_str(), priority);
  return 0;
}

// ---- list / show ----

int do_list(Args& a, JobQueue& q) {
  auto jobs = q.list();
  if (!jobs) return fail(jobs.error().to_string());
  if (a.flag("--json")) {
    ojson arr = ojson::array();
    for (const auto& j : *jobs) arr.push_back(job_json(j));
    std::printf("%s\n", arr.dump().c_str());
    return 0;
  }
  std::printf("%-5s %-5s %-18s %-13s %-9s %-9s %s\n", "ID", "PRIO", "STATE", "STEP", "LOSS", "EVAL", "NAME");
  for (const auto& j : *jobs) {
    std::string step = "-", loss = "-", eval = "-";
    if (j.progress) {
      step = std::to_string(j.progress->step) + "/" + std::to_string(j.progress->total_steps);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4f", j.progress->loss);
      loss = buf;
      if (j.progress->eval_loss) {
        std::snprintf(buf, sizeof buf, "%.4f", *j.progress->eval_loss);
        eval = buf;
      }
    }
    std::printf("%-5lld %-5d %-18s %-13s %-9s %-9s %s\n", static_cast<long long>(j.id), j.priority, state_text(j).c_str(),
                step.c_str(), loss.c_str(), eval.c_str(), j.name.c_str());
  }
  if (jobs->empty()) std::fprintf(stderr, "no jobs (queue: %s)\n", q.path().c_str());
  return 0;
}

int do_show(Args& a, JobQueue& q) {
  if (a.positionals().size() != 2) return fail("show needs a job ID", 2);
  const auto id = parse_id(a.positionals()[1]);
  if (!id) return fail("'" + a.positionals()[1] + "' is not a job id", 2);
  auto j = q.get(*id);
  if (!j) return fail(j.error().to_string());
  const auto cfg = config_of(*j);
  const ojson ckpts = checkpoints_json(str_field(cfg, "output_dir"));
  auto series = q.progress_series(*id);
  if (!series) return fail(series.error().to_string());
  if (a.flag("--json")) {
    ojson o = job_json(*j);
    o["config"] = cfg;
    o["checkpoints"] = ckpts;
    o["series_points"] = series->size();
    if (a.flag("--series")) {
      ojson s = ojson::array();
      for (const auto& p : *series) s.push_back(progress_json(p));
      o["series"] = s;
    }
    std::printf("%s\n", o.dump().c_str());
    return 0;
  }
  std::printf("job %lld '%s'\n", static_cast<long long>(j->id), j->name.c_str());
  std::string state = state_text(*j);
  if (j->state == JobState::kRunning && j->owner) state += ", worker pid " + std::to_string(j->owner);
  std::printf("  %-12s %s\n", "state", state.c_str());
  std::printf("  %-12s %d\n", "priority", j->priority);
  std::printf("  %-12s %s\n", "created", time_text(j->created_ms).c_str());
  std::printf("  %-12s %s\n", "started", time_text(j->started_ms).c_str());
  std::printf("  %-12s %s\n", "finished", time_text(j->finished_ms).c_str());
  for (const char* key : {"model", "dataset", "eval_dataset", "output_dir"})
    if (const auto v = str_field(cfg, key); !v.empty()) std::printf("  %-12s %s\n", key, v.c_str());
  std::printf("  %-12s %s\n", "progress", j->progress ? progress_text(*j->progress).c_str() : "-");
  std::printf("  %-12s %zu points stored\n", "series", series->size());
  if (!j->message.empty()) std::printf("  %-12s %s\n", "message", j->message.c_str());
  std::printf("  %-12s %s\n", "last error", j->error.empty() ? "-" : j->error.c_str());
  std::printf("  checkpoints:%s\n", ckpts.empty() ? " none" : "");
  for (const auto& c : ckpts) {
    if (c["intact"].get<bool>()) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "step %lld, loss %.4f", static_cast<long long>(c["step"].get<int64_t>()),
                    c["loss"].get<double>());
      std::string line = buf;
      if (!c["eval_loss"].is_null()) {
        std::snprintf(buf, sizeof buf, ", eval %.4f", c["eval_loss"].get<double>());
        line += buf;
      }
      std::printf("    %s  %s\n", c["dir"].get<std::string>().c_str(), line.c_str());
    } else {
      std::printf("    %s  not usable: %s\n", c["dir"].get<std::string>().c_str(), c["problem"].get<std::string>().c_str());
    }
  }
  return 0;
}

// ---- pause / resume / cancel ----

int do_control(Args& a, JobQueue& q, const std::string& action) {
  if (a.positionals().size() != 2) return fail(action + " needs a job ID", 2);
  const auto id = parse_id(a.positionals()[1]);
  if (!id) return fail("'" + a.positionals()[1] + "' is not a job id", 2);
  const Status st = action == "pause" ? q.pause(*id) : action == "resume" ? q.resume(*id) : q.cancel(*id);
  if (!st) return fail(st.error().to_string());
  auto j = q.get(*id);
  if (!j) return fail(j.error().to_string());
  if (j->state == JobState::kRunning && j->request != JobRequest::kNone)
    std::fprintf(stderr, "job %lld: %s requested; its worker (pid %lld) stops it after the current step and saves a checkpoint\n",
                 static_cast<long long>(*id), std::string(job_request_name(j->request)).c_str(),
                 static_cast<long long>(j->owner));
  else
    std::fprintf(stderr, "job %lld: %s\n", static_cast<long long>(*id), state_text(*j).c_str());
  return 0;
}

// ---- run ----

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

int do_run(Args& a, JobQueue& q) {
  const bool once = a.flag("--once"), json = a.flag("--json-progress");
  const long long threads = a.get_int("--threads", 0), poll = a.get_int("--poll-ms", 500);
  // The heartbeat comes every --poll-ms; other workers take a job over after 30 s of silence.
  if (!a.ok() || threads < 0 || threads > 1024 || poll < 10 || poll > 10000)
    return fail(a.ok() ? "--threads must be 0..1024 and --poll-ms 10..10000" : a.error(), 2);
  train::JobRunnerOptions opt;
  opt.threads = static_cast<int>(threads);
  opt.poll_ms = poll;
  std::optional<double> eval;
  bool bar_open = false;
  auto close_bar = [&] {
    if (bar_open) std::fputc('\n', stderr);
    bar_open = false;
  };
  auto emit = [&](const ojson& o) {
    std::printf("%s\n", o.dump().c_str());
    std::fflush(stdout);
  };
  opt.on_start = [&](const Job& j, bool recovered) {
    eval.reset();
    std::fprintf(stderr, "job %lld '%s' (priority %d): %s\n", static_cast<long long>(j.id), j.name.c_str(), j.priority,
                 recovered ? "taken over from a worker that stopped; resuming" : "started");
    if (json) emit({{"event", "job_start"}, {"job", j.id}, {"name", j.name}, {"priority", j.priority}, {"recovered", recovered}});
  };
  opt.on_event = [&](const Job& j, const train::TrainEvent& e) {
    using K = train::TrainEvent::Kind;
    if (e.eval_loss) eval = e.eval_loss;
    if (json) {
      ojson o{{"job", j.id}};
      const ojson ev = train::to_json(e);
      for (const auto& [k, v] : ev.items()) o[k] = v;
      emit(o);
    }
    if (e.kind == K::kStep || e.kind == K::kEval) {
      draw_train_bar(e, eval, "job " + std::to_string(j.id) + " ");
      bar_open = true;
    } else if (e.kind != K::kDone) {
      close_bar();
      const char* what = e.kind == K::kCheckpoint ? "checkpoint" : e.kind == K::kResumed ? "resume" : "note";
      std::fprintf(stderr, "job %lld %s: %s\n", static_cast<long long>(j.id), what, e.message.c_str());
    }
  };
  opt.on_end = [&](const Job& j) {
    close_bar();
    const std::string text = j.state == JobState::kFailed ? j.error : j.message;
    std::fprintf(stderr, "job %lld '%s': %s%s%s\n", static_cast<long long>(j.id), j.name.c_str(),
                 std::string(job_state_name(j.state)).c_str(), text.empty() ? "" : ": ", text.c_str());
    if (json)
      emit({{"event", "job_end"}, {"job", j.id}, {"state", std::string(job_state_name(j.state))}, {"message", j.message},
            {"error", j.error.empty() ? ojson(nullptr) : ojson(j.error)}, {"checkpoint", j.checkpoint}});
  };
  train::JobRunner runner(q, opt);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  int ran = 0, failed = 0;
  bool interrupted = false;
  Status status;
  while (!g_stop) {
    auto r = runner.run_until_empty(&g_stop);
    if (!r) {
      if (once) {
        status = r.error();
        break;
      }
      close_bar();
      std::fprintf(stderr, "cyllm jobs run: %s; trying again\n", r.error().to_string().c_str());
      r = std::vector<train::JobOutcome>{};
    }
    for (const auto& o : *r) {
      ++ran;
      failed += o.state == JobState::kFailed;
      interrupted |= o.state == JobState::kQueued && g_stop;
    }
    if (once) break;
    for (long long waited = 0; waited < poll && !g_stop; waited += 50) ::usleep(50 * 1000);
  }
  close_bar();
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!status) return fail(status.error().to_string());
  std::fprintf(stderr, "%d job%s run%s%s\n", ran, ran == 1 ? "" : "s",
               failed ? (", " + std::to_string(failed) + " failed").c_str() : "",
               interrupted ? "; stopped: the running job is queued again" : "");
  return interrupted ? 130 : 0;
}

}  // namespace

int cmd_jobs(int argc, char** argv) {
  Args a(argc, argv, {"--db", "--priority", "--name", "--threads", "--poll-ms"},
         {"--help", "--json", "--once", "--json-progress", "--series"}, {{"-h", "--help"}, {"-t", "--threads"}});
  if (!a.ok() || a.flag("--help") || a.positionals().empty()) {
    if (!a.ok()) std::fprintf(stderr, "cyllm jobs: %s\n", a.error().c_str());
    std::fprintf(a.flag("--help") ? stdout : stderr, "%s", kHelp);
    return a.flag("--help") ? 0 : 2;
  }
  const std::string action = a.positionals()[0];
  static const char* kActions[] = {"add", "list", "run", "pause", "resume", "cancel", "show"};
  if (std::none_of(std::begin(kActions), std::end(kActions), [&](const char* x) { return action == x; })) {
    std::fprintf(stderr, "cyllm jobs: unknown action '%s'\n\n%s", action.c_str(), kHelp);
    return 2;
  }
  const std::string db = a.get_or("--db", (fs::path(server::default_data_dir()) / "jobs.sqlite").string());
  auto q = JobQueue::open(db);
  if (!q) return fail(q.error().to_string());
  if (action == "add") return do_add(a, **q);
  if (action == "list") return do_list(a, **q);
  if (action == "show") return do_show(a, **q);
  if (action == "run") return do_run(a, **q);
  return do_control(a, **q, action);
}

}  // namespace cyllm::cli
