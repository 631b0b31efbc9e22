// bf16 training products (train-gemm-bf16.h). Built with -mavx512f -mavx512bw -mavx512bf16; the
// kernels are only reached when bf16_gemm_available() (config validation refuses "bf16" otherwise).
//
// Micro-kernel: kMR rows of C x one 32-column panel, 2 * kMR float32 accumulators in registers; per
// pair of k: two 64-byte panel loads, kMR 4-byte broadcasts of A's (a[k], a[k+1]) and 2 * kMR
// vdpbf16ps. It runs over the whole K at once (a panel is at most a few hundred KB and streams
// from L2), so each C element is one ascending sum. A is rounded to bf16 once per call.
#include "train/train-gemm-bf16.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace cyllm::train {

namespace {

constexpr int64_t kNR = 32;        // columns per panel
constexpr int kMR = 8;             // rows per micro-tile
constexpr int64_t kMB = 64;        // rows of C per task
constexpr int64_t kPanelsPerTask = 8;

// The lowest n of 16 lanes (n clamped to [0, 16]).
inline __mmask16 first_lanes(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << std::max<int64_t>(n, 0)) - 1);
}

// 32 floats (masked to n) -> 32 bf16, round to nearest even (denormals flush to zero, as the
// hardware conversion does).
inline __m512i to_bf16_32(const float* x, int64_t n) {
  const __m512 lo = _mm512_maskz_loadu_ps(first_lanes(n), x), hi = _mm512_maskz_loadu_ps(first_lanes(n - 16), x + 16);
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));  // element i < 16 from lo
}

// Row of n floats -> np bf16 (zero padded).
void row_to_bf16(const float* x, int64_t n, int64_t np, uint16_t* out) {
  for (int64_t i = 0; i < np; i += 32) {
    const __m512i v = to_bf16_32(x + i, n - i);
    if (np - i >= 32) {
      _mm512_storeu_si512(out + i, v);
    } else {
      _mm512_mask_storeu_epi16(out + i, static_cast<__mmask32>((1ull << (np - i)) - 1), v);
    }
  }
}

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

void shape(Bf16Panels& out, int64_t K, int64_t N) {
  out.K = K;
  out.N = N;
  out.Kp = round_up(K, 2);
  out.Np = round_up(N, kNR);
  out.data.assign(static_cast<size_t>(out.Kp * out.Np), 0);
}

// B = Wᵀ: panel p, pair kk, column nn holds (W[32p + nn][2kk], W[32p + nn][2kk + 1]): the
// row's bf16 pairs, one 32-bit word each, transposed into the panel.
template <class RowFn>
void pack_transposed_panels(ThreadPool& pool, int64_t rows, int64_t cols, Bf16Panels& out, RowFn row) {
  shape(out, cols, rows);
  const int64_t pairs = out.Kp / 2, panels = out.Np / kNR;
  pool.parallel_for(panels, 1, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> f;
    thread_local std::vector<uint16_t> h;
    f.resize(static_cast<size_t>(cols));
    h.resize(static_cast<size_t>(out.Kp));
    for (int64_t p = b; p < e; ++p) {
      uint32_t* panel = reinterpret_cast<uint32_t*>(out.data.data() + p * out.Kp * kNR);
      for (int64_t nn = 0; nn < kNR && p * kNR + nn < rows; ++nn) {
        row(p * kNR + nn, f.data());
        row_to_bf16(f.data(), cols, out.Kp, h.data());
        const uint32_t* h32 = reinterpret_cast<const uint32_t*>(h.data());
        for (int64_t kk = 0; kk < pairs; ++kk) panel[kk * kNR + nn] = h32[kk];
      }
    }
  });
}

// B = W: panel p, pair kk holds rows 2kk and 2kk+1 of W, columns 32p.., interleaved.
template <class RowFn>
void pack_panels(ThreadPool& pool, int64_t rows, int64_t cols, Bf16Panels& out, RowFn row) {
  shape(out, rows, cols);
  const int64_t pairs = out.Kp / 2, panels = out.Np / kNR;
  alignas(64) static const uint16_t kInterleave[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,  21, 6,  22, 7,  23,
                                                       8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i idx = _mm512_load_si512(kInterleave);
  pool.parallel_for(pairs, 4, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> r0, r1;
    r0.assign(static_cast<size_t>(out.Np), 0.0f);
    r1.assign(static_cast<size_t>(out.Np), 0.0f);
    for (int64_t kk = b; kk < e; ++kk) {
      row(2 * kk, r0.data());
      if (2 * kk + 1 < rows) {
        row(2 * kk + 1, r1.data());
      } else {
        std::fill(r1.begin(), r1.end(), 0.0f);
      }
      for (int64_t p = 0; p < panels; ++p)
        for (int64_t half = 0; half < 2; ++half) {  // 16 columns at a time
          const int64_t c0 = p * kNR + 16 * half;
          const __mmask16 m = first_lanes(cols - c0);
          const __m512 a = _mm512_maskz_loadu_ps(m, r0.data() + c0), c = _mm512_maskz_loadu_ps(m, r1.data() + c0);
          const __m512i v = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(c, a));  // [a0..a15, c0..c15]
          uint16_t* dst = out.data.data() + (p * pairs + kk) * 2 * kNR + 32 * half;
          _mm512_storeu_si512(dst, _mm512_permutexvar_epi16(idx, v));
        }
    }
  });
}

template <int MR>
inline void micro(const uint16_t* a, int64_t lda, const uint16_t* panel, int64_t pairs, float* c, int64_t ldc,
                  __mmask16 m0, __mmask16 m1, bool load) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = load ? _mm512_maskz_loadu_ps(m0, c + r * ldc) : _mm512_setzero_ps();
    acc[r][1] = load ? _mm512_maskz_loadu_ps(m1, c + r * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t kk = 0; kk < pairs; ++kk) {
    const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(panel + kk * 64));
    const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(panel + kk * 64 + 32));
    for (int r = 0; r < MR; ++r) {
      int32_t w;
      std::memcpy(&w, a + r * lda + 2 * kk, 4);
      const __m512bh av = reinterpret_cast<__m512bh>(_mm512_set1_epi32(w));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, acc[r][0]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc[r][1]);
  }
}

template <int MR>
void micro_rows(int rows, const uint16_t* a, int64_t lda, const uint16_t* panel, int64_t pairs, float* c, int64_t ldc,
                __mmask16 m0, __mmask16 m1, bool load) {
  if constexpr (MR > 0) {
    if (rows == MR) return micro<MR>(a, lda, panel, pairs, c, ldc, m0, m1, load);
    return micro_rows<MR - 1>(rows, a, lda, panel, pairs, c, ldc, m0, m1, load);
  }
}

}  // namespace

float round_bf16(float x) {
  alignas(64) uint16_t h[32];
  _mm512_store_si512(h, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_set1_ps(x), _mm512_set1_ps(x))));
  const uint32_t bits = static_cast<uint32_t>(h[0]) << 16;
  float y;
  std::memcpy(&y, &bits, 4);
  return y;
}

void pack_bf16_transposed(ThreadPool& pool, const WeightRef& w, int64_t r0, int64_t r1, Bf16Panels& out) {
  pack_transposed_panels(pool, r1 - r0, w.ne0, out,
                         [&](int64_t r, float* dst) { cpu::dequantize_row(w.type, w.row(r0 + r), dst, w.ne0); });
}

void pack_bf16(ThreadPool& pool, const WeightRef& w, int64_t r0, int64_t r1, Bf16Panels& out) {
  pack_panels(pool, r1 - r0, w.ne0, out,
              [&](int64_t r, float* dst) { cpu::dequantize_row(w.type, w.row(r0 + r), dst, w.ne0); });
}

void pack_bf16_transposed(const float* w, int64_t rows, int64_t cols, Bf16Panels& out) {
  ThreadPool pool(1);
  pack_transposed_panels(pool, rows, cols, out,
                         [&](int64_t r, float* dst) { std::memcpy(dst, w + r * cols, sizeof(float) * cols); });
}

void pack_bf16(const float* w, int64_t rows, int64_t cols, Bf16Panels& out) {
  ThreadPool pool(1);
  pack_panels(pool, rows, cols, out,
              [&](int64_t r, float* dst) { std::memcpy(dst, w + r * cols, sizeof(float) * cols); });
}

void gemm_bf16(ThreadPool& pool, int64_t M, const float* A, int64_t lda, const Bf16Panels& B, float* C, int64_t ldc,
               bool accumulate) {
  const int64_t panels = B.Np / kNR, pairs = B.Kp / 2;
  // A is rounded to bf16 once (all rows, in parallel), then shared by every task.
  thread_local std::vector<uint16_t> abf;
  abf.resize(static_cast<size_t>(M * B.Kp));
  uint16_t* ab = abf.data();
  pool.parallel_for(M, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) row_to_bf16(A + i * lda, B.K, B.Kp, ab + i * B.Kp);
  });
  const int64_t mblocks = (M + kMB - 1) / kMB, pgroups = (panels + kPanelsPerTask - 1) / kPanelsPerTask;
  pool.parallel_for(mblocks * pgroups, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t mb = t / pgroups, pg = t % pgroups;
      const int64_t m0 = mb * kMB, m1 = std::min(M, m0 + kMB);
      for (int64_t p = pg * kPanelsPerTask; p < std::min(panels, (pg + 1) * kPanelsPerTask); ++p) {
        const int64_t n0 = p * kNR, valid = std::min<int64_t>(kNR, B.N - n0);
        const __mmask16 mk0 = first_lanes(valid), mk1 = first_lanes(valid - 16);
        const uint16_t* panel = B.data.data() + p * B.Kp * kNR;
        for (int64_t i = m0; i < m1; i += kMR) {
          const int rows = static_cast<int>(std::min<int64_t>(kMR, m1 - i));
          micro_rows<kMR>(rows, ab + i * B.Kp, B.Kp, panel, pairs, C + i * ldc + n0, ldc, mk0, mk1, accumulate);
        }
      }
    }
  });
}

double measured_core_peak_flops(bool bf16) {
  if (bf16 ? !bf16_gemm_available() : !cpu::isa_supported(cpu::Isa::kAvx512)) return 0.0;
  constexpr int kChains = 12;  // > latency x throughput, so the pipes stay full
  constexpr long kIters = 1 << 20;
  __m512 acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x3f803f80)), b = a;
  __m512 x = _mm512_set1_ps(1.0f), y = _mm512_set1_ps(0.0f);
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (long k = 0; k < kIters; ++k) {
      for (int i = 0; i < kChains; ++i)
        acc[i] = bf16 ? _mm512_dpbf16_ps(acc[i], a, b) : _mm512_fmadd_ps(acc[i], x, y);
      asm volatile("" : "+v"(a), "+v"(b), "+v"(x), "+v"(y));  // opaque operands: nothing folds
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, static_cast<double>(kIters) * kChains * (bf16 ? 64.0 : 32.0) / s);
  }
  float sink = 0;
  for (int i = 0; i < kChains; ++i) sink += _mm512_reduce_add_ps(acc[i]);
  asm volatile("" : : "r"(sink));
  return best;
}

}  // namespace cyllm::train
