#include "core/thread-pool.h"

#include "core/thread-priority.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define CYLLM_PAUSE() _mm_pause()
#else
#define CYLLM_PAUSE() ((void)0)
#endif

namespace cyllm {

namespace {
// About 50-100 us of spinning before a worker sleeps: long enough to bridge the gap between two
// matmuls of one decode step, short enough not to burn a core while the engine is idle.
constexpr int kSpinIterations = 20000;
// The caller waits for workers still inside a slice: spin briefly, then yield the core, which
// matters when the machine is oversubscribed and that worker needs it to finish.
constexpr int kCallerSpins = 2000;
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::thread::hardware_concurrency());
  if (n_threads <= 0) n_threads = 1;
  n_threads_ = n_threads;
  threads_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::run_slices(uint64_t) {
  for (int s = next_slice_.fetch_add(1, std::memory_order_relaxed); s < n_threads_;
       s = next_slice_.fetch_add(1, std::memory_order_relaxed))
    thunk_(ctx_, s, n_threads_);
}

void ThreadPool::run_erased(Thunk thunk, void* ctx) {
  if (n_threads_ == 1) {
    thunk(ctx, 0, 1);
    return;
  }
  thunk_ = thunk;
  ctx_ = ctx;
  next_slice_.store(0, std::memory_order_relaxed);
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  state_.store(gen << 1, std::memory_order_seq_cst);       // open
  generation_.store(gen, std::memory_order_seq_cst);       // publishes thunk_/ctx_ too
  generation_.notify_all();
  run_slices(gen);
  state_.store((gen << 1) | 1, std::memory_order_seq_cst);  // closed: late workers stay out
  for (int spin = 0; active_.load(std::memory_order_seq_cst) != 0; ++spin) {
    if (spin < kCallerSpins) {
      CYLLM_PAUSE();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::worker(int) {
  uint64_t seen = 0;
  int nice = 0;
  for (;;) {
    if (const int want = worker_nice_.load(std::memory_order_relaxed); want != nice) {
      set_current_thread_nice(want);
      nice = want;
    }
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen && spin < kSpinIterations; ++spin) {
      CYLLM_PAUSE();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      continue;
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    // Join only while the region is open: registering in active_ before checking the state (both
    // sequentially consistent) means the caller either sees us active or we see it closed.
    active_.fetch_add(1, std::memory_order_seq_cst);
    if (state_.load(std::memory_order_seq_cst) == (g << 1)) run_slices(g);
    active_.fetch_sub(1, std::memory_order_seq_cst);
  }
}

}  // namespace cyllm
