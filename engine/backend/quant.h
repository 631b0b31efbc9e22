// CPU kernels for quantized tensors: dequantization, activation quantization and dot products.
//
// Every kernel has a scalar reference (the `scalar` ISA); AVX2 and AVX-512 variants are chosen at
// run time from what the CPU supports (CYLLM_CPU_ISA=scalar|avx2|avx512 forces one, for tests and
// benchmarks). All ISAs must agree with the scalar reference (tests/properties).
//
// Dot products follow the usual GGUF scheme: activations are first quantized to the weight type's
// "vec-dot type" (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for K-quants), then integer
// dot products are taken block by block. For F32/F16/BF16 weights the vec-dot type is F32 (the
// activation row stays float).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/tensor-types.h"

namespace cyllm::cpu {

enum class Isa { kScalar, kAvx2, kAvx512 };

std::string_view isa_name(Isa isa);
Isa best_supported_isa();        // what this CPU can run
bool isa_supported(Isa isa);
Isa active_isa();                // best_supported_isa(), or CYLLM_CPU_ISA when set and supported

// Type of the quantized activation row that pairs with weight type `w` in vec_dot/matmul_tile.
GgmlType vec_dot_type(GgmlType w);

// Every entry below: n is a multiple of the type's block size (callers check; kernels assume).

// dst[0..n) = dequantized src.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n, Isa isa = active_isa());

// Quantize a float row to an activation type (Q8_0, Q8_1, Q8_K) or to F32 (a copy).
void quantize_row_act(GgmlType act_type, const float* src, void* dst, int64_t n, Isa isa = active_isa());

// Reference quantizers for weight types (round-to-nearest, as ggml's *_ref functions do).
// Used by tests and by tools that write GGUF files; not performance critical. Supports
// F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
void quantize_row_ref(GgmlType t, const float* src, void* dst, int64_t n);

// Dot product of one weight row of type w (n elements) with one activation row already quantized
// to vec_dot_type(w).
float vec_dot(GgmlType w, int64_t n, const void* w_row, const void* act_row, Isa isa = active_isa());

// y[c * ldy + r] = vec_dot(w row r, act row c) for r < nrows, c < ncols.
// w rows are w_stride bytes apart, activation rows act_stride bytes apart. This is the hot loop of
// every matmul: the SIMD variants block over several rows and columns so each loaded weight block
// is reused across activation columns (prefill) and each activation block across rows (decode).
void matmul_tile(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows,
                 const void* act_rows, size_t act_stride, int64_t ncols, float* y, int64_t ldy,
                 Isa isa = active_isa());

}  // namespace cyllm::cpu
