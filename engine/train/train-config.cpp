#include "train/train-config.h"

#include <unistd.h>

#include <cstdio>

#include "train/dataset-schema.h"
#include "train/train-gemm-bf16.h"

namespace cyllm::train {

ConfigSchema train_config_schema() {
  ConfigSchema s;
  s.string("model", {}, true)
      .string("dataset", {}, true)
      .string("eval_dataset")
      .string("output_dir", {}, true)
      .string("device", {"auto", "cpu", "cuda"})
      .string("schema", {"alpaca", "messages", "sharegpt", "text"})
      .string_list("column_map")
      .string_list("replace")
      .string("train_on", {"assistant", "all"})
      .integer("max_seq_len", 2, 1 << 20)
      .integer("seed", 0, 1LL << 62)
      .integer("threads", 0, 1024)
      .object("lora", true)
      .integer("lora.rank", 1, 4096, true)
      .number("lora.alpha", 0.0, 1e6)
      .boolean("lora.rslora")
      .number("lora.dropout", 0.0, 0.99)
      .string_list("lora.targets", {"q", "k", "v", "o", "gate", "up", "down"}, 1)
      .object("optim")
      .number("optim.lr", 0.0, 10.0)
      .number("optim.weight_decay", 0.0, 10.0)
      .number("optim.beta1", 0.0, 0.999999)
      .number("optim.beta2", 0.0, 0.999999999)
      .number("optim.eps", 1e-30, 1.0)
      .number("optim.max_grad_norm", 0.0, 1e9)
      .string("optim.schedule", {"constant", "linear", "cosine"})
      .integer("optim.warmup_steps", 0, 1LL << 40)
      .integer("optim.batch_size", 1, 1 << 16)
      .integer("optim.grad_accum", 1, 1 << 16)
      .integer("optim.epochs", 1, 1 << 20)
      .integer("optim.max_steps", 0, 1LL << 40)
      .object("eval")
      .number("eval.split", 0.0, 0.9)
      .integer("eval.every", 0, 1LL << 40)
      .object("early_stopping")
      .integer("early_stopping.patience", 0, 1 << 20)
      .number("early_stopping.min_delta", 0.0, 1e9)
      .number("early_stopping.stop_at_loss", 0.0, 1e9)
      .object("checkpoint")
      .integer("checkpoint.every", 0, 1LL << 40)
      .integer("checkpoint.keep", 1, 1 << 20)
      .boolean("checkpoint.resume")
      .integer("progress_every", 1, 1LL << 40)
      .boolean("gradient_checkpointing")
      .string("precision", {"f32", "bf16"});
  return s;
}

namespace {
template <class T>
void opt(const nlohmann::json& j, const char* key, T* out) {
  if (j.is_object() && j.contains(key)) *out = j[key].get<T>();
}
const nlohmann::json& sub(const nlohmann::json& j, const char* key) {
  static const nlohmann::json empty = nlohmann::json::object();
  return j.is_object() && j.contains(key) && j[key].is_object() ? j[key] : empty;
}
}  // namespace

std::vector<ConfigProblem> parse_train_config(const nlohmann::json& j, TrainConfig* out, bool check_files) {
  std::vector<ConfigProblem> problems = train_config_schema().validate(j);
  // Field-level problems first: only read the values when they are all well-typed.
  TrainConfig c;
  c.raw = j;
  if (problems.empty()) {
    opt(j, "model", &c.model);
    opt(j, "dataset", &c.dataset);
    opt(j, "eval_dataset", &c.eval_dataset);
    opt(j, "output_dir", &c.output_dir);
    opt(j, "device", &c.device);
    opt(j, "schema", &c.schema);
    opt(j, "column_map", &c.column_map);
    std::vector<std::string> repl;
    opt(j, "replace", &repl);
    for (size_t i = 0; i < repl.size(); ++i) {
      const size_t eq = repl[i].find('=');
      if (eq == std::string::npos || eq == 0)
        problems.push_back({"replace[" + std::to_string(i) + "]", "must be \"text=replacement\", got \"" + repl[i] + "\""});
      else
        c.replace.emplace_back(repl[i].substr(0, eq), repl[i].substr(eq + 1));
    }
    std::string train_on = "assistant";
    opt(j, "train_on", &train_on);
    c.train_on_all = train_on == "all";
    opt(j, "max_seq_len", &c.max_seq_len);
    opt(j, "seed", &c.seed);
    opt(j, "threads", &c.threads);
    const auto& lj = sub(j, "lora");
    opt(lj, "rank", &c.lora.rank);
    c.lora.alpha = 2.0 * c.lora.rank;
    opt(lj, "alpha", &c.lora.alpha);
    opt(lj, "rslora", &c.lora.rslora);
    opt(lj, "dropout", &c.lora.dropout);
    if (lj.contains("targets")) {
      c.lora.targets = 0;
      for (const auto& t : lj["targets"]) c.lora.targets |= 1u << lora_target_from_name(t.get<std::string>());
    }
    c.lora.seed = c.seed;
    const auto& oj = sub(j, "optim");
    opt(oj, "lr", &c.optim.lr);
    opt(oj, "weight_decay", &c.optim.weight_decay);
    opt(oj, "beta1", &c.optim.beta1);
    opt(oj, "beta2", &c.optim.beta2);
    opt(oj, "eps", &c.optim.eps);
    opt(oj, "max_grad_norm", &c.optim.max_grad_norm);
    std::string sched = "cosine";
    opt(oj, "schedule", &sched);
    c.optim.schedule = *parse_lr_schedule(sched);
    opt(oj, "warmup_steps", &c.optim.warmup_steps);
    opt(oj, "batch_size", &c.optim.batch_size);
    opt(oj, "grad_accum", &c.optim.grad_accum);
    opt(oj, "epochs", &c.optim.epochs);
    opt(oj, "max_steps", &c.optim.max_steps);
    const auto& ej = sub(j, "eval");
    opt(ej, "split", &c.eval_split);
    opt(ej, "every", &c.eval_every);
    const auto& sj = sub(j, "early_stopping");
    opt(sj, "patience", &c.early.patience);
    opt(sj, "min_delta", &c.early.min_delta);
    if (sj.contains("stop_at_loss")) c.early.stop_at_loss = sj["stop_at_loss"].get<double>();
    const auto& cj = sub(j, "checkpoint");
    opt(cj, "every", &c.checkpoint_every);
    opt(cj, "keep", &c.keep_checkpoints);
    opt(cj, "resume", &c.resume);
    opt(j, "progress_every", &c.progress_every);
    opt(j, "gradient_checkpointing", &c.gradient_checkpointing);
    opt(j, "precision", &c.precision);
    if (c.precision == "bf16" && !bf16_gemm_available())
      problems.push_back({"precision", "\"bf16\" needs a CPU with AVX512-BF16 and this one has none; use \"f32\""});
    for (size_t i = 0; i < c.column_map.size(); ++i)
      if (c.column_map[i].find('=') == std::string::npos)
        problems.push_back({"column_map[" + std::to_string(i) + "]", "must be \"field=column\""});
    if (c.eval_split > 0 && !c.eval_dataset.empty())
      problems.push_back({"eval.split", "give either eval.split or eval_dataset, not both"});
    if (c.early.patience > 0 && c.eval_split <= 0 && c.eval_dataset.empty())
      problems.push_back({"early_stopping.patience", "early stopping needs an eval set (eval.split or eval_dataset)"});
  }
  // Files are checked whatever else is wrong, so one run reports everything.
  if (check_files && j.is_object()) {
    for (const char* key : {"model", "dataset", "eval_dataset"})
      if (j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty() &&
          ::access(j[key].get<std::string>().c_str(), R_OK) != 0)
        problems.push_back({key, "file not found or not readable: " + j[key].get<std::string>()});
  }
  if (problems.empty() && out) *out = std::move(c);
  return problems;
}

std::string train_config_hash(const TrainConfig& c) {
  // The settings that decide the trajectory (not output_dir, threads, progress or checkpointing).
  nlohmann::json k = {{"model", c.model},
                      {"dataset", c.dataset},
                      {"eval_dataset", c.eval_dataset},
                      {"schema", c.schema},
                      {"column_map", c.column_map},
                      {"replace", c.replace},
                      {"train_on_all", c.train_on_all},
                      {"max_seq_len", c.max_seq_len},
                      {"seed", c.seed},
                      {"lora", {c.lora.rank, c.lora.alpha, c.lora.rslora, c.lora.dropout, c.lora.targets}},
                      {"optim",
                       {c.optim.lr, c.optim.weight_decay, c.optim.beta1, c.optim.beta2, c.optim.eps,
                        c.optim.max_grad_norm, static_cast<int>(c.optim.schedule), c.optim.warmup_steps,
                        c.optim.batch_size, c.optim.grad_accum, c.optim.epochs, c.optim.max_steps}},
                      {"eval", {c.eval_split, c.eval_every}}};
  if (c.precision != "f32") k["precision"] = c.precision;  // f32 runs keep their earlier hash
  const std::string s = k.dump();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash_bytes(s, 0x6379)));
  return buf;
}

}  // namespace cyllm::train
