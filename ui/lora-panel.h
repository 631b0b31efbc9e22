// The LoRA manager: adapters on disk (a chosen folder: PEFT folders and GGUF LoRA files, see
// adapter-scan.h) and adapters registered with the engine (the EngineHost's AdapterRegistry, which
// the chat and the server share).
//
// - Load registers the selected file (resident now if a slot is free, else on first use);
//   Preload also makes it resident now, evicting the least recently used idle adapter.
// - Unload forgets a registered adapter; requests already using it finish with it. "Max resident"
//   is the registry's limit of file-backed adapters in memory (idle ones beyond it are evicted).
// - Export writes the selected adapter in the other format (PEFT folder or GGUF LoRA file);
//   Merge into base folds it into the loaded model's weights and writes a standalone GGUF on a
//   worker thread (a busy bar shows meanwhile; the result and the rounding report follow).
// - Provenance: an adapter recorded with another chat template or EOS than the model's is marked
//   in the loaded table (the message names both template hashes) and reported in the status line.
// The loaded table is refreshed on every change the workbench makes and, while shown, once a
// second (the server's admin endpoints change the same registry; "in use" changes with requests).
#pragma once

#include <QList>
#include <QWidget>

#include "ui/adapter-scan.h"

class QFormLayout;
class QGroupBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QThread;
class QTimer;

namespace cyllm::workbench {
class EngineHost;
}

namespace cyllm::ui {

class LoraPanel : public QWidget {
  Q_OBJECT
 public:
  // engine may be null (then nothing can be loaded; the disk list still works).
  explicit LoraPanel(workbench::EngineHost* engine, QWidget* parent = nullptr);
  ~LoraPanel() override;
  void setFolder(const QString& dir);
  void rescan();
  int adapterCount() const;
  void retranslateUi();

  // The actions behind the buttons, for the buttons and tests; each returns "" or the error (also
  // shown in the status line).
  QString loadAdapter(const QString& path, bool preload);
  QString unloadAdapter(const QString& name);
  QString setMaxResident(int n);
  QString exportAdapter(const QString& path, const QString& out, bool gguf);
  // Starts the merge on a worker thread; mergeFinished follows ("" or the error).
  QString startMerge(const QString& path, const QString& out, const QString& type = QStringLiteral("f16"));
  bool merging() const { return merge_thread_ != nullptr; }
  QString statusText() const;

 signals:
  void mergeFinished(const QString& error);

 protected:
  void changeEvent(QEvent* e) override;
  void showEvent(QShowEvent* e) override;
  void hideEvent(QHideEvent* e) override;

 private:
  void refreshLoaded();
  void updateButtons();
  void setStatus(const QString& text, bool error);
  QString selectedDiskPath() const;
  QString selectedLoadedName() const;
  void chooseExport(bool gguf);
  void chooseMerge();

  workbench::EngineHost* engine_;
  QString dir_;
  QList<DiskAdapter> disk_rows_;
  QGroupBox* disk_box_;
  QLabel* folder_;
  QPushButton* choose_;
  QPushButton* rescan_;
  QTableWidget* disk_;
  QPushButton* load_;
  QPushButton* preload_;
  QPushButton* export_;
  QPushButton* merge_;
  QGroupBox* loaded_box_;
  QTableWidget* loaded_;
  QFormLayout* limits_;
  QSpinBox* max_resident_;
  QPushButton* unload_;
  QPushButton* make_resident_;
  QProgressBar* busy_;
  QLabel* status_;
  QTimer* refresh_;
  QThread* merge_thread_ = nullptr;
};

}  // namespace cyllm::ui
