// The request body size limit for Qt HttpServer 6.4, which has none: a QTcpServer that peeks each
// request's header block before the HTTP server parses it and answers 413 (Content-Length over the
// limit) or 411 (chunked upload) at once, then drains and closes the connection. The route handlers
// keep a body().size() check as a backstop. It also notes whether each request asked to close
// the connection, which 6.4 ignores.
#pragma once

#include <functional>

#include <QTcpServer>

#include "server/api-error.h"

class QTcpSocket;

namespace cyllm::server {

// A request refused here, for the server's audit log and metrics.
struct RejectedRequest {
  QByteArray method, path, authorization, traceparent, request_id;
  ApiError error;  // 413 or 411
};

class BodyLimitTcpServer : public QTcpServer {
  Q_OBJECT
 public:
  // The hook sees each refusal before it is answered and returns extra header lines for the
  // answer ("Name: value\r\n" each), e.g. the trace id.
  using RejectHook = std::function<QByteArray(const RejectedRequest&)>;
  BodyLimitTcpServer(qint64 max_body_bytes, QObject* parent) : QTcpServer(parent), limit_(max_body_bytes) {}
  void set_reject_hook(RejectHook h) { hook_ = std::move(h); }

 protected:
  void incomingConnection(qintptr fd) override;

 private:
  void inspect(class QTcpSocket* sock);
  void reject(QTcpSocket* sock, RejectedRequest r);
  qint64 limit_;
  RejectHook hook_;
};

// Whether the request last peeked on this socket asked for the connection to close
// ("Connection: close", or HTTP/1.0 without keep-alive).
bool wants_close(const QTcpSocket* sock);

}  // namespace cyllm::server
