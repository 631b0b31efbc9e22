// Attention over the paged fp16 KV cache (cuda-ops.h): cache writes, split-K decode attention
// (flash-decoding) and a tiled causal prefill kernel. CPU reference: cpu::attention_rows
// (engine/backend/cpu-attention.h), wrapped in kernels/cuda-reference.h over the same fp16 values.
//
// Cache layout per layer: [block][row][kv_dim] halves for keys and for values; the key of position
// p of a sequence is at slot table[p / block_tokens] * block_tokens + p % block_tokens. (The CPU
// cache stores keys transposed per block for its vector loads; the GPU has no need to.)
//
// Both kernels are written for clarity first. TODO(perf) on a GPU: tensor-core (mma) QK^T and PV
// in the prefill kernel, GQA sharing (one CTA per KV head and its query heads), a split count
// chosen from the SM count, and K/V loads of 16 bytes.
#include <cub/block/block_reduce.cuh>

#include <cmath>
#include <string>

#include "cuda-context.h"
#include "cuda-common.cuh"

namespace cyllm::cuda {

namespace {

constexpr int kThreads = 128;

__global__ void kv_write_kernel(uint16_t* __restrict__ kc, uint16_t* __restrict__ vc, int kv_dim,
                                const float* __restrict__ k, const float* __restrict__ v,
                                const int32_t* __restrict__ slots, int64_t total) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int64_t t = i / kv_dim;
  const int d = static_cast<int>(i % kv_dim);
  const size_t dst = static_cast<size_t>(slots[t]) * kv_dim + d;
  kc[dst] = dev::f2h_bits(k[i]);
  vc[dst] = dev::f2h_bits(v[i]);
}

// Slot of key `key` of the sequence whose block-table row is `table`.
__device__ __forceinline__ size_t key_slot(const int32_t* table, int key, int block_tokens) {
  return static_cast<size_t>(table[key / block_tokens]) * block_tokens + key % block_tokens;
}

// ---- decode: split-K partials + combine ----------------------------------------------------------

// Grid (rows, n_head, n_splits). CTA (r, h, s) handles keys [s * kDecodeSplitKeys, ...) of row r:
// scores in shared memory (one warp per key, lanes over head dimensions), their max m, p = exp(s - m),
// l = sum p, acc[d] = sum p * v[d]. Writes (acc, m, l); a split with no keys writes (0, -inf, 0).
__global__ void __launch_bounds__(kThreads) decode_partial_kernel(
    const float* __restrict__ q, int n_head, int head_dim, int group, int kv_dim, float scale,
    const int32_t* __restrict__ row_seq, const int32_t* __restrict__ row_nkeys, const int32_t* __restrict__ tables,
    int max_blocks, int block_tokens, const uint16_t* __restrict__ kc, const uint16_t* __restrict__ vc,
    float* __restrict__ part_acc, float* __restrict__ part_ml) {
  using Reduce = cub::BlockReduce<float, kThreads>;
  __shared__ typename Reduce::TempStorage red;
  __shared__ float qs[kMaxHeadDim];
  __shared__ float sc[kDecodeSplitKeys];
  __shared__ float bcast;

  const int row = blockIdx.x, h = blockIdx.y, split = blockIdx.z, n_splits = gridDim.z;
  const size_t part = (static_cast<size_t>(row) * n_head + h) * n_splits + split;
  float* acc_out = part_acc + part * head_dim;
  const int nkeys = row_nkeys[row];
  const int k0 = split * kDecodeSplitKeys;
  const int k1 = min(nkeys, k0 + kDecodeSplitKeys);
  if (k0 >= k1) {  // the same for every thread of the CTA
    for (int d = threadIdx.x; d < head_dim; d += kThreads) acc_out[d] = 0.0f;
    if (threadIdx.x == 0) {
      part_ml[2 * part] = -INFINITY;
      part_ml[2 * part + 1] = 0.0f;
    }
    return;
  }
  const int n = k1 - k0;
  const int kvh = h / group;
  const int32_t* table = tables + static_cast<size_t>(row_seq[row]) * max_blocks;
  const float* qr = q + static_cast<size_t>(row) * n_head * head_dim + static_cast<size_t>(h) * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += kThreads) qs[d] = qr[d] * scale;
  __syncthreads();

  // Scores.
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int j = warp; j < n; j += kThreads / 32) {
    const uint16_t* kr = kc + key_slot(table, k0 + j, block_tokens) * kv_dim + static_cast<size_t>(kvh) * head_dim;
    float s = 0.0f;
    for (int d = lane; d < head_dim; d += 32) s += qs[d] * dev::h2f(kr[d]);
    s = dev::warp_sum(s);
    if (lane == 0) sc[j] = s;
  }
  __syncthreads();

  // Max, exponentials, sum.
  float m_local = -INFINITY;
  for (int j = threadIdx.x; j < n; j += kThreads) m_local = fmaxf(m_local, sc[j]);
  const float m_red = Reduce(red).Reduce(m_local, dev::MaxOp());
  if (threadIdx.x == 0) bcast = m_red;
  __syncthreads();
  const float m = bcast;
  float l_local = 0.0f;
  for (int j = threadIdx.x; j < n; j += kThreads) {
    const float p = expf(sc[j] - m);
    sc[j] = p;
    l_local += p;
  }
  __syncthreads();  // sc holds p for every j; `red` may be reused
  const float l = Reduce(red).Sum(l_local);

  // acc[d] = sum_j p_j v_j[d]: threads over dimensions, keys in order.
  for (int d = threadIdx.x; d < head_dim; d += kThreads) {
    float a = 0.0f;
    for (int j = 0; j < n; ++j) {
      const uint16_t* vr = vc + key_slot(table, k0 + j, block_tokens) * kv_dim + static_cast<size_t>(kvh) * head_dim;
      a += sc[j] * dev::h2f(vr[d]);
    }
    acc_out[d] = a;
  }
  if (threadIdx.x == 0) {
    part_ml[2 * part] = m;
    part_ml[2 * part + 1] = l;
  }
}

// Grid (rows, n_head). out = sum_s acc_s * e^(m_s - M) / sum_s l_s * e^(m_s - M), M = max_s m_s.
__global__ void __launch_bounds__(kThreads) decode_combine_kernel(const float* __restrict__ part_acc,
                                                                   const float* __restrict__ part_ml, int n_head,
                                                                   int head_dim, int n_splits, float* __restrict__ out) {
  const int row = blockIdx.x, h = blockIdx.y;
  const size_t base = (static_cast<size_t>(row) * n_head + h) * n_splits;
  float M = -INFINITY;
  for (int s = 0; s < n_splits; ++s)
    if (part_ml[2 * (base + s) + 1] > 0.0f) M = fmaxf(M, part_ml[2 * (base + s)]);
  float L = 0.0f;
  for (int s = 0; s < n_splits; ++s) {
    const float l = part_ml[2 * (base + s) + 1];
    if (l > 0.0f) L += l * expf(part_ml[2 * (base + s)] - M);
  }
  float* o = out + static_cast<size_t>(row) * n_head * head_dim + static_cast<size_t>(h) * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += kThreads) {
    float a = 0.0f;
    for (int s = 0; s < n_splits; ++s) {
      const float l = part_ml[2 * (base + s) + 1];
      if (l > 0.0f) a += part_acc[(base + s) * head_dim + d] * expf(part_ml[2 * (base + s)] - M);
    }
    o[d] = L > 0.0f ? a / L : 0.0f;  // no keys at all: 0 (callers never ask for that)
  }
}

// ---- prefill: tiled causal, online softmax ---------------------------------------------------------

constexpr int kTileRows = kPrefillTileRows;  // query rows per CTA
constexpr int kTileKeys = 32;                // keys per step
constexpr int kRowThreads = kThreads / kTileRows;  // 8 threads per query row
static_assert(kRowThreads == 8 && kTileKeys % kRowThreads == 0, "thread mapping below assumes 8 threads per row");
constexpr int kMaxAcc = kMaxHeadDim / kRowThreads;  // output dims per thread

size_t prefill_smem_bytes(int head_dim) {
  // Q [16][hd+1], K [32][hd+1] (padded: rows start in different banks), V [32][hd], P [16][32].
  return sizeof(float) * (static_cast<size_t>(kTileRows) * (head_dim + 1) + static_cast<size_t>(kTileKeys) * (head_dim + 1) +
                          static_cast<size_t>(kTileKeys) * head_dim + kTileRows * kTileKeys);
}

// Grid (n_tiles, n_head), kThreads threads: thread t serves query row r = t / 8 of the tile; its 8
// threads split the 32 keys of a step (keys c, c+8, c+16, c+24 for c = t % 8) and the output
// dimensions (d = c + 8i). Softmax state per row: running max m and sum l (kept identically by the
// row's 8 threads, combined with shuffles inside their 8-lane group), output acc in registers.
__global__ void __launch_bounds__(kThreads) prefill_kernel(
    const float* __restrict__ q, int n_head, int head_dim, int group, int kv_dim, float scale,
    const int32_t* __restrict__ tiles, const int32_t* __restrict__ row_pos, const int32_t* __restrict__ tables,
    int max_blocks, int block_tokens, const uint16_t* __restrict__ kc, const uint16_t* __restrict__ vc,
    float* __restrict__ out) {
  extern __shared__ float smem[];
  const int hd = head_dim, hdp = head_dim + 1;
  float* Qs = smem;                        // [kTileRows][hdp]
  float* Ks = Qs + kTileRows * hdp;        // [kTileKeys][hdp]
  float* Vs = Ks + kTileKeys * hdp;        // [kTileKeys][hd]
  float* Ps = Vs + kTileKeys * hd;         // [kTileRows][kTileKeys]

  const int first = tiles[3 * blockIdx.x], count = tiles[3 * blockIdx.x + 1], seq = tiles[3 * blockIdx.x + 2];
  const int h = blockIdx.y, kvh = h / group;
  const int32_t* table = tables + static_cast<size_t>(seq) * max_blocks;
  const int t = threadIdx.x, r = t / kRowThreads, c = t % kRowThreads;

  for (int i = t; i < kTileRows * hd; i += kThreads) {
    const int rr = i / hd, d = i % hd;
    Qs[rr * hdp + d] =
        rr < count ? q[static_cast<size_t>(first + rr) * n_head * hd + static_cast<size_t>(h) * hd + d] * scale : 0.0f;
  }
  int nkeys = 0;  // keys the tile needs: 1 + the largest position among its rows
  for (int rr = 0; rr < count; ++rr) nkeys = max(nkeys, row_pos[first + rr] + 1);
  const bool valid = r < count;
  const int my_pos = valid ? row_pos[first + r] : -1;

  float m = -INFINITY, l = 0.0f;
  float acc[kMaxAcc];
#pragma unroll
  for (int i = 0; i < kMaxAcc; ++i) acc[i] = 0.0f;

  for (int kt0 = 0; kt0 < nkeys; kt0 += kTileKeys) {
    __syncthreads();  // Q is loaded (first step) / everyone is done with the previous K, V, P
    for (int i = t; i < kTileKeys * hd; i += kThreads) {
      const int j = i / hd, d = i % hd, key = kt0 + j;
      float kv_k = 0.0f, kv_v = 0.0f;
      if (key < nkeys) {
        const size_t off = key_slot(table, key, block_tokens) * kv_dim + static_cast<size_t>(kvh) * hd + d;
        kv_k = dev::h2f(kc[off]);
        kv_v = dev::h2f(vc[off]);
      }
      Ks[j * hdp + d] = kv_k;
      Vs[j * hd + d] = kv_v;
    }
    __syncthreads();

    // Scores of this thread's 4 keys; masked (future or past the tile) keys are -inf.
    float s[kTileKeys / kRowThreads];
    float tile_max = -INFINITY;
#pragma unroll
    for (int i = 0; i < kTileKeys / kRowThreads; ++i) {
      const int j = c + kRowThreads * i, key = kt0 + j;
      float v = -INFINITY;
      if (valid && key <= my_pos) {
        v = 0.0f;
        for (int d = 0; d < hd; ++d) v += Qs[r * hdp + d] * Ks[j * hdp + d];
      }
      s[i] = v;
      tile_max = fmaxf(tile_max, v);
    }
    // The row's 8 threads are 8 consecutive lanes of one warp: xor 1, 2, 4 stays inside the group.
#pragma unroll
    for (int o = 1; o < kRowThreads; o <<= 1) tile_max = fmaxf(tile_max, __shfl_xor_sync(dev::kFullMask, tile_max, o));
    const float m_new = fmaxf(m, tile_max);
    // m_new is -inf only for rows past `count` (every valid row sees key 0 in the first step).
    const float alpha = m_new == -INFINITY ? 1.0f : expf(m - m_new);  // expf(-inf) = 0 on the first step
    float row_sum = 0.0f;
#pragma unroll
    for (int i = 0; i < kTileKeys / kRowThreads; ++i) {
      const float p = s[i] == -INFINITY ? 0.0f : expf(s[i] - m_new);
      Ps[r * kTileKeys + c + kRowThreads * i] = p;
      row_sum += p;
    }
#pragma unroll
    for (int o = 1; o < kRowThreads; o <<= 1) row_sum += __shfl_xor_sync(dev::kFullMask, row_sum, o);
    l = l * alpha + row_sum;
    m = m_new;
#pragma unroll
    for (int i = 0; i < kMaxAcc; ++i) acc[i] *= alpha;
    __syncthreads();  // P complete

#pragma unroll
    for (int i = 0; i < kMaxAcc; ++i) {
      const int d = c + kRowThreads * i;
      if (d < hd) {
        float a = acc[i];
        for (int j = 0; j < kTileKeys; ++j) a += Ps[r * kTileKeys + j] * Vs[j * hd + d];
        acc[i] = a;
      }
    }
  }

  if (!valid) return;
  float* o = out + static_cast<size_t>(first + r) * n_head * hd + static_cast<size_t>(h) * hd;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
  for (int i = 0; i < kMaxAcc; ++i) {
    const int d = c + kRowThreads * i;
    if (d < hd) o[d] = acc[i] * inv;
  }
}

Status check_shape(const AttentionShape& s) {
  if (s.n_head <= 0 || s.n_head_kv <= 0 || s.n_head % s.n_head_kv != 0 || s.head_dim <= 0 ||
      s.head_dim > kMaxHeadDim || s.block_tokens <= 0 || s.max_blocks <= 0)
    return make_error(ErrorCode::kUnsupported,
                      "attention: unsupported shape (heads " + std::to_string(s.n_head) + "/" + std::to_string(s.n_head_kv) +
                          ", head_dim " + std::to_string(s.head_dim) + ", at most " + std::to_string(kMaxHeadDim) + ")");
  return {};
}

int n_splits_for(int max_nkeys) { return max_nkeys <= 0 ? 1 : (max_nkeys + kDecodeSplitKeys - 1) / kDecodeSplitKeys; }

}  // namespace

Status kv_write(Context& ctx, KvLayer layer, int kv_dim, const float* k, const float* v, const int32_t* slots,
                int64_t count) {
  if (count <= 0) return {};
  const int64_t total = count * kv_dim;
  kv_write_kernel<<<grid_for(total, kThreads), kThreads, 0, ctx.stream>>>(layer.k, layer.v, kv_dim, k, v, slots, total);
  return launch_status("kv_write_kernel");
}

size_t decode_workspace_floats(const AttentionShape& s, int rows, int max_nkeys) {
  return static_cast<size_t>(rows) * s.n_head * n_splits_for(max_nkeys) * (static_cast<size_t>(s.head_dim) + 2);
}

Status attention_decode(Context& ctx, const AttentionShape& s, KvLayer layer, const float* q, int rows,
                        const int32_t* row_seq, const int32_t* row_nkeys, int max_nkeys, const int32_t* block_tables,
                        float* out, float* workspace, size_t workspace_floats) {
  if (Status st = check_shape(s); !st.ok()) return st;
  if (rows <= 0) return {};
  const int n_splits = n_splits_for(max_nkeys);
  if (n_splits > 65535) return make_error(ErrorCode::kUnsupported, "attention_decode: context too long");
  if (workspace_floats < decode_workspace_floats(s, rows, max_nkeys))
    return make_error(ErrorCode::kInvalidArgument, "attention_decode: workspace too small");
  const size_t parts = static_cast<size_t>(rows) * s.n_head * n_splits;
  float* part_acc = workspace;
  float* part_ml = workspace + parts * s.head_dim;
  const int kv_dim = s.n_head_kv * s.head_dim, group = s.n_head / s.n_head_kv;
  decode_partial_kernel<<<dim3(rows, s.n_head, n_splits), kThreads, 0, ctx.stream>>>(
      q, s.n_head, s.head_dim, group, kv_dim, s.scale, row_seq, row_nkeys, block_tables, s.max_blocks, s.block_tokens,
      layer.k, layer.v, part_acc, part_ml);
  CYLLM_LAUNCH_CHECK("decode_partial_kernel");
  decode_combine_kernel<<<dim3(rows, s.n_head), kThreads, 0, ctx.stream>>>(part_acc, part_ml, s.n_head, s.head_dim,
                                                                            n_splits, out);
  return launch_status("decode_combine_kernel");
}

Status attention_prefill(Context& ctx, const AttentionShape& s, KvLayer layer, const float* q, const int32_t* tiles,
                         int n_tiles, const int32_t* row_pos, const int32_t* block_tables, float* out) {
  if (Status st = check_shape(s); !st.ok()) return st;
  if (n_tiles <= 0) return {};
  const size_t smem = prefill_smem_bytes(s.head_dim);
  if (smem > 48 * 1024) {
    // Above the 48 KiB default a kernel must opt in (sm_80: up to 163 KiB, sm_90: 227 KiB).
    CYLLM_CUDA_TRY(cudaFuncSetAttribute(prefill_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
                   "cudaFuncSetAttribute(prefill_kernel, shared memory)");
  }
  const int kv_dim = s.n_head_kv * s.head_dim, group = s.n_head / s.n_head_kv;
  prefill_kernel<<<dim3(n_tiles, s.n_head), kThreads, smem, ctx.stream>>>(q, s.n_head, s.head_dim, group, kv_dim, s.scale,
                                                                          tiles, row_pos, block_tables, s.max_blocks,
                                                                          s.block_tokens, layer.k, layer.v, out);
  return launch_status("prefill_kernel");
}

}  // namespace cyllm::cuda
