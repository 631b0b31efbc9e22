// The OpenAI-compatible HTTP server on Qt HttpServer 6.4. HttpServer is a QObject that runs
// QHttpServer on its own thread (start() creates the thread, binds, and returns the port; stop()
// tears it down), so the headless CLI and the GUI can host the same object. Routes: POST
// /v1/chat/completions and /v1/completions (streaming SSE and not), GET /v1/models, GET
// /v1/models/{id}, GET /health; every error is the protocol's ApiError JSON with its status.
// Requests go to the Scheduler; its events (engine thread) come back through a gate that posts
// them to this object's thread, where they are written to the client.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <QObject>
#include <QPointer>

#include "core/status.h"
#include "serve/scheduler.h"
#include "server/openai-protocol.h"

class QHttpServer;
class QHttpServerRequest;
class QHttpServerResponder;
class QThread;

namespace cyllm::server {

class SseStream;

struct ServerBackend {
  std::string model_id;  // what /v1/models lists and requests must name
  Scheduler* scheduler = nullptr;
  const Tokenizer* tokenizer = nullptr;
  int n_vocab = 0;
  int max_seq_tokens = 0;  // prompt + completion tokens per sequence
  // Renders chat messages with the model's chat template (ending with the generation prompt).
  std::function<Result<std::string>(const nlohmann::ordered_json&)> render_chat;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  int64_t max_body_bytes = 8 << 20;
};

class HttpServer : public QObject {
  Q_OBJECT
 public:
  explicit HttpServer(ServerBackend backend);
  ~HttpServer() override;  // stops if running

  // Starts the HTTP thread and listens; returns the bound port or an error (from any thread).
  Result<uint16_t> start(const ServerOptions& opts);
  // Closes the listener and every open reply, cancels their requests and joins the thread.
  void stop();

  struct Pending;
  struct Gate;

 private:
  void setup(const ServerOptions& opts, Result<uint16_t>* out);
  void teardown();
  void add_routes();
  void handle_generate(const QHttpServerRequest& req, QHttpServerResponder&& resp, bool chat);
  void on_event(uint64_t key, const ServeEvent& ev);
  void send_error(QHttpServerResponder& resp, const ApiError& e);

  ServerBackend be_;
  int64_t max_body_ = 0;
  QThread* thread_ = nullptr;
  QHttpServer* http_ = nullptr;  // lives on thread_
  std::shared_ptr<Gate> gate_;
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;
  uint64_t next_key_ = 1;
  int64_t created_ = 0;
};

}  // namespace cyllm::server
