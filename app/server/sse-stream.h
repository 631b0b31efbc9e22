// A reply that outlives its route handler on Qt HttpServer 6.4: either a Server-Sent Events stream
// (chunked framing, one `data: ...\n\n` event per chunk, `Connection: close`) or one deferred JSON
// answer. It owns the moved-out responder, guards every socket write (6.4 deletes the socket when the
// client goes away, leaving the responder's pointer dangling), stops the server reading further
// requests from the socket while the reply is pending (the 6.4 pipelining bug, QTBUG-105202), and
// emits clientGone() when the client disconnects first. Lives on the HTTP thread only.
#pragma once

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QObject>
#include <QPointer>
#include <QTcpSocket>
#include <QtHttpServer/QHttpServerResponder>

class QAbstractHttpServer;

namespace cyllm::server {

class SseStream : public QObject {
  Q_OBJECT
 public:
  SseStream(QHttpServerResponder&& responder, QAbstractHttpServer* server, QObject* parent);
  ~SseStream() override;

  bool connected() const;
  // Headers every answer of this reply carries (trace ids, Retry-After), set before it starts.
  void set_headers(QList<QPair<QByteArray, QByteArray>> headers) { extra_ = std::move(headers); }
  bool started() const { return started_; }
  // Streaming: the status line and headers, then events (each already framed as "data: ...\n\n").
  void begin();
  void send(const QByteArray& event);
  // Ends the stream: the [DONE] event when done_event is set, the last chunk, then the connection
  // is closed and this object deleted.
  void finish(const QByteArray& done_event);
  // Non-streaming: one complete answer, then close and delete.
  void reply(int status, const QByteArray& json);

 signals:
  void clientGone();

 private:
  void close_and_delete();
  QHttpServerResponder responder_;
  QPointer<QTcpSocket> sock_;
  QList<QPair<QByteArray, QByteArray>> extra_;
  bool started_ = false;
  bool closing_ = false;
};

// A complete answer: status line, Content-Type, Content-Length, [Connection: close], the extra
// headers, then the body.
void write_full_reply(QHttpServerResponder& r, int status, const QByteArray& body, const QByteArray& content_type,
                      const QList<QPair<QByteArray, QByteArray>>& headers, bool close);

// Writes one chunk of HTTP/1.1 chunked transfer coding: hex size, CRLF, data, CRLF.
QByteArray chunk_frame(const QByteArray& data);

}  // namespace cyllm::server
