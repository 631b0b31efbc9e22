// Float helper kernels of the CPU forward pass: norms, rotary embedding, activations, softmax and
// the small dot products of attention. Each is a plain loop compiled for several ISAs at once
// (GCC target_clones: AVX-512, AVX2+FMA, baseline) and picked by the loader at start-up, so the
// scalar code is its own reference.
#pragma once

#include <cstdint>

#include "backend/quant.h"

namespace cyllm::cpu {

// y = x / sqrt(mean(x^2) + eps) * w
void rmsnorm(const float* x, const float* w, float* y, int n, float eps);
float dot_f32(const float* a, const float* b, int n);
// y += a * x
void axpy_f32(float a, const float* x, float* y, int n);
void scale_f32(float* y, float a, int n);
void add_f32(float* y, const float* x, int n);  // y += x
// out = silu(gate) * up. With the AVX-512 ISA active, avx512::silu_mul (cpu-ops-avx512.cpp, a
// vector exp) runs instead of the portable loop.
void silu_mul(const float* gate, const float* up, float* out, int n, Isa isa = active_isa());
namespace avx512 {
void silu_mul(const float* gate, const float* up, float* out, int n);
}
// In place, over n values; returns the sum of exp before normalisation (for tests).
float softmax_inplace(float* x, int n);
// Rotates adjacent pairs (x[2i], x[2i+1]) of each of n_heads heads, for the first rope_dim
// dimensions of each head, by the angles whose cos/sin are given (rope_dim/2 values each).
void rope_adjacent(float* x, int n_heads, int head_dim, int rope_dim, const float* cos_t, const float* sin_t);
// The same rotation on pairs half a rotary dimension apart, (x[i], x[i + rope_dim/2]) for
// i < rope_dim/2 (NeoX style, HF's rotate_half): for archs stored with HF's Q/K row order.
void rope_neox(float* x, int n_heads, int head_dim, int rope_dim, const float* cos_t, const float* sin_t);

}  // namespace cyllm::cpu
