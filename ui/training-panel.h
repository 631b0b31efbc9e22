// The Training panel (skeleton): a job form validated as you type (train/train-config.h reports
// every problem with its path), the job queue with priorities, pause, resume and cancel
// (train/job-queue.h, SQLite), and live charts that take progress points at ~10 Hz (loss and eval
// loss; learning rate and grad norm; tokens/s) with ETA.
//
// TODO(issue 11): run jobs. A TrainingRunner in app/workbench should claim_next() from the queue,
// build the TrainConfig, and run train::Trainer::create(cfg, pool)->run(on_event, &cancel) on a
// worker thread; on_event copies each TrainEvent into a mutex-guarded list that a 100 ms GUI timer
// drains into addProgress(). Pause/cancel set the atomic; the checkpoint list (step, loss, eval
// loss; resume / serve as adapter) reads CheckpointStore. Nothing of that is wired yet.
#pragma once

#include <memory>

#include <QWidget>

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

namespace cyllm {
class JobQueue;
}

namespace cyllm::ui {

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

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void validate();
  qint64 selectedJob() const;
  static QString stateName(int state);  // JobState in the user's language

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
};

}  // namespace cyllm::ui
