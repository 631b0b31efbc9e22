// Grouped (segmented) LoRA on the GPU (cuda-ops.h: lora_shrink, lora_expand): every adapter's rows
// of a step in one launch per half, segments described by a small device array. CPU reference:
// cuda_ref::lora_shrink / lora_expand (kernels/cuda-reference.h, sums in double); the engine's CPU
// path is engine/backend/cpu-lora.h, which the CPU-only test compares with that reference.
//
// Scheme (TODO(perf) on a GPU: measure against the bandwidth of reading A and B once per tile):
//  - shrink: one CTA per (segment, tile of kLoraTileRows rows); warp w takes the ranks r = w,
//    w + kShrinkWarps, ...; lane l walks k = l, l + 32, ... of A[r] (coalesced) and keeps one f32
//    FMA chain per row of the tile, then each row's 32 partial sums are added by a shuffle tree.
//    A tile's unused row slots repeat its last row and are never written.
//  - expand: one CTA per (block of kExpandThreads outputs, tile of rows, segment); B's block is
//    staged in shared memory kRankChunk ranks at a time (transposed, coalesced loads), the tile's
//    tmp values beside it; thread o accumulates sum_r B[o][r] tmp[j][r] for r ascending with FMAs
//    for each row j of the tile and adds it to y once.
// So a row's result is the same whatever the other rows of its tile and of the launch are
// (Property 12). No fast math; FMAs are explicit (fmaf).
#include <cstdint>
#include <string>

#include "cuda-common.cuh"
#include "cuda-context.h"

namespace cyllm::cuda {

namespace {

constexpr int kTile = kLoraTileRows;
constexpr int kShrinkWarps = 4;
constexpr int kShrinkThreads = 32 * kShrinkWarps;
constexpr int kExpandThreads = 128;
constexpr int kRankChunk = 32;
constexpr int kMaxGridYZ = 65535;

__global__ void __launch_bounds__(kShrinkThreads) lora_shrink_kernel(const LoraSegment* __restrict__ segs,
                                                                      const int32_t* __restrict__ rows,
                                                                      const float* __restrict__ x, size_t ldx, int in,
                                                                      float* __restrict__ tmp) {
  const LoraSegment sg = segs[blockIdx.y];
  const int i0 = static_cast<int>(blockIdx.x) * kTile;
  if (i0 >= sg.count) return;
  const int n = min(kTile, sg.count - i0);
  const float* xr[kTile];
#pragma unroll
  for (int j = 0; j < kTile; ++j) xr[j] = x + static_cast<size_t>(rows[sg.first + i0 + min(j, n - 1)]) * ldx;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* out = tmp + sg.tmp + static_cast<size_t>(i0) * sg.rank;
  for (int r = warp; r < sg.rank; r += kShrinkWarps) {
    const float* ar = sg.a + static_cast<size_t>(r) * in;
    float acc[kTile];
#pragma unroll
    for (int j = 0; j < kTile; ++j) acc[j] = 0.0f;
    for (int k = lane; k < in; k += 32) {
      const float av = ar[k];
#pragma unroll
      for (int j = 0; j < kTile; ++j) acc[j] = fmaf(av, xr[j][k], acc[j]);
    }
#pragma unroll
    for (int j = 0; j < kTile; ++j) {
      const float s = dev::warp_sum(acc[j]);
      if (lane == 0 && j < n) out[static_cast<size_t>(j) * sg.rank + r] = __fmul_rn(sg.scale, s);
    }
  }
}

__global__ void __launch_bounds__(kExpandThreads) lora_expand_kernel(const LoraSegment* __restrict__ segs,
                                                                      const int32_t* __restrict__ rows,
                                                                      const float* __restrict__ tmp) {
  __shared__ float bs[kRankChunk][kExpandThreads + 1];  // B[o0 + o][r0 + rr] at bs[rr][o]
  __shared__ float ts[kTile][kRankChunk];               // tmp[i0 + j][r0 + rr]
  const LoraSegment sg = segs[blockIdx.z];
  const int i0 = static_cast<int>(blockIdx.y) * kTile;
  const int o0 = static_cast<int>(blockIdx.x) * kExpandThreads;
  if (i0 >= sg.count || o0 >= sg.out) return;  // uniform over the CTA: the barriers below are safe
  const int n = min(kTile, sg.count - i0);
  const int w = min(kExpandThreads, sg.out - o0);
  const float* t0 = tmp + sg.tmp + static_cast<size_t>(i0) * sg.rank;
  float acc[kTile];
#pragma unroll
  for (int j = 0; j < kTile; ++j) acc[j] = 0.0f;
  for (int r0 = 0; r0 < sg.rank; r0 += kRankChunk) {
    const int rc = min(kRankChunk, sg.rank - r0);
    for (int idx = threadIdx.x; idx < kExpandThreads * kRankChunk; idx += kExpandThreads) {
      const int o = idx / kRankChunk, rr = idx % kRankChunk;
      bs[rr][o] = o < w && rr < rc ? sg.b[static_cast<size_t>(o0 + o) * sg.rank + r0 + rr] : 0.0f;
    }
    for (int idx = threadIdx.x; idx < kTile * kRankChunk; idx += kExpandThreads) {
      const int j = idx / kRankChunk, rr = idx % kRankChunk;
      ts[j][rr] = j < n && rr < rc ? t0[static_cast<size_t>(j) * sg.rank + r0 + rr] : 0.0f;
    }
    __syncthreads();
    for (int rr = 0; rr < rc; ++rr) {
      const float bv = bs[rr][threadIdx.x];
#pragma unroll
      for (int j = 0; j < kTile; ++j) acc[j] = fmaf(bv, ts[j][rr], acc[j]);
    }
    __syncthreads();  // the stage is overwritten by the next chunk
  }
  if (static_cast<int>(threadIdx.x) >= w) return;
  const int o = o0 + static_cast<int>(threadIdx.x);
#pragma unroll
  for (int j = 0; j < kTile; ++j)
    if (j < n) {
      float* y = sg.y + static_cast<size_t>(rows[sg.first + i0 + j]) * sg.ldy + o;
      *y = __fadd_rn(*y, acc[j]);
    }
}

Status check_launch(const char* op, int n_segs, int max_count) {
  if (n_segs > kMaxGridYZ) return make_error(ErrorCode::kInvalidArgument, std::string(op) + ": more than 65535 segments");
  if (max_count > (1 << 30)) return make_error(ErrorCode::kInvalidArgument, std::string(op) + ": too many rows");
  return {};
}

}  // namespace

Status lora_shrink(Context& ctx, const LoraSegment* segs, int n_segs, int max_count, const int32_t* rows,
                   const float* x, size_t ldx, int in, float* tmp) {
  if (n_segs <= 0 || max_count <= 0) return {};
  if (in <= 0 || ldx < static_cast<size_t>(in))
    return make_error(ErrorCode::kInvalidArgument, "lora_shrink: input width must be positive and <= ldx");
  if (Status st = check_launch("lora_shrink", n_segs, max_count); !st.ok()) return st;
  const dim3 grid(grid_for(max_count, kTile), static_cast<unsigned>(n_segs));
  lora_shrink_kernel<<<grid, kShrinkThreads, 0, ctx.stream>>>(segs, rows, x, ldx, in, tmp);
  return launch_status("lora_shrink_kernel");
}

Status lora_expand(Context& ctx, const LoraSegment* segs, int n_segs, int max_count, int max_out, const int32_t* rows,
                   const float* tmp) {
  if (n_segs <= 0 || max_count <= 0 || max_out <= 0) return {};
  if (Status st = check_launch("lora_expand", n_segs, max_count); !st.ok()) return st;
  const unsigned tiles = grid_for(max_count, kTile);
  if (tiles > static_cast<unsigned>(kMaxGridYZ))
    return make_error(ErrorCode::kInvalidArgument, "lora_expand: more than 65535 row tiles in one segment");
  const dim3 grid(grid_for(max_out, kExpandThreads), tiles, static_cast<unsigned>(n_segs));
  lora_expand_kernel<<<grid, kExpandThreads, 0, ctx.stream>>>(segs, rows, tmp);
  return launch_status("lora_expand_kernel");
}

}  // namespace cyllm::cuda
