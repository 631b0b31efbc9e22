// The two halves of a batched LoRA delta y += scale * B (A x), for the rows of one adapter's bucket
// (model/forward.cpp groups a batch's rows by adapter). A is [rank][in] and B is [out][rank],
// float32, row-major, exactly as model/lora.h stores them: nothing is repacked or cached, so an
// adapter's weights may be edited between calls.
//
//   shrink: t_i[r]  = scale * sum_k A[r][k] x_i[k]          (a small GEMM: all rows at once)
//   expand: y_i[o] += sum_r B[o][r] t_i[r],  o in [o0, o1)   (one block of B's rows)
//
// Both give every row the same arithmetic whatever the other rows of the call and however many
// there are (Property 12: a row's output depends only on its own adapter and input). The AVX-512
// kernels (cpu-lora-avx512.cpp) run when the active ISA is AVX-512; otherwise the portable code in
// cpu-lora.cpp runs (built on the multiversioned dot/axpy of cpu-ops.h). The two paths round
// differently; the unit test checks each against a float64 reference.
#pragma once

#include <cstddef>

#include "backend/quant.h"

namespace cyllm::cpu {

// x_i = x + rows[i] * ldx (in floats); t_i = t + i * ldt, which receives rank values.
// next: optional, the weights the caller reads next (e.g. the next matrix's A); its first
// kilobytes are prefetched while this call ends. Only a hint: it never changes a result.
void lora_shrink(const float* a, int rank, int in, float scale, const float* x, size_t ldx, const int* rows, int n,
                 float* t, size_t ldt, const float* next = nullptr, Isa isa = active_isa());

// t_i = t + i * ldt (rank values); y_i = y + rows[i] * ldy; only y_i[o0..o1) changes.
// next: as for lora_shrink (e.g. B's next block of rows, or another matrix's B).
void lora_expand(const float* b, int rank, int o0, int o1, const float* t, size_t ldt, const int* rows, int n, float* y,
                 size_t ldy, const float* next = nullptr, Isa isa = active_isa());

namespace avx512 {
void lora_shrink(const float* a, int rank, int in, float scale, const float* x, size_t ldx, const int* rows, int n,
                 float* t, size_t ldt, const float* next);
void lora_expand(const float* b, int rank, int o0, int o1, const float* t, size_t ldt, const int* rows, int n, float* y,
                 size_t ldy, const float* next);
}  // namespace avx512

}  // namespace cyllm::cpu
