// `cyllm serve -m MODEL [--host 127.0.0.1] [--port 8080] [--config FILE]`: the OpenAI-compatible
// HTTP server, headless. Reads and validates the config file (every problem reported, then exit
// 2), applies flags over it, opens the key store and audit log, loads the model, starts the serving
// scheduler and the HTTP server (app/server), prints the listening URL on stderr, and runs until
// SIGINT or SIGTERM, then shuts down cleanly.
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
#include "server/server-config.h"
#include "server/server-runtime.h"

namespace cyllm::cli {

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

std::string help() {
  return std::string(
             "usage: cyllm serve -m MODEL.gguf [options]\n"
             "Serves the model over an OpenAI-compatible HTTP API until interrupted.\n"
             "      --config FILE    server settings (JSON; see docs/SERVER.md); flags override it\n"
             "      --host ADDR      address to bind (default: 127.0.0.1; others need API keys)\n"
             "      --port N         TCP port (default: 8080; 0 = any free port)\n"
             "      --max-body N     largest request body in bytes (default: 8388608)\n"
             "      --kv-tokens N    KV cache size in tokens, all requests together (default: 16384)\n"
             "      --engine-nice N  nice value of the engine's compute threads, so the HTTP thread gets a core\n"
             "                       the moment a token is ready (0..19, default: 0 = off; 5 favours latency)\n"
             "      --log-level L    debug | info | warn | error (default: info); logs are JSON lines on stderr\n"
             "      --redact-prompts keep prompt and completion text out of the logs\n"
             "      --keys-db FILE   API key store (default: $CYLLM_DATA_DIR or ~/.local/share/cyllm/keys.sqlite)\n"
             "      --audit-db FILE  audit log (default: next to the key store, audit.sqlite)\n"
             "      --lora NAME=PATH serve a LoRA adapter (PEFT dir or GGUF LoRA) as model NAME or BASE:NAME;\n"
             "                       repeatable; more can be loaded at run time (POST /v1/adapters/load)\n"
             "      --max-loras N    adapters kept in memory at once (default: 4; idle ones are evicted LRU)\n"
             "      --lora-provenance warn|refuse  when an adapter was trained with another chat template or\n"
             "                       EOS token (default: warn)\n") +
         kModelHelp;
}

// Settings: defaults, then the config file, then flags. false (after printing why) on a problem.
bool settings_from(Args& a, server::ServerSettings& s) {
  if (auto path = a.get("--config")) {
    auto problems = server::load_server_config(*path, s);
    if (!problems.empty()) {
      std::fprintf(stderr, "cyllm serve: the config file %s has %zu problem%s:\n%s", path->c_str(), problems.size(),
                   problems.size() == 1 ? "" : "s", ConfigSchema::format(problems).c_str());
      return false;
    }
  }
  s.host = a.get_or("--host", s.host);
  const long long port = a.get_int("--port", s.port);
  s.max_body_bytes = a.get_int("--max-body", s.max_body_bytes);
  const long long kv = a.get_int("--kv-tokens", s.kv_tokens);
  const long long nice = a.get_int("--engine-nice", s.engine_nice);
  if (auto l = a.get("--log-level"); l && !parse_log_level(*l, &s.log.level)) {
    std::fprintf(stderr, "cyllm serve: --log-level must be debug, info, warn or error\n");
    return false;
  }
  if (a.flag("--redact-prompts")) s.log.redact_prompts = true;
  s.keys_db = a.get_or("--keys-db", s.keys_db);
  s.audit_db = a.get_or("--audit-db", s.audit_db);
  if (!a.ok() || port < 0 || port > 65535 || s.max_body_bytes < 1024 || kv < 64 || nice < 0 || nice > 19) {
    std::fprintf(stderr, "cyllm serve: %s\n",
                 a.ok() ? "--port must be 0..65535, --max-body >= 1024, --kv-tokens >= 64 and --engine-nice 0..19"
                        : a.error().c_str());
    return false;
  }
  s.port = static_cast<uint16_t>(port);
  s.kv_tokens = static_cast<int>(kv);
  s.engine_nice = static_cast<int>(nice);
  return true;
}
}  // namespace

int cmd_serve(int argc, char** argv) {
  std::set<std::string> values = {"--host", "--port", "--max-body", "--kv-tokens", "--engine-nice", "--config", "--log-level",
                                  "--keys-db", "--audit-db", "--lora", "--max-loras", "--lora-provenance"};
  values.insert(kModelValueOpts.begin(), kModelValueOpts.end());
  Args a(argc, argv, values, {"--help", "--redact-prompts"}, kModelAliases);
  if (!a.ok() || a.flag("--help")) {
    if (!a.ok()) std::fprintf(stderr, "cyllm serve: %s\n", a.error().c_str());
    std::fprintf(a.ok() ? stdout : stderr, "%s", help().c_str());
    return a.ok() ? 0 : 2;
  }
  server::ServerSettings settings;
  if (!settings_from(a, settings)) return 2;
  auto rt = server::ServerRuntime::create(settings);
  if (!rt) {
    std::fprintf(stderr, "cyllm serve: %s\n", rt.error().to_string().c_str());
    return 2;
  }

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
  cfg.kv_budget_tokens = std::max(settings.kv_tokens, lm->ctx_opts.n_ctx);
  cfg.compute_nice = settings.engine_nice;
  cfg.timeouts = settings.timeouts;
  if (auto st = cfg.validate(); !st) {
    std::fprintf(stderr, "cyllm serve: %s\n", st.error().to_string().c_str());
    return 2;
  }
  auto sched = std::make_unique<Scheduler>(*lm->model, *lm->tokenizer, cfg, *lm->pool);
  const std::string path = *a.get("--model");
  const std::string model_id = std::filesystem::path(path).stem().string();

  // LoRA adapters: a registry checked against this base, its chat template and EOS token.
  AdapterRegistryOptions ro;
  ro.max_resident = static_cast<int>(a.get_int("--max-loras", 4));
  const std::string prov = a.get_or("--lora-provenance", "warn");
  if (!a.ok() || ro.max_resident < 1 || (prov != "warn" && prov != "refuse")) {
    std::fprintf(stderr, "cyllm serve: --max-loras must be >= 1 and --lora-provenance warn or refuse\n");
    return 2;
  }
  ro.provenance = prov == "refuse" ? ProvenancePolicy::kRefuse : ProvenancePolicy::kWarn;
  ro.server = (*prompt)->adapter_provenance(*lm->tokenizer);
  ro.base_name = model_id;
  Logger* log = (*rt)->log.get();
  ro.on_warning = [log](const std::string& w) { log->log(LogLevel::kWarn, "adapter_warning", {{"message", w}}); };
  auto adapters = std::make_unique<AdapterRegistry>(lm->model->config(), ro);
  for (const std::string& spec : a.get_all("--lora")) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      std::fprintf(stderr, "cyllm serve: --lora takes NAME=PATH, got '%s'\n", spec.c_str());
      return 2;
    }
    AdapterSpec as;
    as.name = spec.substr(0, eq);
    as.path = spec.substr(eq + 1);
    as.preload = true;
    if (auto st = adapters->register_file(as); !st) {
      std::fprintf(stderr, "cyllm serve: adapter '%s': %s\n", as.name.c_str(), st.error().to_string().c_str());
      return 1;
    }
    std::fprintf(stderr, "adapter: %s (%s) as model %s or %s:%s\n", as.name.c_str(), as.path.c_str(), as.name.c_str(),
                 model_id.c_str(), as.name.c_str());
  }

  server::ServerBackend be;
  be.model_id = model_id;
  be.adapters = adapters.get();
  be.scheduler = sched.get();
  be.tokenizer = lm->tokenizer.get();
  be.n_vocab = lm->model->config().n_vocab;
  be.max_seq_tokens = sched->config().max_seq_tokens > 0 ? sched->config().max_seq_tokens : lm->ctx_opts.n_ctx;
  const ChatPrompt* cp = prompt->get();
  be.render_chat = [cp](const nlohmann::ordered_json& messages, bool add_gen) { return cp->render(messages, add_gen); };

  server::ServerOptions opts;
  opts.host = settings.host;
  opts.port = settings.port;
  opts.max_body_bytes = settings.max_body_bytes;
  auto srv = std::make_unique<server::HttpServer>(std::move(be), rt->get());
  auto bound = srv->start(opts);
  if (!bound) {
    std::fprintf(stderr, "cyllm serve: %s\n", bound.error().to_string().c_str());
    return 1;
  }
  std::fprintf(stderr, "%s\nmodel: %s\nauth: %s\nlistening on http://%s:%u (Ctrl-C to stop)\n",
               (*prompt)->describe().c_str(), std::filesystem::path(path).stem().c_str(),
               (*rt)->gate->auth_required() ? "API key required" : "off (loopback and no API keys)",
               opts.host.c_str(), static_cast<unsigned>(*bound));
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
  adapters.reset();
  return 0;
}

}  // namespace cyllm::cli
