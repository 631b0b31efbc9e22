#include "workbench/engine-host.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>

#include <QFileInfo>
#include <QSettings>
#include <QThread>

#include "backend/device.h"
#include "backend/quant.h"
#include "cli/chat-prompt.h"

namespace cyllm::workbench {

namespace {
constexpr int kPumpIntervalMs = 33;  // ~30 Hz: fast enough to look live, slow enough to batch

GenerationStats stats_from(const ServeEvent& ev) {
  GenerationStats s;
  s.ttft_ms = ev.latency.ttft_ms;
  s.total_ms = ev.latency.total_time_ms;
  s.tokens_per_s = ev.latency.tokens_per_second;
  s.prompt_tokens = ev.prompt_tokens;
  s.completion_tokens = ev.completion_tokens;
  s.finish_reason = QString::fromStdString(ev.finish_reason);
  if (ev.error) s.error = QString::fromStdString(ev.error->to_string());
  return s;
}

GenerationStats error_stats(const QString& message) {
  GenerationStats s;
  s.finish_reason = QStringLiteral("error");
  s.error = message;
  return s;
}
}  // namespace

EngineHost::EngineHost(QObject* parent) : QObject(parent) {
  max_resident_ = std::max(1, QSettings().value(QStringLiteral("lora/max_resident"), 4).toInt());
  qRegisterMetaType<cyllm::workbench::GenerationStats>();
  pump_timer_.setSingleShot(true);
  pump_timer_.setInterval(kPumpIntervalMs);
  connect(&pump_timer_, &QTimer::timeout, this, &EngineHost::pump);
}

EngineHost::~EngineHost() {
  if (loader_) {
    loader_->wait();  // a load in flight finishes (it cannot be interrupted); its result is dropped
    delete loader_;
  }
  unload();
}

void EngineHost::unload() {
  cancelAll();
  sched_.reset();  // joins the engine thread: no sink runs after this
  registry_.reset();  // adapters are for the model they were checked against
  prompt_.reset();
  lm_.reset();
  path_.clear();
}

QString EngineHost::modelName() const {
  if (!lm_) return {};
  const auto& c = lm_->model->config();
  return c.name.empty() ? QFileInfo(path_).completeBaseName() : QString::fromStdString(c.name);
}

QString EngineHost::deviceDescription() {
  const DeviceReport r = probe_devices();
  const DeviceChoice c = choose_device("auto");
  if (c.kind == DeviceKind::kCuda && !r.gpus.empty()) return QString::fromStdString(r.gpus.front().name);
  return tr("CPU (%1, %2 threads)").arg(QString::fromStdString(r.cpu_isa)).arg(r.cpu_threads);
}

qint64 EngineHost::memoryInUse() {
  std::ifstream f("/proc/self/statm");
  long long pages = 0, resident = 0;
  if (!(f >> pages >> resident)) return 0;
  return static_cast<qint64>(resident) * static_cast<qint64>(sysconf(_SC_PAGESIZE));
}

double EngineHost::schedulerNowMs() const {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sched_t0_).count();
}

void EngineHost::loadModel(const QString& path, int threads, int ctx) {
  if (loader_) return;  // one load at a time
  emit modelLoading(path);
  auto result = std::make_shared<std::pair<std::unique_ptr<Loaded>, QString>>();
  const std::string p = path.toStdString();
  loader_ = QThread::create([result, p, threads] {
    auto m = LlamaModel::load(p);
    if (!m) {
      result->second = QString::fromStdString(m.error().to_string());
      return;
    }
    auto tok = Tokenizer::from_gguf((*m)->gguf());
    if (!tok) {
      result->second = QString::fromStdString(tok.error().to_string());
      return;
    }
    auto l = std::make_unique<Loaded>();
    l->model = std::move(m.value());
    l->tokenizer = std::move(tok.value());
    l->pool = std::make_unique<ThreadPool>(threads);
    result->first = std::move(l);
  });
  // finished() comes from the loader thread; `this` as context makes the lambda run queued on the
  // GUI thread, where the model is installed.
  connect(loader_, &QThread::finished, this, [this, result, path, ctx] {
    loader_->deleteLater();
    loader_ = nullptr;
    if (!result->first) {
      emit modelFailed(result->second);
      return;
    }
    auto prompt = cli::ChatPrompt::create(*result->first->model);
    if (!prompt) {
      emit modelFailed(QString::fromStdString(prompt.error().to_string()));
      return;
    }
    if (sched_) emit aboutToUnload();
    unload();
    lm_ = std::move(result->first);
    prompt_ = std::move(prompt.value());
    ctx_ = std::max(16, std::min(ctx, lm_->model->config().n_ctx_train));
    SchedulerConfig cfg;
    cfg.max_seq_tokens = ctx_;
    cfg.kv_budget_tokens = std::max(16384, ctx_);
    cfg.compute_nice = 5;  // the GUI and HTTP threads get a core as soon as they need one
    sched_t0_ = std::chrono::steady_clock::now();
    sched_ = std::make_unique<Scheduler>(*lm_->model, *lm_->tokenizer, cfg, *lm_->pool);
    path_ = path;
    makeRegistry();
    emit modelLoaded(modelName());
    emit adaptersChanged();
  }, Qt::QueuedConnection);
  loader_->start();
}

quint64 EngineHost::generate(const nlohmann::ordered_json& messages, const ChatParams& params) {
  const quint64 id = next_id_++;
  auto fail = [this, id](const QString& msg) {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    inbox_->done.emplace_back(id, error_stats(msg));
    QMetaObject::invokeMethod(this, &EngineHost::schedulePump, Qt::QueuedConnection);  // answer after return
    return id;
  };
  if (!sched_) return fail(tr("No model is loaded."));
  auto text = prompt_->render(messages, /*add_generation_prompt=*/true);
  if (!text) return fail(QString::fromStdString(text.error().to_string()));
  ServeRequest req;
  req.prompt = lm_->tokenizer->encode(*text, /*add_bos=*/false, /*parse_special=*/true);
  req.max_tokens = params.max_tokens;
  req.stream = true;
  req.sampling.temperature = static_cast<float>(params.temperature);
  req.sampling.top_p = static_cast<float>(params.top_p);
  req.sampling.top_k = params.top_k;
  req.sampling.seed = params.seed >= 0 ? static_cast<uint64_t>(params.seed) : std::random_device{}();
  if (auto st = req.sampling.validate(lm_->model->config().n_vocab); !st)
    return fail(QString::fromStdString(st.error().to_string()));
  if (!params.adapter.isEmpty()) {
    if (!registry_) return fail(tr("No model is loaded."));
    auto lease = registry_->acquire(params.adapter.toStdString());
    if (!lease) return fail(tr("Adapter %1: %2").arg(params.adapter, QString::fromStdString(lease.error().to_string())));
    req.lora = std::move(lease->adapter);  // the request holds it until it finishes
    req.adapter_id = lease->adapter_id;     // part of the prefix-cache key
  }
  live_[id] = 0;
  // The sink runs on the engine thread: it only records into the inbox (see the header's rules).
  const uint64_t sid = sched_->submit(std::move(req), [this, id](const ServeEvent& ev) { post(id, ev); });
  if (auto it = live_.find(id); it != live_.end() && sid) it->second = sid;
  return id;
}

void EngineHost::post(quint64 id, const ServeEvent& ev) {
  std::lock_guard<std::mutex> lock(inbox_->mu);
  if (!ev.text.empty()) inbox_->text[id] += ev.text;
  if (ev.done) inbox_->done.emplace_back(id, stats_from(ev));
  if (!inbox_->posted) {
    inbox_->posted = true;
    // Engine thread -> GUI thread: queued, so the engine never waits for the GUI.
    QMetaObject::invokeMethod(this, &EngineHost::schedulePump, Qt::QueuedConnection);
  }
}

void EngineHost::schedulePump() {
  if (!pump_timer_.isActive()) pump_timer_.start();
}

void EngineHost::pump() {
  std::map<quint64, std::string> text;
  std::vector<std::pair<quint64, GenerationStats>> done;
  {
    std::lock_guard<std::mutex> lock(inbox_->mu);
    text.swap(inbox_->text);
    done.swap(inbox_->done);
    inbox_->posted = false;
  }
  for (auto& [id, t] : text) emit textArrived(id, QString::fromStdString(t));
  for (auto& [id, s] : done) {
    live_.erase(id);
    emit generationFinished(id, s);
  }
}

void EngineHost::cancel(quint64 id) {
  auto it = live_.find(id);
  if (it != live_.end() && sched_ && it->second) sched_->cancel(it->second);
}

void EngineHost::drain() {
  cancelAll();
  if (sched_) sched_->wait_idle();
  pump_timer_.stop();
  pump();
}

void EngineHost::cancelAll() {
  if (!sched_) return;
  for (auto& [id, sid] : live_)
    if (sid) sched_->cancel(sid);
}

}  // namespace cyllm::workbench
