// The workbench's server switch: the same HttpServer + ServerRuntime that `cyllm serve` runs
// (app/cli/cli-serve.cpp), started and stopped over the EngineHost's model without restarting the
// app. The key store and the audit log are also opened here on their own SQLite connections, so
// the Server panel can manage keys and read the request log while the server is off; the server's
// own connections are separate (SQLite WAL lets both work on the same files).
//
// Threads: everything here is called on the GUI thread. HttpServer runs its own thread; start()
// and stop() are short (bind, or close and join).
#pragma once

#include <memory>

#include <QObject>
#include <QString>

#include "server/audit-log.h"
#include "server/key-store.h"
#include "server/rate-limit.h"

namespace cyllm::server {
class HttpServer;
struct ServerRuntime;
}  // namespace cyllm::server

namespace cyllm::workbench {

class EngineHost;

struct ServerStartOptions {
  QString host = QStringLiteral("127.0.0.1");
  quint16 port = 8080;  // 0: any free port
  server::RateLimits key_limits, tenant_limits;
};

class ServerHost : public QObject {
  Q_OBJECT
 public:
  // data_dir: where keys.sqlite and audit.sqlite live ("" : server::default_data_dir(), which
  // honours $CYLLM_DATA_DIR — the same files `cyllm serve` and `cyllm keys` use).
  explicit ServerHost(EngineHost* engine, QString data_dir = {}, QObject* parent = nullptr);
  ~ServerHost() override;

  // Starts listening; returns "" or the reason it could not (also emitted as startFailed).
  QString start(const ServerStartOptions& opts);
  void stop();
  bool running() const { return http_ != nullptr; }
  quint16 port() const { return port_; }
  QString url() const;
  QString dataDir() const { return data_dir_; }

  // The panel's connections (null when the file cannot be opened; error() says why).
  server::KeyStore* keys();
  server::AuditLog* audit();
  QString error() const { return error_; }
  // The running server's active alerts (empty when off).
  QStringList activeAlerts() const;

 signals:
  void stateChanged(bool running, const QString& url);
  void startFailed(const QString& reason);

 private:
  EngineHost* engine_;
  QString data_dir_;
  QString host_;
  quint16 port_ = 0;
  QString error_;
  std::unique_ptr<server::KeyStore> keys_;
  std::unique_ptr<server::AuditLog> audit_;
  std::unique_ptr<server::ServerRuntime> rt_;
  std::unique_ptr<server::HttpServer> http_;
};

}  // namespace cyllm::workbench
