// BodyLimitTcpServer: our readyRead slot is connected before the HTTP server's (it is added only
// when the connection is handed over), so it sees each request's headers first.
#include "server/body-limit.h"

#include <optional>

#include <QTcpSocket>

#include "server/api-error.h"

namespace cyllm::server {

namespace {
constexpr const char* kRejected = "cyllm_rejected";
constexpr const char* kClose = "cyllm_close";

}  // namespace

void BodyLimitTcpServer::reject(QTcpSocket* sock, RejectedRequest r) {
  const QByteArray extra = hook_ ? hook_(r) : QByteArray();
  const ApiError& e = r.error;
  const QByteArray body = QByteArray::fromStdString(e.to_json().dump());
  const char* reason = e.status == 413 ? "Payload Too Large" : "Length Required";
  QByteArray head = "HTTP/1.1 " + QByteArray::number(e.status) + " " + reason + "\r\n";
  head += "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " + QByteArray::number(body.size()) +
          "\r\n" + extra + "\r\n";
  sock->setProperty(kRejected, true);
  sock->readAll();
  sock->write(head + body);
  sock->disconnectFromHost();
}

void BodyLimitTcpServer::incomingConnection(qintptr fd) {
  auto* sock = new QTcpSocket(this);
  if (!sock->setSocketDescriptor(fd)) {
    delete sock;
    return;
  }
  connect(sock, &QIODevice::readyRead, this, [this, sock] { inspect(sock); });
  addPendingConnection(sock);
}

void BodyLimitTcpServer::inspect(QTcpSocket* sock) {
  if (sock->property(kRejected).toBool()) {
    sock->readAll();  // drain what the client still sends
    return;
  }
  if (sock->isTransactionStarted()) return;  // in the middle of a request: headers already seen
  const QByteArray peek = sock->peek(64 * 1024);
  const qsizetype end = peek.indexOf("\r\n\r\n");
  if (end < 0) return;
  const QList<QByteArray> lines = peek.left(end).split('\n');
  RejectedRequest info;
  if (!lines.isEmpty()) {
    const QList<QByteArray> parts = lines[0].trimmed().split(' ');
    if (parts.size() >= 2) {
      info.method = parts[0];
      info.path = parts[1].left(parts[1].indexOf('?') < 0 ? parts[1].size() : parts[1].indexOf('?'));
    }
  }
  std::optional<ApiError> refusal;
  // Whether the client asked to close after this request (6.4 ignores it); see wants_close().
  bool close = !lines.isEmpty() && lines[0].trimmed().endsWith("HTTP/1.0");
  for (qsizetype i = 1; i < lines.size(); ++i) {
    const QByteArray line = lines[i].trimmed();
    const qsizetype colon = line.indexOf(':');
    if (colon <= 0) continue;
    const QByteArray key = line.left(colon).trimmed().toLower();
    const QByteArray value = line.mid(colon + 1).trimmed();
    if (key == "content-length") {
      bool ok = false;
      const qint64 n = value.toLongLong(&ok);
      if (ok && n > limit_ && !refusal) refusal = body_too_large(static_cast<size_t>(limit_));
    } else if (key == "connection") {
      close = value.toLower().contains("close") || (close && !value.toLower().contains("keep-alive"));
    } else if (key == "transfer-encoding" && value.toLower().contains("chunked")) {
      ApiError e = invalid_param("Transfer-Encoding", "chunked request bodies are not accepted; send Content-Length");
      e.status = 411;
      if (!refusal) refusal = e;
    } else if (key == "authorization") {
      info.authorization = value;
    } else if (key == "traceparent") {
      info.traceparent = value;
    } else if (key == "x-request-id") {
      info.request_id = value;
    }
  }
  if (refusal) {
    info.error = *refusal;
    return reject(sock, std::move(info));
  }
  sock->setProperty(kClose, close);
}

bool wants_close(const QTcpSocket* sock) { return sock && sock->property(kClose).toBool(); }

}  // namespace cyllm::server
