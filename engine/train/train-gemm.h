// Dense matrix products and helpers for training, in float (training) and double (the gradient
// check reference). Row-major throughout.
//
// Determinism: every product is split over blocks of rows of C whose boundaries depend only on
// the shapes, and each element of C is accumulated over k in ascending order by one thread. So
// results are bitwise the same for any thread count and any run (CPU training is deterministic
// for a given seed, and a resumed run repeats an uninterrupted one exactly).
#pragma once

#include <cstdint>

#include "core/thread-pool.h"
#include "model/weights.h"

namespace cyllm::train {

// C[M,N] = (accumulate ? C : 0) + A[M,K] · B[K,N].
void gemm_nn(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
             int64_t ldb, float* C, int64_t ldc, bool accumulate);
void gemm_nn(ThreadPool& pool, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
             int64_t ldb, double* C, int64_t ldc, bool accumulate);

// The same product on the calling thread, for use inside one pool item (e.g. an attention work
// item); fixed blocking, so the result depends only on the operands.
void gemm_nn_serial(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                    float* C, int64_t ldc, bool accumulate);
void gemm_nn_serial(int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B, int64_t ldb,
                    double* C, int64_t ldc, bool accumulate);

// dst[c][r] = src[r][c] for r < rows, c < cols.
template <class T>
void transpose(ThreadPool& pool, int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst, int64_t ldd);

// Rows [r0, r1) of a frozen base weight, dequantized from its stored type: out[(r - r0) * ne0 + i].
template <class T>
void dequant_rows(ThreadPool& pool, const WeightRef& w, int64_t r0, int64_t r1, T* out);

}  // namespace cyllm::train
