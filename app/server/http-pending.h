// Private to the HTTP server: the gate engine-thread events pass through, and the state of a
// generation request whose answer is still being written.
#pragma once

#include <chrono>
#include <mutex>
#include <utility>
#include <vector>

#include <QMetaObject>
#include <QPointer>

#include "server/http-server.h"
#include "server/sse-stream.h"

namespace cyllm::server {

// Engine-thread sinks post through the gate; stop() closes it, so late events are dropped safely.
// Events are queued and drained in batches: the first event of a burst (a decode step emits one
// per running stream) schedules one drain on the HTTP thread, and every event posted before that
// drain runs goes with it, so a step's tokens cost one wake-up of the HTTP thread, not one each.
struct HttpServer::Gate {
  struct Posted {
    uint64_t key;
    ServeEvent ev;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mu;
  HttpServer* target = nullptr;
  std::vector<Posted> queue;
  bool scheduled = false;  // a drain is queued on the HTTP thread
  void post(uint64_t key, const ServeEvent& ev) {
    std::lock_guard lock(mu);
    if (!target) return;
    queue.push_back({key, ev, std::chrono::steady_clock::now()});
    if (scheduled) return;
    scheduled = true;
    HttpServer* t = target;
    QMetaObject::invokeMethod(t, [t] { t->drain_events(); }, Qt::QueuedConnection);
  }
  std::vector<Posted> take() {
    std::lock_guard lock(mu);
    scheduled = false;
    return std::exchange(queue, {});
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
