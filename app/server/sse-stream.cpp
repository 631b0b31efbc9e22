// SseStream: the 6.4 streaming pattern from shared/notes/qt-6.4.md (writeStatusLine/writeHeader/
// writeBody with hand-made chunked framing, guarded writes, close when done).
#include "server/sse-stream.h"

#include <QtHttpServer/QAbstractHttpServer>

namespace cyllm::server {

QByteArray chunk_frame(const QByteArray& data) {
  QByteArray out = QByteArray::number(data.size(), 16);
  out += "\r\n";
  out += data;
  out += "\r\n";
  return out;
}

void write_full_reply(QHttpServerResponder& r, int status, const QByteArray& body, const QByteArray& content_type,
                      const QList<QPair<QByteArray, QByteArray>>& headers, bool close) {
  // QHttpServerResponder::write() takes only a fixed initializer_list of headers; this writes the
  // same bytes (status line, headers, Content-Length, body) with a header list built at run time.
  r.writeStatusLine(static_cast<QHttpServerResponder::StatusCode>(status));
  r.writeHeader("Content-Type", content_type);
  r.writeHeader("Content-Length", QByteArray::number(body.size()));
  if (close) r.writeHeader("Connection", "close");
  for (const auto& [k, v] : headers) r.writeHeader(k, v);
  r.writeBody(body);
}

SseStream::SseStream(QHttpServerResponder&& responder, QAbstractHttpServer* server, QObject* parent)
    : QObject(parent), responder_(std::move(responder)), sock_(responder_.socket()) {
  if (!sock_) return;
  // The server must not parse another request from this socket while we still answer this one.
  if (server) QObject::disconnect(sock_.data(), &QIODevice::readyRead, server, nullptr);
  connect(sock_.data(), &QAbstractSocket::disconnected, this, [this] {
    if (!closing_) emit clientGone();
  });
}

SseStream::~SseStream() = default;

bool SseStream::connected() const { return sock_ && sock_->state() == QAbstractSocket::ConnectedState; }

void SseStream::begin() {
  if (started_ || !connected()) return;
  started_ = true;
  responder_.writeStatusLine(QHttpServerResponder::StatusCode::Ok);
  responder_.writeHeader("Content-Type", "text/event-stream");
  responder_.writeHeader("Cache-Control", "no-cache");
  responder_.writeHeader("Transfer-Encoding", "chunked");
  responder_.writeHeader("Connection", "close");
  for (const auto& [k, v] : extra_) responder_.writeHeader(k, v);
  responder_.writeBody(QByteArray());  // ends the header block
  sock_->flush();
}

void SseStream::send(const QByteArray& event) {
  if (!started_) begin();
  if (!connected() || event.isEmpty()) return;
  responder_.writeBody(chunk_frame(event));
  sock_->flush();
}

void SseStream::finish(const QByteArray& done_event) {
  if (!started_) begin();
  if (connected()) {
    if (!done_event.isEmpty()) responder_.writeBody(chunk_frame(done_event));
    responder_.writeBody(QByteArray("0\r\n\r\n"));
  }
  close_and_delete();
}

void SseStream::reply(int status, const QByteArray& json) {
  if (connected()) {
    write_full_reply(responder_, status, json, "application/json", extra_, /*close=*/true);
  }
  close_and_delete();
}

void SseStream::close_and_delete() {
  closing_ = true;
  if (connected()) sock_->disconnectFromHost();  // flushes what is buffered, then closes
  deleteLater();
}

}  // namespace cyllm::server
