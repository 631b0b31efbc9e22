#include "ui/main-window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMessageBox>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>

#include "backend/gpu-monitor.h"
#include "server/server-config.h"
#include "ui/chat-panel.h"
#include "ui/datasets-panel.h"
#include "ui/first-run.h"
#include "ui/lora-panel.h"
#include "ui/metrics-panel.h"
#include "ui/server-panel.h"
#include "ui/settings-panel.h"
#include "ui/training-panel.h"
#include "ui/translator.h"
#include "workbench/chat-store.h"
#include "workbench/engine-host.h"
#include "workbench/server-host.h"

namespace cyllm::ui {

namespace {
constexpr const char* kDefaultModel = "SmolLM2-135M-Instruct.Q4_1.gguf";
}

MainWindow::MainWindow(const QString& data_dir, QWidget* parent) : QMainWindow(parent), data_dir_(data_dir) {
  if (data_dir_.isEmpty()) data_dir_ = QString::fromStdString(server::default_data_dir());
  QDir().mkpath(data_dir_);
  engine_ = std::make_unique<workbench::EngineHost>();
  server_ = std::make_unique<workbench::ServerHost>(engine_.get(), data_dir_);
  store_ = std::make_unique<workbench::ChatStore>(QDir(data_dir_).filePath(QStringLiteral("chat.sqlite")));

  auto* central = new QWidget(this);
  auto* row = new QHBoxLayout(central);
  row->setContentsMargins(0, 0, 0, 0);
  row->setSpacing(0);
  sidebar_ = new QListWidget(central);
  sidebar_->setObjectName(QStringLiteral("sidebar"));
  sidebar_->setFixedWidth(150);
  stack_ = new QStackedWidget(central);
  chat_ = new ChatPanel(engine_.get(), store_.get(), stack_);
  datasets_ = new DatasetsPanel(engine_.get(), stack_);
  training_ = new TrainingPanel(QDir(data_dir_).filePath(QStringLiteral("jobs.sqlite")), stack_);
  lora_ = new LoraPanel(engine_.get(), stack_);
  metrics_ = new MetricsPanel(engine_.get(), server_.get(), stack_);
  server_panel_ = new ServerPanel(server_.get(), stack_);
  settings_ = new SettingsPanel(data_dir_, stack_);
  for (QWidget* w : {static_cast<QWidget*>(chat_), static_cast<QWidget*>(datasets_), static_cast<QWidget*>(training_),
                     static_cast<QWidget*>(lora_), static_cast<QWidget*>(metrics_), static_cast<QWidget*>(server_panel_),
                     static_cast<QWidget*>(settings_)}) {
    stack_->addWidget(w);
    sidebar_->addItem(QString());
  }
  row->addWidget(sidebar_);
  row->addWidget(stack_, 1);
  setCentralWidget(central);
  connect(sidebar_, &QListWidget::currentRowChanged, stack_, &QStackedWidget::setCurrentIndex);

  device_ = new QLabel(this);
  model_ = new QLabel(this);
  model_->setObjectName(QStringLiteral("status-model"));
  memory_ = new QLabel(this);
  server_state_ = new QLabel(this);
  server_state_->setObjectName(QStringLiteral("status-server"));
  gpu_ = new QLabel(this);
  gpu_->setObjectName(QStringLiteral("status-gpu"));
  gpu_monitor_ = std::make_unique<GpuMonitor>();
  statusBar()->addPermanentWidget(device_);
  statusBar()->addPermanentWidget(gpu_);
  statusBar()->addPermanentWidget(model_, 1);
  statusBar()->addPermanentWidget(memory_);
  statusBar()->addPermanentWidget(server_state_);

  // All of these objects live on the GUI thread: direct connections. (EngineHost does its own
  // queuing from the engine thread.)
  connect(chat_, &ChatPanel::openModelRequested, this, &MainWindow::chooseModel);
  connect(chat_, &ChatPanel::modelChosen, this, &MainWindow::openModel);
  connect(engine_.get(), &workbench::EngineHost::modelLoading, this, [this] {
    model_state_ = QStringLiteral("loading");
    updateStatus();
  });
  connect(engine_.get(), &workbench::EngineHost::modelLoaded, this, [this] {
    model_state_.clear();
    settings_->setStartupModel(engine_->modelPath());
    updateStatus();
  });
  connect(engine_.get(), &workbench::EngineHost::modelFailed, this, [this](const QString& why) {
    model_state_ = QStringLiteral("failed");
    updateStatus();
    if (isVisible()) QMessageBox::warning(this, tr("Open model"), why);
  });
  connect(server_.get(), &workbench::ServerHost::stateChanged, this, &MainWindow::updateStatus);
  connect(training_, &TrainingPanel::serveCheckpointRequested, this, &MainWindow::serveCheckpoint);
  status_timer_.setInterval(1000);
  connect(&status_timer_, &QTimer::timeout, this, &MainWindow::updateStatus);
  status_timer_.start();

  QSettings st;
  restoreGeometry(st.value(QStringLiteral("window/geometry")).toByteArray());
  restoreState(st.value(QStringLiteral("window/state")).toByteArray());
  if (!st.contains(QStringLiteral("window/geometry"))) resize(1280, 800);
  sidebar_->setCurrentRow(std::clamp(st.value(QStringLiteral("window/panel"), 0).toInt(), 0, kPanelCount - 1));
  const QString lang = st.value(QStringLiteral("ui/language"), QStringLiteral("en")).toString();
  if (lang != currentLanguage()) settings_->setLanguage(lang);
  retranslateUi();
}

MainWindow::~MainWindow() {
  shutdown();
  delete centralWidget();  // panels go before the engine, server and store they point to
}

QString MainWindow::panelKey(Panel p) {
  static const char* keys[] = {"chat", "datasets", "training", "lora", "metrics", "server", "settings"};
  return QString::fromLatin1(keys[p]);
}

QWidget* MainWindow::panel(Panel p) const { return stack_->widget(p); }

void MainWindow::showPanel(Panel p) { sidebar_->setCurrentRow(p); }

void MainWindow::retranslateUi() {
  setWindowTitle(tr("CY-LLM Workbench"));
  const QString names[] = {tr("Chat"), tr("Datasets"), tr("Training"), tr("LoRA"), tr("Metrics"), tr("Server"), tr("Settings")};
  for (int i = 0; i < kPanelCount; ++i) sidebar_->item(i)->setText(names[i]);
  device_text_.clear();  // re-worded in the new language at the next update
  updateStatus();
}

void MainWindow::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QMainWindow::changeEvent(e);
}

void MainWindow::updateStatus() {
  if (device_text_.isEmpty()) device_text_ = workbench::EngineHost::deviceDescription();
  device_->setText(tr("Device: %1").arg(device_text_));
  if (engine_->hasModel()) model_->setText(tr("Model: %1").arg(engine_->modelName()));
  else if (model_state_ == QLatin1String("loading")) model_->setText(tr("Model: loading…"));
  else model_->setText(tr("Model: none"));
  memory_->setText(tr("Memory: %1 MiB").arg(workbench::EngineHost::memoryInUse() / (1024 * 1024)));
  server_state_->setText(server_->running() ? tr("Server: %1").arg(server_->url()) : tr("Server: off"));
  // GPU utilisation (NVML), shown in the status bar and beside the training progress.
  const auto gpus = gpu_monitor_->sample();
  if (gpus.empty()) {
    gpu_text_ = tr("GPU: none");
    gpu_->setToolTip(QString::fromStdString(gpu_monitor_->unavailable_reason()));
  } else {
    const GpuSample& g = gpus.front();
    gpu_text_ = tr("GPU: %1 · %2% · %3 / %4 GiB")
                    .arg(QString::fromStdString(g.name))
                    .arg(g.utilization_pct)
                    .arg(double(g.memory_used) / double(1ull << 30), 0, 'f', 1)
                    .arg(double(g.memory_total) / double(1ull << 30), 0, 'f', 0);
    gpu_->setToolTip(tr("Kernels running %1% of the time; device memory busy %2%").arg(g.utilization_pct).arg(g.memory_busy_pct));
  }
  gpu_->setText(gpu_text_);
  training_->setGpuStatus(gpus.empty() ? tr("GPU: none (training runs on the CPU)") : gpu_text_);
}

QString MainWindow::serveCheckpoint(const QString& checkpoint_dir) {
  auto warn = [this](const QString& text) {
    statusBar()->showMessage(text, 10000);
    // Not exec(): generation and training keep reporting while the message is up.
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Use as adapter"), text, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    return QString();
  };
  if (!engine_->hasModel()) return warn(tr("Load the base model first (Chat panel), then use the checkpoint."));
  const workbench::AdapterLoad r = engine_->serveCheckpoint(checkpoint_dir);
  if (!r.ok()) return warn(r.error);
  chat_->selectAdapter(r.name);
  showPanel(kChat);
  statusBar()->showMessage(tr("Adapter %1 is loaded: the chat uses it now, and the server serves it by that name.").arg(r.name), 10000);
  return r.name;
}

QString MainWindow::findDefaultModel() {
  QStringList dirs;
  if (const QByteArray env = qgetenv("CYLLM_MODELS_DIR"); !env.isEmpty()) dirs << QString::fromLocal8Bit(env);
  dirs << QDir::current().filePath(QStringLiteral("models"));
  QDir d(QCoreApplication::applicationDirPath());
  for (int up = 0; up < 4 && d.cdUp(); ++up) dirs << d.filePath(QStringLiteral("models"));
  for (const QString& dir : dirs) {
    const QString p = QDir(dir).filePath(QString::fromLatin1(kDefaultModel));
    if (QFileInfo::exists(p)) return p;
  }
  return {};
}

QString MainWindow::fetchCommand() {
  QDir d(QCoreApplication::applicationDirPath());
  for (int up = 0; up < 4 && d.cdUp(); ++up)
    if (QFileInfo::exists(d.filePath(QStringLiteral("scripts/fetch-model.sh"))))
      return d.filePath(QStringLiteral("scripts/fetch-model.sh"));
  if (QFileInfo::exists(QStringLiteral("scripts/fetch-model.sh"))) return QDir::current().filePath(QStringLiteral("scripts/fetch-model.sh"));
  return QStringLiteral("scripts/fetch-model.sh");
}

void MainWindow::startup(bool ask) {
  QString path = settings_->startupModel();
  if (path.isEmpty() || !QFileInfo::exists(path)) path = findDefaultModel();
  if (!path.isEmpty()) {
    openModel(path);
    return;
  }
  if (!ask) return;
  FirstRunDialog d(fetchCommand(), this);
  if (d.exec() == QDialog::Accepted && !d.chosenModel().isEmpty()) openModel(d.chosenModel());
}

void MainWindow::openModel(const QString& path) {
  engine_->loadModel(path, settings_->threads(), settings_->contextTokens());
}

void MainWindow::chooseModel() {
  const QString p = QFileDialog::getOpenFileName(this, tr("Open a GGUF model"), QFileInfo(engine_->modelPath()).absolutePath(),
                                                 tr("GGUF models (*.gguf)"));
  if (!p.isEmpty()) openModel(p);
}

void MainWindow::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  QSettings st;
  st.setValue(QStringLiteral("window/geometry"), saveGeometry());
  st.setValue(QStringLiteral("window/state"), saveState());
  st.setValue(QStringLiteral("window/panel"), sidebar_->currentRow());
  server_->stop();
  // The running training job stops after its current step with a checkpoint (queued again).
  training_->stopRunner();
  // Cancels generation and delivers every pending token and finish now, so the chat panel saves
  // the partial answers before anything is torn down.
  engine_->drain();
}

void MainWindow::closeEvent(QCloseEvent* e) {
  shutdown();
  e->accept();
}

}  // namespace cyllm::ui
