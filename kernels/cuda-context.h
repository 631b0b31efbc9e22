// Internal to kernels/: the Context behind cuda-ops.h and the helpers every .cu file uses to turn
// CUDA and cuBLAS failures into the engine's Error values. Includes CUDA headers, so the engine
// never includes this file (it includes cuda-ops.h).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda-ops.h"

namespace cyllm::cuda {

class Context {
 public:
  int device = 0;
  cudaStream_t stream = nullptr;   // every op of this context runs on it, in order
  cublasHandle_t blas = nullptr;   // bound to `stream`
};

// Ok for cudaSuccess; otherwise an Error naming `what` and CUDA's own text. Allocation failures
// map to kOutOfMemory, a missing device or driver to kUnsupported, anything else to kInternal.
Status cuda_status(cudaError_t err, const char* what);
Status cublas_status(cublasStatus_t st, const char* what);
// Call right after a kernel launch: reports a bad launch configuration (cudaGetLastError). Errors
// inside the kernel surface later, at the next synchronising call.
Status launch_status(const char* kernel);

// Blocks of `threads` covering n items (n >= 0; at least one block so launches stay valid).
inline unsigned grid_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

}  // namespace cyllm::cuda

// Returns the Status of a CUDA runtime call when it failed.
#define CYLLM_CUDA_TRY(expr, what)                                         \
  do {                                                                     \
    const ::cyllm::Status cyllm_cuda_st_ = ::cyllm::cuda::cuda_status((expr), (what)); \
    if (!cyllm_cuda_st_.ok()) return cyllm_cuda_st_;                       \
  } while (0)

// After a <<<...>>> launch.
#define CYLLM_LAUNCH_CHECK(name)                                           \
  do {                                                                     \
    const ::cyllm::Status cyllm_launch_st_ = ::cyllm::cuda::launch_status(name); \
    if (!cyllm_launch_st_.ok()) return cyllm_launch_st_;                   \
  } while (0)
