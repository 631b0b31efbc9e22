// Deterministic train/eval split (see dataset-split.h).
#include "train/dataset-split.h"

#include <cmath>
#include <numeric>
#include <utility>

namespace cyllm::train {

namespace {
uint64_t splitmix64(uint64_t* s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// Unbiased integer in [0, bound) by rejection.
uint64_t below(uint64_t* s, uint64_t bound) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x;
  do x = splitmix64(s);
  while (x >= limit);
  return x % bound;
}
}  // namespace

std::vector<uint64_t> shuffled_indices(uint64_t n, uint64_t seed) {
  std::vector<uint64_t> v(n);
  std::iota(v.begin(), v.end(), uint64_t{0});
  uint64_t s = seed;
  for (uint64_t i = n; i > 1; --i) std::swap(v[i - 1], v[below(&s, i)]);
  return v;
}

Result<Split> split_by_fraction(uint64_t n, double f, uint64_t seed) {
  if (!(f >= 0.0 && f < 1.0))
    return make_error(ErrorCode::kOutOfRange, "eval fraction must be in [0, 1)", "e.g. 0.1 keeps 10% for eval");
  uint64_t k = static_cast<uint64_t>(std::llround(static_cast<double>(n) * f));
  if (f > 0 && k == 0 && n > 1) k = 1;
  if (k >= n && n > 0) k = n - 1;
  auto p = shuffled_indices(n, seed);
  Split s;
  s.eval.assign(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(k));
  s.train.assign(p.begin() + static_cast<std::ptrdiff_t>(k), p.end());
  return s;
}

Split split_with_eval_file(uint64_t n, uint64_t eval_rows, uint64_t seed) {
  Split s;
  s.train = shuffled_indices(n, seed);
  s.eval.resize(eval_rows);
  std::iota(s.eval.begin(), s.eval.end(), uint64_t{0});
  return s;
}

}  // namespace cyllm::train
