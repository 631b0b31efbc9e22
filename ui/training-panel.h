// The Training panel: a job form validated as you type (train/train-config.h reports every
// problem with its path), the job queue with priorities, pause, resume and cancel
// (train/job-queue.h, SQLite), a worker that runs the queue, and live charts that take progress
// points at ~10 Hz (loss and eval loss; learning rate and grad norm; tokens/s) with ETA.
//
// Running (Start): a worker QThread owned by the panel runs train::JobRunner::run_until_empty()
// over its own connection to the queue file. The runner's hooks never touch a widget: they append
// events to a mutex-guarded inbox and post one queued drain to the panel, which waits ~100 ms so
// events arrive in batches (at most ~10 drains a second) and then feeds them to addProgress().
// Pause / resume / cancel are JobQueue requests; the runner's watcher sees them within poll_ms and
// the trainer stops after its current step with a checkpoint. stopRunner() (Stop, closing the
// window, the destructor) sets the runner's stop flag and joins the thread: the running job stops
// the same way and goes back to the queue, to resume from its checkpoint on the next Start.
//
// Checkpoints (checkpoint-list.h): the selected job's run, refreshed as the trainer writes them.
// "Resume from here" queues a new job with the same settings whose output_dir is
// "<output_dir>-from-step<N>", holding a copy of that checkpoint, so the trainer continues from it
// there and the original run stays as it was; "Use as adapter" is passed on as
// serveCheckpointRequested (the main window loads it into the engine).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include <QWidget>

#include "train/job-runner.h"
#include "train/trainer.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QGroupBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QThread;

namespace cyllm {
class JobQueue;
}

namespace cyllm::ui {

class CheckpointList;
class LiveChart;

class TrainingPanel : public QWidget {
  Q_OBJECT
 public:
  // queue_path: the job queue's SQLite file.
  explicit TrainingPanel(const QString& queue_path, QWidget* parent = nullptr);
  ~TrainingPanel() override;

  // The form as the trainer's JSON config.
  nlohmann::json configJson() const;
  // Problems of the form now (empty: it can be queued).
  QStringList problems() const { return problems_text_; }
  void setField(const QString& name, const QString& value);  // model, dataset, output_dir
  // Queues the form's job; returns its id or 0.
  qint64 submitJob();
  void refreshQueue();
  // One progress event from the trainer (GUI thread).
  void addProgress(const train::TrainEvent& e);
  LiveChart* lossChart() const { return loss_chart_; }
  void retranslateUi();

  // Starts the worker thread that runs queued jobs until none is left (false: already running, or
  // no queue). stopRunner() stops the running job after its current step (checkpoint written, job
  // queued again) and joins the thread.
  bool startRunner();
  void stopRunner();
  bool runnerActive() const { return worker_ != nullptr; }
  // Tests: how jobs' trainers are built (default: Trainer::create, which loads model and dataset).
  void setTrainerFactory(train::TrainerFactory f) { factory_ = std::move(f); }
  // The step the current run resumed from (0: started fresh).
  qint64 resumedFrom() const { return resumed_from_; }
  CheckpointList* checkpoints() const { return checkpoints_; }
  // The GPU line shown under the progress (the main window samples NVML once a second).
  void setGpuStatus(const QString& text);
  // Queues a job continuing from this checkpoint (see above); its id, or 0 with a message shown.
  qint64 resumeFromCheckpoint(const QString& checkpoint_dir);

 signals:
  void runnerFinished();
  void serveCheckpointRequested(const QString& checkpoint_dir);

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void validate();
  qint64 selectedJob() const;
  static QString stateName(int state);  // JobState in the user's language
  void drainInbox();                     // GUI thread: the worker's batched events
  void runnerDone(int generation);
  void updateButtons();
  void showJobCheckpoints();  // the selected job's run in the checkpoint list

  // What the worker thread hands to the GUI thread.
  struct Inbox {
    std::mutex mu;
    std::vector<train::TrainEvent> events;
    bool new_run = false;  // a job started: clear the charts
    int changes = 0;       // jobs started or ended since the last drain: refresh the queue
    QString error;         // the runner failed (queue file, ...)
    bool posted = false;   // a drain is queued
  };

  std::unique_ptr<JobQueue> queue_;
  QString queue_error_;
  QStringList problems_text_;

  QGroupBox* form_box_;
  QFormLayout* form_;
  QLineEdit* model_;
  QLineEdit* dataset_;
  QLineEdit* output_;
  QSpinBox* rank_;
  QDoubleSpinBox* alpha_;
  QDoubleSpinBox* dropout_;
  QWidget* targets_box_;
  QList<QCheckBox*> targets_;
  QDoubleSpinBox* lr_;
  QComboBox* schedule_;
  QSpinBox* epochs_;
  QSpinBox* max_steps_;
  QSpinBox* batch_;
  QSpinBox* grad_accum_;
  QSpinBox* cutoff_;  // max_seq_len: longer rows are truncated
  QComboBox* precision_;  // "precision": item data f32 | bf16 (bf16 only where the CPU has AVX512-BF16)
  QDoubleSpinBox* eval_split_;
  QSpinBox* patience_;
  QDoubleSpinBox* min_delta_;
  QSpinBox* checkpoint_every_;
  QSpinBox* priority_;
  QListWidget* problem_list_;
  QPushButton* submit_;
  QGroupBox* queue_box_;
  QTableWidget* jobs_;
  QPushButton* pause_;
  QPushButton* resume_;
  QPushButton* cancel_;
  LiveChart* loss_chart_;
  LiveChart* lr_chart_;
  LiveChart* speed_chart_;
  QLabel* progress_;
  QLabel* gpu_;
  CheckpointList* checkpoints_;
  QPushButton* start_;
  QPushButton* stop_;

  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  QThread* worker_ = nullptr;
  int worker_gen_ = 0;
  std::atomic<bool> stop_flag_{false};
  train::TrainerFactory factory_;
  qint64 resumed_from_ = 0;
};

}  // namespace cyllm::ui
