// The chat playground over the EngineHost's Scheduler: a conversation list (SQLite history), the
// system prompt, sampling parameters with presets, streamed answers rendered as Markdown, stop,
// regenerate and edit-and-resend, and tokens/s and TTFT under each answer.
#pragma once

#include <QList>
#include <QWidget>

#include "workbench/engine-host.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QSplitter;
class QFormLayout;

namespace cyllm::workbench {
class ChatStore;
}

namespace cyllm::ui {

class ChatView;
class MessageView;

class ChatPanel : public QWidget {
  Q_OBJECT
 public:
  ChatPanel(workbench::EngineHost* engine, workbench::ChatStore* store, QWidget* parent = nullptr);
  ~ChatPanel() override;

  // Sends `text` as the user (what the Send button does with the input box).
  void send(const QString& text);
  void stop();
  void regenerate();
  void newConversation();
  void openConversation(qint64 id);
  bool generating() const { return active_ != 0 || active_b_ != 0; }
  // Side-by-side compare: every prompt also goes to configuration B (its own sampling; later its
  // own adapter), answered into a second transcript at the same time. B's answers are not kept.
  void setCompare(bool on);
  bool comparing() const;
  void setParamsB(const workbench::ChatParams& p);
  workbench::ChatParams paramsB() const;
  ChatView* viewB() const { return view_b_; }
  qint64 currentConversation() const { return conv_; }
  ChatView* view() const { return view_; }
  workbench::ChatParams params() const;
  void setParams(const workbench::ChatParams& p);
  void setSystemPrompt(const QString& s);
  // Loads a LoRA adapter for the chat and selects it (what "Open adapter..." does); false (and a
  // message shown) when it cannot be loaded.
  bool addAdapter(const QString& path);
  // Chooses a registered adapter for A ("": the base model); false when it is not registered.
  bool selectAdapter(const QString& name);
  void refreshAdapters();
  void retranslateUi();

 signals:
  void openModelRequested();
  void modelChosen(const QString& path);  // picked from the recent models
  void generationStarted();
  void generationDone();

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void startGeneration();
  void onText(quint64 id, const QString& text);
  void onFinished(quint64 id, const workbench::GenerationStats& s);
  void applyPreset(int index);
  void refreshConversations();
  void updateButtons();
  void onModelChanged();
  void refreshModels();
  QString statsLine(const workbench::GenerationStats& s) const;

  workbench::EngineHost* engine_;
  workbench::ChatStore* store_;
  qint64 conv_ = 0;
  QList<qint64> ids_;  // database ids of the view's messages, in order
  quint64 active_ = 0;
  MessageView* answer_ = nullptr;
  quint64 active_b_ = 0;
  MessageView* answer_b_ = nullptr;
  int editing_ = -1;   // index of the user message being edited, or -1
  bool applying_preset_ = false;

  QListWidget* conversations_;
  QPushButton* new_;
  QPushButton* delete_;
  QLabel* model_label_;
  QComboBox* models_;  // recently opened models; the current one is loaded
  QPushButton* open_model_;
  QLabel* adapter_label_;
  QComboBox* adapter_;
  QGroupBox* system_box_;
  QPlainTextEdit* system_;
  QGroupBox* sampling_box_;
  QFormLayout* sampling_form_;
  QComboBox* preset_;
  QDoubleSpinBox* temperature_;
  QDoubleSpinBox* top_p_;
  QSpinBox* top_k_;
  QSpinBox* max_tokens_;
  QSpinBox* seed_;
  ChatView* view_;
  QSplitter* views_;
  QWidget* b_box_;
  ChatView* view_b_;
  QLabel* b_label_;
  QComboBox* b_preset_;
  QDoubleSpinBox* b_temperature_;
  QSpinBox* b_seed_;
  QComboBox* b_adapter_;  // B's adapter: the base model or one of the loaded adapters
  QCheckBox* compare_;
  QPlainTextEdit* input_;
  QPushButton* send_;
  QPushButton* stop_;
  QPushButton* regenerate_;
  QLabel* status_;
};

}  // namespace cyllm::ui
