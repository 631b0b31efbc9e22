// The LoRA training loop on the CPU: micro-batches of examples through TrainGraph<float>,
// gradient accumulation (the loss is the mean over every trained label of the optimizer step),
// global-norm clipping, AdamW, a warmup + cosine/linear/constant schedule, evaluation every N
// steps with early stopping (Property 9) and stop-at-loss, checkpoints every N steps through
// CheckpointStore (adapter, optimizer moments, schedule/RNG/data state, early-stopping state;
// keep-last-N plus best), and progress events.
//
// Determinism: the data order is a seeded shuffle per epoch, dropout masks are hashes of
// (seed, step, micro-batch), and every reduction runs in a fixed order (train-gemm.h), so a run
// is a pure function of its config; resuming from a checkpoint repeats the uninterrupted run's
// losses bitwise (Property 7).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/gpu-monitor.h"
#include "core/status.h"
#include "core/thread-pool.h"
#include "model/adapter-io.h"
#include "model/llama-model.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/train-config.h"
#include "train/train-data.h"
#include "train/train-graph.h"

namespace cyllm::train {

struct TrainEvent {
  enum class Kind { kStep, kEval, kCheckpoint, kResumed, kNote, kDone } kind = Kind::kStep;
  int64_t step = 0, total_steps = 0;
  double epoch = 0;              // fractional: epochs completed
  double loss = 0;               // the step's mean training loss
  std::optional<double> eval_loss;
  double lr = 0, grad_norm = 0;
  double tokens_per_s = 0, samples_per_s = 0, eta_s = 0;
  std::vector<GpuSample> gpus;   // step and eval events: NVML utilisation and memory per GPU, when present
  std::string message;           // checkpoint directory, stop reason, ...
};
nlohmann::ordered_json to_json(const TrainEvent& e);

struct TrainSummary {
  int64_t steps = 0;
  double last_loss = 0;
  std::optional<double> best_eval_loss;
  std::string stop_reason;       // "completed", "early_stopping", "stop_at_loss", "cancelled"
  std::vector<double> losses;    // every step's loss run by this call (after a resume: from there)
  std::string last_checkpoint;
};

class Trainer {
 public:
  // Loads the model, renders the dataset (and eval set), splits off eval.split.
  static Result<std::unique_ptr<Trainer>> create(const TrainConfig& cfg, ThreadPool& pool);
  // From a loaded model and rendered examples (tests, benchmarks).
  Trainer(const TrainConfig& cfg, const LlamaModel& model, std::vector<TrainExample> train,
          std::vector<TrainExample> eval, ThreadPool& pool);
  ~Trainer();

  // Runs to the end (or a stop); resumes from the latest intact checkpoint when cfg.resume.
  // on_event gets progress every cfg.progress_every steps and every eval/checkpoint; cancel (may
  // be null) is polled between steps.
  Result<TrainSummary> run(const std::function<void(const TrainEvent&)>& on_event,
                           const std::atomic<bool>* cancel = nullptr);

  // The chat template and EOS token the adapter is trained with (create() reads them from the
  // GGUF); written into every checkpoint's metadata and from there into exported adapters.
  void set_provenance(AdapterProvenance p) { provenance_ = std::move(p); }
  const AdapterProvenance& provenance() const { return provenance_; }
  // Starts from an existing adapter instead of a fresh init (same rank, targets and scale as the
  // config's LoRA settings, else invalid_argument). Call before run(); a resume still wins.
  Status set_initial_adapter(const LoraAdapter& a);

  const LoraSet<float>& params() const { return params_; }
  LoraAdapter adapter(const std::string& name = "trained") const { return to_adapter(params_, name); }
  int64_t total_steps() const { return total_steps_; }
  size_t train_rows() const { return train_.size(); }
  size_t eval_rows() const { return eval_.size(); }
  std::string checkpoint_root() const;
  // Mean eval loss over the eval set (nullopt without one).
  std::optional<double> evaluate();

 private:
  std::string make_blob_trainer() const;
  Status restore(const Checkpoint& ck);

  TrainConfig cfg_;
  std::unique_ptr<LlamaModel> owned_model_;
  const LlamaModel* model_;
  ThreadPool& pool_;
  std::vector<TrainExample> train_, eval_;
  LoraSet<float> params_, grads_;
  std::unique_ptr<AdamW> opt_;
  std::unique_ptr<TrainGraph<float>> graph_;
  std::unique_ptr<GpuMonitor> gpu_;  // NVML (backend/gpu-monitor.h); reports nothing without a driver
  EarlyStopping early_;
  int64_t step_ = 0, epoch_ = 0, data_pos_ = 0, total_steps_ = 0, steps_per_epoch_ = 0;
  double last_loss_ = 0;
  std::optional<double> last_eval_;
  std::vector<std::string> notes_;  // load-time notes (truncated rows, ...)
  AdapterProvenance provenance_;
};

}  // namespace cyllm::train
