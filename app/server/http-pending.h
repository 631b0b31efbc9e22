// Private to the HTTP server: the gate engine-thread events pass through, and the state of a
// generation request whose answer is still being written.
#pragma once

#include <chrono>
#include <mutex>
#include <vector>

#include <QMetaObject>
#include <QPointer>

#include "server/http-server.h"
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
    const auto posted = std::chrono::steady_clock::now();
    QMetaObject::invokeMethod(
        t, [t, key, ev, posted] { t->dispatch_event(key, ev, posted); }, Qt::QueuedConnection);
  }
};

// One generation request in flight: what its reply needs, and the choices gathered so far.
struct HttpServer::Pending {
  Exchange ex;
  bool chat = true, stream = false, include_usage = false, echo = false;
  int logprobs = -1;  // top alternatives per token; -1: off
  std::string id, model, prompt_text;
  int n = 1;
  uint64_t sched_id = 0;
  QPointer<SseStream> out;
  std::vector<ChoiceResult> choices;
  std::vector<bool> started;
  std::vector<size_t> text_bytes;
  std::vector<std::string> logged_text;
  std::optional<ContentChunks> fast;  // streams: the per-token chunk fast path  // debug log only: each choice's text (streams included)  // text sent so far per choice (completions' logprobs.text_offset)
  int n_done = 0;
  Usage usage;
  LatencyRecord latency;  // of choice 0 (all choices share the request's clock)
  bool have_latency = false;
};

}  // namespace cyllm::server
