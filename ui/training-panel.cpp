#include "ui/training-panel.h"

#include <iterator>

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileInfo>
#include <QEvent>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QPushButton>
#include <QScrollArea>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTableWidget>
#include <QThread>
#include <QTimer>
#include <QVBoxLayout>

#include "ui/row-table.h"
#include "train/checkpoint.h"
#include "train/job-queue.h"
#include "train/train-config.h"
#include "train/train-gemm-bf16.h"
#include "ui/checkpoint-list.h"
#include "ui/live-chart.h"

namespace cyllm::ui {

namespace {
const char* kTargets[] = {"q", "k", "v", "o", "gate", "up", "down"};
}

TrainingPanel::TrainingPanel(const QString& queue_path, QWidget* parent) : QWidget(parent) {
  auto q = JobQueue::open(queue_path.toStdString());
  if (q) queue_ = std::move(q.value());
  else queue_error_ = QString::fromStdString(q.error().to_string());

  auto* h = new QHBoxLayout(this);
  auto* scroll = new QScrollArea(this);
  scroll->setWidgetResizable(true);
  form_box_ = new QGroupBox();
  scroll->setWidget(form_box_);
  scroll->setMinimumWidth(340);
  h->addWidget(scroll, 2);
  form_ = new QFormLayout(form_box_);
  model_ = new QLineEdit(form_box_);
  model_->setObjectName(QStringLiteral("model"));
  dataset_ = new QLineEdit(form_box_);
  dataset_->setObjectName(QStringLiteral("dataset"));
  output_ = new QLineEdit(form_box_);
  output_->setObjectName(QStringLiteral("output_dir"));
  rank_ = new QSpinBox(form_box_);
  rank_->setRange(0, 1024);
  rank_->setValue(16);
  rank_->setObjectName(QStringLiteral("rank"));
  alpha_ = new QDoubleSpinBox(form_box_);
  alpha_->setRange(0, 4096);
  alpha_->setValue(32);
  dropout_ = new QDoubleSpinBox(form_box_);
  dropout_->setRange(0, 0.9);
  dropout_->setSingleStep(0.05);
  targets_box_ = new QWidget(form_box_);
  auto* th = new QGridLayout(targets_box_);
  th->setContentsMargins(0, 0, 0, 0);
  for (int i = 0; i < 7; ++i) {
    auto* c = new QCheckBox(QString::fromLatin1(kTargets[i]), targets_box_);
    c->setChecked(true);
    targets_.append(c);
    th->addWidget(c, i / 4, i % 4);
  }
  lr_ = new QDoubleSpinBox(form_box_);
  lr_->setDecimals(6);
  lr_->setRange(0, 1);
  lr_->setSingleStep(1e-5);
  lr_->setValue(2e-4);
  schedule_ = new QComboBox(form_box_);
  schedule_->addItems({QStringLiteral("cosine"), QStringLiteral("linear"), QStringLiteral("constant")});
  epochs_ = new QSpinBox(form_box_);
  epochs_->setRange(1, 1000);
  max_steps_ = new QSpinBox(form_box_);
  max_steps_->setRange(0, 10000000);
  batch_ = new QSpinBox(form_box_);
  batch_->setRange(1, 4096);
  batch_->setValue(8);
  grad_accum_ = new QSpinBox(form_box_);
  grad_accum_->setRange(1, 1024);
  cutoff_ = new QSpinBox(form_box_);
  cutoff_->setRange(16, 1 << 20);
  cutoff_->setValue(512);
  precision_ = new QComboBox(form_box_);
  precision_->addItem(QString(), QStringLiteral("f32"));
  precision_->addItem(QString(), QStringLiteral("bf16"));
  if (!train::bf16_gemm_available())  // listed but not selectable: the tooltip says why
    if (auto* m = qobject_cast<QStandardItemModel*>(precision_->model())) m->item(1)->setEnabled(false);
  eval_split_ = new QDoubleSpinBox(form_box_);
  eval_split_->setRange(0, 0.5);
  eval_split_->setSingleStep(0.05);
  patience_ = new QSpinBox(form_box_);
  patience_->setRange(0, 1000);
  min_delta_ = new QDoubleSpinBox(form_box_);
  min_delta_->setDecimals(4);
  min_delta_->setRange(0, 10);
  checkpoint_every_ = new QSpinBox(form_box_);
  checkpoint_every_->setRange(0, 1000000);
  priority_ = new QSpinBox(form_box_);
  priority_->setRange(-100, 100);
  const std::pair<QWidget*, const char*> names[] = {
      {alpha_, "alpha"}, {dropout_, "dropout"}, {lr_, "lr"}, {schedule_, "schedule"}, {epochs_, "epochs"},
      {max_steps_, "max_steps"}, {batch_, "batch"}, {grad_accum_, "grad_accum"}, {cutoff_, "cutoff"}, {precision_, "precision"},
      {eval_split_, "eval_split"}, {patience_, "patience"}, {min_delta_, "min_delta"},
      {checkpoint_every_, "checkpoint_every"}, {priority_, "priority"}};
  for (const auto& [w, n] : names) w->setObjectName(QString::fromLatin1(n));
  QWidget* fields[] = {model_, dataset_, output_, rank_, alpha_, dropout_, targets_box_, lr_, schedule_, epochs_,
                       max_steps_, batch_, grad_accum_, cutoff_, precision_, eval_split_, patience_, min_delta_, checkpoint_every_, priority_};
  for (QWidget* f : fields) form_->addRow(new QLabel(form_box_), f);
  problem_list_ = new QListWidget(form_box_);
  problem_list_->setObjectName(QStringLiteral("problems"));
  problem_list_->setMaximumHeight(110);
  form_->addRow(problem_list_);
  submit_ = new QPushButton(form_box_);
  submit_->setObjectName(QStringLiteral("submit"));
  form_->addRow(submit_);

  auto* right = new QWidget(this);
  auto* rv = new QVBoxLayout(right);
  rv->setContentsMargins(0, 0, 0, 0);
  queue_box_ = new QGroupBox(right);
  auto* qv = new QVBoxLayout(queue_box_);
  jobs_ = makeRowTable(4, QStringLiteral("jobs"), queue_box_);
  jobs_->setMaximumHeight(120);
  qv->addWidget(jobs_);
  auto* qb = new QHBoxLayout();
  pause_ = new QPushButton(queue_box_);
  resume_ = new QPushButton(queue_box_);
  cancel_ = new QPushButton(queue_box_);
  pause_->setObjectName(QStringLiteral("pause"));
  resume_->setObjectName(QStringLiteral("resume"));
  cancel_->setObjectName(QStringLiteral("cancel"));
  qb->addWidget(pause_);
  qb->addWidget(resume_);
  qb->addWidget(cancel_);
  qb->addStretch();
  start_ = new QPushButton(queue_box_);
  start_->setObjectName(QStringLiteral("start"));
  stop_ = new QPushButton(queue_box_);
  stop_->setObjectName(QStringLiteral("stop"));
  qb->addWidget(start_);
  qb->addWidget(stop_);
  qv->addLayout(qb);
  rv->addWidget(queue_box_);
  checkpoints_ = new CheckpointList(right);
  checkpoints_->setMaximumHeight(170);
  rv->addWidget(checkpoints_);
  progress_ = new QLabel(right);
  progress_->setObjectName(QStringLiteral("progress"));
  progress_->setWordWrap(true);
  rv->addWidget(progress_);
  gpu_ = new QLabel(right);
  gpu_->setObjectName(QStringLiteral("gpu"));
  rv->addWidget(gpu_);
  loss_chart_ = new LiveChart(2, right);
  lr_chart_ = new LiveChart(2, right);
  speed_chart_ = new LiveChart(1, right);
  rv->addWidget(loss_chart_, 2);
  auto* small = new QHBoxLayout();
  small->addWidget(lr_chart_);
  small->addWidget(speed_chart_);
  rv->addLayout(small, 1);
  h->addWidget(right, 3);

  for (QLineEdit* e : {model_, dataset_, output_}) connect(e, &QLineEdit::textChanged, this, &TrainingPanel::validate);
  for (QSpinBox* s : {rank_, epochs_, max_steps_, batch_, grad_accum_, cutoff_, patience_, checkpoint_every_})
    connect(s, &QSpinBox::valueChanged, this, &TrainingPanel::validate);
  for (QDoubleSpinBox* s : {alpha_, dropout_, lr_, eval_split_, min_delta_})
    connect(s, &QDoubleSpinBox::valueChanged, this, &TrainingPanel::validate);
  for (QCheckBox* c : targets_) connect(c, &QCheckBox::toggled, this, &TrainingPanel::validate);
  connect(schedule_, &QComboBox::currentIndexChanged, this, &TrainingPanel::validate);
  connect(precision_, &QComboBox::currentIndexChanged, this, &TrainingPanel::validate);
  connect(submit_, &QPushButton::clicked, this, &TrainingPanel::submitJob);
  connect(pause_, &QPushButton::clicked, this, [this] {
    if (const qint64 id = selectedJob(); id && queue_) {
      if (auto st = queue_->pause(id); !st) QMessageBox::warning(this, tr("Job queue"), QString::fromStdString(st.error().to_string()));
      refreshQueue();
    }
  });
  connect(resume_, &QPushButton::clicked, this, [this] {
    if (const qint64 id = selectedJob(); id && queue_) {
      if (auto st = queue_->resume(id); !st) QMessageBox::warning(this, tr("Job queue"), QString::fromStdString(st.error().to_string()));
      refreshQueue();
    }
  });
  connect(cancel_, &QPushButton::clicked, this, [this] {
    if (const qint64 id = selectedJob(); id && queue_) {
      if (auto st = queue_->cancel(id); !st) QMessageBox::warning(this, tr("Job queue"), QString::fromStdString(st.error().to_string()));
      refreshQueue();
    }
  });
  connect(jobs_, &QTableWidget::itemSelectionChanged, this, &TrainingPanel::showJobCheckpoints);
  connect(checkpoints_, &CheckpointList::resumeRequested, this, &TrainingPanel::resumeFromCheckpoint);
  connect(checkpoints_, &CheckpointList::serveRequested, this, &TrainingPanel::serveCheckpointRequested);
  connect(start_, &QPushButton::clicked, this, &TrainingPanel::startRunner);
  connect(stop_, &QPushButton::clicked, this, &TrainingPanel::stopRunner);
  retranslateUi();
  refreshQueue();
  updateButtons();
}

// Joins the worker (the running job stops with a checkpoint) before any widget goes away.
TrainingPanel::~TrainingPanel() { stopRunner(); }

bool TrainingPanel::startRunner() {
  if (worker_ || !queue_) return false;
  stop_flag_ = false;
  {
    std::lock_guard<std::mutex> lk(inbox_->mu);
    inbox_->error.clear();
  }
  const std::string path = queue_->path();
  const std::shared_ptr<Inbox> inbox = inbox_;
  const train::TrainerFactory factory = factory_;
  // Worker thread: never touches a widget; it fills the inbox and posts one queued drain, which
  // waits ~100 ms on the GUI thread so events arrive in batches.
  auto post = [this, inbox] {
    bool need = false;
    {
      std::lock_guard<std::mutex> lk(inbox->mu);
      need = !inbox->posted;
      inbox->posted = true;
    }
    if (need)
      QMetaObject::invokeMethod(
          this, [this] { QTimer::singleShot(100, this, &TrainingPanel::drainInbox); }, Qt::QueuedConnection);
  };
  worker_ = QThread::create([this, path, inbox, factory, post] {
    auto q = JobQueue::open(path);
    if (!q) {
      std::lock_guard<std::mutex> lk(inbox->mu);
      inbox->error = QString::fromStdString(q.error().to_string());
      return;
    }
    train::JobRunnerOptions o;
    o.poll_ms = 200;
    o.make_trainer = factory;
    o.on_start = [inbox, post](const Job&, bool) {
      {
        std::lock_guard<std::mutex> lk(inbox->mu);
        inbox->events.clear();
        inbox->new_run = true;
        ++inbox->changes;
      }
      post();
    };
    o.on_event = [inbox, post](const Job&, const train::TrainEvent& e) {
      {
        std::lock_guard<std::mutex> lk(inbox->mu);
        inbox->events.push_back(e);
      }
      post();
    };
    o.on_end = [inbox, post](const Job&) {
      {
        std::lock_guard<std::mutex> lk(inbox->mu);
        ++inbox->changes;
      }
      post();
    };
    train::JobRunner runner(*q.value(), std::move(o));
    auto r = runner.run_until_empty(&stop_flag_);
    if (!r) {
      std::lock_guard<std::mutex> lk(inbox->mu);
      inbox->error = QString::fromStdString(r.error().to_string());
    }
  });
  const int gen = ++worker_gen_;
  connect(worker_, &QThread::finished, this, [this, gen] { runnerDone(gen); }, Qt::QueuedConnection);
  worker_->start();
  progress_->setProperty("live", true);
  progress_->setText(tr("Starting the queue…"));
  updateButtons();
  return true;
}

void TrainingPanel::stopRunner() {
  if (!worker_) return;
  stop_flag_ = true;
  runnerDone(worker_gen_);
}

void TrainingPanel::runnerDone(int generation) {
  if (generation != worker_gen_ || !worker_) return;
  worker_->wait();
  delete worker_;
  worker_ = nullptr;
  drainInbox();
  QString error;
  {
    std::lock_guard<std::mutex> lk(inbox_->mu);
    error = inbox_->error;
  }
  progress_->setProperty("live", true);
  if (!error.isEmpty()) progress_->setText(tr("The training worker failed: %1").arg(error));
  else if (stop_flag_) progress_->setText(tr("Stopped. The running job was checkpointed and will resume on Start."));
  else progress_->setText(tr("No job left to run."));
  refreshQueue();
  updateButtons();
  emit runnerFinished();
}

void TrainingPanel::drainInbox() {
  std::vector<train::TrainEvent> events;
  bool new_run = false;
  int changes = 0;
  {
    std::lock_guard<std::mutex> lk(inbox_->mu);
    events.swap(inbox_->events);
    new_run = inbox_->new_run;
    changes = inbox_->changes;
    inbox_->new_run = false;
    inbox_->changes = 0;
    inbox_->posted = false;
  }
  if (new_run) {
    loss_chart_->clear();
    lr_chart_->clear();
    speed_chart_->clear();
    resumed_from_ = 0;
  }
  for (const auto& e : events) {
    if (e.kind == train::TrainEvent::Kind::kResumed) {
      resumed_from_ = e.step;
      progress_->setProperty("live", true);
      progress_->setText(tr("Resumed from the checkpoint at step %1.").arg(e.step));
    } else if (e.kind == train::TrainEvent::Kind::kStep || e.kind == train::TrainEvent::Kind::kEval) {
      addProgress(e);
    } else if (e.kind == train::TrainEvent::Kind::kCheckpoint) {
      // message: <output_dir>/checkpoints/ckpt-N. Shown unless another job's run is selected.
      QDir run(QString::fromStdString(e.message));
      run.cdUp();
      run.cdUp();
      if (selectedJob() == 0 || checkpoints_->run() == run.path()) checkpoints_->setRun(run.path());
    }
  }
  if (changes) refreshQueue();
}

void TrainingPanel::updateButtons() {
  start_->setEnabled(!worker_ && queue_);
  stop_->setEnabled(worker_ != nullptr);
}

void TrainingPanel::retranslateUi() {
  checkpoints_->retranslateUi();
  form_box_->setTitle(tr("New training job"));
  const QString labels[] = {tr("Model (GGUF)"), tr("Dataset"), tr("Output folder"), tr("LoRA rank"), tr("LoRA alpha"),
                            tr("LoRA dropout"), tr("Targets"), tr("Learning rate"), tr("Schedule"), tr("Epochs"),
                            tr("Max steps"), tr("Batch size"), tr("Gradient accumulation"), tr("Cutoff (tokens)"), tr("Precision"), tr("Eval split"),
                            tr("Early-stopping patience"), tr("Min. improvement"), tr("Checkpoint every (steps)"),
                            tr("Priority")};
  for (int i = 0; i < int(std::size(labels)); ++i)
    if (auto* l = qobject_cast<QLabel*>(form_->itemAt(i, QFormLayout::LabelRole)->widget())) l->setText(labels[i]);
  max_steps_->setSpecialValueText(tr("from epochs"));
  precision_->setItemText(0, tr("float32 (exact)"));
  precision_->setItemText(1, tr("bf16 (about 2x faster)"));
  precision_->setToolTip(train::bf16_gemm_available()
                             ? tr("bf16: the products with the base model's weights use bfloat16 inputs with float32 sums "
                                  "(like PyTorch's bf16 autocast); the adapter and optimizer stay float32")
                             : tr("bf16 needs a CPU with AVX512-BF16; this one has none"));
  patience_->setSpecialValueText(tr("off"));
  checkpoint_every_->setSpecialValueText(tr("at the end"));
  model_->setPlaceholderText(tr("path to a .gguf model"));
  dataset_->setPlaceholderText(tr("path to a .jsonl, .json, .csv or .parquet dataset"));
  output_->setPlaceholderText(tr("folder for checkpoints and the adapter"));
  submit_->setText(tr("Add to queue"));
  queue_box_->setTitle(tr("Job queue (higher priority first)"));
  jobs_->setHorizontalHeaderLabels({tr("ID"), tr("Priority"), tr("State"), tr("Message")});
  pause_->setText(tr("Pause"));
  resume_->setText(tr("Resume"));
  cancel_->setText(tr("Cancel"));
  start_->setText(tr("Start"));
  start_->setToolTip(tr("Run the queued jobs, one at a time, in this window"));
  stop_->setText(tr("Stop"));
  stop_->setToolTip(tr("Stop the running job after its current step; it is checkpointed and resumes on Start"));
  loss_chart_->setTitles(tr("Loss"), tr("step"), tr("loss"), {tr("training loss"), tr("eval loss")});
  lr_chart_->setTitles(tr("Learning rate and grad norm"), tr("step"), QString(), {tr("learning rate ×1000"), tr("grad norm")});
  speed_chart_->setTitles(tr("Speed"), tr("step"), tr("tokens/s"), {tr("tokens/s")});
  if (progress_->text().isEmpty() || !progress_->property("live").toBool())
    progress_->setText(tr("No job running. Press Start to run the queue."));
  validate();
  refreshQueue();
}

void TrainingPanel::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QWidget::changeEvent(e);
}

void TrainingPanel::setField(const QString& name, const QString& value) {
  if (name == QLatin1String("model")) model_->setText(value);
  else if (name == QLatin1String("dataset")) dataset_->setText(value);
  else if (name == QLatin1String("output_dir")) output_->setText(value);
}

nlohmann::json TrainingPanel::configJson() const {
  nlohmann::json j;
  j["model"] = model_->text().trimmed().toStdString();
  j["dataset"] = dataset_->text().trimmed().toStdString();
  j["output_dir"] = output_->text().trimmed().toStdString();
  nlohmann::json targets = nlohmann::json::array();
  for (int i = 0; i < targets_.size(); ++i)
    if (targets_[i]->isChecked()) targets.push_back(kTargets[i]);
  j["lora"] = {{"rank", rank_->value()}, {"alpha", alpha_->value()}, {"dropout", dropout_->value()}, {"targets", targets}};
  j["optim"] = {{"lr", lr_->value()},
                {"schedule", schedule_->currentText().toStdString()},
                {"epochs", epochs_->value()},
                {"max_steps", max_steps_->value()},
                {"batch_size", batch_->value()},
                {"grad_accum", grad_accum_->value()}};
  j["max_seq_len"] = cutoff_->value();
  j["precision"] = precision_->currentData().toString().toStdString();
  if (eval_split_->value() > 0) j["eval"] = {{"split", eval_split_->value()}};
  if (patience_->value() > 0) j["early_stopping"] = {{"patience", patience_->value()}, {"min_delta", min_delta_->value()}};
  if (checkpoint_every_->value() > 0) j["checkpoint"] = {{"every", checkpoint_every_->value()}};
  return j;
}

void TrainingPanel::validate() {
  train::TrainConfig cfg;
  const auto problems = train::parse_train_config(configJson(), &cfg, /*check_files=*/true);
  problems_text_.clear();
  problem_list_->clear();
  for (const auto& p : problems) {
    const QString line = QStringLiteral("%1: %2").arg(QString::fromStdString(p.path), QString::fromStdString(p.reason));
    problems_text_ << line;
    problem_list_->addItem(line);
  }
  if (problems.empty()) problem_list_->addItem(tr("The job is valid."));
  if (!queue_) problem_list_->addItem(tr("The job queue cannot be opened: %1").arg(queue_error_));
  submit_->setEnabled(problems.empty() && queue_);
}

qint64 TrainingPanel::submitJob() {
  if (!problems_text_.isEmpty() || !queue_) return 0;
  auto id = queue_->submit(configJson().dump(), priority_->value());
  refreshQueue();
  return id ? *id : 0;
}

QString TrainingPanel::stateName(int state) {
  switch (static_cast<JobState>(state)) {
    case JobState::kQueued: return tr("queued");
    case JobState::kRunning: return tr("running");
    case JobState::kPaused: return tr("paused");
    case JobState::kDone: return tr("done");
    case JobState::kCancelled: return tr("cancelled");
    case JobState::kFailed: return tr("failed");
  }
  return {};
}

qint64 TrainingPanel::selectedJob() const {
  const int r = jobs_->currentRow();
  return r < 0 ? 0 : jobs_->item(r, 0)->text().toLongLong();
}

void TrainingPanel::refreshQueue() {
  const qint64 keep = selectedJob();
  const QSignalBlocker block(jobs_);  // the selection is put back below
  jobs_->setRowCount(0);
  if (!queue_) return;
  auto list = queue_->list();
  if (!list) return;
  for (const auto& j : *list) {
    const int r = jobs_->rowCount();
    jobs_->insertRow(r);
    const QString cells[] = {QString::number(j.id), QString::number(j.priority), stateName(static_cast<int>(j.state)),
                             QString::fromStdString(j.message)};
    for (int c = 0; c < 4; ++c) jobs_->setItem(r, c, new QTableWidgetItem(cells[c]));
    if (j.id == keep) jobs_->selectRow(r);
  }
}

void TrainingPanel::showJobCheckpoints() {
  const qint64 id = selectedJob();
  if (!id || !queue_) return;
  auto job = queue_->get(id);
  if (!job) return;
  const auto cfg = nlohmann::json::parse(job->config, nullptr, false);
  checkpoints_->setRun(cfg.is_object() ? QString::fromStdString(cfg.value("output_dir", std::string())) : QString());
}

void TrainingPanel::setGpuStatus(const QString& text) { gpu_->setText(text); }

qint64 TrainingPanel::resumeFromCheckpoint(const QString& checkpoint_dir) {
  auto fail = [this](const QString& why) {
    progress_->setText(why);
    // Not exec(): the runner's events keep flowing while the message is up.
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Resume from checkpoint"), why, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    return qint64{0};
  };
  if (!queue_) return fail(queue_error_);
  auto ck = CheckpointStore(QFileInfo(checkpoint_dir).absolutePath().toStdString()).load(checkpoint_dir.toStdString());
  if (!ck) return fail(QString::fromStdString(ck.error().to_string()));
  // The job that wrote it: the one whose output_dir holds this checkpoints/ folder.
  QDir run(checkpoint_dir);
  run.cdUp();
  run.cdUp();
  auto jobs = queue_->list();
  if (!jobs) return fail(QString::fromStdString(jobs.error().to_string()));
  for (const auto& j : *jobs) {
    auto cfg = nlohmann::json::parse(j.config, nullptr, false);
    if (!cfg.is_object() || QDir(QString::fromStdString(cfg.value("output_dir", std::string()))) != run) continue;
    const QString branch = run.path() + QStringLiteral("-from-step%1").arg(ck->state.step);
    const QDir dest(QDir(branch).filePath(QStringLiteral("checkpoints/") + QFileInfo(checkpoint_dir).fileName()));
    if (QFileInfo::exists(branch)) return fail(tr("%1 already exists: a run from this checkpoint was queued before.").arg(branch));
    if (!QDir().mkpath(dest.path())) return fail(tr("Cannot create %1.").arg(dest.path()));
    for (const QFileInfo& f : QDir(checkpoint_dir).entryInfoList(QDir::Files))
      if (!QFile::copy(f.absoluteFilePath(), dest.filePath(f.fileName()))) return fail(tr("Cannot copy %1.").arg(f.absoluteFilePath()));
    cfg["output_dir"] = branch.toStdString();
    auto id = queue_->submit(cfg.dump(), j.priority, j.name.empty() ? std::string() : j.name + "-from-step" + std::to_string(ck->state.step));
    if (!id) return fail(QString::fromStdString(id.error().to_string()));
    refreshQueue();
    progress_->setText(tr("Queued job %1: it continues from step %2 in %3. Press Start to run it.").arg(*id).arg(ck->state.step).arg(branch));
    return *id;
  }
  return fail(tr("No job in the queue wrote %1.").arg(checkpoint_dir));
}

void TrainingPanel::addProgress(const train::TrainEvent& e) {
  if (e.kind == train::TrainEvent::Kind::kStep) {
    loss_chart_->addPoint(0, double(e.step), e.loss);
    lr_chart_->addPoint(0, double(e.step), e.lr * 1000.0);
    lr_chart_->addPoint(1, double(e.step), e.grad_norm);
    speed_chart_->addPoint(0, double(e.step), e.tokens_per_s);
  }
  if (e.eval_loss) loss_chart_->addPoint(1, double(e.step), *e.eval_loss);
  progress_->setProperty("live", true);
  progress_->setText(tr("Step %1 of %2 · epoch %3 · loss %4 · %5 tokens/s · ETA %6 s")
                         .arg(e.step)
                         .arg(e.total_steps)
                         .arg(e.epoch, 0, 'f', 2)
                         .arg(e.loss, 0, 'f', 4)
                         .arg(e.tokens_per_s, 0, 'f', 0)
                         .arg(e.eta_s, 0, 'f', 0));
}

}  // namespace cyllm::ui
