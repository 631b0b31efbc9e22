// The serving scheduler: continuous batching over a paged KV cache with prefix caching.
//
// One engine thread owns the model's KV storage and runs a loop. Each iteration it admits waiting
// requests (tier, priority, FIFO, aging: serve/request-queue.h) while KV blocks allow, builds one
// batch of every running sequence's next tokens — one token per decoding sequence plus chunks of
// prompts still being prefilled, within a per-step token budget, so a long prompt never stalls the
// streams — runs the batched forward pass, samples, and streams text back through each request's
// sink. Finished, cancelled and timed-out requests leave at once and free their blocks. When blocks
// run out, the lowest-priority running sequence is preempted (its blocks freed, recomputed later
// from its tokens); the others never notice. Full blocks are published to the prefix cache under
// a hash chain of (tokens, adapter id), so a new request reuses the longest cached prefix.
//
// Thread rules: submit(), cancel() and stats() may be called from any thread. Sinks are called on
// the engine thread and must not block; they must not call back into the scheduler.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/thread-pool.h"
#include "core/trace.h"
#include "model/llama-model.h"
#include "model/lora.h"
#include "serve/json-constraint.h"
#include "serve/kv-blocks.h"
#include "serve/latency.h"
#include "serve/logprobs.h"
#include "serve/request-queue.h"
#include "serve/sampler.h"
#include "serve/timeouts.h"
#include "text/tokenizer.h"

namespace cyllm {

struct SchedulerConfig {
  int kv_budget_tokens = 16384;  // KV cache size in tokens (all sequences together)
  double kv_budget_mb = 0;       // when > 0: the KV budget in MiB instead (converted to tokens)
  int block_tokens = 16;
  int max_batch_tokens = 256;    // tokens per forward step (decodes + prefill chunks)
  int max_running = 64;          // sequences decoding at once
  int max_seq_tokens = 0;        // prompt + output limit per sequence; 0: the model's context
  PrefixCacheConfig prefix_cache;
  TimeoutConfig timeouts;
  double aging_ms = 30'000;
  bool exact_activations = false;
  // > 0: the engine thread and the pool's workers run at this nice value (core/thread-priority.h),
  // so I/O threads sharing the cores (HTTP, GUI) get one as soon as they wake. 0: unchanged.
  int compute_nice = 0;

  static size_t kv_bytes_per_token(const ModelConfig& c);
  Status validate() const;
};

struct ServeRequest {
  std::vector<int32_t> prompt;
  int max_tokens = 256;
  SamplingParams sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;
  Tier tier = Tier::kDefault;
  int priority = 0;
  uint64_t adapter_id = 0;   // part of the prefix-cache key (must differ between adapters)
  std::shared_ptr<const LoraAdapter> lora;  // this request's adapter, or none
  double deadline_ms = 0;    // the caller's own limit, from arrival; 0: none
  bool stream = false;       // the stream-idle timeout applies
  std::string trace_id;      // carried into every span of this request
  int n = 1;                 // choices: they share the prompt's KV blocks; choice k samples with
                             // seed + k
  // response_format json_object: every choice's text is kept a prefix of one JSON object
  // (serve/json-constraint.h) by masking the logits before sampling, and the choice finishes with
  // "stop" as soon as the object is closed. Reaching max_tokens (or the context) first finishes
  // with "length" and the text is an unfinished document, as OpenAI does. Stop strings still
  // apply and may cut the text before the object closes. End-of-generation tokens are only
  // allowed once the object is complete, so ignore_eos changes nothing here.
  bool json_mode = false;
  // -1: off. 0..20: every event carries a TokenLogprob per generated token with this many top
  // alternatives (ServeEvent::logprobs; semantics in serve/logprobs.h).
  int logprobs = -1;
};

struct ServeEvent {
  uint64_t id = 0;
  int choice = 0;
  std::string text;            // newly released text (complete UTF-8, never part of a stop string)
  int32_t token = -1;          // the token sampled in this event, -1 for none
  // With ServeRequest::logprobs >= 0: the tokens whose text this event completes, in generation
  // order (may lag `token`, may hold several; see serve/logprobs.h). Concatenated over a choice's
  // events: every generated token whose text reached the client.
  std::vector<TokenLogprob> logprobs;
  bool done = false;
  std::string finish_reason;   // on done: stop, length, cancelled, timeout, error
  std::optional<Error> error;  // timeout or error details
  int prompt_tokens = 0;
  int cached_prompt_tokens = 0;
  int completion_tokens = 0;
  LatencyRecord latency;       // on done
  std::vector<Span> spans;     // on done: queue, prefill and decode, under the request's trace id
};
using ServeSink = std::function<void(const ServeEvent&)>;

struct SchedulerStats {
  size_t waiting = 0, running = 0;
  int kv_blocks_total = 0, kv_blocks_used = 0, kv_blocks_cached = 0;
  PrefixCacheStats prefix;
  uint64_t prompt_tokens = 0, generated_tokens = 0, steps = 0, preemptions = 0;
  uint64_t finished = 0, cancelled = 0, timed_out = 0;
};

class Scheduler {
 public:
  Scheduler(const LlamaModel& model, const Tokenizer& tokenizer, SchedulerConfig cfg, ThreadPool& pool);
  ~Scheduler();  // cancels what is left and joins the engine thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a request; its events go to sink. Invalid requests are answered at once with a done
  // event carrying the error, and 0 is returned.
  uint64_t submit(ServeRequest req, ServeSink sink);
  void cancel(uint64_t id);
  SchedulerStats stats() const;
  const LatencyStats& latency() const { return latency_; }
  const SchedulerConfig& config() const { return cfg_; }
  // Blocks until nothing is waiting or running (tests, benchmarks).
  void wait_idle();

 private:
  struct Seq;
  void loop();
  double now_ms() const;
  void admit(double now);
  bool ensure_blocks(Seq& s, int upto_tokens);
  bool preempt_one(const Seq* keep);
  void publish_full_blocks(Seq& s);
  void finish(Seq& s, const std::string& reason, std::optional<Error> err, double now);
  void step(double now);
  void sample_and_emit(Seq& s, double t);
  void fork_followers(Seq& leader);
  Seq* find(uint64_t key);
  const std::shared_ptr<const JsonVocab>& json_vocab();
  void expire(double now);

  const LlamaModel& model_;
  const Tokenizer& tok_;
  SchedulerConfig cfg_;
  ThreadPool& pool_;
  struct Engine;
  std::unique_ptr<Engine> eng_;  // forward pass, KV storage and block manager (engine thread only)

  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::vector<std::unique_ptr<Seq>> incoming_;
  std::vector<uint64_t> cancels_;
  bool stop_ = false;
  uint64_t next_id_ = 1;
  SchedulerStats stats_;  // published snapshot (under mu_)

  // Engine-thread state.
  std::vector<std::unique_ptr<Seq>> seqs_;  // waiting and running
  RequestQueue queue_;
  LatencyStats latency_;
  std::shared_ptr<const JsonVocab> json_vocab_;  // built at the first json_mode request
  std::vector<float> raw_logits_;                // logits before sampling changed them (logprobs)
  std::chrono::steady_clock::time_point t0_;
  std::thread thread_;
};

}  // namespace cyllm
