// `cyllm bench-http -m MODEL [--streams 1,8,32] [--prompt N] [--gen N] [--json]`: what the HTTP
// layer costs. For each stream count it runs the same greedy requests (same prompt tokens, the same
// number of generated tokens: ignore_eos) twice on fresh schedulers: once submitted to the engine
// in-process, once as streaming /v1/completions requests over loopback to the in-process
// HttpServer, with API-key-free auth, the audit log, metrics and logs all on. It reports tokens/s
// and requests/s for both, the throughput loss, and the latency each streamed token gains between
// the engine emitting it and the client reading it (engine-thread tap vs client receive time, one
// steady clock). Clients use plain blocking sockets, one thread per stream.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include <QCoreApplication>

#include "cli/commands.h"
#include "cli/session.h"
#include "serve/percentiles.h"
#include "serve/scheduler.h"
#include "server/http-server.h"
#include "server/server-runtime.h"

namespace cyllm::cli {

namespace {

using Clock = std::chrono::steady_clock;
double now_us() { return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count(); }

struct StreamTimes {
  std::vector<double> recv_us;  // one per SSE event with non-empty text
  bool ok = false;
};

// One streaming request over a blocking socket; records when each text event arrived.
StreamTimes run_client(uint16_t port, const std::string& body, const std::string& request_id) {
  StreamTimes out;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return out;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return out;
  }
  const std::string req = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          "X-Request-Id: " + request_id + "\r\nContent-Length: " + std::to_string(body.size()) +
                          "\r\n\r\n" + body;
  ::send(fd, req.data(), req.size(), 0);
  std::string buf;
  size_t scan = 0;
  char tmp[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) break;
    const double t = now_us();
    buf.append(tmp, static_cast<size_t>(n));
    for (;;) {
      const size_t start = buf.find("data: ", scan);
      if (start == std::string::npos) break;
      const size_t end = buf.find("\n\n", start);
      if (end == std::string::npos) break;
      const std::string_view ev(buf.data() + start, end - start);
      if (ev == "data: [DONE]") out.ok = true;
      const size_t text = ev.find("\"text\":\"");
      if (text != std::string_view::npos && text + 8 < ev.size() && ev[text + 8] != '"') out.recv_us.push_back(t);
      scan = end + 2;
    }
  }
  ::close(fd);
  return out;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  for (std::string x; std::getline(ss, x, ',');) v.push_back(std::atoi(x.c_str()));
  return v;
}

SchedulerConfig bench_config(int streams, int prompt, int gen, int nice) {
  SchedulerConfig cfg;
  cfg.compute_nice = nice;  // as `cyllm serve` runs it (both modes, so the comparison is fair)
  cfg.kv_budget_tokens = std::max(16384, streams * (prompt + gen + 64));
  cfg.max_running = std::max(64, streams);
  return cfg;
}

}  // namespace

int cmd_bench_http(int argc, char** argv) {
  std::set<std::string> values = {"--streams", "--prompt", "--gen", "--reps", "--engine-nice"};
  values.insert(kModelValueOpts.begin(), kModelValueOpts.end());
  Args a(argc, argv, values, {"--help", "--json"}, kModelAliases);
  if (!a.ok() || a.flag("--help") || !a.get("--model")) {
    if (!a.ok()) std::fprintf(stderr, "cyllm bench-http: %s\n", a.error().c_str());
    std::fprintf(a.flag("--help") ? stdout : stderr,
                 "usage: cyllm bench-http -m MODEL.gguf [--streams 1,8,32] [--prompt 32] [--gen 64] [--reps 2]\n"
                 "                        [--engine-nice N] [--json]\n"
                 "Measures the HTTP server against the in-process engine: tokens/s, requests/s and the latency\n"
                 "added per streamed token, at each stream count. Prints JSON. --engine-nice: the compute threads'\n"
                 "nice value in both modes (default: cyllm serve's, 0 = off).\n%s",
                 kModelHelp);
    return a.flag("--help") ? 0 : 2;
  }
  const std::vector<int> streams = parse_list(a.get_or("--streams", "1,8,32"));
  const int prompt_words = static_cast<int>(a.get_int("--prompt", 32));
  const int gen = static_cast<int>(a.get_int("--gen", 64));
  const int reps = static_cast<int>(a.get_int("--reps", 2));
  const int nice = static_cast<int>(a.get_int("--engine-nice", server::ServerSettings{}.engine_nice));
  if (!a.ok() || streams.empty() || std::any_of(streams.begin(), streams.end(), [](int n) { return n < 1; }) ||
      prompt_words < 1 || gen < 2 || reps < 1 || nice < 0 || nice > 19) {
    std::fprintf(stderr, "cyllm bench-http: --streams takes positive counts, --prompt >= 1, --gen >= 2, --engine-nice 0..19\n");
    return 2;
  }
  int qargc = 1;
  char qname[] = "cyllm";
  char* qargv[] = {qname, nullptr};
  QCoreApplication app(qargc, qargv);
  auto lm = load_model("bench-http", a);
  if (!lm) return 1;

  // The server's stores live in a scratch folder; logs at warn keep stderr readable (one info line
  // per request would not change the numbers).
  const auto scratch = std::filesystem::temp_directory_path() / ("cyllm-bench-http-" + std::to_string(::getpid()));
  std::filesystem::create_directories(scratch);
  server::ServerSettings settings;
  settings.keys_db = (scratch / "keys.sqlite").string();
  settings.audit_db = (scratch / "audit.sqlite").string();
  settings.log.level = LogLevel::kWarn;
  auto rt = server::ServerRuntime::create(settings);
  if (!rt) {
    std::fprintf(stderr, "cyllm bench-http: %s\n", rt.error().to_string().c_str());
    return 1;
  }

  nlohmann::json report;
  report["threads"] = lm->pool->size();
  report["gen_tokens"] = gen;
  report["engine_nice"] = nice;
  nlohmann::json runs = nlohmann::json::array();
  for (int n : streams) {
    std::vector<std::string> texts;
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < n; ++i) {
      std::string t = "Request " + std::to_string(i) + ":";
      for (int w = 0; w < prompt_words; ++w) t += " word" + std::to_string((i * 31 + w * 7) % 97);
      prompts.push_back(lm->tokenizer->encode(t, lm->tokenizer->add_bos_default(), false));
      texts.push_back(std::move(t));
    }
    const SchedulerConfig cfg = bench_config(n, static_cast<int>(prompts[0].size()) + 8, gen, nice);

    // Each round runs the in-process engine, then HTTP, on fresh schedulers; the best tokens/s of
    // each mode over the rounds is compared, and the per-token latencies are pooled.
    std::vector<double> added_us;
    int failed = 0;
    double inproc_tok_s = 0, http_tok_s = 0, inproc_req_s = 0, http_req_s = 0;
    MetricsRegistry& reg0 = (*rt)->telemetry->registry();
    const double ev_count0 = reg0.value(server::Telemetry::kEventWrite, {});
    const double write_sum0 = reg0.histogram_sum(server::Telemetry::kEventWrite, {});
    const double dispatch_sum0 = reg0.histogram_sum(server::Telemetry::kEventDispatch, {});
    const double cpu_sum0 = reg0.histogram_sum(server::Telemetry::kEventCpu, {});
    auto round = [&](int rep) -> bool {
      // In-process.
      double inproc_s = 0;
      int inproc_tokens = 0;
      {
        Scheduler sched(*lm->model, *lm->tokenizer, cfg, *lm->pool);
        std::vector<std::promise<void>> done(static_cast<size_t>(n));
        std::mutex mu;
        const auto t0 = Clock::now();
        for (int i = 0; i < n; ++i) {
          ServeRequest r;
          r.prompt = prompts[i];
          r.max_tokens = gen;
          r.sampling.temperature = 0;
          r.ignore_eos = true;
          sched.submit(r, [&, i](const ServeEvent& e) {
            std::lock_guard lock(mu);
            if (e.token >= 0) ++inproc_tokens;
            if (e.done) done[i].set_value();
          });
        }
        for (auto& d : done) d.get_future().wait();
        inproc_s = std::chrono::duration<double>(Clock::now() - t0).count();
      }

      // Through HTTP.
      Scheduler sched(*lm->model, *lm->tokenizer, cfg, *lm->pool);
      std::mutex tap_mu;
      std::map<std::string, std::vector<double>> emitted;  // trace id -> emit time of each text event
      int http_tokens = 0;
      server::ServerBackend be;
      be.model_id = "bench";
      be.scheduler = &sched;
      be.tokenizer = lm->tokenizer.get();
      be.n_vocab = lm->model->config().n_vocab;
      be.max_seq_tokens = lm->ctx_opts.n_ctx;
      be.render_chat = [](const nlohmann::ordered_json&, bool) -> Result<std::string> { return std::string(); };
      be.tap = [&](const std::string& trace, const ServeEvent& ev) {
        const double t = now_us();
        std::lock_guard lock(tap_mu);
        if (ev.token >= 0) ++http_tokens;
        if (!ev.text.empty()) emitted[trace].push_back(t);
      };
      server::HttpServer srv(be, rt->get());
      server::ServerOptions opts;
      opts.port = 0;
      auto port = srv.start(opts);
      if (!port) {
        std::fprintf(stderr, "cyllm bench-http: %s\n", port.error().to_string().c_str());
        return false;
      }
      std::vector<std::future<StreamTimes>> clients;
      const auto t0 = Clock::now();
      for (int i = 0; i < n; ++i) {
        nlohmann::json body = {{"model", "bench"}, {"prompt", texts[i]}, {"max_tokens", gen},
                               {"temperature", 0},  {"stream", true},     {"ignore_eos", true}};
        const std::string rid = "bench-" + std::to_string(n) + "-" + std::to_string(rep) + "-" + std::to_string(i);
        clients.push_back(std::async(std::launch::async, run_client, *port, body.dump(), rid));
      }
      std::vector<StreamTimes> got;
      for (auto& c : clients) got.push_back(c.get());
      const double http_s = std::chrono::duration<double>(Clock::now() - t0).count();
      srv.stop();

      {
        std::lock_guard lock(tap_mu);
        for (int i = 0; i < n; ++i) {
          const auto& e = emitted["bench-" + std::to_string(n) + "-" + std::to_string(rep) + "-" + std::to_string(i)];
          if (!got[i].ok) ++failed;
          const size_t m = std::min(e.size(), got[i].recv_us.size());
          for (size_t k = 0; k < m; ++k) added_us.push_back(got[i].recv_us[k] - e[k]);
        }
      }
    inproc_tok_s = std::max(inproc_tok_s, inproc_tokens / inproc_s);
    http_tok_s = std::max(http_tok_s, http_tokens / http_s);
    inproc_req_s = std::max(inproc_req_s, n / inproc_s);
    http_req_s = std::max(http_req_s, n / http_s);
    return true;
    };
    for (int rep = 0; rep < reps; ++rep)
      if (!round(rep)) return 1;
    double mean = 0;
    for (double x : added_us) mean += x;
    mean = added_us.empty() ? 0 : mean / static_cast<double>(added_us.size());
    // The server's own share: per engine event, the wait for the HTTP thread and the write.
    MetricsRegistry& reg = (*rt)->telemetry->registry();
    const double ev_n = reg.value(server::Telemetry::kEventWrite, {}) - ev_count0;
    const double write_us = ev_n > 0 ? 1e6 * (reg.histogram_sum(server::Telemetry::kEventWrite, {}) - write_sum0) / ev_n : 0;
    const double dispatch_us =
        ev_n > 0 ? 1e6 * (reg.histogram_sum(server::Telemetry::kEventDispatch, {}) - dispatch_sum0) / ev_n : 0;
    const double cpu_us = ev_n > 0 ? 1e6 * (reg.histogram_sum(server::Telemetry::kEventCpu, {}) - cpu_sum0) / ev_n : 0;
    nlohmann::json r = {{"streams", n},
                        {"inproc_tok_s", inproc_tok_s},
                        {"http_tok_s", http_tok_s},
                        {"throughput_loss_pct", 100.0 * (1.0 - http_tok_s / inproc_tok_s)},
                        {"inproc_req_s", inproc_req_s},
                        {"http_req_s", http_req_s},
                        {"rounds", reps},
                        {"added_latency_us_mean", mean},
                        {"added_latency_us_p50", percentile(added_us, 50)},
                        {"added_latency_us_p99", percentile(added_us, 99)},
                        {"server_cpu_us_per_event", cpu_us},
                        {"server_write_wall_us_per_event", write_us},
                        {"server_dispatch_wait_us_per_event", dispatch_us},
                        {"tokens_matched", added_us.size()},
                        {"failed_streams", failed}};
    std::fprintf(stderr,
                 "bench-http: %2d stream(s): in-process %.1f tok/s, HTTP %.1f tok/s (%.1f%% loss), +%.0f us/token "
                 "(server per token: %.1f us CPU, %.1f us wall writing, %.0f us waiting for its thread)\n",
                 n, inproc_tok_s, http_tok_s, r["throughput_loss_pct"].get<double>(), mean, cpu_us, write_us,
                 dispatch_us);
    runs.push_back(r);
  }
  report["runs"] = runs;
  std::printf("%s\n", report.dump(a.flag("--json") ? -1 : 2).c_str());
  rt->reset();
  std::error_code ec;
  std::filesystem::remove_all(scratch, ec);
  return 0;
}

}  // namespace cyllm::cli
