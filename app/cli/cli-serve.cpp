// `cyllm serve -m MODEL [--host 127.0.0.1] [--port 8080]`: the OpenAI-compatible HTTP server,
// headless. Loads the model, starts the serving scheduler and the HTTP server (app/server), prints
// the listening URL on stderr, and runs until SIGINT or SIGTERM, then shuts down cleanly.
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include <QCoreApplication>
#include <QTimer>

#include "cli/chat-prompt.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "serve/scheduler.h"
#include "server/http-server.h"

namespace cyllm::cli {

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

std::string help() {
  return std::string(
             "usage: cyllm serve -m MODEL.gguf [options]\n"
             "Serves the model over an OpenAI-compatible HTTP API until interrupted.\n"
             "      --host ADDR      address to bind (default: 127.0.0.1)\n"
             "      --port N         TCP port (default: 8080; 0 = any free port)\n"
             "      --max-body N     largest request body in bytes (default: 8388608)\n"
             "      --kv-tokens N    KV cache size in tokens, all requests together (default: 16384)\n") +
         kModelHelp;
}
}  // namespace

int cmd_serve(int argc, char** argv) {
  std::set<std::string> values = {"--host", "--port", "--max-body", "--kv-tokens"};
  values.insert(kModelValueOpts.begin(), kModelValueOpts.end());
  Args a(argc, argv, values, {"--help"}, kModelAliases);
  if (!a.ok() || a.flag("--help")) {
    if (!a.ok()) std::fprintf(stderr, "cyllm serve: %s\n", a.error().c_str());
    std::fprintf(a.ok() ? stdout : stderr, "%s", help().c_str());
    return a.ok() ? 0 : 2;
  }
  server::ServerOptions opts;
  opts.host = a.get_or("--host", "127.0.0.1");
  const long long port = a.get_int("--port", 8080);
  opts.max_body_bytes = a.get_int("--max-body", opts.max_body_bytes);
  const long long kv = a.get_int("--kv-tokens", 16384);
  if (!a.ok() || port < 0 || port > 65535 || opts.max_body_bytes < 1024 || kv < 64) {
    std::fprintf(stderr, "cyllm serve: %s\n",
                 a.ok() ? "--port must be 0..65535, --max-body >= 1024 and --kv-tokens >= 64" : a.error().c_str());
    return 2;
  }
  opts.port = static_cast<uint16_t>(port);

  // Handlers first, so a signal during model loading also ends the process cleanly.
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  int qargc = 1;
  char qname[] = "cyllm";
  char* qargv[] = {qname, nullptr};
  QCoreApplication app(qargc, qargv);

  auto lm = load_model("serve", a);
  if (!lm) return 1;
  if (g_stop) return 0;
  auto prompt = ChatPrompt::create(*lm->model);
  if (!prompt) {
    std::fprintf(stderr, "cyllm serve: %s\n", prompt.error().to_string().c_str());
    return 1;
  }
  SchedulerConfig cfg;
  cfg.max_seq_tokens = lm->ctx_opts.n_ctx;
  cfg.kv_budget_tokens = static_cast<int>(std::max<long long>(kv, lm->ctx_opts.n_ctx));
  if (auto st = cfg.validate(); !st) {
    std::fprintf(stderr, "cyllm serve: %s\n", st.error().to_string().c_str());
    return 2;
  }
  auto sched = std::make_unique<Scheduler>(*lm->model, *lm->tokenizer, cfg, *lm->pool);

  server::ServerBackend be;
  const std::string path = *a.get("--model");
  be.model_id = std::filesystem::path(path).stem().string();
  be.scheduler = sched.get();
  be.tokenizer = lm->tokenizer.get();
  be.n_vocab = lm->model->config().n_vocab;
  be.max_seq_tokens = sched->config().max_seq_tokens > 0 ? sched->config().max_seq_tokens : lm->ctx_opts.n_ctx;
  const ChatPrompt* cp = prompt->get();
  be.render_chat = [cp](const nlohmann::ordered_json& messages) { return cp->render(messages); };

  auto srv = std::make_unique<server::HttpServer>(std::move(be));
  auto bound = srv->start(opts);
  if (!bound) {
    std::fprintf(stderr, "cyllm serve: %s\n", bound.error().to_string().c_str());
    return 1;
  }
  std::fprintf(stderr, "%s\nmodel: %s\nlistening on http://%s:%u (Ctrl-C to stop)\n", (*prompt)->describe().c_str(),
               std::filesystem::path(path).stem().c_str(), opts.host.c_str(), static_cast<unsigned>(*bound));
  std::fflush(stderr);

  QTimer poll;
  QObject::connect(&poll, &QTimer::timeout, &app, [&app] {
    if (g_stop) app.quit();
  });
  poll.start(100);
  app.exec();

  std::fprintf(stderr, "cyllm serve: shutting down\n");
  srv->stop();    // closes connections; their requests are cancelled
  srv.reset();
  sched.reset();  // joins the engine thread
  return 0;
}

}  // namespace cyllm::cli
