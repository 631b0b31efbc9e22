#include "core/memory-bandwidth.h"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>

namespace cyllm {

namespace {
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t acc[8] = {};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] ^= p[i + j];
  uint64_t s = 0;
  for (uint64_t v : acc) s ^= v;
  return s;
}
}  // namespace

double measure_read_bandwidth_gbs(ThreadPool& pool, size_t bytes, int reps) {
  const size_t words = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buf(new uint64_t[words]);
  // Touch every page from the thread that will read it, so pages are really mapped.
  pool.parallel_for(static_cast<int64_t>(words), 1 << 16, [&](int64_t b, int64_t e) {
    std::memset(buf.get() + b, 1, static_cast<size_t>(e - b) * sizeof(uint64_t));
  });
  double best = 0.0;
  volatile uint64_t sink = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int i, int n) {
      const size_t chunk = words / static_cast<size_t>(n);
      const size_t b = chunk * static_cast<size_t>(i);
      const size_t e = i + 1 == n ? words : b + chunk;
      sink = sink ^ sum_words(buf.get() + b, e - b);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(bytes) / s / 1e9);
  }
  return best;
}

}  // namespace cyllm
