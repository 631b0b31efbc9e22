// Token sampling on the device (cuda-ops.h: DeviceSampler). CPU reference: cyllm::Sampler
// (engine/serve/sampler.cpp) with penalties and bias off; kernels/cuda-reference.h has the wrapper
// that feeds it the same u.
//
// It follows the CPU sampler step by step so the same u picks the same token:
//   greedy rows: argmax of the raw logits, ties to the lowest id (argmax_kernel);
//   other rows:  keys = logit / temperature, sorted descending by a stable CUB segmented radix sort
//                (ties keep ascending ids, as the CPU's (logit desc, id asc) order), then per row
//                (select_kernel): keep = min(top_k, allowed); e_i = expf(key_i - key_0) in f32,
//                sum in double, p_i = float(e_i / sum); top_p: cut after the first i whose
//                inclusive double prefix sum reaches top_p; min_p: cut at the first i >= 1 with
//                p_i < min_p * p_0; the draw: first i with u * total < prefix_i, else the last kept.
// Differences from the CPU that can change a choice: the order of the double sums (last-bit
// differences) and device expf vs glibc expf (<= 2 ulp); both only matter when u lands within
// ~1e-6 of an interval boundary. A finite logit whose key overflows to -inf is treated as banned
// here (the CPU keeps it with probability 0).
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_segmented_radix_sort.cuh>

#include <climits>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "cuda-common.cuh"
#include "cuda-context.h"

namespace cyllm::cuda {

namespace {

constexpr int kThreads = 256;

struct ArgMax {
  float v;
  int i;
};
struct ArgMaxOp {
  __device__ __forceinline__ ArgMax operator()(const ArgMax& a, const ArgMax& b) const {
    if (a.v > b.v) return a;
    if (b.v > a.v) return b;
    return a.i <= b.i ? a : b;  // equal (or unordered: NaN never wins a '>'): the lower id
  }
};

// One CTA per row; only rows with temperature <= 0 write their result.
__global__ void __launch_bounds__(kThreads) argmax_kernel(const float* __restrict__ logits, int n_vocab,
                                                           const SampleRow* __restrict__ rows, int32_t* __restrict__ result) {
  using Reduce = cub::BlockReduce<ArgMax, kThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  const int row = blockIdx.x;
  if (rows[row].temperature > 0.0f) return;  // uniform for the CTA
  const float* x = logits + static_cast<size_t>(row) * n_vocab;
  ArgMax best{-INFINITY, INT_MAX};
  for (int i = threadIdx.x; i < n_vocab; i += kThreads) best = ArgMaxOp()(best, ArgMax{x[i], i});
  const ArgMax r = Reduce(tmp).Reduce(best, ArgMaxOp());
  if (threadIdx.x == 0) result[row] = r.i == INT_MAX ? 0 : r.i;
}

// keys = logit / temperature (+0.0f turns -0 into +0; the sort treats them as equal anyway);
// banned (-inf) logits stay -inf. ids = index in the row.
__global__ void prep_kernel(const float* __restrict__ logits, int n_vocab, int64_t total, const SampleRow* __restrict__ rows,
                            float* __restrict__ keys, int32_t* __restrict__ ids) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int row = static_cast<int>(i / n_vocab);
  const float t = rows[row].temperature;
  const float l = logits[i];
  keys[i] = (l == -INFINITY || t <= 0.0f) ? l : l / t + 0.0f;
  ids[i] = static_cast<int32_t>(i % n_vocab);
}

using ReduceD = cub::BlockReduce<double, kThreads>;
using ReduceI = cub::BlockReduce<int, kThreads>;
using ScanD = cub::BlockScan<double, kThreads>;

struct SelectShared {
  typename ReduceD::TempStorage rd;
  typename ReduceI::TempStorage ri;
  typename ScanD::TempStorage sc;
  double d;
  int i;
};

// Block-wide: smallest i in [begin, end) for which pred(i, inclusive prefix sum of value(j) over
// [begin, i]) holds, or `none`. Chunks of kThreads; every thread must call it.
template <class Value, class Pred>
__device__ int first_by_prefix(SelectShared& sh, int begin, int end, int none, Value value, Pred pred) {
  double carry = 0.0;
  for (int c0 = begin; c0 < end; c0 += kThreads) {
    const int i = c0 + threadIdx.x;
    const double v = i < end ? value(i) : 0.0;
    double incl, chunk_total;
    ScanD(sh.sc).InclusiveSum(v, incl, chunk_total);
    incl += carry;
    const int cand = (i < end && pred(i, incl)) ? i : INT_MAX;
    const int found = ReduceI(sh.ri).Reduce(cand, dev::MinIntOp());
    if (threadIdx.x == 0) sh.i = found;
    __syncthreads();
    const int f = sh.i;
    __syncthreads();  // sh.i, sh.sc and sh.ri are reused by the next chunk
    if (f != INT_MAX) return f;
    carry += chunk_total;
  }
  return none;
}

// Block-wide sum of value(i) for i in [begin, end), in double; the result is returned to every thread.
template <class Value>
__device__ double block_sum(SelectShared& sh, int begin, int end, Value value) {
  double s = 0.0;
  for (int i = begin + threadIdx.x; i < end; i += kThreads) s += value(i);
  const double total = ReduceD(sh.rd).Sum(s);
  if (threadIdx.x == 0) sh.d = total;
  __syncthreads();
  const double r = sh.d;
  __syncthreads();
  return r;
}

// One CTA per row with temperature > 0; keys/ids sorted descending per row.
__global__ void __launch_bounds__(kThreads) select_kernel(const float* __restrict__ logits, const float* __restrict__ keys,
                                                           const int32_t* __restrict__ ids, int n_vocab,
                                                           const SampleRow* __restrict__ rows, int32_t* __restrict__ result) {
  __shared__ SelectShared sh;
  const int row = blockIdx.x;
  const SampleRow p = rows[row];
  if (p.temperature <= 0.0f) return;  // greedy: argmax_kernel's result
  const float* lg = logits + static_cast<size_t>(row) * n_vocab;
  const float* k = keys + static_cast<size_t>(row) * n_vocab;
  const int32_t* id = ids + static_cast<size_t>(row) * n_vocab;

  // Allowed tokens (logit != -inf); they come first in the sorted keys (banned ones are -inf, last).
  int cnt = 0;
  for (int i = threadIdx.x; i < n_vocab; i += kThreads) cnt += lg[i] != -INFINITY ? 1 : 0;
  const int allowed_red = ReduceI(sh.ri).Sum(cnt);
  if (threadIdx.x == 0) sh.i = allowed_red;
  __syncthreads();
  const int allowed = sh.i;
  __syncthreads();
  if (allowed == 0) {  // everything banned: token 0, as the CPU sampler
    if (threadIdx.x == 0) result[row] = 0;
    return;
  }
  int keep = allowed;
  if (p.top_k > 0 && p.top_k < keep) keep = p.top_k;

  const float mx = k[0];
  auto e = [&](int i) { return expf(k[i] - mx); };  // f32, as the CPU's std::exp(float)
  const double sum = block_sum(sh, 0, keep, [&](int i) { return static_cast<double>(e(i)); });
  auto prob = [&](int i) { return static_cast<float>(static_cast<double>(e(i)) / sum); };

  int cut = keep;
  if (p.top_p < 1.0f) {
    const double top_p = p.top_p;
    const int f = first_by_prefix(sh, 0, keep, -1, [&](int i) { return static_cast<double>(prob(i)); },
                                  [&](int, double cum) { return cum >= top_p; });
    if (f >= 0) cut = f + 1;
  }
  if (p.min_p > 0.0f) {
    const float floor_p = p.min_p * prob(0);
    // First i >= 1 with p_i < floor_p (the CPU's while loop stops there).
    int c = INT_MAX;
    for (int i = 1 + threadIdx.x; i < cut; i += kThreads)
      if (prob(i) < floor_p) {
        c = i;
        break;  // i only grows for this thread
      }
    const int first_fail = ReduceI(sh.ri).Reduce(c, dev::MinIntOp());
    if (threadIdx.x == 0) sh.i = first_fail;
    __syncthreads();
    if (sh.i != INT_MAX) cut = sh.i;
    __syncthreads();
  }

  const double total = block_sum(sh, 0, cut, [&](int i) { return static_cast<double>(prob(i)); });
  const double target = p.u * total;
  const int pick = first_by_prefix(sh, 0, cut, cut - 1, [&](int i) { return static_cast<double>(prob(i)); },
                                   [&](int, double acc) { return target < acc; });
  if (threadIdx.x == 0) result[row] = id[pick];
}

}  // namespace

Result<DeviceSampler> DeviceSampler::create(Context& ctx, int max_rows, int n_vocab) {
  if (max_rows <= 0 || n_vocab <= 0 || static_cast<int64_t>(max_rows) * n_vocab > 0x7fffffff)
    return make_error(ErrorCode::kInvalidArgument, "DeviceSampler: bad size");
  DeviceSampler s;
  s.max_rows_ = max_rows;
  s.n_vocab_ = n_vocab;
  const size_t items = static_cast<size_t>(max_rows) * n_vocab;
  auto alloc = [](DeviceBuffer& b, size_t bytes, const char* what) -> Status {
    auto r = DeviceBuffer::allocate(bytes, what);
    if (!r.ok()) return r.error();
    b = std::move(r.value());
    return {};
  };
  const Status st = [&]() -> Status {
    if (Status a = alloc(s.keys_in_, items * 4, "sampler keys"); !a.ok()) return a;
    if (Status a = alloc(s.keys_out_, items * 4, "sampler sorted keys"); !a.ok()) return a;
    if (Status a = alloc(s.ids_in_, items * 4, "sampler ids"); !a.ok()) return a;
    if (Status a = alloc(s.ids_out_, items * 4, "sampler sorted ids"); !a.ok()) return a;
    if (Status a = alloc(s.offsets_, (static_cast<size_t>(max_rows) + 1) * 4, "sampler offsets"); !a.ok()) return a;
    if (Status a = alloc(s.params_, static_cast<size_t>(max_rows) * sizeof(SampleRow), "sampler params"); !a.ok()) return a;
    return alloc(s.result_, static_cast<size_t>(max_rows) * 4, "sampler result");
  }();
  if (!st.ok()) return st.error();
  std::vector<int32_t> offsets(static_cast<size_t>(max_rows) + 1);
  for (size_t r = 0; r < offsets.size(); ++r) offsets[r] = static_cast<int32_t>(r * n_vocab);
  if (Status c = copy_to_device(ctx, s.offsets_.data(), offsets.data(), offsets.size() * 4); !c.ok()) return c.error();
  return std::move(s);
}

Status DeviceSampler::sample(Context& ctx, const float* logits, const SampleRow* rows, int n_rows, int32_t* ids_out) {
  if (n_rows <= 0) return {};
  if (n_rows > max_rows_)
    return make_error(ErrorCode::kInvalidArgument, "DeviceSampler: " + std::to_string(n_rows) + " rows, room for " +
                                                       std::to_string(max_rows_));
  bool any_random = false;
  for (int r = 0; r < n_rows; ++r) any_random = any_random || rows[r].temperature > 0.0f;
  if (Status st = copy_to_device(ctx, params_.data(), rows, sizeof(SampleRow) * n_rows); !st.ok()) return st;
  const auto* prm = params_.as<const SampleRow>();
  argmax_kernel<<<n_rows, kThreads, 0, ctx.stream>>>(logits, n_vocab_, prm, result_.as<int32_t>());
  CYLLM_LAUNCH_CHECK("argmax_kernel");
  if (any_random) {
    const int items = n_rows * n_vocab_;
    prep_kernel<<<grid_for(items, kThreads), kThreads, 0, ctx.stream>>>(logits, n_vocab_, items, prm, keys_in_.as<float>(),
                                                                       ids_in_.as<int32_t>());
    CYLLM_LAUNCH_CHECK("prep_kernel");
    const int32_t* off = offsets_.as<const int32_t>();
    size_t need = 0;
    CYLLM_CUDA_TRY(cub::DeviceSegmentedRadixSort::SortPairsDescending(
                       nullptr, need, keys_in_.as<const float>(), keys_out_.as<float>(), ids_in_.as<const int32_t>(),
                       ids_out_.as<int32_t>(), items, n_rows, off, off + 1, 0, 32, ctx.stream),
                   "cub::DeviceSegmentedRadixSort (size query)");
    if (need > sort_temp_.size()) {
      auto b = DeviceBuffer::allocate(need, "sampler sort workspace");
      if (!b.ok()) return b.error();
      sort_temp_ = std::move(b.value());
    }
    size_t have = sort_temp_.size();
    CYLLM_CUDA_TRY(cub::DeviceSegmentedRadixSort::SortPairsDescending(
                       sort_temp_.data(), have, keys_in_.as<const float>(), keys_out_.as<float>(),
                       ids_in_.as<const int32_t>(), ids_out_.as<int32_t>(), items, n_rows, off, off + 1, 0, 32,
                       ctx.stream),
                   "cub::DeviceSegmentedRadixSort");
    select_kernel<<<n_rows, kThreads, 0, ctx.stream>>>(logits, keys_out_.as<const float>(), ids_out_.as<const int32_t>(),
                                                       n_vocab_, prm, result_.as<int32_t>());
    CYLLM_LAUNCH_CHECK("select_kernel");
  }
  return copy_to_host(ctx, ids_out, result_.data(), sizeof(int32_t) * n_rows);
}

}  // namespace cyllm::cuda
