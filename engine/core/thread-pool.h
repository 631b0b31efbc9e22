// A small fork-join pool for the engine's parallel loops.
//
// Decode runs a few hundred parallel regions per token, so wake-up latency matters more than
// anything: workers spin briefly on an atomic generation counter before they sleep (std::atomic
// wait/notify, a futex on Linux). The calling thread takes part.
//
// Robust to a busy machine: the slices of a region (0..n-1) are claimed by whichever thread comes
// first, so when the OS has not yet scheduled a worker, the caller runs that worker's slice itself
// instead of spinning until the worker appears. The caller then waits only for workers that are
// inside a slice. A worker that arrives after the region has closed does nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace cyllm {

class ThreadPool {
 public:
  // n_threads <= 0 means all hardware threads.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Workers take this nice value (core/thread-priority.h) the next time they wake; the calling
  // thread sets its own. 0 leaves them as they are.
  void set_worker_nice(int nice) { worker_nice_.store(nice, std::memory_order_relaxed); }

  // Runs fn(slice, n_slices) once for every slice in [0, size()) — each slice on whichever
  // thread claims it first — and returns when all are done.
  template <class F>
  void run(F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run_erased([](void* ctx, int i, int n) { (*static_cast<Fn*>(ctx))(i, n); }, &fn);
  }

  // Calls fn(begin, end) over [0, n) in chunks of at most `grain`, handed out dynamically.
  template <class F>
  void parallel_for(int64_t n, int64_t grain, F&& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n_threads_ == 1 || n <= grain) {
      fn(int64_t{0}, n);
      return;
    }
    std::atomic<int64_t> next{0};
    run([&](int, int) {
      for (;;) {
        const int64_t b = next.fetch_add(grain, std::memory_order_relaxed);
        if (b >= n) break;
        fn(b, b + grain < n ? b + grain : n);
      }
    });
  }

 private:
  using Thunk = void (*)(void*, int, int);
  void run_erased(Thunk thunk, void* ctx);
  void worker(int index);

  void run_slices(uint64_t gen);

  int n_threads_ = 1;
  std::vector<std::thread> threads_;
  alignas(64) std::atomic<uint64_t> generation_{0};  // bumped to start a region (wakes workers)
  alignas(64) std::atomic<uint64_t> state_{1};       // (generation << 1) | closed
  alignas(64) std::atomic<int> next_slice_{0};
  alignas(64) std::atomic<int> active_{0};            // workers inside the current region
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<int> worker_nice_{0};
};

}  // namespace cyllm
