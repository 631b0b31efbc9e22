// CPU references of the CUDA ops in cuda-ops.h, one per op with the same arguments, on host
// memory. Where the engine already has the CPU kernel (dequantize_row, rmsnorm, rope, silu_mul,
// attention_rows, Sampler) the reference is that kernel; otherwise it is the plain loop in double.
// tests/engine/cuda runs every op against its reference. Plain C++; links the engine.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda-ops.h"
#include "model/tensor-types.h"

namespace cyllm::cuda_ref {

// matvec / matmul: each row dequantized by the scalar reference (cpu::dequantize_row, Isa::kScalar),
// the dot product taken in double.
void matvec(GgmlType t, const void* w, size_t row_stride, int64_t n, int64_t nrows, const float* x, size_t ldx,
            int64_t ncols, float* y, size_t ldy);
// dequantize_rows: the scalar dequantize_row, then fp32_to_fp16 / fp32_to_bf16 for F16 / BF16.
void dequantize_rows(GgmlType t, const void* w, size_t row_stride, int64_t n, int64_t nrows, GgmlType out_type,
                     void* out, size_t ld_out);
void gather_rows_f32(GgmlType t, const void* w, size_t row_stride, int64_t n, const int32_t* rows, int64_t count,
                     float* out);
void convert_f32(const float* x, int64_t count, GgmlType out_type, uint16_t* out);
// gemm_half on already-rounded values: y[t * ldy + r] = sum_k a[r][k] * x[t][k] in double.
void gemm(const float* a, int64_t nrows, int64_t k, const float* x, int64_t ncols, float* y, size_t ldy);

// cpu::rmsnorm per row.
void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int n, float eps);
// cpu::rope_adjacent / cpu::rope_neox per row at positions[r] (host array).
void rope(float* x, int64_t rows, int n_heads, int head_dim, int rope_dim, bool neox, const int32_t* positions,
          const float* cos_t, const float* sin_t);
void silu_mul(const float* gate, const float* up, float* out, int64_t count);
void add_bias(float* y, const float* b, int64_t rows, int n);

// kv_write on host copies of one layer's cache (halves as uint16_t).
void kv_write(uint16_t* k_cache, uint16_t* v_cache, int kv_dim, const float* k, const float* v, const int32_t* slots,
              int64_t count);
// attention_decode and attention_prefill (they compute the same thing): cpu::attention_rows over
// the cache's values converted to f32, per query row and head. row_nkeys[r] keys are visible to row
// r (prefill: row_pos[r] + 1). All arrays on the host.
void attention(const cuda::AttentionShape& s, const uint16_t* k_cache, const uint16_t* v_cache, const float* q,
               int rows, const int32_t* row_seq, const int32_t* row_nkeys, const int32_t* block_tables, float* out);

// lora_shrink / lora_expand with the same segments, their pointers (a, b, y) and rows, x, tmp on
// the host. Each sum in double, rounded to float once: tmp = float(sum) * scale (in float, as the
// kernels and cpu::lora_shrink scale the f32 sum), y = y + float(sum). Independent of
// engine/backend/cpu-lora (kernel_logic_test compares the two).
void lora_shrink(const cuda::LoraSegment* segs, int n_segs, const int32_t* rows, const float* x, size_t ldx, int in,
                 float* tmp);
void lora_expand(const cuda::LoraSegment* segs, int n_segs, const int32_t* rows, const float* tmp);

// The u the CPU Sampler seeded with `seed` uses for its first draw (53 bits of mt19937_64).
double sampler_u(uint64_t seed);
// cyllm::Sampler (penalties and bias off) with row's temperature/top_k/top_p/min_p and `seed` on a
// copy of the logits: the token DeviceSampler must pick for SampleRow{..., u = sampler_u(seed)}.
int32_t sample(const float* logits, int n_vocab, const cuda::SampleRow& row, uint64_t seed);

}  // namespace cyllm::cuda_ref
