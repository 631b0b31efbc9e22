// The Server panel: an on/off switch for the OpenAI-compatible server (the same HttpServer that
// `cyllm serve` runs) over the loaded model, host and port, rate limits, API keys (create — the
// key is shown once — rotate, revoke; tenant, expiry and state listed) and a live request log
// read from the audit store.
#pragma once

#include <QTimer>
#include <QWidget>

class QCheckBox;
class QFormLayout;
class QGroupBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTableWidget;

namespace cyllm::workbench {
class ServerHost;
}

namespace cyllm::ui {

class ServerPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ServerPanel(workbench::ServerHost* server, QWidget* parent = nullptr);
  ~ServerPanel() override;

  // What the switch does; returns "" or why it could not start.
  QString setServing(bool on);
  void setAddress(const QString& host, int port);
  // Creates a key and returns its plaintext (the dialog shows it once); "" on failure.
  QString createKey(const QString& tenant, int expires_days, bool show_dialog = true);
  void refreshKeys();
  void pollLog();
  QTableWidget* keyTable() const { return keys_; }
  QTableWidget* logTable() const { return log_; }
  void retranslateUi();

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void onState(bool running, const QString& url);
  qint64 selectedKey() const;

  workbench::ServerHost* server_;
  QTimer poll_;
  qint64 last_ts_ = 0;

  QGroupBox* listen_box_;
  QFormLayout* listen_form_;
  QLineEdit* host_;
  QSpinBox* port_;
  QSpinBox* key_rpm_;
  QSpinBox* tenant_rpm_;
  QPushButton* toggle_;
  QLabel* state_;
  QGroupBox* keys_box_;
  QTableWidget* keys_;
  QPushButton* create_;
  QPushButton* rotate_;
  QPushButton* revoke_;
  QGroupBox* log_box_;
  QTableWidget* log_;
};

}  // namespace cyllm::ui
