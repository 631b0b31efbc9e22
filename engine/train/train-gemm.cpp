#include "train/train-gemm.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "backend/quant.h"

// One body, several code paths (as backend/cpu-ops.cpp); the loader picks one per process, so a
// given machine always runs the same arithmetic.
#define CYLLM_TRAIN_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

namespace cyllm::train {

namespace {

// 32-byte vectors (GCC vector extensions: one AVX register in the x86-64-v3 clone, two SSE
// registers in the baseline one). A micro-tile is kMR rows x two vectors of C, kept in registers.
typedef float vf __attribute__((vector_size(32)));
typedef double vd __attribute__((vector_size(32)));
template <class T>
using Vec = std::conditional_t<std::is_same_v<T, float>, vf, vd>;
template <class T>
constexpr int64_t kVL = 32 / sizeof(T);

constexpr int64_t kMR = 6;    // rows of C per micro-tile (12 accumulators + 2 B vectors + 1 broadcast)
constexpr int64_t kMB = 72;   // rows of C per task (fixed: results never depend on the threads)
constexpr int64_t kNB = 256;  // columns per panel of B
constexpr int64_t kKB = 256;  // depth per block of B (a 256 x 256 float panel stays in L2)

// C[r][0 .. 2 VL) (+)= sum_k A[r][k] B[k][.], k ascending.
template <class T, int MR>
__attribute__((always_inline)) inline void micro(const T* A, int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc,
                                                 int64_t kb, bool load) {
  using V = Vec<T>;
  constexpr int64_t VL = kVL<T>;
  V acc[MR][2];
  for (int r = 0; r < MR; ++r) {
    if (load) {
      __builtin_memcpy(&acc[r][0], C + r * ldc, sizeof(V));
      __builtin_memcpy(&acc[r][1], C + r * ldc + VL, sizeof(V));
    } else {
      acc[r][0] = V{};
      acc[r][1] = V{};
    }
  }
  for (int64_t k = 0; k < kb; ++k) {
    V b0, b1;
    __builtin_memcpy(&b0, B + k * ldb, sizeof(V));
    __builtin_memcpy(&b1, B + k * ldb + VL, sizeof(V));
    for (int r = 0; r < MR; ++r) {
      const T a = A[r * lda + k];
      acc[r][0] += a * b0;
      acc[r][1] += a * b1;
    }
  }
  for (int r = 0; r < MR; ++r) {
    __builtin_memcpy(C + r * ldc, &acc[r][0], sizeof(V));
    __builtin_memcpy(C + r * ldc + VL, &acc[r][1], sizeof(V));
  }
}

// One vector of columns (for narrow C, e.g. the rank-r products of LoRA).
template <class T, int MR>
__attribute__((always_inline)) inline void micro_one(const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                                                     int64_t ldc, int64_t kb, bool load) {
  using V = Vec<T>;
  V acc[MR];
  for (int r = 0; r < MR; ++r) {
    if (load) __builtin_memcpy(&acc[r], C + r * ldc, sizeof(V));
    else acc[r] = V{};
  }
  for (int64_t k = 0; k < kb; ++k) {
    V b0;
    __builtin_memcpy(&b0, B + k * ldb, sizeof(V));
    for (int r = 0; r < MR; ++r) acc[r] += A[r * lda + k] * b0;
  }
  for (int r = 0; r < MR; ++r) __builtin_memcpy(C + r * ldc, &acc[r], sizeof(V));
}

template <class T>
__attribute__((always_inline)) inline void tail_cols(const T* A, int64_t lda, const T* B, int64_t ldb, T* C,
                                                     int64_t ldc, int64_t rows, int64_t cols, int64_t kb, bool load) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      T acc = load ? C[r * ldc + j] : T(0);
      for (int64_t k = 0; k < kb; ++k) acc += A[r * lda + k] * B[k * ldb + j];
      C[r * ldc + j] = acc;
    }
}

template <class T>
__attribute__((always_inline)) inline void gemm_rows(int64_t m0, int64_t m1, int64_t N, int64_t K, const T* A,
                                                     int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc,
                                                     bool accumulate) {
  constexpr int64_t NR = 2 * kVL<T>;
  if (K == 0) {
    if (!accumulate)
      for (int64_t i = m0; i < m1; ++i) std::fill(C + i * ldc, C + i * ldc + N, T(0));
    return;
  }
  for (int64_t k0 = 0; k0 < K; k0 += kKB) {
    const int64_t kb = std::min(kKB, K - k0);
    const bool load = accumulate || k0 > 0;
    for (int64_t n0 = 0; n0 < N; n0 += kNB) {
      const int64_t nb = std::min(kNB, N - n0);
      const int64_t nfull = nb / NR * NR;
      int64_t i = m0;
      for (; i + kMR <= m1; i += kMR) {
        const T* a = A + i * lda + k0;
        const T* b = B + k0 * ldb + n0;
        T* c = C + i * ldc + n0;
        for (int64_t j = 0; j < nfull; j += NR) micro<T, kMR>(a, lda, b + j, ldb, c + j, ldc, kb, load);
        int64_t j = nfull;
        if (nb - j >= kVL<T>) {
          micro_one<T, kMR>(a, lda, b + j, ldb, c + j, ldc, kb, load);
          j += kVL<T>;
        }
        if (j < nb) tail_cols(a, lda, b + j, ldb, c + j, ldc, kMR, nb - j, kb, load);
      }
      for (; i < m1; ++i) {
        const T* a = A + i * lda + k0;
        const T* b = B + k0 * ldb + n0;
        T* c = C + i * ldc + n0;
        for (int64_t j = 0; j < nfull; j += NR) micro<T, 1>(a, lda, b + j, ldb, c + j, ldc, kb, load);
        int64_t j = nfull;
        if (nb - j >= kVL<T>) {
          micro_one<T, 1>(a, lda, b + j, ldb, c + j, ldc, kb, load);
          j += kVL<T>;
        }
        if (j < nb) tail_cols(a, lda, b + j, ldb, c + j, ldc, 1, nb - j, kb, load);
      }
    }
  }
}

CYLLM_TRAIN_MULTIVERSION
void gemm_rows_f32(int64_t m0, int64_t m1, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                   int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  gemm_rows<float>(m0, m1, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

CYLLM_TRAIN_MULTIVERSION
void gemm_rows_f64(int64_t m0, int64_t m1, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
                   int64_t ldb, double* C, int64_t ldc, bool accumulate) {
  gemm_rows<double>(m0, m1, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

}  // namespace

namespace {
// Tasks of kMB rows; when there are few (e.g. the rank-r rows of a LoRA gradient), each is also
// split into column ranges at the kernel's own kNB panel boundaries, so every element of C goes
// through exactly the same operations either way.
template <class F>
void for_tasks(ThreadPool& pool, int64_t M, int64_t N, F rows) {
  const int64_t mt = (M + kMB - 1) / kMB;
  const int64_t nt = mt >= 4 ? 1 : (N + kNB - 1) / kNB;
  pool.parallel_for(mt * nt, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t m0 = t / nt * kMB, n0 = t % nt * kNB;
      rows(m0, std::min(M, m0 + kMB), n0, nt == 1 ? N : std::min(kNB, N - n0));
    }
  });
}
}  // namespace

void gemm_nn(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc, bool accumulate) {
  for_tasks(pool, M, N, [&](int64_t m0, int64_t m1, int64_t n0, int64_t nn) {
    gemm_rows_f32(m0, m1, nn, K, A, lda, B + n0, ldb, C + n0, ldc, accumulate);
  });
}

void gemm_nn(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
             int64_t ldb, double* C, int64_t ldc, bool accumulate) {
  for_tasks(pool, M, N, [&](int64_t m0, int64_t m1, int64_t n0, int64_t nn) {
    gemm_rows_f64(m0, m1, nn, K, A, lda, B + n0, ldb, C + n0, ldc, accumulate);
  });
}

void gemm_nn_serial(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                    float* C, int64_t ldc, bool accumulate) {
  gemm_rows_f32(0, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

void gemm_nn_serial(int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B, int64_t ldb,
                    double* C, int64_t ldc, bool accumulate) {
  gemm_rows_f64(0, M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

template <class T>
void transpose(ThreadPool& pool, int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst, int64_t ldd) {
  constexpr int64_t kTile = 32;
  const int64_t col_tiles = (cols + kTile - 1) / kTile;
  pool.parallel_for(col_tiles, 1, [&](int64_t b, int64_t e) {
    for (int64_t ct = b; ct < e; ++ct) {
      const int64_t c0 = ct * kTile, c1 = std::min(cols, c0 + kTile);
      for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
        const int64_t r1 = std::min(rows, r0 + kTile);
        for (int64_t c = c0; c < c1; ++c)
          for (int64_t r = r0; r < r1; ++r) dst[c * ldd + r] = src[r * lds + c];
      }
    }
  });
}

template <class T>
void dequant_rows(ThreadPool& pool, const WeightRef& w, int64_t r0, int64_t r1, T* out) {
  const int64_t n = w.ne0;
  pool.parallel_for(r1 - r0, 16, [&](int64_t b, int64_t e) {
    if constexpr (std::is_same_v<T, float>) {
      for (int64_t r = b; r < e; ++r) cpu::dequantize_row(w.type, w.row(r0 + r), out + r * n, n);
    } else {
      thread_local std::vector<float> tmp;
      tmp.resize(static_cast<size_t>(n));
      for (int64_t r = b; r < e; ++r) {
        cpu::dequantize_row(w.type, w.row(r0 + r), tmp.data(), n);
        for (int64_t i = 0; i < n; ++i) out[r * n + i] = tmp[static_cast<size_t>(i)];
      }
    }
  });
}

template void transpose<float>(ThreadPool&, int64_t, int64_t, const float*, int64_t, float*, int64_t);
template void transpose<double>(ThreadPool&, int64_t, int64_t, const double*, int64_t, double*, int64_t);
template void dequant_rows<float>(ThreadPool&, const WeightRef&, int64_t, int64_t, float*);
template void dequant_rows<double>(ThreadPool&, const WeightRef&, int64_t, int64_t, double*);

}  // namespace cyllm::train
