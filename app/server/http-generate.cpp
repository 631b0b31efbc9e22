// HttpServer: /v1/chat/completions and /v1/completions. A request is admitted (gatekeeper),
// parsed and validated (protocol + input limits), tokenized, charged to its key's and tenant's
// rate limits, and submitted to the scheduler under its trace id; engine events then stream back
// as SSE chunks or are gathered into one JSON answer. The request's telemetry record (audit row,
// metrics with its latency, log line, spans) is written when its answer is complete.
#include <time.h>

#include <random>

#include <QTcpSocket>
#include <QtHttpServer/QHttpServer>
#include <QtHttpServer/QHttpServerRequest>
#include <QtHttpServer/QHttpServerResponder>

#include "server/http-pending.h"
#include "server/input-limits.h"
#include "text/utf8-stream.h"

namespace cyllm::server {

namespace {
// The engine's logprob entries (raw token bytes) in the protocol's form.
std::vector<TokenLogprob> to_protocol(const std::vector<cyllm::TokenLogprob>& in) {
  std::vector<TokenLogprob> out;
  out.reserve(in.size());
  for (const auto& t : in) {
    TokenLogprob p;
    p.token = t.bytes;
    p.logprob = t.logprob;
    for (const auto& alt : t.top) p.top.emplace_back(alt.bytes, alt.logprob);
    out.push_back(std::move(p));
  }
  return out;
}

QByteArray json_bytes(const nlohmann::ordered_json& j) { return QByteArray::fromStdString(j.dump()); }
QByteArray sse(const nlohmann::ordered_json& j) { return QByteArray::fromStdString(sse_event(j)); }
double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

void HttpServer::handle_generate(const QHttpServerRequest& req, QHttpServerResponder&& resp, bool chat) {
  Exchange ex;
  if (!begin(req, resp, chat ? "/v1/chat/completions" : "/v1/completions", "inference", ex)) return;
  if (req.body().size() > max_body_) return answer_error(ex, resp, body_too_large(static_cast<size_t>(max_body_)));
  const std::string body = req.body().toStdString();
  ChatRequest cr;
  CompletionRequest pr;
  GenerationParams* gp = nullptr;
  InputLimits lim = rt_->settings.input;
  lim.context_tokens = be_.max_seq_tokens;
  if (chat) {
    auto parsed = parse_chat_request(body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return answer_error(ex, resp, *e);
    cr = std::move(std::get<ChatRequest>(parsed));
    if (auto e = check_chat_input(cr, lim)) return answer_error(ex, resp, *e);
    gp = &cr;
  } else {
    auto parsed = parse_completion_request(body);
    if (auto* e = std::get_if<ApiError>(&parsed)) return answer_error(ex, resp, *e);
    pr = std::move(std::get<CompletionRequest>(parsed));
    if (auto e = check_completion_input(pr, lim)) return answer_error(ex, resp, *e);
    gp = &pr;
  }
  log_ignored(ex, gp->ignored_fields);
  // The adapter: the "lora" field, else a model name "<base>:<adapter>" or "<adapter>".
  std::string adapter = gp->lora;
  if (adapter.empty() && gp->model != be_.model_id && be_.adapters)
    adapter = be_.adapters->adapter_for_model(gp->model).value_or("");
  if (adapter.empty() && gp->model != be_.model_id) return answer_error(ex, resp, model_not_found(gp->model));
  if (!adapter.empty() && !be_.adapters)
    return answer_error(ex, resp, invalid_param("lora", "this server has no adapters (start it with --lora NAME=PATH)"));
  std::optional<AdapterLease> lease;
  if (!adapter.empty()) {
    auto l = be_.adapters->acquire(adapter);
    if (!l) {
      ApiError e = l.error().code == ErrorCode::kNotFound ? model_not_found(adapter) : from_engine_error(l.error());
      e.param = gp->lora.empty() ? "model" : "lora";
      return answer_error(ex, resp, e);
    }
    lease = std::move(*l);
  }
  ex.model_id = lease ? be_.model_id + ":" + lease->name : be_.model_id;

  const Tokenizer& tok = *be_.tokenizer;
  const std::string prompt_param = chat ? "messages" : "prompt";
  std::vector<int32_t> prompt;
  if (chat) {
    auto text = be_.render_chat(cr.messages, /*add_generation_prompt=*/true);
    if (!text) return answer_error(ex, resp, invalid_param("messages", text.error().message));
    prompt = tok.encode(*text, /*add_bos=*/false, /*parse_special=*/true);
  } else {
    prompt = tok.encode(pr.prompt, tok.add_bos_default(), /*parse_special=*/false);
  }
  if (prompt.empty()) return answer_error(ex, resp, invalid_param(prompt_param, "the prompt is empty"));
  // At debug level the prompt text is logged (as "prompt", which --redact-prompts hides).
  if (rt_->log->enabled(LogLevel::kDebug))
    rt_->log->log(LogLevel::kDebug, "request_prompt",
                  {{"trace_id", ex.adm.trace.trace_id},
                   {"prompt", sanitize_utf8(chat ? tok.decode(prompt) : pr.prompt)},
                   {"prompt_tokens", prompt.size()}});
  const int n_prompt = static_cast<int>(prompt.size());
  if (n_prompt >= be_.max_seq_tokens) {
    ApiError e = invalid_param(prompt_param, "the prompt has " + std::to_string(n_prompt) + " tokens; at most " +
                                                 std::to_string(be_.max_seq_tokens - 1) + " fit the context");
    e.code = "context_length_exceeded";
    return answer_error(ex, resp, e);
  }
  if (!gp->seed_given) gp->sampling.seed = std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32);
  if (auto st = gp->sampling.validate(be_.n_vocab); !st) return answer_error(ex, resp, from_engine_error(st.error()));
  // Tokens per minute are charged at admission, as OpenAI does: the prompt plus the completion
  // tokens asked for (each of the n choices).
  const int charged = n_prompt + (gp->max_tokens > 0 ? gp->max_tokens * gp->n : 0);
  if (auto e = rt_->gate->charge(ex.adm, charged, unix_now())) return answer_error(ex, resp, *e);

  ServeRequest sr;
  sr.prompt = std::move(prompt);
  sr.max_tokens = gp->max_tokens < 0 ? be_.max_seq_tokens - n_prompt : gp->max_tokens;
  sr.sampling = gp->sampling;
  sr.stop = gp->stop;
  sr.n = gp->n;
  sr.priority = gp->priority;
  if (gp->tier) sr.tier = *gp->tier;
  sr.stream = gp->stream;
  sr.ignore_eos = gp->ignore_eos;
  sr.json_mode = gp->json_mode;
  sr.logprobs = gp->logprobs ? gp->top_logprobs : -1;
  sr.trace_id = ex.adm.trace.trace_id;
  if (lease) {
    sr.lora = lease->adapter;  // the request holds the adapter until it finishes (registry pinning)
    sr.adapter_id = lease->adapter_id;
  }

  const uint64_t key = next_key_++;
  auto p = std::make_unique<Pending>();
  p->chat = chat;
  p->stream = gp->stream;
  p->include_usage = gp->include_usage;
  p->echo = !chat && pr.echo;
  p->prompt_text = chat ? std::string() : pr.prompt;
  p->id = new_id(chat ? "chatcmpl" : "cmpl");
  p->model = gp->model;
  p->n = gp->n;
  p->choices.resize(gp->n);
  p->started.assign(gp->n, false);
  p->text_bytes.assign(gp->n, 0);
  if (rt_->log->enabled(LogLevel::kDebug)) p->logged_text.assign(gp->n, std::string());
  p->logprobs = sr.logprobs;
  if (p->stream) p->fast.emplace(p->id, created_, p->model, chat, gp->n);
  p->out = new SseStream(std::move(resp), http_, this);
  p->out->set_headers(ex.headers);
  p->ex = std::move(ex);
  connect(p->out, &SseStream::clientGone, this, [this, key] {
    auto it = pending_.find(key);
    if (it == pending_.end()) return;
    if (it->second->sched_id) be_.scheduler->cancel(it->second->sched_id);
    if (it->second->out) it->second->out->deleteLater();
    record(it->second->ex, 499, nullptr);  // the client closed the connection first
    pending_.erase(it);
  });
  Pending* raw = p.get();
  pending_[key] = std::move(p);
  std::shared_ptr<Gate> gate = gate_;
  if (be_.tap) {
    auto tap = be_.tap;
    std::string trace = raw->ex.adm.trace.trace_id;
    raw->sched_id = be_.scheduler->submit(std::move(sr), [gate, key, tap, trace](const ServeEvent& ev) {
      tap(trace, ev);
      gate->post(key, ev);
    });
    return;
  }
  raw->sched_id = be_.scheduler->submit(std::move(sr), [gate, key](const ServeEvent& ev) { gate->post(key, ev); });
}

void HttpServer::drain_events() {
  for (const Gate::Posted& p : gate_->take()) dispatch_event(p.key, p.ev, p.at);
}

void HttpServer::dispatch_event(uint64_t key, const ServeEvent& ev, std::chrono::steady_clock::time_point posted) {
  const auto start = std::chrono::steady_clock::now();
  timespec cpu0{}, cpu1{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
  on_event(key, ev);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
  const auto end = std::chrono::steady_clock::now();
  // Token events only: a request's last event also writes its audit row and log line, a
  // per-request cost that /metrics shows in the request histograms.
  if (!ev.done)
    rt_->telemetry->stream_event(std::chrono::duration<double>(start - posted).count(),
                                 std::chrono::duration<double>(end - start).count(),
                                 static_cast<double>(cpu1.tv_sec - cpu0.tv_sec) + 1e-9 * (cpu1.tv_nsec - cpu0.tv_nsec));
}

void HttpServer::on_event(uint64_t key, const ServeEvent& ev) {
  auto it = pending_.find(key);
  if (it == pending_.end()) return;
  Pending& p = *it->second;
  if (!p.out) {  // the reply is gone
    if (p.sched_id) be_.scheduler->cancel(p.sched_id);
    record(p.ex, 499, nullptr);
    pending_.erase(it);
    return;
  }
  if (ev.done && !ev.spans.empty() && rt_->log->enabled(LogLevel::kDebug))
    for (const Span& s : ev.spans)
      rt_->log->log(LogLevel::kDebug, "span",
                    {{"trace_id", s.trace_id}, {"span", s.name}, {"start_ms", s.start_ms}, {"end_ms", s.end_ms}});
  if (ev.done && ev.finish_reason != "stop" && ev.finish_reason != "length") {
    ApiError e = ev.finish_reason == "timeout" && ev.error ? timed_out(*ev.error)
                 : ev.error                                ? from_engine_error(*ev.error)
                                                           : from_engine_error(make_error(ErrorCode::kCancelled, "the request was cancelled"));
    if (p.sched_id) be_.scheduler->cancel(p.sched_id);
    if (p.out->started()) p.out->finish(sse(e.to_json()) + QByteArray::fromStdString(sse_done()));
    else p.out->reply(e.status, json_bytes(e.to_json()));
    record(p.ex, e.status, &e, &ev.latency);
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
  const std::vector<TokenLogprob> lps = p.logprobs >= 0 ? to_protocol(ev.logprobs) : std::vector<TokenLogprob>();
  const std::vector<TokenLogprob>* lp = p.logprobs >= 0 && !lps.empty() ? &lps : nullptr;
  if (p.stream) {
    if (p.chat) {
      if (first) p.out->send(sse(chat_chunk(p.id, created_, p.model, c, "assistant", std::string(), std::nullopt)));
      if (lp) p.out->send(sse(chat_chunk(p.id, created_, p.model, c, std::nullopt, piece, std::nullopt, lp)));
      else if (!piece.empty()) p.out->send(QByteArray::fromStdString(p.fast->event(c, piece)));
      if (finish) p.out->send(sse(chat_chunk(p.id, created_, p.model, c, std::nullopt, std::nullopt, finish)));
    } else if (!finish && !lp && !piece.empty()) {
      p.out->send(QByteArray::fromStdString(p.fast->event(c, piece)));
    } else if (!piece.empty() || finish || lp) {
      p.out->send(sse(completion_chunk(p.id, created_, p.model, c, piece, finish, lp, p.text_bytes[c])));
    }
  } else {
    p.choices[c].text += piece;
    p.choices[c].logprobs.insert(p.choices[c].logprobs.end(), lps.begin(), lps.end());
    if (finish) p.choices[c].finish_reason = *finish;
  }
  p.text_bytes[c] += piece.size();
  if (!p.logged_text.empty()) p.logged_text[c] += piece;
  if (!ev.done) return;
  p.usage.prompt_tokens = ev.prompt_tokens;
  p.usage.cached_tokens = ev.cached_prompt_tokens;
  p.usage.completion_tokens += ev.completion_tokens;
  if (c == 0 || !p.have_latency) {
    p.latency = ev.latency;
    p.have_latency = true;
  }
  if (++p.n_done < p.n) return;
  // Tokens over all choices for the metrics; the timeline is choice 0's.
  LatencyRecord lat = p.latency;
  lat.prompt_tokens = p.usage.prompt_tokens;
  lat.cached_prompt_tokens = p.usage.cached_tokens;
  lat.completion_tokens = p.usage.completion_tokens;
  if (p.stream) {
    if (p.include_usage) p.out->send(sse(usage_chunk(p.id, created_, p.model, p.usage, p.chat)));
    p.out->finish(QByteArray::fromStdString(sse_done()));
  } else {
    const bool with_lp = p.logprobs >= 0;
    auto j = p.chat ? chat_completion_response(p.id, created_, p.model, p.choices, p.usage, with_lp)
                    : completion_response(p.id, created_, p.model, p.choices, p.usage, with_lp);
    p.out->reply(200, json_bytes(j));
  }
  if (!p.logged_text.empty()) {
    nlohmann::json texts = nlohmann::json::array();
    for (const auto& t : p.logged_text) texts.push_back(sanitize_utf8(t));
    rt_->log->log(LogLevel::kDebug, "request_completion", {{"trace_id", p.ex.adm.trace.trace_id}, {"completion", texts}});
  }
  record(p.ex, 200, nullptr, &lat);
  pending_.erase(it);
}

}  // namespace cyllm::server
