// Shown when no model is loaded at start: fetch the default model (SmolLM2-135M-Instruct) by
// running scripts/fetch-model.sh with a progress bar and cancel, or open a GGUF file. The command
// is also shown, to run by hand.
#pragma once

#include <QDialog>
#include <QProcess>

class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace cyllm::ui {

class FirstRunDialog : public QDialog {
  Q_OBJECT
 public:
  // fetch_script: the script that fetches the default model (run with bash; its stderr ends with
  // "model: PATH (...)").
  FirstRunDialog(const QString& fetch_script, QWidget* parent = nullptr);
  ~FirstRunDialog() override;
  QString chosenModel() const { return chosen_; }
  // Starts / cancels the fetch (what the buttons do).
  void startFetch();
  void cancelFetch();
  bool fetching() const { return proc_ && proc_->state() != QProcess::NotRunning; }
  QString statusText() const;
  int progressValue() const;
  void retranslateUi();

 signals:
  void fetchFinished(bool ok);

 protected:
  void changeEvent(QEvent* e) override;
  void reject() override;

 private:
  void onOutput();
  void onFinished(int code, QProcess::ExitStatus status);

  QString script_;
  QString chosen_;
  QString output_;  // stderr so far (the last lines are shown)
  QProcess* proc_ = nullptr;
  bool cancelled_ = false;
  QLabel* intro_;
  QLabel* fetch_label_;
  QLineEdit* command_;
  QProgressBar* bar_;
  QLabel* status_;
  QPushButton* fetch_;
  QPushButton* cancel_;
  QPushButton* open_;
  QPushButton* later_;
};

}  // namespace cyllm::ui
