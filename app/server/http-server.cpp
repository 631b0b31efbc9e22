// HttpServer: thread setup, routes, admission and telemetry of every exchange, and the endpoints
// that answer at once (/health, /metrics, /v1/models, /tokenize, /detokenize, /apply-template).
// Generation is in http-generate.cpp.
#include "server/http-server.h"

#include <cmath>

#include <QCoreApplication>
#include <QHostAddress>
#include <QTcpSocket>
#include <QThread>
#include <QTimer>
#include <QtHttpServer/QHttpServer>
#include <QtHttpServer/QHttpServerRequest>
#include <QtHttpServer/QHttpServerResponder>

#include "server/body-limit.h"
#include "server/http-pending.h"

namespace cyllm::server {

namespace {
int64_t unix_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string header(const QHttpServerRequest& req, const char* name) {
  for (const auto& [k, v] : req.headers())
    if (k.compare(name, Qt::CaseInsensitive) == 0) return v.toStdString();
  return {};
}

const char* method_name(QHttpServerRequest::Method m) {
  using M = QHttpServerRequest::Method;
  switch (m) {
    case M::Get: return "GET";
    case M::Post: return "POST";
    case M::Put: return "PUT";
    case M::Delete: return "DELETE";
    case M::Head: return "HEAD";
    case M::Options: return "OPTIONS";
    case M::Patch: return "PATCH";
    default: return "OTHER";
  }
}

QList<QPair<QByteArray, QByteArray>> trace_headers(const TraceContext& t) {
  return {{"X-Request-Id", QByteArray::fromStdString(t.trace_id)},
          {"traceparent", QByteArray::fromStdString(format_traceparent(t, new_span_id()))}};
}
}  // namespace

HttpServer::HttpServer(ServerBackend backend, ServerRuntime* rt)
    : be_(std::move(backend)), rt_(rt), gate_(std::make_shared<Gate>()) {
  created_ = unix_now_s();
}

HttpServer::~HttpServer() { stop(); }

Result<uint16_t> HttpServer::start(const ServerOptions& opts) {
  if (thread_) return make_error(ErrorCode::kInvalidArgument, "the server is already running");
  thread_ = new QThread();
  thread_->setObjectName("cyllm-http");
  moveToThread(thread_);
  thread_->start();
  Result<uint16_t> out = make_error(ErrorCode::kInternal, "the HTTP thread did not start");
  QMetaObject::invokeMethod(this, [this, &opts, &out] { setup(opts, &out); }, Qt::BlockingQueuedConnection);
  if (!out) stop();
  return out;
}

void HttpServer::stop() {
  if (!thread_) return;
  QThread* main = QCoreApplication::instance() ? QCoreApplication::instance()->thread() : nullptr;
  QMetaObject::invokeMethod(
      this, [this, main] {
        teardown();
        moveToThread(main);
      },
      Qt::BlockingQueuedConnection);
  thread_->quit();
  thread_->wait();
  delete thread_;
  thread_ = nullptr;
}

void HttpServer::setup(const ServerOptions& opts, Result<uint16_t>* out) {
  max_body_ = opts.max_body_bytes;
  http_ = new QHttpServer(this);
  add_routes();
  auto* tcp = new BodyLimitTcpServer(max_body_, http_);
  tcp->set_reject_hook([this](const RejectedRequest& r) {
    Exchange ex;
    ex.t0 = std::chrono::steady_clock::now();
    ex.method = r.method.toStdString();
    ex.endpoint = r.path.toStdString();
    RequestHead h{ex.method, ex.endpoint, r.authorization.toStdString(), r.traceparent.toStdString(),
                  r.request_id.toStdString()};
    ex.adm = rt_->gate->admit(h, "inference", unix_now_s());  // for the tenant and key of the record
    record(ex, r.error.status, &r.error);
    QByteArray extra;
    for (const auto& [k, v] : trace_headers(ex.adm.trace)) extra += k + ": " + v + "\r\n";
    return extra;
  });
  QHostAddress addr;
  if (opts.host == "localhost") addr = QHostAddress::LocalHost;
  else if (!addr.setAddress(QString::fromStdString(opts.host))) {
    *out = make_error(ErrorCode::kInvalidArgument, "--host '" + opts.host + "' is not an IP address");
    return;
  }
  if (!tcp->listen(addr, opts.port)) {
    *out = make_error(ErrorCode::kIoError, "cannot listen on " + opts.host + ":" + std::to_string(opts.port) + ": " +
                                               tcp->errorString().toStdString(),
                      "Pick another --port or stop the program using it.");
    return;
  }
  http_->bind(tcp);
  tick_ = new QTimer(this);
  connect(tick_, &QTimer::timeout, this, [this] { refresh_telemetry(); });
  tick_->start(1000);
  {
    std::lock_guard lock(gate_->mu);
    gate_->target = this;
  }
  *out = static_cast<uint16_t>(tcp->serverPort());
}

void HttpServer::teardown() {
  {
    std::lock_guard lock(gate_->mu);
    gate_->target = nullptr;
  }
  delete tick_;
  tick_ = nullptr;
  for (auto& [key, p] : pending_) {
    if (p->sched_id) be_.scheduler->cancel(p->sched_id);
    if (p->out) p->out->finish(QByteArray());
    record(p->ex, 499, nullptr);  // closed by the server's shutdown (nginx's "client closed" code)
  }
  pending_.clear();
  delete http_;  // closes the listener and every connection
  http_ = nullptr;
}

void HttpServer::refresh_telemetry() { rt_->telemetry->refresh(be_.scheduler->stats()); }

bool HttpServer::begin(const QHttpServerRequest& req, QHttpServerResponder& resp, const std::string& endpoint,
                       const std::string& scope, Exchange& ex) {
  ex.t0 = std::chrono::steady_clock::now();
  ex.endpoint = endpoint;
  ex.method = method_name(req.method());
  RequestHead h{ex.method, endpoint, header(req, "authorization"), header(req, "traceparent"),
                header(req, "x-request-id")};
  ex.adm = rt_->gate->admit(h, scope, unix_now_s());
  ex.headers = trace_headers(ex.adm.trace);
  if (ex.adm.error) {
    answer_error(ex, resp, *ex.adm.error);
    return false;
  }
  return true;
}

void HttpServer::record(const Exchange& ex, int status, const ApiError* e, const LatencyRecord* lat) {
  RequestOutcome o;
  o.trace_id = ex.adm.trace.trace_id;
  o.tenant = ex.adm.tenant;
  o.key_hash = ex.adm.key_hash;
  o.endpoint = ex.endpoint;
  o.method = ex.method;
  o.model_id = ex.model_id;
  o.status = status;
  o.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ex.t0).count();
  if (lat) o.latency = *lat;
  if (e) {
    o.error_code = e->code;
    o.error_message = e->message;
  }
  rt_->telemetry->request_finished(o);
}

void HttpServer::answer(Exchange& ex, QHttpServerResponder& resp, int status, const QByteArray& body,
                        const QByteArray& content_type) {
  QTcpSocket* sock = resp.socket();
  const bool close = wants_close(sock);  // 6.4 ignores "Connection: close"; we honour it
  write_full_reply(resp, status, body, content_type, ex.headers, close);
  if (close && sock) sock->disconnectFromHost();
  if (status < 400) record(ex, status, nullptr);
}

void HttpServer::answer_error(Exchange& ex, QHttpServerResponder& resp, const ApiError& e) {
  if (e.retry_after_s > 0)
    ex.headers.push_back({"Retry-After", QByteArray::number(static_cast<qlonglong>(std::ceil(e.retry_after_s)))});
  answer(ex, resp, e.status, QByteArray::fromStdString(e.to_json().dump()));
  record(ex, e.status, &e);
}

void HttpServer::log_ignored(const Exchange& ex, const std::vector<std::string>& fields) {
  if (fields.empty() || !rt_->log->enabled(LogLevel::kDebug)) return;
  rt_->log->log(LogLevel::kDebug, "ignored_fields",
                {{"trace_id", ex.adm.trace.trace_id}, {"endpoint", ex.endpoint}, {"fields", fields}});
}

void HttpServer::add_routes() {
  using Method = QHttpServerRequest::Method;
  http_->route("/health", Method::Get, [this](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
    Exchange ex;
    if (!begin(req, resp, "/health", "", ex)) return;
    const SchedulerStats st = be_.scheduler->stats();
    nlohmann::ordered_json j = {{"status", "ok"},           {"model", be_.model_id},
                                {"running", st.running},    {"waiting", st.waiting},
                                {"cancelled", st.cancelled}, {"open_replies", pending_.size()},
                                {"auth", rt_->gate->auth_required() ? "required" : "off"},
                                {"alerts", rt_->telemetry->active_alerts()}};
    answer(ex, resp, 200, QByteArray::fromStdString(j.dump()));
  });
  http_->route("/metrics", Method::Get, [this](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
    Exchange ex;
    if (!begin(req, resp, "/metrics", "admin", ex)) return;
    refresh_telemetry();
    answer(ex, resp, 200, QByteArray::fromStdString(rt_->telemetry->exposition()),
           "text/plain; version=0.0.4; charset=utf-8");
  });
  http_->route("/v1/models", Method::Get, [this](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
    Exchange ex;
    if (!begin(req, resp, "/v1/models", "inference", ex)) return;
    answer(ex, resp, 200, QByteArray::fromStdString(model_list().dump()));
  });
  http_->route("/v1/chat/completions", Method::Post, [this](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
    handle_generate(req, std::move(resp), true);
  });
  http_->route("/v1/completions", Method::Post, [this](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
    handle_generate(req, std::move(resp), false);
  });
  http_->route("/v1/adapters", Method::Get, [this](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
    handle_adapters(req, std::move(resp), "/v1/adapters");
  });
  for (const char* path : {"/v1/adapters/load", "/v1/adapters/unload"}) {
    const std::string endpoint = path;
    http_->route(path, Method::Post, [this, endpoint](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
      handle_adapters(req, std::move(resp), endpoint);
    });
  }
  for (const char* path : {"/tokenize", "/detokenize", "/apply-template"}) {
    const std::string endpoint = path;
    http_->route(path, Method::Post, [this, endpoint](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
      handle_utility(req, std::move(resp), endpoint);
    });
  }
  http_->setMissingHandler([this](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
    const QString path = req.url().path();
    const bool get = req.method() == Method::Get;
    Exchange ex;
    const bool model_route = get && path.startsWith("/v1/models/");
    // Unknown paths are recorded under one endpoint name, so random URLs cannot grow the metrics.
    if (!begin(req, resp, model_route ? "/v1/models/{id}" : "(unknown)", "inference", ex)) return;
    if (model_route) {
      const std::string id = path.mid(11).toStdString();
      if (auto m = find_model(id)) return answer(ex, resp, 200, QByteArray::fromStdString(m->dump()));
      return answer_error(ex, resp, model_not_found(id));
    }
    answer_error(ex, resp, route_not_found(ex.method, path.toStdString()));
  });
}

void HttpServer::handle_utility(const QHttpServerRequest& req, QHttpServerResponder&& resp, const std::string& endpoint) {
  Exchange ex;
  if (!begin(req, resp, endpoint, "inference", ex)) return;
  if (req.body().size() > max_body_) return answer_error(ex, resp, body_too_large(static_cast<size_t>(max_body_)));
  if (auto e = rt_->gate->charge(ex.adm, 0, static_cast<double>(unix_now_s()))) return answer_error(ex, resp, *e);
  const std::string body = req.body().toStdString();
  auto check_model = [&](const std::string& model) -> std::optional<ApiError> {
    if (!model.empty() && model != be_.model_id) return model_not_found(model);
    return std::nullopt;
  };
  Parsed<nlohmann::ordered_json> result = ApiError{};
  if (endpoint == "/tokenize") {
    auto r = parse_tokenize_request(body);
    if (auto* e = std::get_if<ApiError>(&r)) return answer_error(ex, resp, *e);
    auto& t = std::get<TokenizeRequest>(r);
    log_ignored(ex, t.ignored_fields);
    if (auto e = check_model(t.model)) return answer_error(ex, resp, *e);
    result = tokenize_response(t, *be_.tokenizer, be_.render_chat, be_.max_seq_tokens);
  } else if (endpoint == "/detokenize") {
    auto r = parse_detokenize_request(body);
    if (auto* e = std::get_if<ApiError>(&r)) return answer_error(ex, resp, *e);
    auto& d = std::get<DetokenizeRequest>(r);
    log_ignored(ex, d.ignored_fields);
    if (auto e = check_model(d.model)) return answer_error(ex, resp, *e);
    result = detokenize_response(d, *be_.tokenizer);
  } else {
    auto r = parse_apply_template_request(body);
    if (auto* e = std::get_if<ApiError>(&r)) return answer_error(ex, resp, *e);
    auto& a = std::get<ApplyTemplateRequest>(r);
    log_ignored(ex, a.ignored_fields);
    if (auto e = check_model(a.model)) return answer_error(ex, resp, *e);
    result = apply_template_response(a, be_.render_chat);
  }
  if (auto* e = std::get_if<ApiError>(&result)) return answer_error(ex, resp, *e);
  answer(ex, resp, 200, QByteArray::fromStdString(std::get<nlohmann::ordered_json>(result).dump()));
}

}  // namespace cyllm::server
