#include "workbench/chat-store.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

namespace cyllm::workbench {

namespace {
int g_next_connection = 0;
qint64 now_ms() { return QDateTime::currentMSecsSinceEpoch(); }
// A null QString binds as SQL NULL; text columns are NOT NULL, so bind "" instead.
QString text(const QString& s) { return s.isNull() ? QStringLiteral("") : s; }
}  // namespace

ChatStore::ChatStore(const QString& path) : conn_(QStringLiteral("cyllm-chat-%1").arg(g_next_connection++)) {
  QDir().mkpath(QFileInfo(path).absolutePath());
  QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), conn_);
  db.setDatabaseName(path);
  if (!db.open()) {
    error_ = db.lastError().text();
    return;
  }
  ok_ = exec(QStringLiteral("PRAGMA journal_mode=WAL")) && exec(QStringLiteral("PRAGMA foreign_keys=ON")) &&
        exec(QStringLiteral("CREATE TABLE IF NOT EXISTS conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL, "
                            "system_prompt TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL)")) &&
        exec(QStringLiteral("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT "
                            "NULL REFERENCES conversations(id) ON DELETE CASCADE, role TEXT NOT NULL, content TEXT NOT "
                            "NULL, ttft_ms REAL, tokens_per_s REAL, finish_reason TEXT, created_ms INTEGER NOT NULL)")) &&
        exec(QStringLiteral("CREATE INDEX IF NOT EXISTS messages_by_conversation ON messages(conversation_id, id)"));
}

ChatStore::~ChatStore() {
  {
    QSqlDatabase db = QSqlDatabase::database(conn_, false);
    if (db.isOpen()) db.close();
  }
  QSqlDatabase::removeDatabase(conn_);
}

bool ChatStore::exec(const QString& sql) {
  QSqlQuery q(QSqlDatabase::database(conn_));
  if (!q.exec(sql)) {
    error_ = q.lastError().text();
    return false;
  }
  return true;
}

qint64 ChatStore::createConversation(const QString& title, const QString& system_prompt) {
  QSqlQuery q(QSqlDatabase::database(conn_));
  q.prepare(QStringLiteral("INSERT INTO conversations (title, system_prompt, created_ms, updated_ms) VALUES (?, ?, ?, ?)"));
  q.addBindValue(text(title));
  q.addBindValue(text(system_prompt));
  q.addBindValue(now_ms());
  q.addBindValue(now_ms());
  if (!q.exec()) {
    error_ = q.lastError().text();
    return 0;
  }
  return q.lastInsertId().toLongLong();
}

bool ChatStore::renameConversation(qint64 id, const QString& title) {
  QSqlQuery q(QSqlDatabase::database(conn_));
  q.prepare(QStringLiteral("UPDATE conversations SET title = ? WHERE id = ?"));
  q.addBindValue(text(title));
  q.addBindValue(id);
  return q.exec();
}

bool ChatStore::setSystemPrompt(qint64 id, const QString& system_prompt) {
  QSqlQuery q(QSqlDatabase::database(conn_));
  q.prepare(QStringLiteral("UPDATE conversations SET system_prompt = ? WHERE id = ?"));
  q.addBindValue(text(system_prompt));
  q.addBindValue(id);
  return q.exec();
}

bool ChatStore::deleteConversation(qint64 id) {
  QSqlQuery q(QSqlDatabase::database(conn_));
  q.prepare(QStringLiteral("DELETE FROM conversations WHERE id = ?"));
  q.addBindValue(id);
  return q.exec();
}

QList<StoredConversation> ChatStore::conversations() {
  QList<StoredConversation> out;
  QSqlQuery q(QSqlDatabase::database(conn_));
  if (!q.exec(QStringLiteral("SELECT id, title, system_prompt, updated_ms FROM conversations ORDER BY updated_ms DESC, id DESC")))
    return out;
  while (q.next())
    out.append({q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(), q.value(3).toLongLong()});
  return out;
}

StoredConversation ChatStore::conversation(qint64 id) {
  QSqlQuery q(QSqlDatabase::database(conn_));
  q.prepare(QStringLiteral("SELECT id, title, system_prompt, updated_ms FROM conversations WHERE id = ?"));
  q.addBindValue(id);
  if (q.exec() && q.next())
    return {q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(), q.value(3).toLongLong()};
  return {};
}

void ChatStore::touch(qint64 conversation) {
  QSqlQuery q(QSqlDatabase::database(conn_));
  q.prepare(QStringLiteral("UPDATE conversations SET updated_ms = ? WHERE id = ?"));
  q.addBindValue(now_ms());
  q.addBindValue(conversation);
  q.exec();
}

qint64 ChatStore::addMessage(qint64 conversation, const StoredMessage& m) {
  QSqlQuery q(QSqlDatabase::database(conn_));
  q.prepare(QStringLiteral("INSERT INTO messages (conversation_id, role, content, ttft_ms, tokens_per_s, finish_reason, "
                           "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"));
  q.addBindValue(conversation);
  q.addBindValue(text(m.role));
  q.addBindValue(text(m.content));
  q.addBindValue(m.ttft_ms);
  q.addBindValue(m.tokens_per_s);
  q.addBindValue(text(m.finish_reason));
  q.addBindValue(now_ms());
  if (!q.exec()) {
    error_ = q.lastError().text();
    return 0;
  }
  touch(conversation);
  return q.lastInsertId().toLongLong();
}

bool ChatStore::updateMessage(const StoredMessage& m) {
  QSqlQuery q(QSqlDatabase::database(conn_));
  q.prepare(QStringLiteral("UPDATE messages SET content = ?, ttft_ms = ?, tokens_per_s = ?, finish_reason = ? WHERE id = ?"));
  q.addBindValue(text(m.content));
  q.addBindValue(m.ttft_ms);
  q.addBindValue(m.tokens_per_s);
  q.addBindValue(text(m.finish_reason));
  q.addBindValue(m.id);
  return q.exec();
}

bool ChatStore::truncateFrom(qint64 conversation, qint64 message_id) {
  QSqlQuery q(QSqlDatabase::database(conn_));
  q.prepare(QStringLiteral("DELETE FROM messages WHERE conversation_id = ? AND id >= ?"));
  q.addBindValue(conversation);
  q.addBindValue(message_id);
  return q.exec();
}

QList<StoredMessage> ChatStore::messages(qint64 conversation) {
  QList<StoredMessage> out;
  QSqlQuery q(QSqlDatabase::database(conn_));
  q.prepare(QStringLiteral("SELECT id, role, content, ttft_ms, tokens_per_s, finish_reason FROM messages WHERE "
                           "conversation_id = ? ORDER BY id"));
  q.addBindValue(conversation);
  if (!q.exec()) return out;
  while (q.next())
    out.append({q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(), q.value(3).toDouble(),
                q.value(4).toDouble(), q.value(5).toString()});
  return out;
}

}  // namespace cyllm::workbench
