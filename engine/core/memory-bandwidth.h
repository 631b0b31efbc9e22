// Measures the machine's sustained memory read bandwidth with all pool threads (a STREAM-like
// sum over a buffer much larger than the caches). Used to state the decode speed bound:
// a decode step must read every weight once, so tok/s <= bandwidth / weight bytes.
#pragma once

#include "core/thread-pool.h"

namespace cyllm {

// Best of `reps` passes over `bytes` bytes, in GB/s (1e9 bytes per second).
double measure_read_bandwidth_gbs(ThreadPool& pool, size_t bytes = size_t{512} << 20, int reps = 5);

}  // namespace cyllm
