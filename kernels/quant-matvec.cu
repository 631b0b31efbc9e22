// Decode matrix-vector products on quantized weights in their GGUF block layout (cuda-ops.h:
// matvec). CPU reference: cuda_ref::matvec (kernels/cuda-reference.h): dequantize_row, then a
// double-precision dot product.
//
// Scheme (simple on purpose; TODO(perf) on a GPU: measure GB/s against the card's peak, then
// consider double-buffered staging, several rows per warp, or integer dot products on
// activations quantized to q8):
//  - one warp per weight row, kWarps rows per CTA;
//  - the row is walked in chunks of 32 groups (32 x 32 elements): the warp first copies the
//    chunk's bytes into its shared-memory stage with aligned 16-byte loads (the chunk is widened to
//    16-byte boundaries, hence kWeightPadBytes), then lane l decodes group l from shared memory to
//    32 floats (quant-decode.cuh, bitwise the CPU's dequantized values) and accumulates their
//    products with each activation column in f32 (x read with 16-byte loads). The chunk
//    addressing and the lane's work are in quant-matvec.cuh, shared with a CPU emulation test;
//  - the lanes' partial sums are added with warp shuffles; lane 0 writes y.
#include <cstdint>

#include "cuda-context.h"
#include "quant-matvec.cuh"

namespace cyllm::cuda {

namespace {

constexpr int kWarps = 4;                 // rows per CTA
constexpr int kThreads = 32 * kWarps;
constexpr int kMaxCols = kMatvecMaxCols;  // activation columns per launch

template <GgmlType T>
__global__ void __launch_bounds__(kThreads) matvec_kernel(const uint8_t* __restrict__ w, size_t row_stride,
                                                          int n_groups, int nrows, const float* __restrict__ x,
                                                          size_t ldx, int ncols, float* __restrict__ y, size_t ldy) {
  using B = dev::BlockInfo<T>;
  using C = dev::Chunk<T>;
  __shared__ uint4 stage[kWarps][C::stage_vecs];

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int row = blockIdx.x * kWarps + warp;
  if (row >= nrows) return;  // whole warp leaves; no block-wide barrier below

  const uintptr_t row_start = reinterpret_cast<uintptr_t>(w) + static_cast<uintptr_t>(row) * row_stride;
  const int n_blocks = n_groups / B::groups;
  float acc[kMaxCols];
#pragma unroll
  for (int c = 0; c < kMaxCols; ++c) acc[c] = 0.0f;

  for (int g0 = 0; g0 < n_groups; g0 += 32) {
    const int b0 = g0 / B::groups;  // g0 is a multiple of 32, hence of B::groups
    const dev::ChunkSpan span = dev::chunk_span(row_start, b0, min(C::blocks, n_blocks - b0), B::bytes);
    const uint4* src = reinterpret_cast<const uint4*>(span.aligned);  // nvec <= C::stage_vecs
    for (int v = lane; v < span.nvec; v += 32) stage[warp][v] = src[v];
    __syncwarp();
    const int g = g0 + lane;
    if (g < n_groups)
      dev::lane_accumulate<T>(reinterpret_cast<const uint8_t*>(stage[warp]), span.offset, lane, g, x, ldx, ncols, acc);
    __syncwarp();  // the stage is overwritten by the next chunk
  }

#pragma unroll
  for (int c = 0; c < kMaxCols; ++c) {
    if (c < ncols) {
      const float s = dev::warp_sum(acc[c]);
      if (lane == 0) y[static_cast<size_t>(c) * ldy + row] = s;
    }
  }
}

template <GgmlType T>
Status launch(Context& ctx, const void* w, size_t row_stride, int n_groups, int nrows, const float* x, size_t ldx,
              int ncols, float* y, size_t ldy) {
  matvec_kernel<T><<<grid_for(nrows, kWarps), kThreads, 0, ctx.stream>>>(static_cast<const uint8_t*>(w), row_stride,
                                                                          n_groups, nrows, x, ldx, ncols, y, ldy);
  return launch_status("matvec_kernel");
}

Status launch_for_type(Context& ctx, GgmlType t, const void* w, size_t row_stride, int n_groups, int nr, const float* xc,
                       size_t ldx, int nc, float* yc, size_t ldy) {
  switch (t) {
    case GgmlType::F32: return launch<GgmlType::F32>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    case GgmlType::F16: return launch<GgmlType::F16>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    case GgmlType::BF16: return launch<GgmlType::BF16>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    case GgmlType::Q4_0: return launch<GgmlType::Q4_0>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    case GgmlType::Q4_1: return launch<GgmlType::Q4_1>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    case GgmlType::Q5_0: return launch<GgmlType::Q5_0>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    case GgmlType::Q5_1: return launch<GgmlType::Q5_1>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    case GgmlType::Q8_0: return launch<GgmlType::Q8_0>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    case GgmlType::Q4_K: return launch<GgmlType::Q4_K>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    case GgmlType::Q5_K: return launch<GgmlType::Q5_K>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    case GgmlType::Q6_K: return launch<GgmlType::Q6_K>(ctx, w, row_stride, n_groups, nr, xc, ldx, nc, yc, ldy);
    default: return make_error(ErrorCode::kUnsupported, "matvec: unsupported type");
  }
}

}  // namespace

Status matvec(Context& ctx, GgmlType t, const void* w, size_t row_stride, int64_t n, int64_t nrows, const float* x,
              size_t ldx, int64_t ncols, float* y, size_t ldy) {
  if (!weight_type_supported(t))
    return make_error(ErrorCode::kUnsupported, std::string("matvec: no CUDA kernel for ") + std::string(type_name(static_cast<uint32_t>(t))));
  const auto* tt = type_traits(t);
  if (n <= 0 || n % 32 != 0 || n % tt->block_size != 0)
    return make_error(ErrorCode::kInvalidArgument, "matvec: row length " + std::to_string(n) +
                                                       " is not a multiple of 32 and of the block size");
  if (nrows <= 0 || ncols <= 0) return {};
  if (nrows > (int64_t{1} << 30) || n > (int64_t{1} << 30))
    return make_error(ErrorCode::kInvalidArgument, "matvec: matrix too large");
  if (reinterpret_cast<uintptr_t>(x) % 16 != 0 || ldx % 4 != 0 || ldx < static_cast<size_t>(n))
    return make_error(ErrorCode::kInvalidArgument, "matvec: x must be 16-byte aligned with ldx a multiple of 4 and >= n");
  if (reinterpret_cast<uintptr_t>(w) % 2 != 0 || row_stride % 2 != 0 || (t == GgmlType::F32 && (reinterpret_cast<uintptr_t>(w) % 4 != 0 || row_stride % 4 != 0)))
    return make_error(ErrorCode::kInvalidArgument, "matvec: misaligned weights");
  const int n_groups = static_cast<int>(n / 32);
  for (int64_t c0 = 0; c0 < ncols; c0 += kMaxCols) {
    const int nc = static_cast<int>(ncols - c0 < kMaxCols ? ncols - c0 : kMaxCols);
    const float* xc = x + static_cast<size_t>(c0) * ldx;
    float* yc = y + static_cast<size_t>(c0) * ldy;
    const Status st = launch_for_type(ctx, t, w, row_stride, n_groups, static_cast<int>(nrows), xc, ldx, nc, yc, ldy);
    if (!st.ok()) return st;
  }
  return {};
}

}  // namespace cyllm::cuda
