// Training checkpoints on disk, written so that a crash at any moment never leaves a checkpoint
// that looks valid while broken (Property 7).
//
// A checkpoint is a directory `ckpt-<step, 10 digits>` holding named blobs (adapter weights,
// optimizer state, RNG state, ...) and `manifest.json` listing every blob with its size and CRC-32,
// plus the training state (step, epoch, data position, losses, metadata). Writing goes to a
// temporary directory: blobs first, each fsync'ed, the manifest last, then one rename() makes it
// visible, then the parent directory is fsync'ed. On start, find_latest() takes the newest
// directory whose manifest parses and whose every blob matches its size and checksum; partial or
// corrupted ones are skipped with a warning. cleanup() keeps the last N and the best by eval loss.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace cyllm {

struct CheckpointState {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t data_position = 0;       // next sample index in the epoch's shuffled order
  double loss = 0;
  std::optional<double> eval_loss;
  nlohmann::json metadata = nlohmann::json::object();  // config hash, template hash, EOS, ...
};

struct Checkpoint {
  std::string dir;
  CheckpointState state;
  std::map<std::string, std::string> blobs;  // name -> bytes
};

// One row of a checkpoint listing: read from the manifest, blob sizes checked (not their
// checksums, which load() verifies when the checkpoint is used).
struct CheckpointSummary {
  std::string dir;
  CheckpointState state;
  uint64_t bytes = 0;          // sum of the blob sizes
  int64_t written_unix_ms = 0; // the manifest's modification time
  std::string problem;         // "" when it looks intact; otherwise why it cannot be used
};

class CheckpointStore {
 public:
  explicit CheckpointStore(std::string root) : root_(std::move(root)) {}

  Result<std::string> write(const CheckpointState& state, const std::map<std::string, std::string>& blobs);
  // The newest intact checkpoint; warnings (one per skipped directory) are appended.
  Result<std::optional<Checkpoint>> find_latest(std::vector<std::string>* warnings = nullptr) const;
  // Verifies and loads one checkpoint directory.
  Result<Checkpoint> load(const std::string& dir) const;
  // Every ckpt-* directory under the root, oldest step first (broken ones too, with their problem).
  std::vector<CheckpointSummary> list() const;
  // Deletes all but the newest `keep_last` intact checkpoints and the one with the best eval loss;
  // also removes leftover temporary directories. Returns the number removed.
  Result<int> cleanup(int keep_last) const;

  static std::string dir_name(int64_t step);

 private:
  std::string root_;
};

}  // namespace cyllm
