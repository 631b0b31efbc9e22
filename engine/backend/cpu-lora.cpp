// Dispatch of the batched LoRA kernels (cpu-lora.h), and the portable path that runs without
// AVX-512: per row and rank a dot product for the shrink; for the expand, each 64-row block of B
// is transposed once into [rank][64] and every row accumulates rank 64-wide axpys. dot_f32 and
// axpy_f32 are multiversioned (cpu-ops.cpp), so this path still vectorizes on AVX2 machines.
#include "backend/cpu-lora.h"

#include <algorithm>
#include <vector>

#include "backend/cpu-ops.h"

namespace cyllm::cpu {

void lora_shrink(const float* a, int rank, int in, float scale, const float* x, size_t ldx, const int* rows, int n,
                 float* t, size_t ldt, const float* next, Isa isa) {
  if (isa == Isa::kAvx512) return avx512::lora_shrink(a, rank, in, scale, x, ldx, rows, n, t, ldt, next);
  for (int i = 0; i < n; ++i) {
    const float* xi = x + static_cast<size_t>(rows[i]) * ldx;
    float* ti = t + static_cast<size_t>(i) * ldt;
    for (int r = 0; r < rank; ++r) ti[r] = cpu::dot_f32(a + static_cast<size_t>(r) * in, xi, in);
    for (int r = 0; r < rank; ++r) ti[r] *= scale;
  }
}

void lora_expand(const float* b, int rank, int o0, int o1, const float* t, size_t ldt, const int* rows, int n, float* y,
                 size_t ldy, const float* next, Isa isa) {
  if (isa == Isa::kAvx512) return avx512::lora_expand(b, rank, o0, o1, t, ldt, rows, n, y, ldy, next);
  constexpr int kBlock = 64;
  thread_local std::vector<float> bt;
  for (int ob = o0; ob < o1; ob += kBlock) {
    const int w = std::min(o1, ob + kBlock) - ob;
    bt.assign(static_cast<size_t>(rank) * kBlock, 0.0f);
    for (int o = 0; o < w; ++o)
      for (int r = 0; r < rank; ++r) bt[static_cast<size_t>(r) * kBlock + o] = b[static_cast<size_t>(ob + o) * rank + r];
    for (int i = 0; i < n; ++i) {
      const float* ti = t + static_cast<size_t>(i) * ldt;
      float acc[kBlock] = {};
      for (int r = 0; r < rank; ++r) cpu::axpy_f32(ti[r], bt.data() + static_cast<size_t>(r) * kBlock, acc, kBlock);
      float* yi = y + static_cast<size_t>(rows[i]) * ldy + ob;
      for (int o = 0; o < w; ++o) yi[o] += acc[o];
    }
  }
}

}  // namespace cyllm::cpu
