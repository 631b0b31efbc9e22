#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "train/checkpoint-adapter.h"
#include "train/dataset-split.h"

namespace cyllm::train {

nlohmann::ordered_json to_json(const TrainEvent& e) {
  static const char* kinds[] = {"step", "eval", "checkpoint", "resumed", "note", "done"};
  nlohmann::ordered_json j;
  j["event"] = kinds[static_cast<int>(e.kind)];
  j["step"] = e.step;
  j["total_steps"] = e.total_steps;
  j["epoch"] = e.epoch;
  j["loss"] = e.loss;
  j["eval_loss"] = e.eval_loss ? nlohmann::ordered_json(*e.eval_loss) : nlohmann::ordered_json(nullptr);
  j["lr"] = e.lr;
  j["grad_norm"] = e.grad_norm;
  j["tokens_per_s"] = e.tokens_per_s;
  j["samples_per_s"] = e.samples_per_s;
  j["eta_s"] = e.eta_s;
  if (!e.gpus.empty()) {
    nlohmann::ordered_json g = nlohmann::ordered_json::array();
    for (const GpuSample& s : e.gpus)
      g.push_back({{"index", s.index},
                   {"name", s.name},
                   {"utilization_pct", s.utilization_pct},
                   {"memory_busy_pct", s.memory_busy_pct},
                   {"memory_used_mb", static_cast<double>(s.memory_used) / (1024.0 * 1024.0)},
                   {"memory_total_mb", static_cast<double>(s.memory_total) / (1024.0 * 1024.0)}});
    j["gpus"] = std::move(g);
  }
  if (!e.message.empty()) j["message"] = e.message;
  return j;
}

Result<std::unique_ptr<Trainer>> Trainer::create(const TrainConfig& cfg, ThreadPool& pool) {
  auto model = LlamaModel::load(cfg.model);
  if (!model) return model.error();
  auto render = RenderModel::from_gguf(cfg.model);
  if (!render) return render.error();
  DataOptions dopt{cfg.schema, cfg.column_map, cfg.replace, cfg.train_on_all, cfg.max_seq_len};
  auto data = load_examples(cfg.dataset, *render, dopt);
  if (!data) return data.error();
  std::vector<TrainExample> train, eval;
  if (!cfg.eval_dataset.empty()) {
    auto ev = load_examples(cfg.eval_dataset, *render, dopt);
    if (!ev) return ev.error();
    train = std::move(data->rows);
    eval = std::move(ev->rows);
  } else {
    auto split = split_by_fraction(data->rows.size(), cfg.eval_split, cfg.seed);
    if (!split) return split.error();
    std::sort(split->train.begin(), split->train.end());  // the epoch shuffle orders them
    for (auto i : split->train) train.push_back(std::move(data->rows[i]));
    for (auto i : split->eval) eval.push_back(std::move(data->rows[i]));
  }
  if (train.empty())
    return make_error(ErrorCode::kInvalidArgument, "the dataset has no trainable rows",
                      "Run `cyllm validate` on it; rows need at least one trained (assistant) token.");
  auto t = std::make_unique<Trainer>(cfg, *model.value(), std::move(train), std::move(eval), pool);
  t->owned_model_ = std::move(model.value());
  const int32_t eos_id = render->tokenizer->eos();
  t->provenance_ = make_adapter_provenance(render->chat_template->text(),
                                           eos_id >= 0 ? std::optional<int32_t>(eos_id) : std::nullopt, render->eos_token);
  if (data->invalid) t->notes_.push_back(std::to_string(data->invalid) + " invalid rows skipped");
  if (data->truncated) t->notes_.push_back(std::to_string(data->truncated) + " rows truncated to max_seq_len");
  if (data->untrained) t->notes_.push_back(std::to_string(data->untrained) + " rows without trained tokens skipped");
  return t;
}

Trainer::Trainer(const TrainConfig& cfg, const LlamaModel& model, std::vector<TrainExample> train,
                 std::vector<TrainExample> eval, ThreadPool& pool)
    : cfg_(cfg), model_(&model), pool_(pool), train_(std::move(train)), eval_(std::move(eval)), early_(cfg.early) {
  cfg_.lora.seed = cfg_.seed;
  params_ = init_lora(model.config(), cfg_.lora);
  grads_ = LoraSet<float>::zeros_like(params_);
  opt_ = std::make_unique<AdamW>(
      AdamWConfig{cfg_.optim.beta1, cfg_.optim.beta2, cfg_.optim.eps, cfg_.optim.weight_decay}, params_);
  graph_ = std::make_unique<TrainGraph<float>>(
      model, pool, GraphOptions{.checkpointing = cfg_.gradient_checkpointing, .bf16 = cfg_.precision == "bf16"});
  const int64_t per_step = static_cast<int64_t>(cfg_.optim.batch_size) * cfg_.optim.grad_accum;
  steps_per_epoch_ = std::max<int64_t>(1, (static_cast<int64_t>(train_.size()) + per_step - 1) / per_step);
  total_steps_ = cfg_.optim.max_steps > 0 ? cfg_.optim.max_steps : steps_per_epoch_ * cfg_.optim.epochs;
  gpu_ = std::make_unique<GpuMonitor>(cfg_.nvml_library);
}

Trainer::~Trainer() = default;

Status Trainer::set_initial_adapter(const LoraAdapter& a) {
  LoraSet<float> p = from_adapter(a);
  bool same = p.layers.size() == params_.layers.size() && p.rank == params_.rank;
  for (size_t l = 0; same && l < p.layers.size(); ++l)
    for (int t = 0; t < kLoraTargets; ++t) {
      const auto &x = p.layers[l][static_cast<size_t>(t)], &y = params_.layers[l][static_cast<size_t>(t)];
      same = same && x.rank == y.rank && x.in == y.in && x.out == y.out;
    }
  if (!same)
    return make_error(ErrorCode::kInvalidArgument,
                      "adapter '" + a.name + "' has other ranks or targets than the LoRA settings (rank " +
                          std::to_string(params_.rank) + ")",
                      "Set lora.rank and lora.targets to the adapter's.");
  if (std::abs(p.scale - params_.scale) > 1e-6 * std::abs(params_.scale))
    return make_error(ErrorCode::kInvalidArgument,
                      "adapter '" + a.name + "' has scale " + std::to_string(p.scale) + ", the LoRA settings give " +
                          std::to_string(params_.scale),
                      "Set lora.alpha (and lora.rslora) to the adapter's.");
  p.scale = params_.scale;
  params_ = std::move(p);
  return {};
}

std::string Trainer::checkpoint_root() const { return (std::filesystem::path(cfg_.output_dir) / "checkpoints").string(); }

std::optional<double> Trainer::evaluate() {
  if (eval_.empty()) return std::nullopt;
  LossSum total;
  for (size_t b = 0; b < eval_.size(); b += static_cast<size_t>(cfg_.optim.batch_size)) {
    std::vector<TrainSeq> seqs;
    for (size_t i = b; i < std::min(eval_.size(), b + static_cast<size_t>(cfg_.optim.batch_size)); ++i)
      seqs.push_back({eval_[i].ids, eval_[i].mask});
    const LossSum l = graph_->run(seqs, params_, nullptr, 1.0);
    total.sum += l.sum;
    total.count += l.count;
  }
  return total.count > 0 ? total.sum / static_cast<double>(total.count) : 0.0;
}

namespace {
constexpr char kTrainerMagic[8] = {'C', 'Y', 'T', 'R', 'N', 'R', '0', '1'};
}

std::string Trainer::make_blob_trainer() const {
  std::string s(kTrainerMagic, 8);
  const auto st = early_.state();
  auto put = [&](const void* p, size_t n) { s.append(static_cast<const char*>(p), n); };
  put(&st.best, 8);
  const int32_t bad = st.bad;
  put(&bad, 4);
  const uint8_t stopped = st.stopped ? 1 : 0;
  put(&stopped, 1);
  const uint8_t has_eval = last_eval_ ? 1 : 0;
  const double ev = last_eval_.value_or(0.0);
  put(&has_eval, 1);
  put(&ev, 8);
  put(&last_loss_, 8);
  return s;
}

Status Trainer::restore(const Checkpoint& ck) {
  auto need = [&](const char* name) -> const std::string* {
    auto it = ck.blobs.find(name);
    return it == ck.blobs.end() ? nullptr : &it->second;
  };
  const std::string *ad = need("adapter.bin"), *op = need("optimizer.bin"), *tr = need("trainer.bin");
  if (!ad || !op || !tr) return make_error(ErrorCode::kMalformedFile, "checkpoint " + ck.dir + " lacks trainer blobs");
  auto p = deserialize_lora(*ad);
  if (!p) return p.error();
  if (p->n_params() != params_.n_params() || p->layers.size() != params_.layers.size())
    return make_error(ErrorCode::kInvalidArgument, "checkpoint " + ck.dir + " holds an adapter of other shapes",
                      "Use the LoRA settings it was trained with, or another output_dir.");
  if (auto st = opt_->restore(*op); !st.ok()) return st;
  if (tr->size() != 38 || tr->compare(0, 8, std::string(kTrainerMagic, 8)) != 0)
    return make_error(ErrorCode::kMalformedFile, "checkpoint " + ck.dir + ": trainer state is malformed");
  EarlyStopping::State es{};
  int32_t bad = 0;
  uint8_t stopped = 0, has_eval = 0;
  double ev = 0;
  std::memcpy(&es.best, tr->data() + 8, 8);
  std::memcpy(&bad, tr->data() + 16, 4);
  std::memcpy(&stopped, tr->data() + 20, 1);
  std::memcpy(&has_eval, tr->data() + 21, 1);
  std::memcpy(&ev, tr->data() + 22, 8);
  std::memcpy(&last_loss_, tr->data() + 30, 8);
  es.bad = bad;
  es.stopped = stopped != 0;
  early_.restore(es);
  last_eval_ = has_eval ? std::optional<double>(ev) : std::nullopt;
  params_ = std::move(*p);
  step_ = ck.state.step;
  epoch_ = ck.state.epoch;
  data_pos_ = ck.state.data_position;
  return {};
}

Result<TrainSummary> Trainer::run(const std::function<void(const TrainEvent&)>& on_event,
                                  const std::atomic<bool>* cancel) {
  using Clock = std::chrono::steady_clock;
  CheckpointStore store(checkpoint_root());
  TrainSummary sum;
  auto emit = [&](TrainEvent e) {
    e.total_steps = total_steps_;
    if (on_event) on_event(e);
  };
  auto event = [](TrainEvent::Kind kind, int64_t step, double loss, std::string message) {
    TrainEvent e;
    e.kind = kind;
    e.step = step;
    e.loss = loss;
    e.message = std::move(message);
    return e;
  };
  const std::string config_hash = train_config_hash(cfg_);
  if (cfg_.resume) {
    std::vector<std::string> warnings;
    auto latest = store.find_latest(&warnings);
    if (!latest) return latest.error();
    for (const auto& w : warnings) emit(event(TrainEvent::Kind::kNote, 0, 0, "warning: " + w));
    if (latest->has_value()) {
      if (auto st = restore(**latest); !st.ok()) return st.error();
      std::string msg = "resumed from " + (*latest)->dir;
      const auto& md = (*latest)->state.metadata;
      if (md.contains("config_hash") && md["config_hash"] != config_hash)
        msg += " (warning: the config changed since; the run will not repeat the original exactly)";
      emit(event(TrainEvent::Kind::kResumed, step_, last_loss_, msg));
    }
  }
  for (const auto& n : notes_) emit(event(TrainEvent::Kind::kNote, step_, 0, n));

  const int64_t n_train = static_cast<int64_t>(train_.size());
  auto write_checkpoint = [&](bool evaluated_now) -> Status {
    CheckpointState st;
    st.step = step_;
    st.epoch = epoch_;
    st.data_position = data_pos_;
    st.loss = last_loss_;
    if (evaluated_now) st.eval_loss = last_eval_;
    st.metadata = {{"config_hash", config_hash},
                   {"model", cfg_.model},
                   {"lora",
                    {{"rank", cfg_.lora.rank},
                     {"alpha", cfg_.lora.alpha},
                     {"rslora", cfg_.lora.rslora},
                     {"dropout", cfg_.lora.dropout},
                     {"targets", cfg_.lora.targets},
                     {"scale", params_.scale}}},
                   {"seed", cfg_.seed},
                   {"total_steps", total_steps_},
                   {"base", base_config_json(model_->config())}};
    // What exported adapters record (adapter-io.h): the chat template and EOS token trained with.
    if (!provenance_.chat_template_sha256.empty()) st.metadata["chat_template_sha256"] = provenance_.chat_template_sha256;
    if (provenance_.eos_token_id) st.metadata["eos_token_id"] = *provenance_.eos_token_id;
    if (provenance_.eos_token) st.metadata["eos_token"] = *provenance_.eos_token;
    std::string rng(16, '\0');
    const uint64_t seed = cfg_.seed, scheme = 1;  // dropout masks and shuffles are counter-based
    std::memcpy(rng.data(), &seed, 8);
    std::memcpy(rng.data() + 8, &scheme, 8);
    auto dir = store.write(st, {{"adapter.bin", serialize(params_)},
                                {"optimizer.bin", opt_->serialize()},
                                {"trainer.bin", make_blob_trainer()},
                                {"rng.bin", rng}});
    if (!dir) return dir.error();
    sum.last_checkpoint = *dir;
    auto cleaned = store.cleanup(cfg_.keep_checkpoints);
    if (!cleaned) return cleaned.error();
    emit(event(TrainEvent::Kind::kCheckpoint, step_, last_loss_, *dir));
    return {};
  };

  const LrScheduleConfig sched{cfg_.optim.schedule, cfg_.optim.lr, cfg_.optim.warmup_steps, total_steps_};
  std::vector<uint64_t> order;
  int64_t order_epoch = -1;
  const auto t0 = Clock::now();
  int64_t steps_run = 0, tokens_run = 0, samples_run = 0;
  int64_t last_ckpt_step = step_;
  sum.stop_reason = "completed";
  if (early_.stopped()) sum.stop_reason = "early_stopping";

  while (step_ < total_steps_ && !early_.stopped()) {
    if (cancel && cancel->load()) {
      sum.stop_reason = "cancelled";
      break;
    }
    if (data_pos_ >= n_train) {
      ++epoch_;
      data_pos_ = 0;
    }
    if (order_epoch != epoch_) {
      order = epoch_order(static_cast<uint64_t>(n_train), cfg_.seed, epoch_);
      order_epoch = epoch_;
    }
    // The step's micro-batches (never across an epoch boundary) and its trained-label count.
    std::vector<std::vector<TrainSeq>> micro;
    int64_t labels = 0, tokens = 0, samples = 0;
    for (int k = 0; k < cfg_.optim.grad_accum && data_pos_ < n_train; ++k) {
      std::vector<TrainSeq> mb;
      for (int i = 0; i < cfg_.optim.batch_size && data_pos_ < n_train; ++i, ++data_pos_) {
        const TrainExample& ex = train_[order[static_cast<size_t>(data_pos_)]];
        mb.push_back({ex.ids, ex.mask});
        labels += ex.trained();
        tokens += static_cast<int64_t>(ex.ids.size());
        ++samples;
      }
      micro.push_back(std::move(mb));
    }
    grads_.set_zero();
    double loss_sum = 0;
    for (size_t k = 0; k < micro.size(); ++k) {
      const DropoutSpec drop{cfg_.lora.dropout, mix64(cfg_.seed ^ mix64(static_cast<uint64_t>(step_) * 1024 + k))};
      loss_sum += graph_->run(micro[k], params_, &grads_, labels > 0 ? 1.0 / static_cast<double>(labels) : 0.0, drop).sum;
    }
    const double loss = labels > 0 ? loss_sum / static_cast<double>(labels) : 0.0;
    const double gnorm = clip_grad_norm(grads_, cfg_.optim.max_grad_norm);
    const double lr = learning_rate(sched, step_);
    if (labels > 0) opt_->step(params_, grads_, lr);
    ++step_;
    ++steps_run;
    tokens_run += tokens;
    samples_run += samples;
    last_loss_ = loss;
    sum.losses.push_back(loss);

    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    TrainEvent ev = event(TrainEvent::Kind::kStep, step_, loss, "");
    ev.epoch = static_cast<double>(epoch_) + static_cast<double>(data_pos_) / static_cast<double>(n_train);
    ev.lr = lr;
    ev.grad_norm = gnorm;
    if (elapsed > 0) {
      ev.tokens_per_s = static_cast<double>(tokens_run) / elapsed;
      ev.samples_per_s = static_cast<double>(samples_run) / elapsed;
      ev.eta_s = elapsed / static_cast<double>(steps_run) * static_cast<double>(total_steps_ - step_);
    }
    const bool report = step_ % cfg_.progress_every == 0 || step_ == total_steps_;
    if (report && gpu_->available()) ev.gpus = gpu_->sample();
    if (report) emit(ev);

    bool evaluated = false;
    const bool epoch_end = data_pos_ >= n_train;
    if (!eval_.empty() && ((cfg_.eval_every > 0 && step_ % cfg_.eval_every == 0) ||
                           (cfg_.eval_every == 0 && (epoch_end || step_ == total_steps_)))) {
      last_eval_ = evaluate();
      evaluated = true;
      ev.kind = TrainEvent::Kind::kEval;
      ev.eval_loss = last_eval_;
      if (gpu_->available()) ev.gpus = gpu_->sample();
      emit(ev);
      if (!sum.best_eval_loss || *last_eval_ < *sum.best_eval_loss) sum.best_eval_loss = last_eval_;
      if (early_.update(*last_eval_))
        sum.stop_reason = cfg_.early.stop_at_loss && *last_eval_ <= *cfg_.early.stop_at_loss ? "stop_at_loss"
                                                                                          : "early_stopping";
    } else if (eval_.empty() && cfg_.early.stop_at_loss && loss <= *cfg_.early.stop_at_loss) {
      sum.stop_reason = "stop_at_loss";  // no eval set: the threshold applies to the training loss
    }
    const bool stopping = sum.stop_reason != "completed" || step_ == total_steps_ || (cancel && cancel->load());
    if ((cfg_.checkpoint_every > 0 && step_ % cfg_.checkpoint_every == 0) || stopping) {
      if (auto st = write_checkpoint(evaluated); !st.ok()) return st.error();
      last_ckpt_step = step_;
    }
    if (sum.stop_reason != "completed") break;
  }
  if (cancel && cancel->load() && sum.stop_reason == "completed" && step_ < total_steps_) sum.stop_reason = "cancelled";
  if (step_ > last_ckpt_step) {
    if (auto st = write_checkpoint(false); !st.ok()) return st.error();
  }
  sum.steps = step_;
  sum.last_loss = last_loss_;
  TrainEvent done = event(TrainEvent::Kind::kDone, step_, last_loss_, sum.stop_reason);
  done.eval_loss = last_eval_;
  emit(done);
  return sum;
}

}  // namespace cyllm::train
