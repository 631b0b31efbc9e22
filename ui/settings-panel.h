// The Settings panel: language (switches at once), model loading options (threads, context,
// model to open at start) and where the data lives. Everything is kept with QSettings; the main
// window saves and restores its own geometry and state.
#pragma once

#include <QWidget>

class QCheckBox;
class QComboBox;
class QFormLayout;
class QGroupBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace cyllm::ui {

class SettingsPanel : public QWidget {
  Q_OBJECT
 public:
  explicit SettingsPanel(const QString& data_dir, QWidget* parent = nullptr);
  ~SettingsPanel() override;

  // Switches the application's language ("en", "zh_CN"); false when it is not available.
  bool setLanguage(const QString& code);
  int threads() const;
  int contextTokens() const;
  QString startupModel() const;
  void setStartupModel(const QString& path);
  void retranslateUi();

 signals:
  void languageChanged(const QString& code);

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void save();
  QGroupBox* general_box_;
  QFormLayout* general_;
  QComboBox* language_;
  QGroupBox* model_box_;
  QFormLayout* model_form_;
  QLineEdit* model_;
  QPushButton* browse_;
  QCheckBox* load_at_start_;
  QSpinBox* threads_;
  QSpinBox* ctx_;
  QLabel* data_dir_;
  QLabel* note_;
};

}  // namespace cyllm::ui
