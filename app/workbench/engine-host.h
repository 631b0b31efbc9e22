// The workbench's one engine: it owns the model, tokenizer, thread pool, chat template and the
// serving Scheduler, and shows them to the GUI as Qt signals.
//
// Threads (the rules):
// - EngineHost lives on the GUI thread; every public function is called there.
// - Model loading runs on a short-lived loader thread; the result comes back queued.
// - Generation runs on the Scheduler's engine thread. Its sinks never touch a widget: they
//   append text to a mutex-guarded inbox and post one queued "pump" to this object; the pump
//   waits ~33 ms so tokens arrive in batches (textArrived at most ~30 times a second per request),
//   then emits textArrived/generationFinished on the GUI thread.
// - The destructor cancels every request and destroys the Scheduler (joining its thread) before
//   QObject's destructor runs, so no sink can post to a dead object.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <QMap>
#include <QMetaType>
#include <QStringList>
#include <QObject>
#include <QString>
#include <QTimer>

#include <nlohmann/json.hpp>

#include "core/thread-pool.h"
#include "model/llama-model.h"
#include "serve/adapter-registry.h"
#include "serve/scheduler.h"
#include "text/tokenizer.h"

class QThread;

namespace cyllm::cli {
class ChatPrompt;
}

namespace cyllm::workbench {

struct ChatParams {
  double temperature = 0.7;
  double top_p = 0.95;
  int top_k = 40;
  int max_tokens = 256;
  qint64 seed = -1;  // < 0: a fresh random seed per request
  QString adapter;  // a registered LoRA adapter's name (loadAdapter, serveCheckpoint); "": the base
};

// A LoRA adapter registered with the engine (one row of the LoRA manager's "loaded" table).
struct ChatAdapter {
  QString name;         // unique; what ChatParams::adapter and the server's "model"/"lora" name
  QString path;         // file, folder or checkpoint it came from
  QString format;       // "peft", "gguf" or "memory" (a training checkpoint)
  double scale = 1.0;   // the registered scale
  bool resident = false;
  int in_use = 0;       // running requests holding it
  QStringList warnings; // provenance warnings and load notes
};

// What a registration gives: the adapter's name, or an error for the user.
struct AdapterLoad {
  QString name;
  QString error;
  bool ok() const { return error.isEmpty(); }
};

// What the GUI shows under an answer.
struct GenerationStats {
  double ttft_ms = 0;
  double total_ms = 0;
  double tokens_per_s = 0;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  QString finish_reason;  // stop, length, cancelled, timeout, error
  QString error;          // with finish_reason "error"/"timeout": the engine's message
};

class EngineHost : public QObject {
  Q_OBJECT
 public:
  explicit EngineHost(QObject* parent = nullptr);
  ~EngineHost() override;

  // Loads a GGUF model in the background (modelLoaded or modelFailed follows). A loaded model is
  // replaced: aboutToUnload is emitted first (synchronously) so the server can stop.
  void loadModel(const QString& path, int threads = 0, int ctx = 4096);
  bool loading() const { return loader_ != nullptr; }
  bool hasModel() const { return sched_ != nullptr; }
  QString modelPath() const { return path_; }
  QString modelName() const;
  // "CPU (avx512, 2 threads)" or the GPU's name.
  static QString deviceDescription();
  // Resident memory of the process in bytes (0 where /proc is missing).
  static qint64 memoryInUse();

  // Starts a chat completion for OpenAI-style messages; returns the request's id (> 0). Errors
  // (no model, template failure, invalid parameters) still give an id, answered at once with
  // generationFinished carrying the error.
  quint64 generate(const nlohmann::ordered_json& messages, const ChatParams& params);
  void cancel(quint64 id);
  void cancelAll();
  // LoRA adapters (engine-host-adapters.cpp). One AdapterRegistry per loaded model, shared by the
  // chat, the LoRA manager and the server (GET/POST /v1/adapters see the same list); it is
  // rebuilt, empty, when the model changes. Each change emits adaptersChanged().
  //
  // Registers an adapter file (a PEFT folder or its adapter_config.json, a GGUF LoRA file, or a
  // training checkpoint / output_dir: its newest intact checkpoint) under a name made unique from
  // the file name, checked against the loaded model. preload: load it now (evicting an idle one).
  AdapterLoad loadAdapter(const QString& path, bool preload = true);
  // A training checkpoint's adapter, held in memory under "<run>-step<N>" (no file to reload).
  AdapterLoad serveCheckpoint(const QString& checkpoint_dir);
  QString unloadAdapter(const QString& name);   // "" or the error
  QString preloadAdapter(const QString& name);  // "" or the error
  // The resident limit of file-backed adapters (kept for the next model too).
  QString setMaxResidentAdapters(int n);
  int maxResidentAdapters() const { return max_resident_; }
  QList<ChatAdapter> adapters() const;
  AdapterRegistry* adapterRegistry() const { return registry_.get(); }
  // Cancels everything, waits for the engine to answer the cancellations (one step) and delivers
  // every pending text and finish signal now, so the GUI can save partial answers before it
  // closes. Blocks the caller briefly; for shutdown only.
  void drain();
  int activeRequests() const { return static_cast<int>(live_.size()); }

  // For the server and the metrics panel (null without a model).
  Scheduler* scheduler() const { return sched_.get(); }
  const Tokenizer* tokenizer() const { return lm_ ? lm_->tokenizer.get() : nullptr; }
  const LlamaModel* model() const { return lm_ ? lm_->model.get() : nullptr; }
  const cli::ChatPrompt* chatPrompt() const { return prompt_.get(); }
  int contextTokens() const { return ctx_; }
  // The Scheduler's latency clock (ms since it started), for LatencyStats::summary().
  double schedulerNowMs() const;

 signals:
  void modelLoading(const QString& path);
  void modelLoaded(const QString& name);
  void modelFailed(const QString& message);
  void aboutToUnload();
  void adaptersChanged();
  // A provenance warning about an adapter (chat template or EOS other than the model's).
  void adapterWarning(const QString& message);
  void textArrived(quint64 id, const QString& text);
  void generationFinished(quint64 id, const cyllm::workbench::GenerationStats& stats);

 private:
  void makeRegistry();
  QString uniqueAdapterName(const QString& stem) const;
  std::unique_ptr<AdapterRegistry> registry_;
  int max_resident_ = 4;
  QMap<QString, QString> memory_paths_;  // checkpoint adapters: name -> the checkpoint they came from
  struct Loaded {
    std::unique_ptr<LlamaModel> model;
    std::unique_ptr<Tokenizer> tokenizer;
    std::unique_ptr<ThreadPool> pool;
  };
  struct Inbox {
    std::mutex mu;
    std::map<quint64, std::string> text;                  // released text not yet shown
    std::vector<std::pair<quint64, GenerationStats>> done;
    bool posted = false;  // a pump is already queued
  };
  void post(quint64 id, const ServeEvent& ev);  // engine thread
  void schedulePump();                          // GUI thread
  void pump();
  void unload();

  std::unique_ptr<Loaded> lm_;
  std::unique_ptr<cli::ChatPrompt> prompt_;
  std::unique_ptr<Scheduler> sched_;
  std::chrono::steady_clock::time_point sched_t0_;
  QString path_;
  int ctx_ = 0;
  QThread* loader_ = nullptr;
  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  QTimer pump_timer_;
  quint64 next_id_ = 1;
  std::map<quint64, uint64_t> live_;  // our id -> the scheduler's id
};

}  // namespace cyllm::workbench

Q_DECLARE_METATYPE(cyllm::workbench::GenerationStats)
