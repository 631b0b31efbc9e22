// The request body size limit for Qt HttpServer 6.4, which has none: a QTcpServer that peeks each
// request's header block before the HTTP server parses it and answers 413 (Content-Length over the
// limit) or 411 (chunked upload) at once, then drains and closes the connection. The route handlers
// keep a body().size() check as a backstop. It also notes whether each request asked to close
// the connection, which 6.4 ignores.
#pragma once

#include <QTcpServer>

class QTcpSocket;

namespace cyllm::server {

class BodyLimitTcpServer : public QTcpServer {
  Q_OBJECT
 public:
  BodyLimitTcpServer(qint64 max_body_bytes, QObject* parent) : QTcpServer(parent), limit_(max_body_bytes) {}

 protected:
  void incomingConnection(qintptr fd) override;

 private:
  void inspect(class QTcpSocket* sock);
  qint64 limit_;
};

// Whether the request last peeked on this socket asked for the connection to close
// ("Connection: close", or HTTP/1.0 without keep-alive).
bool wants_close(const QTcpSocket* sock);

}  // namespace cyllm::server
