// The chat transcript: one MessageView per message (role, the text rendered as Markdown through
// QTextDocument::setMarkdown, and the answer's stats), in a scroll area that follows the stream.
#pragma once

#include <QFrame>
#include <QList>
#include <QScrollArea>

class QLabel;
class QTextBrowser;
class QToolButton;
class QVBoxLayout;

namespace cyllm::ui {

class MessageView : public QFrame {
  Q_OBJECT
 public:
  MessageView(const QString& role, bool editable, QWidget* parent = nullptr);
  QString role() const { return role_; }
  void setText(const QString& markdown);
  void appendText(const QString& more);
  QString text() const { return text_; }            // the Markdown source
  QString renderedText() const;                     // what the reader sees
  void setStats(const QString& line);
  QString stats() const;
  void retranslateUi();

 signals:
  void editRequested(MessageView* self);

 protected:
  bool eventFilter(QObject* o, QEvent* e) override;
  void changeEvent(QEvent* e) override;

 private:
  void fitHeight();
  int fitted_width_ = -1;
  QString role_;
  QString text_;
  QLabel* who_;
  QTextBrowser* body_;
  QLabel* stats_;
  QToolButton* edit_ = nullptr;
};

class ChatView : public QScrollArea {
  Q_OBJECT
 public:
  explicit ChatView(QWidget* parent = nullptr);
  MessageView* addMessage(const QString& role, const QString& markdown);
  void clear();
  // Removes the message at `index` and every later one.
  void truncate(int index);
  QList<MessageView*> messages() const { return messages_; }
  int indexOf(MessageView* m) const { return messages_.indexOf(m); }
  void scrollToEnd();
  // Whether user messages get an Edit button (off for the compare view).
  void setEditable(bool on) { editable_ = on; }

 signals:
  void editRequested(int index);

 private:
  QWidget* box_;
  QVBoxLayout* layout_;
  QList<MessageView*> messages_;
  bool editable_ = true;
};

}  // namespace cyllm::ui
