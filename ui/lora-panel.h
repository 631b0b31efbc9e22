// The LoRA manager (skeleton): adapters found on disk (PEFT folders with adapter_config.json, and
// GGUF LoRA files) in a chosen folder, the adapters loaded in the engine, and the maximum number
// resident.
//
// TODO(issue 11): back "loaded" with serve/adapter-registry.h owned by the EngineHost (load,
// unload, preload, max resident, provenance warnings), let the Chat panel's adapter picker pass the
// chosen lease as ServeRequest::lora, and add export (model/adapter-io.h: PEFT or GGUF LoRA) and
// merge into the base. The buttons are present and disabled until then.
#pragma once

#include <QWidget>

class QFormLayout;
class QGroupBox;
class QLabel;
class QListWidget;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace cyllm::ui {

class LoraPanel : public QWidget {
  Q_OBJECT
 public:
  explicit LoraPanel(QWidget* parent = nullptr);
  ~LoraPanel() override;
  void setFolder(const QString& dir);
  void rescan();
  int adapterCount() const;
  void retranslateUi();

 protected:
  void changeEvent(QEvent* e) override;

 private:
  QString dir_;
  QGroupBox* disk_box_;
  QLabel* folder_;
  QPushButton* choose_;
  QPushButton* rescan_;
  QTableWidget* disk_;
  QGroupBox* loaded_box_;
  QListWidget* loaded_;
  QFormLayout* limits_;
  QSpinBox* max_resident_;
  QPushButton* load_;
  QPushButton* unload_;
  QPushButton* preload_;
  QPushButton* export_;
  QPushButton* merge_;
};

}  // namespace cyllm::ui
