// Training examples: dataset rows rendered through the model's chat template and tokenizer into
// token ids and loss masks (train/dataset-render.h), truncated to the maximum sequence length,
// and the deterministic per-epoch order the trainer reads them in.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "train/dataset-render.h"

namespace cyllm::train {

struct TrainExample {
  std::vector<int32_t> ids;
  std::vector<uint8_t> mask;  // 1 = trained label
  int64_t trained() const;    // labels the loss sees (mask[i] for i >= 1)
};

struct DataOptions {
  std::string schema;                                       // "" = detect
  std::vector<std::string> column_map;                      // "field=column"
  std::vector<std::pair<std::string, std::string>> replace; // in every message text
  bool train_on_all = false;
  int max_seq_len = 512;
};

struct LoadedExamples {
  std::vector<TrainExample> rows;
  uint64_t invalid = 0;     // rows with schema problems (run `cyllm validate`)
  uint64_t truncated = 0;   // rows cut at max_seq_len
  uint64_t untrained = 0;   // rows left with no trained label (dropped)
};

Result<LoadedExamples> load_examples(const std::string& path, const RenderModel& model, const DataOptions& opts);

// The order of the training rows in an epoch: a shuffle seeded by (seed, epoch).
std::vector<uint64_t> epoch_order(uint64_t n, uint64_t seed, int64_t epoch);

}  // namespace cyllm::train
