// GGUF blocks -> f32/f16/bf16 rows (prefill GEMM input, embedding lookup), f32 -> f16/bf16, and the
// cuBLAS GEMM that prefill runs on dequantized weights (cuda-ops.h). CPU references:
// cuda_ref::dequantize_rows, gather_rows_f32, convert_f32, gemm_half (kernels/cuda-reference.h).
#include <string>

#include "cuda-context.h"
#include "quant-decode.cuh"

namespace cyllm::cuda {

namespace {

constexpr int kThreads = 256;

template <GgmlType OUT>
__device__ __forceinline__ void store32(const float* v, void* out, size_t index) {
  if constexpr (OUT == GgmlType::F32) {
    float* o = static_cast<float*>(out) + index;
#pragma unroll
    for (int j = 0; j < 32; ++j) o[j] = v[j];
  } else if constexpr (OUT == GgmlType::F16) {
    uint16_t* o = static_cast<uint16_t*>(out) + index;
#pragma unroll
    for (int j = 0; j < 32; ++j) o[j] = dev::f2h_bits(v[j]);
  } else {
    uint16_t* o = static_cast<uint16_t*>(out) + index;
#pragma unroll
    for (int j = 0; j < 32; ++j) o[j] = dev::f2bf_bits(v[j]);
  }
}

// One thread per 32-element group: row = i / n_groups (or rows[i / n_groups] when gathering).
template <GgmlType T, GgmlType OUT>
__global__ void dequant_kernel(const uint8_t* __restrict__ w, size_t row_stride, int n_groups, int64_t total_groups,
                               const int32_t* __restrict__ rows, void* __restrict__ out, size_t ld_out) {
  using B = dev::BlockInfo<T>;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total_groups) return;
  const int64_t r = i / n_groups;
  const int g = static_cast<int>(i % n_groups);
  const int64_t src_row = rows ? rows[r] : r;
  const uint8_t* blk = w + static_cast<size_t>(src_row) * row_stride + static_cast<size_t>(g / B::groups) * B::bytes;
  float v[32];
  dev::decode_group<T>(blk, g % B::groups, v);
  store32<OUT>(v, out, static_cast<size_t>(r) * ld_out + static_cast<size_t>(g) * 32);
}

template <GgmlType T>
Status launch_dequant(Context& ctx, const void* w, size_t row_stride, int n_groups, int64_t nrows, const int32_t* rows,
                      GgmlType out_type, void* out, size_t ld_out) {
  const int64_t total = nrows * n_groups;
  const auto* wb = static_cast<const uint8_t*>(w);
  const unsigned grid = grid_for(total, kThreads);
  switch (out_type) {
    case GgmlType::F32:
      dequant_kernel<T, GgmlType::F32><<<grid, kThreads, 0, ctx.stream>>>(wb, row_stride, n_groups, total, rows, out, ld_out);
      break;
    case GgmlType::F16:
      dequant_kernel<T, GgmlType::F16><<<grid, kThreads, 0, ctx.stream>>>(wb, row_stride, n_groups, total, rows, out, ld_out);
      break;
    case GgmlType::BF16:
      dequant_kernel<T, GgmlType::BF16><<<grid, kThreads, 0, ctx.stream>>>(wb, row_stride, n_groups, total, rows, out, ld_out);
      break;
    default:
      return make_error(ErrorCode::kInvalidArgument, "dequantize: output type must be F32, F16 or BF16");
  }
  return launch_status("dequant_kernel");
}

Status dequant_any(Context& ctx, GgmlType t, const void* w, size_t row_stride, int64_t n, int64_t nrows,
                   const int32_t* rows, GgmlType out_type, void* out, size_t ld_out) {
  if (!weight_type_supported(t))
    return make_error(ErrorCode::kUnsupported, "dequantize: no CUDA kernel for " + std::string(type_name(static_cast<uint32_t>(t))));
  if (n <= 0 || n % 32 != 0 || n % type_traits(t)->block_size != 0 || ld_out < static_cast<size_t>(n))
    return make_error(ErrorCode::kInvalidArgument, "dequantize: row length " + std::to_string(n) +
                                                       " is not a multiple of 32 and of the block size");
  if (n > (int64_t{1} << 30)) return make_error(ErrorCode::kInvalidArgument, "dequantize: row too long");
  if (nrows <= 0) return {};
  if ((t == GgmlType::F32 && (reinterpret_cast<uintptr_t>(w) % 4 != 0 || row_stride % 4 != 0)) ||
      ((t == GgmlType::F16 || t == GgmlType::BF16) && (reinterpret_cast<uintptr_t>(w) % 2 != 0 || row_stride % 2 != 0)))
    return make_error(ErrorCode::kInvalidArgument, "dequantize: misaligned float rows");
  const int ng = static_cast<int>(n / 32);
  switch (t) {
    case GgmlType::F32: return launch_dequant<GgmlType::F32>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    case GgmlType::F16: return launch_dequant<GgmlType::F16>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    case GgmlType::BF16: return launch_dequant<GgmlType::BF16>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    case GgmlType::Q4_0: return launch_dequant<GgmlType::Q4_0>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    case GgmlType::Q4_1: return launch_dequant<GgmlType::Q4_1>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    case GgmlType::Q5_0: return launch_dequant<GgmlType::Q5_0>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    case GgmlType::Q5_1: return launch_dequant<GgmlType::Q5_1>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    case GgmlType::Q8_0: return launch_dequant<GgmlType::Q8_0>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    case GgmlType::Q4_K: return launch_dequant<GgmlType::Q4_K>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    case GgmlType::Q5_K: return launch_dequant<GgmlType::Q5_K>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    case GgmlType::Q6_K: return launch_dequant<GgmlType::Q6_K>(ctx, w, row_stride, ng, nrows, rows, out_type, out, ld_out);
    default: return make_error(ErrorCode::kUnsupported, "dequantize: unsupported type");
  }
}

template <GgmlType OUT>
__global__ void convert_kernel(const float* __restrict__ x, int64_t count, uint16_t* __restrict__ out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  out[i] = OUT == GgmlType::F16 ? dev::f2h_bits(x[i]) : dev::f2bf_bits(x[i]);
}

size_t align256(size_t b) { return (b + 255) / 256 * 256; }

bool fits_int(int64_t v) { return v >= 0 && v <= 0x7fffffff; }

}  // namespace

Status dequantize_rows(Context& ctx, GgmlType t, const void* w, size_t row_stride, int64_t n, int64_t nrows,
                       GgmlType out_type, void* out, size_t ld_out) {
  return dequant_any(ctx, t, w, row_stride, n, nrows, nullptr, out_type, out, ld_out);
}

Status gather_rows_f32(Context& ctx, GgmlType t, const void* w, size_t row_stride, int64_t n, const int32_t* rows,
                       int64_t count, float* out) {
  return dequant_any(ctx, t, w, row_stride, n, count, rows, GgmlType::F32, out, static_cast<size_t>(n));
}

Status convert_f32(Context& ctx, const float* x, int64_t count, GgmlType out_type, void* out) {
  if (count <= 0) return {};
  auto* o = static_cast<uint16_t*>(out);
  if (out_type == GgmlType::F16)
    convert_kernel<GgmlType::F16><<<grid_for(count, kThreads), kThreads, 0, ctx.stream>>>(x, count, o);
  else if (out_type == GgmlType::BF16)
    convert_kernel<GgmlType::BF16><<<grid_for(count, kThreads), kThreads, 0, ctx.stream>>>(x, count, o);
  else
    return make_error(ErrorCode::kInvalidArgument, "convert_f32: output type must be F16 or BF16");
  return launch_status("convert_kernel");
}

// Row-major y[t][r] (ldy) = sum_k A[r][k] X[t][k]. In cuBLAS's column-major terms: C (nrows x ncols,
// ldc = ldy) = op(A) * X' where A's row-major [nrows][k] is a column-major k x nrows matrix (so
// op = T, lda = k) and X's row-major [ncols][k] is a column-major k x ncols matrix (op = N, ldb = k).
Status gemm_half(Context& ctx, GgmlType half_type, const void* a, int64_t nrows, int64_t k, const void* x,
                 int64_t ncols, float* y, size_t ldy) {
  if (half_type != GgmlType::F16 && half_type != GgmlType::BF16 && half_type != GgmlType::F32)
    return make_error(ErrorCode::kInvalidArgument, "gemm_half: type must be F16, BF16 (or F32)");
  if (nrows <= 0 || ncols <= 0) return {};
  if (!fits_int(nrows) || !fits_int(ncols) || !fits_int(k) || !fits_int(static_cast<int64_t>(ldy)) ||
      ldy < static_cast<size_t>(nrows))
    return make_error(ErrorCode::kInvalidArgument, "gemm_half: sizes out of range");
  const cudaDataType_t ab = half_type == GgmlType::F16 ? CUDA_R_16F : half_type == GgmlType::BF16 ? CUDA_R_16BF : CUDA_R_32F;
  const float alpha = 1.0f, beta = 0.0f;
  // CUBLAS_COMPUTE_32F: f32 accumulation; with f32 inputs this stays plain FP32 (no TF32) unless the
  // process sets NVIDIA_TF32_OVERRIDE. TODO(gpu): check the choice of algorithm on H100 (tensor cores
  // for 16F/16BF inputs).
  return cublas_status(cublasGemmEx(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(nrows), static_cast<int>(ncols),
                                    static_cast<int>(k), &alpha, a, ab, static_cast<int>(k), x, ab, static_cast<int>(k),
                                    &beta, y, CUDA_R_32F, static_cast<int>(ldy), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                       "cublasGemmEx");
}

size_t matmul_min_scratch_bytes(int64_t k, int64_t ncols) {
  return align256(static_cast<size_t>(ncols) * static_cast<size_t>(k) * 2) + 64 * static_cast<size_t>(k) * 2;
}

Status matmul(Context& ctx, GgmlType t, const void* w, size_t row_stride, int64_t k, int64_t nrows, const float* x,
              int64_t ncols, float* y, size_t ldy, void* scratch, size_t scratch_bytes) {
  if (ncols <= kMatvecMaxCols) return matvec(ctx, t, w, row_stride, k, nrows, x, static_cast<size_t>(k), ncols, y, ldy);
  if (nrows <= 0) return {};
  // F32 weights: plain FP32 GEMM on the weights and activations as they are (no rounding).
  if (t == GgmlType::F32 && row_stride == static_cast<size_t>(k) * 4)
    return gemm_half(ctx, GgmlType::F32, w, nrows, k, x, ncols, y, ldy);
  // BF16 weights multiply in bf16 (their own precision); every other type in f16.
  const GgmlType ht = t == GgmlType::BF16 ? GgmlType::BF16 : GgmlType::F16;
  const size_t x_bytes = align256(static_cast<size_t>(ncols) * static_cast<size_t>(k) * 2);
  const bool direct = (t == GgmlType::F16 || t == GgmlType::BF16) && row_stride == static_cast<size_t>(k) * 2;
  if (scratch_bytes < x_bytes + (direct ? 0 : 64 * static_cast<size_t>(k) * 2))
    return make_error(ErrorCode::kInvalidArgument, "matmul: scratch too small (" + std::to_string(scratch_bytes) +
                                                       " bytes, needs " + std::to_string(matmul_min_scratch_bytes(k, ncols)) + ")");
  auto* xh = static_cast<uint8_t*>(scratch);
  if (Status st = convert_f32(ctx, x, ncols * k, ht, xh); !st.ok()) return st;
  if (direct) return gemm_half(ctx, ht, w, nrows, k, xh, ncols, y, ldy);
  uint8_t* wh = xh + x_bytes;
  int64_t chunk = static_cast<int64_t>((scratch_bytes - x_bytes) / (static_cast<size_t>(k) * 2));
  if (chunk > nrows) chunk = nrows;
  for (int64_t r0 = 0; r0 < nrows; r0 += chunk) {
    const int64_t nr = nrows - r0 < chunk ? nrows - r0 : chunk;
    const auto* wr = static_cast<const uint8_t*>(w) + static_cast<size_t>(r0) * row_stride;
    if (Status st = dequantize_rows(ctx, t, wr, row_stride, k, nr, ht, wh, static_cast<size_t>(k)); !st.ok()) return st;
    if (Status st = gemm_half(ctx, ht, wh, nr, k, xh, ncols, y + r0, ldy); !st.ok()) return st;
  }
  return {};
}

}  // namespace cyllm::cuda
