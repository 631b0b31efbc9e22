// Early stopping on the evaluation loss: stop exactly when `patience` evaluations in a row failed
// to improve on the best loss so far by more than `min_delta` (Property 9). An optional
// stop-at-loss threshold ends training as soon as an evaluation reaches it.
#pragma once

#include <limits>
#include <optional>

namespace cyllm {

struct EarlyStoppingConfig {
  int patience = 3;          // evaluations without improvement before stopping; <= 0 disables
  double min_delta = 0.0;    // an improvement must be larger than this
  std::optional<double> stop_at_loss;  // stop when eval loss <= this
};

class EarlyStopping {
 public:
  explicit EarlyStopping(EarlyStoppingConfig cfg) : cfg_(cfg) {}

  // Records one evaluation; true when training should stop now.
  bool update(double eval_loss);

  double best() const { return best_; }
  int evals_without_improvement() const { return bad_; }
  bool stopped() const { return stopped_; }
  // State for checkpoints (resume continues exactly).
  struct State {
    double best;
    int bad;
    bool stopped;
  };
  State state() const { return {best_, bad_, stopped_}; }
  void restore(const State& s) {
    best_ = s.best;
    bad_ = s.bad;
    stopped_ = s.stopped;
  }

 private:
  EarlyStoppingConfig cfg_;
  double best_ = std::numeric_limits<double>::infinity();
  int bad_ = 0;
  bool stopped_ = false;
};

}  // namespace cyllm
