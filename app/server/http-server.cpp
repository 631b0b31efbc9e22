// HttpServer: thread setup, routes, request -> ServeRequest mapping, and engine events -> replies.
#include "server/http-server.h"

#include <chrono>
#include <mutex>
#include <random>

#include <QCoreApplication>
#include <QHostAddress>
#include <QTcpSocket>
#include <QThread>
#include <QtHttpServer/QHttpServer>
#include <QtHttpServer/QHttpServerRequest>
#include <QtHttpServer/QHttpServerResponder>

#include "server/body-limit.h"
#include "server/sse-stream.h"

namespace cyllm::server {

// Engine-thread sinks post through the gate; stop() closes it, so late events are dropped safely.
struct HttpServer::Gate {
  std::mutex mu;
  HttpServer* target = nullptr;
  void post(uint64_t key, const ServeEvent& ev) {
    std::lock_guard lock(mu);
    if (!target) return;
    HttpServer* t = target;
    QMetaObject::invokeMethod(t, [t, key, ev] { t->on_event(key, ev); }, Qt::QueuedConnection);
  }
};

// One request in flight: what its reply needs, and the choices gathered so far.
struct HttpServer::Pending {
  bool chat = true, stream = false, include_usage = false, echo = false;
  std::string id, model, prompt_text;
  int n = 1;
  uint64_t sched_id = 0;
  QPointer<SseStream> out;
  std::vector<ChoiceResult> choices;
  std::vector<bool> started;
  int n_done = 0;
  Usage usage;
};

namespace {
QByteArray json_bytes(const nlohmann::ordered_json& j) { return QByteArray::fromStdString(j.dump()); }
QByteArray json_bytes(const nlohmann::json& j) { return QByteArray::fromStdString(j.dump()); }
QByteArray sse(const nlohmann::ordered_json& j) { return QByteArray::fromStdString(sse_event(j)); }
// An immediate JSON answer; honours the client's "Connection: close" (6.4 keeps the connection).
void write_json(QHttpServerResponder& resp, int status, const QByteArray& body) {
  const auto code = static_cast<QHttpServerResponder::StatusCode>(status);
  QTcpSocket* sock = resp.socket();
  if (!wants_close(sock)) return resp.write(body, {{"Content-Type", "application/json"}}, code);
  resp.write(body, {{"Content-Type", "application/json"}, {"Connection", "close"}}, code);
  sock->disconnectFromHost();
}
}  // namespace

HttpServer::HttpServer(ServerBackend backend) : be_(std::move(backend)), gate_(std::make_shared<Gate>()) {
  created_ = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
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
  for (auto& [key, p] : pending_) {
    if (p->sched_id) be_.scheduler->cancel(p->sched_id);
    if (p->out) p->out->finish(QByteArray());
  }
  pending_.clear();
  delete http_;  // closes the listener and every connection
  http_ = nullptr;
}

void HttpServer::send_error(QHttpServerResponder& resp, const ApiError& e) {
  write_json(resp, e.status, json_bytes(e.to_json()));
}

void HttpServer::add_routes() {
  using Method = QHttpServerRequest::Method;
  http_->route("/health", Method::Get, [this](const QHttpServerRequest&, QHttpServerResponder&& resp) {
    const SchedulerStats st = be_.scheduler->stats();
    nlohmann::ordered_json j = {{"status", "ok"},          {"model", be_.model_id},
                                {"running", st.running},   {"waiting", st.waiting},
                                {"cancelled", st.cancelled}, {"open_replies", pending_.size()}};
    write_json(resp, 200, json_bytes(j));
  });
  http_->route("/v1/models", Method::Get, [this](const QHttpServerRequest&, QHttpServerResponder&& resp) {
    write_json(resp, 200, json_bytes(models_response({be_.model_id}, created_)));
  });
  http_->route("/v1/chat/completions", Method::Post, [this](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
    handle_generate(req, std::move(resp), true);
  });
  http_->route("/v1/completions", Method::Post, [this](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
    handle_generate(req, std::move(resp), false);
  });
  http_->setMissingHandler([this](const QHttpServerRequest& req, QHttpServerResponder&& resp) {
    const QString path = req.url().path();
    const bool get = req.method() == Method::Get;
    if (get && path.startsWith("/v1/models/")) {
      const std::string id = path.mid(11).toStdString();
      if (id == be_.model_id) return write_json(resp, 200, json_bytes(model_object(id, created_)));
      return send_error(resp, model_not_found(id));
    }
    const char* method = get ? "GET" : req.method() == Method::Post ? "POST" : req.method() == Method::Delete ? "DELETE" : "OTHER";
    send_error(resp, route_not_found(method, path.toStdString()));
  });
}

void HttpServer::handle_generate(const QHttpServerRequest& req, QHttpServerResponder&& resp, bool chat) {
  if (req.body().size() > max_body_) return send_error(resp, body_too_large(static_cast<size_t>(max_body_)));
  const std::string body = req.body().toStdString();
  ChatRequest cr;
  CompletionRequest pr;
  GenerationParams* gp = nullptr;
  std::vector<int32_t> prompt;
  const Tokenizer& tok = *be_.tokenizer;
  if (chat) {
    auto parsed = parse_chat_request(body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(resp, *e);
    cr = std::move(std::get<ChatRequest>(parsed));
    gp = &cr;
  } else {
    auto parsed = parse_completion_request(body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(resp, *e);
    pr = std::move(std::get<CompletionRequest>(parsed));
    gp = &pr;
  }
  if (gp->model != be_.model_id) return send_error(resp, model_not_found(gp->model));
  if (gp->logprobs) return send_error(resp, invalid_param("logprobs", "not supported yet"));
  if (gp->json_mode) return send_error(resp, invalid_param("response_format", "json_object is not supported yet"));
  const std::string prompt_param = chat ? "messages" : "prompt";
  if (chat) {
    auto text = be_.render_chat(cr.messages);
    if (!text) return send_error(resp, invalid_param("messages", text.error().message));
    prompt = tok.encode(*text, tok.add_bos_default(), /*parse_special=*/true);
  } else {
    prompt = tok.encode(pr.prompt, tok.add_bos_default(), /*parse_special=*/false);
  }
  if (prompt.empty()) return send_error(resp, invalid_param(prompt_param, "the prompt is empty"));
  const int n_prompt = static_cast<int>(prompt.size());
  if (n_prompt >= be_.max_seq_tokens) {
    ApiError e = invalid_param(prompt_param, "the prompt has " + std::to_string(n_prompt) + " tokens; at most " +
                                                 std::to_string(be_.max_seq_tokens - 1) + " fit the context");
    e.code = "context_length_exceeded";
    return send_error(resp, e);
  }
  if (!gp->seed_given) gp->sampling.seed = std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32);
  if (auto st = gp->sampling.validate(be_.n_vocab); !st) return send_error(resp, from_engine_error(st.error()));

  ServeRequest sr;
  sr.prompt = std::move(prompt);
  sr.max_tokens = gp->max_tokens < 0 ? be_.max_seq_tokens - n_prompt : gp->max_tokens;
  sr.sampling = gp->sampling;
  sr.stop = gp->stop;
  sr.n = gp->n;
  sr.priority = gp->priority;
  if (gp->tier) sr.tier = *gp->tier;
  sr.stream = gp->stream;

  const uint64_t key = next_key_++;
  auto p = std::make_unique<Pending>();
  p->chat = chat;
  p->stream = gp->stream;
  p->include_usage = gp->include_usage;
  p->echo = !chat && pr.echo;
  p->prompt_text = chat ? std::string() : pr.prompt;
  p->id = new_id(chat ? "chatcmpl" : "cmpl");
  p->model = be_.model_id;
  p->n = gp->n;
  p->choices.resize(gp->n);
  p->started.assign(gp->n, false);
  p->out = new SseStream(std::move(resp), http_, this);
  connect(p->out, &SseStream::clientGone, this, [this, key] {
    auto it = pending_.find(key);
    if (it == pending_.end()) return;
    if (it->second->sched_id) be_.scheduler->cancel(it->second->sched_id);
    if (it->second->out) it->second->out->deleteLater();
    pending_.erase(it);
  });
  Pending* raw = p.get();
  pending_[key] = std::move(p);
  std::shared_ptr<Gate> gate = gate_;
  raw->sched_id = be_.scheduler->submit(std::move(sr), [gate, key](const ServeEvent& ev) { gate->post(key, ev); });
}

void HttpServer::on_event(uint64_t key, const ServeEvent& ev) {
  auto it = pending_.find(key);
  if (it == pending_.end()) return;
  Pending& p = *it->second;
  if (!p.out) {  // the reply is gone
    if (p.sched_id) be_.scheduler->cancel(p.sched_id);
    pending_.erase(it);
    return;
  }
  if (ev.done && ev.finish_reason != "stop" && ev.finish_reason != "length") {
    ApiError e = ev.finish_reason == "timeout" && ev.error ? timed_out(*ev.error)
                 : ev.error                                ? from_engine_error(*ev.error)
                                                           : from_engine_error(make_error(ErrorCode::kCancelled, "the request was cancelled"));
    if (p.sched_id) be_.scheduler->cancel(p.sched_id);
    if (p.out->started()) p.out->finish(sse(e.to_json()) + QByteArray::fromStdString(sse_done()));
    else p.out->reply(e.status, json_bytes(e.to_json()));
    pending_.erase(it);
    return;
  }
  const int c = ev.choice;
  if (c < 0 || c >= p.n) return;
  std::string piece = ev.text;
  const bool first = !p.started[c];
  p.started[c] = true;
  if (first && p.echo) piece = p.prompt_text + piece;
  const std::optional<std::string> finish = ev.done ? std::optional<std::string>(ev.finish_reason) : std::nullopt;
  if (p.stream) {
    if (p.chat) {
      if (first) p.out->send(sse(chat_chunk(p.id, created_, p.model, c, "assistant", std::string(), std::nullopt)));
      if (!piece.empty()) p.out->send(sse(chat_chunk(p.id, created_, p.model, c, std::nullopt, piece, std::nullopt)));
      if (finish) p.out->send(sse(chat_chunk(p.id, created_, p.model, c, std::nullopt, std::nullopt, finish)));
    } else if (!piece.empty() || finish) {
      p.out->send(sse(completion_chunk(p.id, created_, p.model, c, piece, finish)));
    }
  } else {
    p.choices[c].text += piece;
    if (finish) p.choices[c].finish_reason = *finish;
  }
  if (!ev.done) return;
  p.usage.prompt_tokens = ev.prompt_tokens;
  p.usage.cached_tokens = ev.cached_prompt_tokens;
  p.usage.completion_tokens += ev.completion_tokens;
  if (++p.n_done < p.n) return;
  if (p.stream) {
    if (p.include_usage) p.out->send(sse(usage_chunk(p.id, created_, p.model, p.usage, p.chat)));
    p.out->finish(QByteArray::fromStdString(sse_done()));
  } else {
    auto j = p.chat ? chat_completion_response(p.id, created_, p.model, p.choices, p.usage, false)
                    : completion_response(p.id, created_, p.model, p.choices, p.usage, false);
    p.out->reply(200, json_bytes(j));
  }
  pending_.erase(it);
}

}  // namespace cyllm::server
