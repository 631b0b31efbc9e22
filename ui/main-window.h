// The workbench's main window: a sidebar of panels (Chat, Datasets, Training, LoRA, Metrics,
// Server, Settings) over a stacked widget, and a status bar with the device, the loaded model,
// the memory in use and the server state. It owns the engine host, the server host and the chat
// history, and shuts them down in order on close (answers in flight are saved first).
#pragma once

#include <memory>

#include <QMainWindow>
#include <QTimer>

class QLabel;
class QListWidget;
class QStackedWidget;

namespace cyllm::workbench {
class ChatStore;
class EngineHost;
class ServerHost;
}  // namespace cyllm::workbench

namespace cyllm {
class GpuMonitor;
}

namespace cyllm::ui {

class ChatPanel;
class DatasetsPanel;
class LoraPanel;
class MetricsPanel;
class ServerPanel;
class SettingsPanel;
class TrainingPanel;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  enum Panel { kChat, kDatasets, kTraining, kLora, kMetrics, kServer, kSettings, kPanelCount };
  // data_dir: keys, audit log, chat history and job queue ("" : the default data folder).
  explicit MainWindow(const QString& data_dir = {}, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Opens the model from the settings or the default model when found; otherwise, when
  // `ask` is true, offers the first-run dialog.
  void startup(bool ask);
  void openModel(const QString& path);
  void showPanel(Panel p);
  QWidget* panel(Panel p) const;
  static QString panelKey(Panel p);  // "chat", "datasets", ... (file names of screenshots)
  // The default model if found: $CYLLM_MODELS_DIR, ./models or models/ above the executable.
  static QString findDefaultModel();
  static QString fetchCommand();

  workbench::EngineHost* engine() const { return engine_.get(); }
  workbench::ServerHost* server() const { return server_.get(); }
  ChatPanel* chat() const { return chat_; }
  DatasetsPanel* datasets() const { return datasets_; }
  TrainingPanel* training() const { return training_; }
  LoraPanel* lora() const { return lora_; }
  MetricsPanel* metrics() const { return metrics_; }
  ServerPanel* serverPanel() const { return server_panel_; }
  SettingsPanel* settings() const { return settings_; }
  QListWidget* sidebar() const { return sidebar_; }
  void retranslateUi();
  // Loads a training checkpoint's adapter into the engine and selects it in the Chat panel (what
  // the Training panel's "Use as adapter" does); the adapter's name, or "" with a message shown.
  QString serveCheckpoint(const QString& checkpoint_dir);
  // "GPU: H100 · 87% · 5.1 / 80 GiB" from NVML, or why there is none.
  QString gpuStatus() const { return gpu_text_; }

 protected:
  void closeEvent(QCloseEvent* e) override;
  void changeEvent(QEvent* e) override;

 private:
  void chooseModel();
  void updateStatus();
  void shutdown();

  QString data_dir_;
  std::unique_ptr<workbench::EngineHost> engine_;
  std::unique_ptr<workbench::ServerHost> server_;
  std::unique_ptr<workbench::ChatStore> store_;
  bool shut_down_ = false;

  QListWidget* sidebar_;
  QStackedWidget* stack_;
  ChatPanel* chat_;
  DatasetsPanel* datasets_;
  TrainingPanel* training_;
  LoraPanel* lora_;
  MetricsPanel* metrics_;
  ServerPanel* server_panel_;
  SettingsPanel* settings_;
  QLabel* device_;
  QLabel* model_;
  QLabel* memory_;
  QLabel* server_state_;
  QLabel* gpu_;
  std::unique_ptr<GpuMonitor> gpu_monitor_;
  QString gpu_text_;
  QTimer status_timer_;
  QString model_state_;  // "", "loading", "failed"
  QString device_text_;  // probed once
};

}  // namespace cyllm::ui
