// Chat history in SQLite (Qt SQL, QSQLITE driver): conversations with their system prompt and
// messages with the stats shown under each answer. GUI thread only (one named connection per
// store). Values are always bound, never spliced into SQL.
#pragma once

#include <QList>
#include <QString>

namespace cyllm::workbench {

struct StoredMessage {
  qint64 id = 0;
  QString role;  // system, user, assistant
  QString content;
  double ttft_ms = 0;
  double tokens_per_s = 0;
  QString finish_reason;
};

struct StoredConversation {
  qint64 id = 0;
  QString title;
  QString system_prompt;
  qint64 updated_ms = 0;
};

class ChatStore {
 public:
  // path: the database file (created with its tables when missing).
  explicit ChatStore(const QString& path);
  ~ChatStore();
  ChatStore(const ChatStore&) = delete;
  ChatStore& operator=(const ChatStore&) = delete;

  bool ok() const { return ok_; }
  QString error() const { return error_; }

  qint64 createConversation(const QString& title, const QString& system_prompt);
  bool renameConversation(qint64 id, const QString& title);
  bool setSystemPrompt(qint64 id, const QString& system_prompt);
  bool deleteConversation(qint64 id);
  QList<StoredConversation> conversations();  // most recently updated first
  StoredConversation conversation(qint64 id);

  qint64 addMessage(qint64 conversation, const StoredMessage& m);
  bool updateMessage(const StoredMessage& m);  // content and stats of an existing message
  // Deletes the message and every later one of its conversation (edit-and-resend, regenerate).
  bool truncateFrom(qint64 conversation, qint64 message_id);
  QList<StoredMessage> messages(qint64 conversation);

 private:
  bool exec(const QString& sql);
  void touch(qint64 conversation);
  QString conn_;
  bool ok_ = false;
  QString error_;
};

}  // namespace cyllm::workbench
