// The trainer's configuration (`cyllm train CONFIG.json`, the GUI's job set-up, the job queue's
// stored JSON): its schema, defaults, and parsing with every problem reported with its path
// (Property 18). A full example is in docs/ARCHITECTURE.md ("Trainer").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config-schema.h"
#include "train/early-stop.h"
#include "train/lora-params.h"
#include "train/lr-schedule.h"

namespace cyllm::train {

struct TrainConfig {
  std::string model;            // GGUF path
  std::string dataset;          // dataset path (jsonl, json, csv, parquet)
  std::string eval_dataset;     // optional separate eval file ("" = split from dataset)
  std::string output_dir;       // checkpoints go to <output_dir>/checkpoints
  std::string device = "auto";  // auto | cpu | cuda (training runs on the CPU until the CUDA trainer lands)
  std::string schema;           // "" = detect
  std::vector<std::string> column_map;                          // "field=column"
  std::vector<std::pair<std::string, std::string>> replace;      // text substitutions in rows
  bool train_on_all = false;    // false: assistant turns only
  int max_seq_len = 512;        // longer rows are truncated
  uint64_t seed = 42;
  int threads = 0;              // 0 = all cores

  LoraSettings lora;

  struct Optim {
    double lr = 2e-4, weight_decay = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double max_grad_norm = 1.0;  // 0 = no clipping
    LrSchedule schedule = LrSchedule::kCosine;
    int64_t warmup_steps = 0;
    int batch_size = 8;          // sequences per micro-batch
    int grad_accum = 1;          // micro-batches per optimizer step
    int epochs = 1;
    int64_t max_steps = 0;       // > 0 overrides epochs
  } optim;

  double eval_split = 0.0;       // fraction of rows held out when no eval_dataset
  int64_t eval_every = 0;        // steps between evaluations (0 = once per epoch when there is an eval set)
  EarlyStoppingConfig early{0, 0.0, std::nullopt};  // patience 0: off

  int64_t checkpoint_every = 0;  // steps between checkpoints (0 = only at the end)
  int keep_checkpoints = 3;      // newest kept (plus the best by eval loss)
  bool resume = true;            // continue from the latest intact checkpoint in output_dir
  int64_t progress_every = 1;    // steps between progress events
  bool gradient_checkpointing = true;
  // "f32": every product in float32. "bf16": the products with the frozen base weights (the
  // projections and the output head, forward and backward) take bf16 operands with float32 sums,
  // like PyTorch's bf16 autocast; LoRA weights, gradients and optimiser state stay float32. Needs
  // a CPU with AVX512-BF16 (train/train-gemm-bf16.h); about twice the speed of "f32" there.
  std::string precision = "f32";
  // Not a config key: the NVML library whose GPU readings go into progress events (tests point
  // it at a stand-in; without an NVIDIA driver there are none).
  std::string nvml_library = "libnvidia-ml.so.1";

  nlohmann::json raw;            // the config as given
};

ConfigSchema train_config_schema();

// Parses and validates; every problem is returned (empty = ok). With check_files, missing model
// or dataset files are problems too.
std::vector<ConfigProblem> parse_train_config(const nlohmann::json& j, TrainConfig* out, bool check_files = true);

// Hash of the settings that decide the training trajectory (a resume with a different hash is
// not an exact continuation).
std::string train_config_hash(const TrainConfig& c);

}  // namespace cyllm::train
