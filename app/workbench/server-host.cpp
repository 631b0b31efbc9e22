#include "workbench/server-host.h"

#include <filesystem>

#include <QFileInfo>
#include <QStringList>

#include "cli/chat-prompt.h"
#include "server/http-server.h"
#include "server/server-config.h"
#include "server/server-runtime.h"
#include "workbench/engine-host.h"

namespace cyllm::workbench {

ServerHost::ServerHost(EngineHost* engine, QString data_dir, QObject* parent)
    : QObject(parent), engine_(engine), data_dir_(std::move(data_dir)) {
  if (data_dir_.isEmpty()) data_dir_ = QString::fromStdString(server::default_data_dir());
  // A new model means a new scheduler: the server must let go of the old one first.
  connect(engine_, &EngineHost::aboutToUnload, this, &ServerHost::stop);
}

ServerHost::~ServerHost() { stop(); }

QString ServerHost::url() const {
  if (!running()) return {};
  return QStringLiteral("http://%1:%2").arg(host_).arg(port_);
}

server::KeyStore* ServerHost::keys() {
  if (!keys_) {
    auto k = server::KeyStore::open((std::filesystem::path(data_dir_.toStdString()) / "keys.sqlite").string());
    if (!k) {
      error_ = QString::fromStdString(k.error().to_string());
      return nullptr;
    }
    keys_ = std::move(k.value());
  }
  return keys_.get();
}

server::AuditLog* ServerHost::audit() {
  if (!audit_) {
    auto a = server::AuditLog::open((std::filesystem::path(data_dir_.toStdString()) / "audit.sqlite").string());
    if (!a) {
      error_ = QString::fromStdString(a.error().to_string());
      return nullptr;
    }
    audit_ = std::move(a.value());
  }
  return audit_.get();
}

QStringList ServerHost::activeAlerts() const {
  QStringList out;
  if (rt_ && rt_->telemetry)
    for (const auto& a : rt_->telemetry->active_alerts()) out << QString::fromStdString(a);
  return out;
}

QString ServerHost::start(const ServerStartOptions& opts) {
  if (running()) return {};
  auto fail = [this](const QString& why) {
    emit startFailed(why);
    return why;
  };
  if (!engine_->hasModel()) return fail(tr("Load a model before starting the server."));

  server::ServerSettings s;
  s.host = opts.host.toStdString();
  s.port = opts.port;
  s.key_limits = opts.key_limits;
  s.tenant_limits = opts.tenant_limits;
  s.keys_db = (std::filesystem::path(data_dir_.toStdString()) / "keys.sqlite").string();
  s.audit_db = (std::filesystem::path(data_dir_.toStdString()) / "audit.sqlite").string();
  s.kv_tokens = engine_->scheduler()->config().kv_budget_tokens;
  auto rt = server::ServerRuntime::create(s);
  if (!rt) return fail(QString::fromStdString(rt.error().to_string()));

  server::ServerBackend be;
  be.model_id = QFileInfo(engine_->modelPath()).completeBaseName().toStdString();
  be.scheduler = engine_->scheduler();
  be.tokenizer = engine_->tokenizer();
  be.n_vocab = engine_->model()->config().n_vocab;
  be.max_seq_tokens = engine_->contextTokens();
  const cli::ChatPrompt* cp = engine_->chatPrompt();
  be.adapters = engine_->adapterRegistry();  // the LoRA manager's adapters, shared with the chat
  be.render_chat = [cp](const nlohmann::ordered_json& messages, bool add_gen) { return cp->render(messages, add_gen); };

  server::ServerOptions so;
  so.host = s.host;
  so.port = s.port;
  auto http = std::make_unique<server::HttpServer>(std::move(be), rt->get());
  auto bound = http->start(so);
  if (!bound) return fail(QString::fromStdString(bound.error().to_string()));
  rt_ = std::move(rt.value());
  http_ = std::move(http);
  host_ = opts.host;
  port_ = *bound;
  emit stateChanged(true, url());
  return {};
}

void ServerHost::stop() {
  if (!http_) return;
  http_->stop();  // closes connections; their requests are cancelled in the engine
  http_.reset();
  rt_.reset();
  port_ = 0;
  emit stateChanged(false, {});
}

}  // namespace cyllm::workbench
