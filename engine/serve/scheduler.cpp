#include "serve/scheduler.h"

#include "core/thread-priority.h"

#include <algorithm>
#include <chrono>

#include "model/forward.h"
#include "model/kv-storage.h"
#include "serve/stop-matcher.h"
#include "text/utf8-stream.h"

namespace cyllm {

struct Scheduler::Engine {
  Engine(const LlamaModel& m, ThreadPool& pool, const SchedulerConfig& cfg, int n_blocks)
      : forward(m, pool, cfg.max_batch_tokens, cfg.exact_activations),
        kv(m.config().n_layer, m.config().kv_dim(), cfg.block_tokens, n_blocks),
        blocks(n_blocks, cfg.block_tokens, cfg.prefix_cache) {}
  ForwardPass forward;
  KvStorage kv;
  KvBlockManager blocks;
};

struct Scheduler::Seq {
  Seq(uint64_t id_, int choice_, ServeRequest r, ServeSink s, const Tokenizer& tok)
      : id(id_), choice(choice_), key(id_ * 64 + static_cast<uint64_t>(choice_)), req(std::move(r)), sink(std::move(s)),
        tokens(req.prompt), n_prompt(static_cast<int>(req.prompt.size())), sampler(seeded(req.sampling, choice_)),
        decoder(tok), stops(req.stop) {
    if (req.logprobs >= 0) lp.emplace();
  }
  static SamplingParams seeded(SamplingParams p, int choice) {
    p.seed += static_cast<uint64_t>(choice);
    return p;
  }
  uint64_t id;
  int choice;
  uint64_t key;                 // id and choice: the queue's key
  std::vector<Seq*> followers;  // choices 1..n-1 waiting to fork from this one's prompt
  bool awaiting_fork = false;
  ServeRequest req;
  ServeSink sink;
  std::vector<int32_t> tokens;  // prompt, then generated tokens
  int n_prompt;
  int n_computed = 0;           // tokens whose keys/values are in the cache
  std::vector<int> blocks;      // block table
  int n_published = 0;          // leading blocks published to the prefix cache
  uint64_t chain = 0;           // hash chain after the published blocks
  Sampler sampler;
  StreamDecoder decoder;
  StopMatcher stops;
  int n_generated = 0;
  int cached_prompt_tokens = 0;
  bool running = false;
  bool cancel = false;
  bool done = false;
  RequestTimeline timeline;
  RequestClock clock;
  std::vector<float> logits;
  int chunk = 0;                // tokens fed in the current step
  std::optional<JsonConstraint> json;  // json_mode: created at the first sample
  std::optional<LogprobRelease> lp;    // logprobs >= 0
};

size_t SchedulerConfig::kv_bytes_per_token(const ModelConfig& c) { return KvStorage::bytes_per_token(c.n_layer, c.kv_dim()); }

Status SchedulerConfig::validate() const {
  auto bad = [](const std::string& what) { return make_error(ErrorCode::kInvalidArgument, "scheduler: " + what); };
  if (block_tokens < 1 || block_tokens > 1024) return bad("block_tokens must be in [1, 1024]");
  if (kv_budget_tokens < block_tokens) return bad("kv_budget_tokens must hold at least one block");
  if (max_batch_tokens < 1) return bad("max_batch_tokens must be positive");
  if (max_running < 1) return bad("max_running must be positive");
  if (prefix_cache.max_cached_blocks < -1) return bad("prefix_cache.max_cached_blocks must be -1 or >= 0");
  if (compute_nice < 0 || compute_nice > 19) return bad("compute_nice must be in [0, 19]");
  return {};
}

Scheduler::Scheduler(const LlamaModel& model, const Tokenizer& tokenizer, SchedulerConfig cfg, ThreadPool& pool)
    : model_(model), tok_(tokenizer), cfg_(cfg), pool_(pool), queue_(cfg.aging_ms), t0_(std::chrono::steady_clock::now()) {
  if (cfg_.kv_budget_mb > 0)
    cfg_.kv_budget_tokens = std::max(cfg_.block_tokens, static_cast<int>(cfg_.kv_budget_mb * 1024 * 1024 /
                                                                           static_cast<double>(SchedulerConfig::kv_bytes_per_token(model.config()))));
  if (cfg_.max_seq_tokens <= 0) cfg_.max_seq_tokens = model.config().n_ctx_train;
  cfg_.max_seq_tokens = std::min(cfg_.max_seq_tokens, cfg_.kv_budget_tokens);
  eng_ = std::make_unique<Engine>(model, pool, cfg_, cfg_.kv_budget_tokens / cfg_.block_tokens);
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

double Scheduler::now_ms() const {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0_).count();
}

uint64_t Scheduler::submit(ServeRequest req, ServeSink sink) {
  std::optional<Error> err;
  if (req.prompt.empty()) err = make_error(ErrorCode::kInvalidArgument, "the prompt is empty");
  for (int32_t t : req.prompt)
    if (!err && (t < 0 || t >= model_.config().n_vocab))
      err = make_error(ErrorCode::kInvalidArgument, "token id " + std::to_string(t) + " is outside the vocabulary");
  if (!err && req.max_tokens < 0) err = make_error(ErrorCode::kInvalidArgument, "max_tokens must not be negative");
  if (!err && (req.n < 1 || req.n > 16)) err = make_error(ErrorCode::kInvalidArgument, "n must be between 1 and 16");
  if (!err && (req.logprobs < -1 || req.logprobs > 20))
    err = make_error(ErrorCode::kInvalidArgument, "logprobs must be between 0 and 20 (or -1 for off)");
  if (!err && req.lora && req.lora->layers.size() != static_cast<size_t>(model_.config().n_layer))
    err = make_error(ErrorCode::kInvalidArgument, "adapter '" + req.lora->name + "' has " +
                                                      std::to_string(req.lora->layers.size()) + " layers; the model has " +
                                                      std::to_string(model_.config().n_layer));
  // Keys and values computed under an adapter must never be shared with another adapter's prefix.
  if (req.lora && req.adapter_id == 0) req.adapter_id = reinterpret_cast<uintptr_t>(req.lora.get()) | 1u;
  if (!err && static_cast<int>(req.prompt.size()) >= cfg_.max_seq_tokens)
    err = make_error(ErrorCode::kOutOfRange,
                     "the prompt has " + std::to_string(req.prompt.size()) + " tokens; at most " +
                         std::to_string(cfg_.max_seq_tokens - 1) + " fit",
                     "Shorten the prompt or raise the context size.");
  if (!err) {
    if (auto st = req.sampling.validate(model_.config().n_vocab); !st) err = st.error();
  }
  if (err) {
    ServeEvent ev;
    ev.done = true;
    ev.finish_reason = "error";
    ev.error = err;
    ev.prompt_tokens = static_cast<int>(req.prompt.size());
    if (sink) sink(ev);
    return 0;
  }
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_++;
  const double now = now_ms();
  Seq* leader = nullptr;
  for (int k = 0; k < req.n; ++k) {
    auto s = std::make_unique<Seq>(id, k, req, sink, tok_);
    s->timeline.arrival_ms = s->clock.arrival_ms = now;
    s->clock.deadline_ms = s->req.deadline_ms;
    s->clock.streaming = s->req.stream;
    s->timeline.prompt_tokens = s->n_prompt;
    if (k == 0) {
      leader = s.get();
    } else {
      s->awaiting_fork = true;
      leader->followers.push_back(s.get());
    }
    incoming_.push_back(std::move(s));
    ++stats_.waiting;
  }
  cv_.notify_all();
  return id;
}

void Scheduler::cancel(uint64_t id) {
  std::lock_guard lock(mu_);
  cancels_.push_back(id);
  cv_.notify_all();
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Scheduler::wait_idle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return incoming_.empty() && stats_.waiting == 0 && stats_.running == 0; });
}

void Scheduler::finish(Seq& s, const std::string& reason, std::optional<Error> err, double now) {
  if (s.done) return;
  s.done = true;
  if (s.running) publish_full_blocks(s);
  for (int b : s.blocks) eng_->blocks.release(b);
  s.blocks.clear();
  if (!s.running) queue_.remove(s.key);
  s.running = false;
  for (Seq* f : s.followers)  // never forked: they compute the prompt themselves (prefix cache helps)
    if (f->awaiting_fork && !f->done) {
      f->awaiting_fork = false;
      queue_.push(f->key, f->req.tier, f->req.priority, f->timeline.arrival_ms);
    }
  s.followers.clear();
  s.timeline.finish_ms = now;
  if (s.timeline.scheduled_ms <= 0) s.timeline.scheduled_ms = now;
  s.timeline.cached_prompt_tokens = s.cached_prompt_tokens;
  ServeEvent ev;
  ev.id = s.id;
  ev.choice = s.choice;
  if (reason == "stop" || reason == "length") {
    const std::string held = s.decoder.flush();
    if (s.lp) s.lp->flushed(held.size());
    ev.text = s.stops.push(held);
    const bool cut = s.stops.stopped();
    ev.text += s.stops.flush();
    if (s.lp) ev.logprobs = s.lp->release(ev.text.size(), cut);
  }
  ev.done = true;
  ev.finish_reason = reason;
  ev.error = std::move(err);
  ev.prompt_tokens = s.n_prompt;
  ev.cached_prompt_tokens = s.cached_prompt_tokens;
  ev.completion_tokens = s.n_generated;
  ev.latency = make_latency_record(s.timeline);
  {  // Spans from the timeline: queue, prefill (to the first token), decode.
    const RequestTimeline& tl = s.timeline;
    const double first = tl.first_token_ms < 0 ? tl.finish_ms : tl.first_token_ms;
    ev.spans = {{s.req.trace_id, "queue", tl.arrival_ms, tl.scheduled_ms},
                {s.req.trace_id, "prefill", tl.scheduled_ms, first},
                {s.req.trace_id, "decode", first, tl.finish_ms}};
  }
  latency_.record(ev.latency, now);
  if (s.sink) s.sink(ev);
  std::lock_guard lock(mu_);
  ++stats_.finished;
  if (reason == "cancelled") ++stats_.cancelled;
  if (reason == "timeout") ++stats_.timed_out;
}

void Scheduler::publish_full_blocks(Seq& s) {
  KvBlockManager& bm = eng_->blocks;
  const int bt = bm.block_tokens();
  while ((s.n_published + 1) * bt <= s.n_computed) {
    const int i = s.n_published;
    s.chain = KvBlockManager::chain_hash(s.chain, s.req.adapter_id, std::span(s.tokens).subspan(static_cast<size_t>(i) * bt, static_cast<size_t>(bt)));
    const int kept = bm.publish(s.blocks[static_cast<size_t>(i)], s.chain);
    if (kept != s.blocks[static_cast<size_t>(i)]) {  // same content already cached: share it
      bm.release(s.blocks[static_cast<size_t>(i)]);
      s.blocks[static_cast<size_t>(i)] = kept;
    }
    ++s.n_published;
  }
}

// Frees the lowest-ranked running sequence other than `keep` (recomputed later). False if none.
bool Scheduler::preempt_one(const Seq* keep) {
  Seq* victim = nullptr;
  auto worse = [](const Seq& a, const Seq& b) {  // a ranks below b
    if (a.req.tier != b.req.tier) return static_cast<int>(a.req.tier) > static_cast<int>(b.req.tier);
    if (a.req.priority != b.req.priority) return a.req.priority < b.req.priority;
    return a.timeline.arrival_ms > b.timeline.arrival_ms;
  };
  for (auto& sp : seqs_)
    if (sp->running && !sp->done && sp.get() != keep && (victim == nullptr || worse(*sp, *victim))) victim = sp.get();
  if (victim == nullptr) return false;
  for (int b : victim->blocks) eng_->blocks.release(b);
  victim->blocks.clear();
  victim->n_computed = 0;
  victim->n_published = 0;
  victim->chain = 0;
  victim->running = false;
  queue_.push(victim->key, victim->req.tier, victim->req.priority, victim->timeline.arrival_ms);
  std::lock_guard lock(mu_);
  ++stats_.preemptions;
  return true;
}

// Makes sure s has blocks for positions [0, upto_tokens). Preempts others when the pool is dry.
bool Scheduler::ensure_blocks(Seq& s, int upto_tokens) {
  KvBlockManager& bm = eng_->blocks;
  const size_t need = static_cast<size_t>((upto_tokens + bm.block_tokens() - 1) / bm.block_tokens());
  while (s.blocks.size() < need) {
    auto b = bm.allocate();
    if (!b) {
      if (!preempt_one(&s)) return false;
      continue;
    }
    s.blocks.push_back(*b);
  }
  return true;
}

void Scheduler::admit(double now) {
  const int bt = eng_->blocks.block_tokens();
  int running = 0;
  for (auto& sp : seqs_) running += sp->running ? 1 : 0;
  while (running < cfg_.max_running) {
    auto next = queue_.peek(now);
    if (!next) break;
    Seq* s = find(*next);
    // Reuse the longest cached prefix, never the whole prompt: the last prompt token must run to
    // produce logits, and it must land in a block of our own.
    const int usable = static_cast<int>(s->tokens.size()) - 1;
    std::vector<int> hit = eng_->blocks.match_prefix(std::span(s->tokens).first(static_cast<size_t>(usable)), s->req.adapter_id);
    const int first_chunk = std::min(static_cast<int>(s->tokens.size()) - static_cast<int>(hit.size()) * bt, cfg_.max_batch_tokens);
    const int need_blocks = (static_cast<int>(hit.size()) * bt + first_chunk + bt - 1) / bt - static_cast<int>(hit.size());
    if (eng_->blocks.available_blocks() < need_blocks) {
      for (int b : hit) eng_->blocks.release(b);
      break;  // wait for running sequences to finish (preemption happens only for running work)
    }
    queue_.pop(now);
    s->blocks = std::move(hit);
    s->n_computed = static_cast<int>(s->blocks.size()) * bt;
    s->n_published = static_cast<int>(s->blocks.size());
    s->chain = 0;
    for (int i = 0; i < s->n_published; ++i)
      s->chain = KvBlockManager::chain_hash(s->chain, s->req.adapter_id, std::span(s->tokens).subspan(static_cast<size_t>(i) * bt, static_cast<size_t>(bt)));
    if (s->timeline.scheduled_ms <= 0) {
      s->timeline.scheduled_ms = s->clock.scheduled_ms = now;
      s->cached_prompt_tokens = std::min(s->n_computed, s->n_prompt);
    }
    s->running = true;
    ++running;
  }
}

void Scheduler::expire(double now) {
  for (auto& sp : seqs_) {
    if (sp->done) continue;
    if (auto hit = check_timeout(cfg_.timeouts, sp->clock, now)) finish(*sp, "timeout", timeout_error(*hit), now);
  }
}

void Scheduler::step(double now) {
  const ModelConfig& mc = model_.config();
  // Decoding sequences first (one token each), then prefill chunks, in rank order.
  std::vector<Seq*> run;
  for (auto& sp : seqs_)
    if (sp->running && !sp->done) run.push_back(sp.get());
  std::stable_sort(run.begin(), run.end(), [](const Seq* a, const Seq* b) {
    const bool da = a->tokens.size() - a->n_computed == 1, db = b->tokens.size() - b->n_computed == 1;
    if (da != db) return da;
    if (a->req.tier != b->req.tier) return static_cast<int>(a->req.tier) < static_cast<int>(b->req.tier);
    return a->req.priority > b->req.priority;
  });
  int budget = cfg_.max_batch_tokens;
  std::vector<Seq*> batch_seqs;
  for (Seq* s : run) {
    if (!s->running || budget == 0) continue;  // may have been preempted by an earlier ensure_blocks
    const int remaining = static_cast<int>(s->tokens.size()) - s->n_computed;
    const int chunk = std::min(remaining, budget);
    if (!ensure_blocks(*s, s->n_computed + chunk)) continue;
    s->chunk = chunk;
    budget -= chunk;
    batch_seqs.push_back(s);
  }
  // A sequence preempted after being picked (by a later ensure_blocks) drops out.
  std::erase_if(batch_seqs, [](Seq* s) { return !s->running; });
  if (batch_seqs.empty()) return;
  std::vector<SeqBatch> batch;
  batch.reserve(batch_seqs.size());
  for (Seq* s : batch_seqs) {
    SeqBatch sb;
    sb.tokens = std::span(s->tokens).subspan(static_cast<size_t>(s->n_computed), static_cast<size_t>(s->chunk));
    sb.pos0 = s->n_computed;
    sb.block_table = s->blocks;
    const bool last = s->n_computed + s->chunk == static_cast<int>(s->tokens.size());
    sb.logits = last ? SeqBatch::Logits::kLast : SeqBatch::Logits::kNone;
    if (last) s->logits.resize(static_cast<size_t>(mc.n_vocab));
    sb.logits_out = s->logits.data();
    sb.lora = s->req.lora.get();
    batch.push_back(sb);
  }
  eng_->forward.run(batch, eng_->kv);
  const double t = now_ms();
  uint64_t prompt_tok = 0, gen_tok = 0;
  for (Seq* s : batch_seqs) {
    const bool was_prompt = s->n_computed < s->n_prompt;
    if (was_prompt) prompt_tok += static_cast<uint64_t>(std::min(s->chunk, s->n_prompt - s->n_computed));
    s->n_computed += s->chunk;
    publish_full_blocks(*s);
    if (s->n_computed < static_cast<int>(s->tokens.size())) continue;  // prefill continues next step
    const int before = s->n_generated;
    if (!s->followers.empty()) fork_followers(*s);
    for (Seq* f : s->followers) {
      sample_and_emit(*f, t);
      gen_tok += static_cast<uint64_t>(f->n_generated);
    }
    s->followers.clear();
    sample_and_emit(*s, t);
    gen_tok += static_cast<uint64_t>(s->n_generated - before);
  }
  std::lock_guard lock(mu_);
  stats_.prompt_tokens += prompt_tok;
  stats_.generated_tokens += gen_tok;
  ++stats_.steps;
}

const std::shared_ptr<const JsonVocab>& Scheduler::json_vocab() {
  if (!json_vocab_) json_vocab_ = JsonVocab::from_tokenizer(tok_, model_.config().n_vocab);
  return json_vocab_;
}

Scheduler::Seq* Scheduler::find(uint64_t key) {
  for (auto& sp : seqs_)
    if (sp->key == key) return sp.get();
  return nullptr;
}

// The leader's prompt is computed and its logits are ready: every waiting choice takes over the
// full prompt blocks (shared, one reference each), a private copy of the partly filled last block,
// and the logits, then samples on its own.
void Scheduler::fork_followers(Seq& leader) {
  KvBlockManager& bm = eng_->blocks;
  const int bt = bm.block_tokens();
  const int full = leader.n_computed / bt, rows = leader.n_computed % bt;
  std::vector<Seq*> forked;
  for (Seq* f : leader.followers) {
    if (!f->awaiting_fork || f->done) continue;
    std::optional<int> tail;
    if (rows > 0 && !(tail = bm.allocate())) {  // no block for the copy: compute the prompt later
      f->awaiting_fork = false;
      queue_.push(f->key, f->req.tier, f->req.priority, f->timeline.arrival_ms);
      continue;
    }
    f->awaiting_fork = false;
    f->blocks.assign(leader.blocks.begin(), leader.blocks.begin() + full);
    for (int b : f->blocks) bm.retain(b);
    if (tail) {
      eng_->kv.copy_block(leader.blocks[static_cast<size_t>(full)], *tail, rows);
      f->blocks.push_back(*tail);
    }
    f->n_computed = leader.n_computed;
    f->n_published = leader.n_published;
    f->chain = leader.chain;
    f->logits = leader.logits;
    f->running = true;
    f->timeline.scheduled_ms = f->clock.scheduled_ms = leader.timeline.scheduled_ms;
    f->cached_prompt_tokens = leader.cached_prompt_tokens;
    forked.push_back(f);
  }
  leader.followers = std::move(forked);
}

// Samples the next token from s.logits, streams it, and finishes s when it is done.
void Scheduler::sample_and_emit(Seq& s, double t) {
  if (s.n_generated >= s.req.max_tokens) {
    finish(s, "length", std::nullopt, t);
    return;
  }
  if (s.lp) raw_logits_.assign(s.logits.begin(), s.logits.end());
  if (s.req.json_mode) {
    if (!s.json) s.json.emplace(json_vocab());
    if (s.json->mask_logits(s.logits) == 0) {
      finish(s, "error", make_error(ErrorCode::kInternal, "json_mode: no token of the vocabulary can continue the JSON text"), t);
      return;
    }
  }
  const int32_t tok = s.sampler.sample(s.logits, s.tokens);
  if (s.timeline.first_token_ms < 0) s.timeline.first_token_ms = t;
  s.clock.last_token_ms = t;
  if (!s.req.ignore_eos && tok_.is_eog(tok)) {
    finish(s, "stop", std::nullopt, t);
    return;
  }
  if (s.json) s.json->accept(tok);  // allowed by the mask, so the state advances
  s.tokens.push_back(tok);
  ++s.n_generated;
  s.timeline.token_ms.push_back(t);
  ServeEvent ev;
  ev.id = s.id;
  ev.choice = s.choice;
  ev.token = tok;
  const std::string decoded = s.decoder.push(tok);
  ev.text = s.stops.push(decoded);
  if (s.lp) {
    TokenLogprob lp = make_token_logprob(raw_logits_, tok, s.req.logprobs, tok_);
    const size_t raw_bytes = lp.bytes.size();
    s.lp->pushed(std::move(lp), raw_bytes, decoded.size(), s.decoder.pending_bytes());
    ev.logprobs = s.lp->release(ev.text.size(), s.stops.stopped());
  }
  ev.prompt_tokens = s.n_prompt;
  ev.completion_tokens = s.n_generated;
  if (s.sink) s.sink(ev);
  if (s.stops.stopped() || (s.json && s.json->complete())) {
    finish(s, "stop", std::nullopt, t);
  } else if (s.n_generated >= s.req.max_tokens || static_cast<int>(s.tokens.size()) >= cfg_.max_seq_tokens) {
    finish(s, "length", std::nullopt, t);
  }
}

void Scheduler::loop() {
  if (cfg_.compute_nice > 0) {
    set_current_thread_nice(cfg_.compute_nice);
    pool_.set_worker_nice(cfg_.compute_nice);
  }
  for (;;) {
    std::vector<std::unique_ptr<Seq>> incoming;
    std::vector<uint64_t> cancels;
    {
      std::unique_lock lock(mu_);
      const bool busy = !seqs_.empty();
      if (!busy) {
        stats_.waiting = stats_.running = 0;
        idle_cv_.notify_all();
        cv_.wait(lock, [this] { return stop_ || !incoming_.empty() || !cancels_.empty(); });
      }
      if (stop_) break;
      incoming.swap(incoming_);
      cancels.swap(cancels_);
    }
    double now = now_ms();
    for (auto& s : incoming) {
      if (!s->awaiting_fork) queue_.push(s->key, s->req.tier, s->req.priority, s->timeline.arrival_ms);
      seqs_.push_back(std::move(s));
    }
    for (uint64_t id : cancels)
      for (auto& sp : seqs_)
        if (sp->id == id) finish(*sp, "cancelled", std::nullopt, now);
    expire(now);
    std::erase_if(seqs_, [](const auto& sp) { return sp->done; });
    admit(now);
    step(now);
    // The step's events were just handed to their sinks (an HTTP thread, the GUI): give up the
    // core once, so on a machine where the engine's threads fill every core the consumer runs
    // now rather than a scheduler tick later (measured by cyllm bench-http).
    std::this_thread::yield();
    std::erase_if(seqs_, [](const auto& sp) { return sp->done; });
    std::lock_guard lock(mu_);
    size_t running = 0;
    for (auto& sp : seqs_) running += sp->running ? 1 : 0;
    stats_.running = running;
    stats_.waiting = seqs_.size() - running;
    stats_.kv_blocks_total = eng_->blocks.total_blocks();
    stats_.kv_blocks_used = eng_->blocks.used_blocks();
    stats_.kv_blocks_cached = eng_->blocks.cached_blocks();
    stats_.prefix = eng_->blocks.stats();
  }
  // Shutting down: everything left is cancelled.
  const double now = now_ms();
  for (auto& sp : seqs_) finish(*sp, "cancelled", std::nullopt, now);
  seqs_.clear();
  std::lock_guard lock(mu_);
  for (auto& s : incoming_) {
    ServeEvent ev;
    ev.id = s->id;
    ev.done = true;
    ev.finish_reason = "cancelled";
    if (s->sink) s->sink(ev);
  }
  incoming_.clear();
  stats_.waiting = stats_.running = 0;
  idle_cv_.notify_all();
}

}  // namespace cyllm
