// The OpenAI-compatible HTTP server on Qt HttpServer 6.4. HttpServer is a QObject that runs
// QHttpServer on its own thread (start() creates the thread, binds, and returns the port; stop()
// tears it down), so the headless CLI and the GUI can host the same object and toggle it.
//
// Routes: POST /v1/chat/completions and /v1/completions (streaming SSE and not), GET /v1/models,
// GET /v1/models/{id}, GET /health, GET /metrics, POST /tokenize, /detokenize and /apply-template.
// Every request passes the gatekeeper (trace id, API key, rate limits) and ends in one telemetry
// record (audit row, metrics, log line); every answer carries X-Request-Id and traceparent.
// Errors are the protocol's ApiError JSON with its status. Generation requests go to the
// Scheduler; its events (engine thread) come back through a gate that posts them to this object's
// thread, where they are written to the client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <QList>
#include <QObject>
#include <QPair>
#include <QPointer>

#include "core/status.h"
#include "serve/adapter-registry.h"
#include "serve/scheduler.h"
#include "server/gatekeeper.h"
#include "server/openai-protocol.h"
#include "server/server-runtime.h"
#include "server/utility-protocol.h"

class QHttpServer;
class QHttpServerRequest;
class QHttpServerResponder;
class QThread;
class QTimer;

namespace cyllm::server {

class SseStream;

struct ServerBackend {
  std::string model_id;  // what /v1/models lists and requests must name
  Scheduler* scheduler = nullptr;
  const Tokenizer* tokenizer = nullptr;
  int n_vocab = 0;
  int max_seq_tokens = 0;  // prompt + completion tokens per sequence
  RenderChat render_chat;  // the model's chat template
  AdapterRegistry* adapters = nullptr;  // LoRA adapters requests may pick (none when null)
  // Benchmarks only: called on the engine thread with each request's trace id and event, before
  // the event is posted to the HTTP thread (cyllm bench-http measures the latency added per token).
  std::function<void(const std::string& trace_id, const ServeEvent& ev)> tap;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  int64_t max_body_bytes = 8 << 20;
};

class HttpServer : public QObject {
  Q_OBJECT
 public:
  // rt (not owned) must outlive the server.
  HttpServer(ServerBackend backend, ServerRuntime* rt);
  ~HttpServer() override;  // stops if running

  // Starts the HTTP thread and listens; returns the bound port or an error (from any thread).
  Result<uint16_t> start(const ServerOptions& opts);
  // Closes the listener and every open reply, cancels their requests and joins the thread.
  void stop();
  bool running() const { return thread_ != nullptr; }

  struct Pending;
  struct Gate;
  // One request's bookkeeping from arrival to its telemetry record.
  struct Exchange {
    Admission adm;
    std::string endpoint, method, model_id;
    std::chrono::steady_clock::time_point t0;
    QList<QPair<QByteArray, QByteArray>> headers;  // sent with every answer
  };

 private:
  void setup(const ServerOptions& opts, Result<uint16_t>* out);
  void teardown();
  void add_routes();
  // Admission for a route; false when it was refused (and already answered and recorded).
  bool begin(const QHttpServerRequest& req, QHttpServerResponder& resp, const std::string& endpoint,
             const std::string& scope, Exchange& ex);
  void answer(Exchange& ex, QHttpServerResponder& resp, int status, const QByteArray& body,
              const QByteArray& content_type = "application/json");
  void answer_error(Exchange& ex, QHttpServerResponder& resp, const ApiError& e);
  void record(const Exchange& ex, int status, const ApiError* e, const LatencyRecord* lat = nullptr);
  void log_ignored(const Exchange& ex, const std::vector<std::string>& fields);
  void handle_generate(const QHttpServerRequest& req, QHttpServerResponder&& resp, bool chat);
  void handle_utility(const QHttpServerRequest& req, QHttpServerResponder&& resp, const std::string& endpoint);
  void handle_adapters(const QHttpServerRequest& req, QHttpServerResponder&& resp, const std::string& endpoint);
  nlohmann::ordered_json model_list() const;
  std::optional<nlohmann::ordered_json> find_model(const std::string& id) const;
  void on_event(uint64_t key, const ServeEvent& ev);
  // on_event, timed: how long the event waited for the HTTP thread, and how long writing it took.
  void dispatch_event(uint64_t key, const ServeEvent& ev, std::chrono::steady_clock::time_point posted);
  void drain_events();  // every event the gate holds, in order
  void refresh_telemetry();

  ServerBackend be_;
  ServerRuntime* rt_;
  int64_t max_body_ = 0;
  QThread* thread_ = nullptr;
  QHttpServer* http_ = nullptr;  // lives on thread_
  QTimer* tick_ = nullptr;       // gauges and alerts, once a second
  std::shared_ptr<Gate> gate_;
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;
  uint64_t next_key_ = 1;
  int64_t created_ = 0;
};

}  // namespace cyllm::server
