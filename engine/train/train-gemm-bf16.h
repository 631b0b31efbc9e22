// bf16 products with the frozen base weights, for CPU training with "precision": "bf16" (the
// mixed precision of PyTorch's bf16 autocast): both operands are rounded to bfloat16 (round to
// nearest even) and the products are summed in float32 by AVX512-BF16's vdpbf16ps, which does
// twice the multiply-adds per cycle of a float32 FMA. Activations, LoRA weights, gradients and
// optimiser state stay float32; only the large products with the base weights change.
//
// The weight operand is packed once per call into panels of 32 columns: for each pair of
// consecutive k, 32 columns x 2 bf16 (k, k+1) side by side, so one 512-bit load feeds 16 columns
// of a vdpbf16ps against a broadcast (a[k], a[k+1]) pair. K is padded to even and N to a multiple
// of 32 with zeros. Each element of C is summed over k in ascending pairs by one micro-kernel call
// whatever the thread count, so results are deterministic on a machine, as train-gemm.h's.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/quant.h"
#include "core/thread-pool.h"
#include "model/weights.h"

namespace cyllm::train {

// Whether this CPU runs the kernels (AVX512-BF16). Inline: the .cpp is built for AVX-512.
inline bool bf16_gemm_available() {
  return __builtin_cpu_supports("avx512bf16") && cpu::isa_supported(cpu::Isa::kAvx512);
}

struct Bf16Panels {
  int64_t K = 0, N = 0;    // logical shape of the B operand
  int64_t Kp = 0, Np = 0;  // padded: Kp even, Np a multiple of 32
  std::vector<uint16_t> data;  // Np / 32 panels of (Kp / 2) x 32 x 2 bf16
};

// B = Wᵀ for weight rows [r0, r1): K = w.ne0 (inputs), N = r1 - r0. For Y = X Wᵀ (forward).
void pack_bf16_transposed(ThreadPool& pool, const WeightRef& w, int64_t r0, int64_t r1, Bf16Panels& out);
// B = W for weight rows [r0, r1): K = r1 - r0 (outputs), N = w.ne0 (inputs). For dX = dY W
// (backward).
void pack_bf16(ThreadPool& pool, const WeightRef& w, int64_t r0, int64_t r1, Bf16Panels& out);
// The same two packings from a float matrix (row-major [rows][cols], for tests).
void pack_bf16_transposed(const float* w, int64_t rows, int64_t cols, Bf16Panels& out);
void pack_bf16(const float* w, int64_t rows, int64_t cols, Bf16Panels& out);

// C[M, B.N] = (accumulate ? C : 0) + bf16(A[M, B.K]) · B. Requires bf16_gemm_available().
void gemm_bf16(ThreadPool& pool, int64_t M, const float* A, int64_t lda, const Bf16Panels& B, float* C, int64_t ldc,
               bool accumulate);

// The peak multiply-add rate of one core, measured (about 20 ms of independent vdpbf16ps or
// float32 FMA chains on 512-bit registers), in FLOP/s (a multiply-add counts 2): the roofline
// that `cyllm train --bench` reports its fraction of. 0 when the CPU lacks the instructions.
double measured_core_peak_flops(bool bf16);

// Round to bfloat16 (nearest even) and back: what the kernels see of a float (for tests).
float round_bf16(float x);

}  // namespace cyllm::train
