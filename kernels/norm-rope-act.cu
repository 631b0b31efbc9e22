// RMSNorm, RoPE (adjacent and NeoX pairing), SwiGLU and the element-wise adds of the forward pass
// (cuda-ops.h). CPU references: engine/backend/cpu-ops.h (rmsnorm, rope_adjacent, rope_neox,
// silu_mul, add_f32), wrapped per row in kernels/cuda-reference.h.
#include <cub/block/block_reduce.cuh>

#include "cuda-context.h"
#include "cuda-common.cuh"

namespace cyllm::cuda {

namespace {

constexpr int kNormThreads = 256;
constexpr int kThreads = 256;

// One CTA per row: sum of squares in f32 (per-thread partial sums, then a CUB block reduction),
// then y = x * inv * w, each element read and written by the same thread (so y may alias x).
__global__ void __launch_bounds__(kNormThreads) rmsnorm_kernel(const float* x, const float* __restrict__ w, float* y,
                                                                int n, float eps) {
  using Reduce = cub::BlockReduce<float, kNormThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  __shared__ float inv_s;
  const float* xr = x + static_cast<size_t>(blockIdx.x) * n;
  float* yr = y + static_cast<size_t>(blockIdx.x) * n;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < n; i += kNormThreads) ss += xr[i] * xr[i];
  const float total = Reduce(tmp).Sum(ss);  // valid in thread 0
  if (threadIdx.x == 0) inv_s = 1.0f / sqrtf(total / static_cast<float>(n) + eps);
  __syncthreads();
  const float inv = inv_s;
  for (int i = threadIdx.x; i < n; i += kNormThreads) yr[i] = xr[i] * inv * w[i];
}

__global__ void add_kernel(float* __restrict__ y, const float* __restrict__ x, int64_t count) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) y[i] += x[i];
}

__global__ void bias_kernel(float* __restrict__ y, const float* __restrict__ b, int64_t count, int n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) y[i] += b[i % n];
}

// One thread per (row, head, pair i < rope_dim/2). The rotation is written with explicitly
// rounded operations, in the CPU's order: a*c - b*s and a*s + b*c.
__global__ void rope_kernel(float* x, int64_t total, int n_heads, int head_dim, int half, bool neox,
                            const int32_t* __restrict__ positions, const float* __restrict__ cos_t,
                            const float* __restrict__ sin_t) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total) return;
  const int i = static_cast<int>(idx % half);
  const int64_t rh = idx / half;  // row * n_heads + head
  const int64_t row = rh / n_heads;
  float* v = x + rh * head_dim;  // rows are n_heads * head_dim floats, so (row, head) = rh * head_dim
  const size_t t = static_cast<size_t>(positions[row]) * half + i;
  const float c = cos_t[t], s = sin_t[t];
  const int ia = neox ? i : 2 * i;
  const int ib = neox ? i + half : 2 * i + 1;
  const float a = v[ia], b = v[ib];
  v[ia] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
  v[ib] = __fadd_rn(__fmul_rn(a, s), __fmul_rn(b, c));
}

// silu(g) * u = g / (1 + exp(-g)) * u, as cpu::silu_mul. expf (not __expf): full-range accuracy.
__global__ void silu_mul_kernel(const float* __restrict__ gate, const float* __restrict__ up, float* __restrict__ out,
                                int64_t count) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const float g = gate[i];
  out[i] = g / (1.0f + expf(-g)) * up[i];
}

}  // namespace

Status rmsnorm(Context& ctx, const float* x, const float* w, float* y, int64_t rows, int n, float eps) {
  if (rows <= 0) return {};
  if (n <= 0 || rows > 0x7fffffff) return make_error(ErrorCode::kInvalidArgument, "rmsnorm: bad shape");
  rmsnorm_kernel<<<static_cast<unsigned>(rows), kNormThreads, 0, ctx.stream>>>(x, w, y, n, eps);
  return launch_status("rmsnorm_kernel");
}

Status add_inplace(Context& ctx, float* y, const float* x, int64_t count) {
  if (count <= 0) return {};
  add_kernel<<<grid_for(count, kThreads), kThreads, 0, ctx.stream>>>(y, x, count);
  return launch_status("add_kernel");
}

Status add_bias(Context& ctx, float* y, const float* b, int64_t rows, int n) {
  if (rows <= 0 || n <= 0) return {};
  bias_kernel<<<grid_for(rows * n, kThreads), kThreads, 0, ctx.stream>>>(y, b, rows * n, n);
  return launch_status("bias_kernel");
}

Status rope(Context& ctx, float* x, int64_t rows, int n_heads, int head_dim, int rope_dim, bool neox,
            const int32_t* positions, const float* cos_t, const float* sin_t) {
  if (rows <= 0 || n_heads <= 0) return {};
  if (rope_dim <= 0 || rope_dim % 2 != 0 || rope_dim > head_dim)
    return make_error(ErrorCode::kInvalidArgument, "rope: rope_dim must be even and <= head_dim");
  const int half = rope_dim / 2;
  const int64_t total = rows * n_heads * half;
  rope_kernel<<<grid_for(total, kThreads), kThreads, 0, ctx.stream>>>(x, total, n_heads, head_dim, half, neox, positions,
                                                                       cos_t, sin_t);
  return launch_status("rope_kernel");
}

Status silu_mul(Context& ctx, const float* gate, const float* up, float* out, int64_t count) {
  if (count <= 0) return {};
  silu_mul_kernel<<<grid_for(count, kThreads), kThreads, 0, ctx.stream>>>(gate, up, out, count);
  return launch_status("silu_mul_kernel");
}

}  // namespace cyllm::cuda
