// The Training panel's checkpoint list: every checkpoint of one training run (its output_dir's
// checkpoints/ folder, train/checkpoint.h) with step, loss, eval loss, when it was written and its
// size; the best eval loss is marked and broken ones say why. "Resume from here" and "Use as
// adapter" act on the selected one (the panel and the main window handle the requests).
#pragma once

#include <QGroupBox>
#include <QString>

class QLabel;
class QPushButton;
class QTableWidget;

namespace cyllm::ui {

class CheckpointList : public QGroupBox {
  Q_OBJECT
 public:
  explicit CheckpointList(QWidget* parent = nullptr);
  // The run's output_dir ("" clears the list).
  void setRun(const QString& output_dir);
  QString run() const { return run_; }
  void refresh();
  int count() const;
  // Selects the row of this step (false: none).
  bool selectStep(qint64 step);
  QString selectedDir() const;
  void retranslateUi();

 signals:
  void resumeRequested(const QString& checkpoint_dir);
  void serveRequested(const QString& checkpoint_dir);

 private:
  void updateButtons();
  QString run_;
  QTableWidget* table_;
  QLabel* empty_;
  QPushButton* resume_;
  QPushButton* serve_;
};

}  // namespace cyllm::ui
