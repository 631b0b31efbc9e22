// cyllm_quant_bench: timings of the quantized CPU kernels (backend/quant.h), printed as JSON.
// For each ISA this CPU runs (AVX-512 with and without VNNI) and each weight type of interest:
//   gemv_1536x576   decode-shaped matmul_tile (1 column) on a 1536-row, 576-wide matrix (L2-sized)
//   gemv_49152x576  the same on the 49152-row output projection (memory-sized), 1 and 2 threads
//   gemm_576x1536x64 a prefill-shaped tile: 576 rows of 1536, 64 activation columns
//   gemm_1536x576x8  a batched-decode tile: the 1536-row matrix against 8 activation columns
//                    (8 concurrent streams; GOP/s here against 8x gemv_1536x576 shows the batching gain)
//   gemm_49152x576x8_1t/_2t the same on the memory-sized matrix, 1 and 2 threads
// GB/s counts weight bytes read; GOP/s counts 2 * rows * n * columns.
// Q4_1 and Q8_0 also get a "packed-vnni" entry (backend/packed.h: row-interleaved weights made
// once, outside the timing) when the CPU has AVX512-VNNI.
// Usage: cyllm_quant_bench [min_seconds_per_case=0.3]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/packed.h"
#include "backend/quant-impl.h"
#include "backend/quant.h"

using namespace cyllm;
using namespace cyllm::cpu;

namespace {

double g_min_seconds = 0.3;

// Single-threaded cases are timed in thread CPU time, so other processes sharing the cores do not
// inflate them (cache and memory contention still can); multi-threaded ones in wall time.
double now(bool cpu_time) {
  timespec ts;
  clock_gettime(cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <class F>
double time_per_call(F f, bool cpu_time) {  // seconds per call, best of 5 runs of >= g_min_seconds / 5
  f();
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    int64_t iters = 0;
    const double t0 = now(cpu_time);
    double el = 0.0;
    do {
      f();
      ++iters;
      el = now(cpu_time) - t0;
    } while (el < g_min_seconds / 5);
    best = std::min(best, el / static_cast<double>(iters));
  }
  return best;
}

struct Matrix {
  GgmlType type;
  int64_t rows, n;
  size_t row_bytes;
  std::vector<uint8_t> data;
};

Matrix make_weights(GgmlType t, int64_t rows, int64_t n, std::mt19937& rng) {
  Matrix m{t, rows, n, *row_bytes(t, n), {}};
  m.data.resize(m.row_bytes * rows);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : x) v = dist(rng);
    quantize_row_ref(t, x.data(), m.data.data() + r * m.row_bytes, n);
  }
  return m;
}

std::vector<uint8_t> make_acts(GgmlType w, int64_t n, int64_t cols, std::mt19937& rng) {
  const GgmlType at = vec_dot_type(w);
  const size_t rb = *row_bytes(at, n);
  std::vector<uint8_t> a(rb * cols);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t c = 0; c < cols; ++c) {
    for (auto& v : x) v = dist(rng);
    quantize_row_act(at, x.data(), a.data() + c * rb, n, Isa::kScalar);
  }
  return a;
}

double run_matmul(const Matrix& m, const std::vector<uint8_t>& a, int64_t cols, Isa isa, int threads) {
  const size_t arb = *row_bytes(vec_dot_type(m.type), m.n);
  std::vector<float> y(static_cast<size_t>(m.rows * cols));
  auto call = [&](int64_t r0, int64_t r1) {
    matmul_tile(m.type, m.n, m.data.data() + r0 * m.row_bytes, m.row_bytes, r1 - r0, a.data(), arb, cols, y.data() + r0,
                m.rows, isa);
  };
  if (threads == 1) return time_per_call([&] { call(0, m.rows); }, true);
  return time_per_call([&] {
    std::vector<std::thread> ts;
    const int64_t per = (m.rows + threads - 1) / threads;
    for (int t = 0; t < threads; ++t) ts.emplace_back(call, t * per, std::min(m.rows, (t + 1) * per));
    for (auto& t : ts) t.join();
  }, false);
}

// The same products through the packed kernels: groups of 16 rows split evenly between threads.
double run_packed(const Matrix& m, const std::vector<uint8_t>& a, int64_t cols, int threads) {
  const auto pw = pack_weight(m.type, m.n, m.rows, m.data.data(), m.row_bytes);
  const GgmlType at = vec_dot_type(m.type);
  const size_t arb = *row_bytes(at, m.n);
  std::vector<float> sc(static_cast<size_t>(2 * (m.n / 32) * cols));
  for (int64_t c = 0; c < cols; ++c) packed_act_scales(at, a.data() + c * arb, m.n, sc.data() + c * 2 * (m.n / 32));
  std::vector<float> y(static_cast<size_t>(m.rows * cols));
  auto call = [&](int64_t g0, int64_t g1) {
    packed_matmul(*pw, g0, g1 - g0, a.data(), arb, sc.data(), cols, y.data(), m.rows);
  };
  if (threads == 1) return time_per_call([&] { call(0, pw->ngroups); }, true);
  return time_per_call([&] {
    std::vector<std::thread> ts;
    const int64_t per = (pw->ngroups + threads - 1) / threads;
    for (int t = 0; t < threads; ++t) ts.emplace_back(call, t * per, std::min(pw->ngroups, (t + 1) * per));
    for (auto& t : ts) t.join();
  }, false);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_min_seconds = std::atof(argv[1]);
  std::mt19937 rng(1234);
  struct IsaCase { Isa isa; bool vnni; std::string name; bool packed = false; };
  std::vector<IsaCase> isas{{Isa::kScalar, false, "scalar"}};
  if (isa_supported(Isa::kAvx2)) isas.push_back({Isa::kAvx2, false, "avx2"});
  if (isa_supported(Isa::kAvx512)) {
    isas.push_back({Isa::kAvx512, false, "avx512"});
    if (__builtin_cpu_supports("avx512vnni")) isas.push_back({Isa::kAvx512, true, "avx512-vnni"});
    if (packed_available()) isas.push_back({Isa::kAvx512, true, "packed-vnni", true});
  }
  const GgmlType types[] = {GgmlType::Q4_1, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::F16};  // n = 576: no K-quants
  std::printf("{\n  \"threads_available\": %u,\n  \"results\": [", std::thread::hardware_concurrency());
  bool first = true;
  for (GgmlType t : types) {
    const Matrix small = make_weights(t, 1536, 576, rng);
    const Matrix big = make_weights(t, 49152, 576, rng);
    const Matrix down = make_weights(t, 576, 1536, rng);
    const auto a576 = make_acts(t, 576, 1, rng);
    const auto a1536 = make_acts(t, 1536, 64, rng);
    const auto a576x8 = make_acts(t, 576, 8, rng);
    for (const IsaCase& ic : isas) {
      if (ic.packed && !packed_type_supported(t)) continue;
      auto run_matmul = [&](const Matrix& m, const std::vector<uint8_t>& a, int64_t cols, Isa isa, int threads) {
        return ic.packed ? run_packed(m, a, cols, threads) : ::run_matmul(m, a, cols, isa, threads);
      };
      if (ic.isa == Isa::kAvx512) avx512::set_vnni_enabled(ic.vnni);
      const bool slow = ic.isa == Isa::kScalar;
      const double s_small = run_matmul(small, a576, 1, ic.isa, 1);
      const double s_big1 = slow ? 0 : run_matmul(big, a576, 1, ic.isa, 1);
      const double s_big2 = slow ? 0 : run_matmul(big, a576, 1, ic.isa, 2);
      const double s_gemm = run_matmul(down, a1536, 64, ic.isa, 1);
      const double s_gemm8 = run_matmul(small, a576x8, 8, ic.isa, 1);
      const double s_big8_1 = slow ? 0 : run_matmul(big, a576x8, 8, ic.isa, 1);
      const double s_big8 = slow ? 0 : run_matmul(big, a576x8, 8, ic.isa, 2);
      const double gb_small = small.data.size() / s_small / 1e9;
      const double gb_big1 = slow ? 0 : big.data.size() / s_big1 / 1e9;
      const double gb_big2 = slow ? 0 : big.data.size() / s_big2 / 1e9;
      const double gops = 2.0 * 576 * 1536 * 64 / s_gemm / 1e9;
      std::printf("%s\n    {\"type\": \"%s\", \"isa\": \"%s\", \"gemv_1536x576_GBps\": %.2f, \"gemv_1536x576_us\": %.1f, "
                  "\"gemv_49152x576_GBps_1t\": %.2f, \"gemv_49152x576_GBps_2t\": %.2f, "
                  "\"gemm_576x1536x64_GOPps\": %.1f, \"gemm_576x1536x64_ms\": %.3f, "
                  "\"gemm_1536x576x8_GOPps\": %.1f, \"gemm_1536x576x8_us\": %.1f, \"gemm_49152x576x8_GOPps_1t\": %.1f, "
                  "\"gemm_49152x576x8_GOPps_2t\": %.1f}",
                  first ? "" : ",", std::string(type_name(static_cast<uint32_t>(t))).c_str(), ic.name.c_str(), gb_small,
                  s_small * 1e6, gb_big1, gb_big2, gops, s_gemm * 1e3, 2.0 * 1536 * 576 * 8 / s_gemm8 / 1e9,
                  s_gemm8 * 1e6, slow ? 0.0 : 2.0 * 49152 * 576 * 8 / s_big8_1 / 1e9,
                  slow ? 0.0 : 2.0 * 49152 * 576 * 8 / s_big8 / 1e9);
      first = false;
      std::fflush(stdout);
    }
    if (isa_supported(Isa::kAvx512)) avx512::set_vnni_enabled(__builtin_cpu_supports("avx512vnni") != 0);
  }
  std::printf("\n  ]\n}\n");
  return 0;
}
