// Train/eval split: by a fraction of the rows with a deterministic shuffle from a seed, or from a
// separate eval file (then every row of the dataset trains). The shuffle is our own Fisher-Yates
// over SplitMix64, so the same seed gives the same split on every platform and standard library.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace cyllm::train {

struct Split {
  std::vector<uint64_t> train;  // indices into the dataset's valid rows (0-based), in shuffled order
  std::vector<uint64_t> eval;
};

// n rows; eval_fraction in [0, 1): round(n * fraction) rows go to eval (at least 1 when the
// fraction is > 0 and n > 1, and never all of them). The same (n, fraction, seed) always gives
// the same split.
Result<Split> split_by_fraction(uint64_t n, double eval_fraction, uint64_t seed);

// Eval rows come from another file: all n rows train (shuffled by seed), eval_rows eval in order.
Split split_with_eval_file(uint64_t n, uint64_t eval_rows, uint64_t seed);

// The permutation used above: a deterministic shuffle of 0..n-1.
std::vector<uint64_t> shuffled_indices(uint64_t n, uint64_t seed);

}  // namespace cyllm::train
