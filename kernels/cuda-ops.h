// The CUDA backend's host API: plain C++17 (no CUDA types; nvcc compiles it as C++17), so engine code includes it without the
// CUDA headers. Every function takes raw device pointers and sizes, enqueues its work on the
// context's stream and returns a Status; CUDA errors become the engine's Error (an allocation
// failure is ErrorCode::kOutOfMemory). Nothing here synchronises unless it says so.
//
// One concern per file (all in kernels/):
//   cuda-context.cu   context (device, stream, cuBLAS handle), device memory, copies, errors
//   quant-matvec.cu   decode matrix-vector products on quantized weights in GGUF block layout
//   dequant.cu        GGUF blocks -> f32/f16/bf16 rows, embedding gather, f32 -> f16/bf16,
//                     cuBLAS GEMM for prefill
//   norm-rope-act.cu  RMSNorm, RoPE (both pairings), SwiGLU, residual and bias adds
//   attention.cu      fp16 paged KV cache writes, split-K decode attention, tiled causal prefill
//   lora.cu           grouped (segmented) LoRA shrink and expand over many adapters at once
//   sampling.cu       greedy / temperature / top-k / top-p / min-p on device, returns token ids
// The CPU reference of every op is in kernels/cuda-reference.h (tests/engine/cuda compares them).
//
// NOT YET RUN ON A GPU: this machine has none. Everything compiles for sm_80 and sm_90; the
// tests in tests/engine/cuda skip without a device. See docs/ARCHITECTURE.md "CUDA backend".
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "model/tensor-types.h"

namespace cyllm::cuda {

// ---- context, memory, copies (cuda-context.cu) -----------------------------------------------

class Context;  // cuda-context.h (CUDA types): device, stream, cuBLAS handle
struct ContextDeleter {
  void operator()(Context* c) const;
};
using ContextPtr = std::unique_ptr<Context, ContextDeleter>;

// Why there is no usable device ("" when there is one): cudaGetDeviceCount failed or found 0.
std::string no_device_reason();

// Makes `device` current for this thread, creates a non-blocking stream and a cuBLAS handle bound
// to it. The context must be used from one thread at a time.
Result<ContextPtr> create_context(int device = 0);
int context_device(const Context& ctx);
// Makes the context's device current for the calling thread (CUDA's current device is per thread;
// call it first when a context created on one thread is used from another).
Status use_context_device(Context& ctx);
// cudaMemGetInfo on the current device.
Status memory_info(size_t* free_bytes, size_t* total_bytes);
// Waits for everything enqueued on the context's stream; reports any asynchronous kernel error.
Status synchronize(Context& ctx);

// Owns one cudaMalloc allocation (move-only). Released with cudaFree when destroyed.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  // bytes == 0 gives an empty buffer. Out of memory: kOutOfMemory naming `what`, the bytes asked
  // for and the device's free/total memory at that moment.
  static Result<DeviceBuffer> allocate(size_t bytes, const std::string& what);

  void* data() const { return ptr_; }
  size_t size() const { return bytes_; }
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Host -> device. Returns when the host buffer may be reused (the copy is staged); ordered on the
// stream before later work. (TODO(perf): pinned staging buffers and one upload per step.)
Status copy_to_device(Context& ctx, void* dst, const void* src, size_t bytes);
// Device -> host. Synchronises the stream: when it returns, dst holds the data.
Status copy_to_host(Context& ctx, void* dst, const void* src, size_t bytes);
// Device -> device on the stream.
Status copy_device(Context& ctx, void* dst, const void* src, size_t bytes);
Status memset_device(Context& ctx, void* dst, int value, size_t bytes);

// ---- quantized weights -----------------------------------------------------------------------

// Weight matrices are stored exactly as in the GGUF file (rows of blocks, `row_stride` bytes
// apart). The matvec kernel reads each row with aligned 16-byte loads, which can touch up to 15
// bytes past a tensor's last byte: every weight allocation must be weight_alloc_bytes(bytes) long
// and start 16-byte aligned (cudaMalloc gives 256).
constexpr size_t kWeightPadBytes = 16;
inline size_t weight_alloc_bytes(size_t tensor_bytes) { return tensor_bytes + kWeightPadBytes; }

// Types the GPU kernels decode: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K.
bool weight_type_supported(GgmlType t);

// ---- quant-matvec.cu ---------------------------------------------------------------------------

// Columns one matvec launch handles; matvec() splits more columns into several launches.
constexpr int kMatvecMaxCols = 8;

// y[c * ldy + r] = sum_k W[r][k] * x[c * ldx + k]   for r < nrows, c < ncols.
// W: nrows rows of n elements of type t, row_stride bytes apart (see kWeightPadBytes). n must be
// a multiple of 32 (of 256 for K-quants). x: f32, 16-byte aligned, ldx a multiple of 4. Each
// weight group of 32 is decoded to f32 exactly as the CPU reference does, and every product is
// accumulated in f32 (one warp per row, lanes over 32-element groups, warp-shuffle reduction).
// Meant for decode (a few columns); prefill goes through matmul() below.
Status matvec(Context& ctx, GgmlType t, const void* w, size_t row_stride, int64_t n, int64_t nrows, const float* x,
              size_t ldx, int64_t ncols, float* y, size_t ldy);

// ---- dequant.cu ---------------------------------------------------------------------------------

// out[r * ld_out + k] = W[r][k] as out_type (F32, F16 or BF16; f16/bf16 rounded to nearest even
// from the same f32 value the CPU's dequantize_row gives).
Status dequantize_rows(Context& ctx, GgmlType t, const void* w, size_t row_stride, int64_t n, int64_t nrows,
                       GgmlType out_type, void* out, size_t ld_out);
// out[i * n + k] = W[rows[i]][k] as f32 (token embeddings). rows: device int32[count], each in
// [0, nrows) (the caller checked).
Status gather_rows_f32(Context& ctx, GgmlType t, const void* w, size_t row_stride, int64_t n, const int32_t* rows,
                       int64_t count, float* out);
// out[i] = x[i] rounded to out_type (F16 or BF16), i < count.
Status convert_f32(Context& ctx, const float* x, int64_t count, GgmlType out_type, void* out);
// y[t * ldy + r] = sum_k A[r][k] * X[t][k] with A: [nrows][k] and X: [ncols][k], both of type
// half_type (F16 or BF16; F32 is accepted too, for F32 weights) row-major, y f32; cuBLAS
// cublasGemmEx, f32 accumulation.
Status gemm_half(Context& ctx, GgmlType half_type, const void* a, int64_t nrows, int64_t k, const void* x,
                 int64_t ncols, float* y, size_t ldy);

// Scratch bytes matmul() needs for ncols columns of k elements: at least the f16 copy of x plus
// one 64-row chunk of dequantized weights; more scratch gives larger chunks (fewer GEMM calls).
size_t matmul_min_scratch_bytes(int64_t k, int64_t ncols);
// y = W x for any number of columns; x: [ncols][k] contiguous f32. ncols <= kMatvecMaxCols:
// matvec(). Otherwise (prefill) x is converted to f16 (bf16 for BF16 weights) in scratch, W is
// dequantized to the same type chunk by chunk into the rest of scratch (F16/BF16 weights are used
// in place) and multiplied with gemm_half; F32 weights take a plain FP32 GEMM with no scratch.
Status matmul(Context& ctx, GgmlType t, const void* w, size_t row_stride, int64_t k, int64_t nrows, const float* x,
              int64_t ncols, float* y, size_t ldy, void* scratch, size_t scratch_bytes);

// ---- norm-rope-act.cu ---------------------------------------------------------------------------

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w for each of `rows` rows of n floats (y may be x).
Status rmsnorm(Context& ctx, const float* x, const float* w, float* y, int64_t rows, int n, float eps);
// y[i] += x[i], i < count.
Status add_inplace(Context& ctx, float* y, const float* x, int64_t count);
// y[r * n + i] += b[i] for r < rows.
Status add_bias(Context& ctx, float* y, const float* b, int64_t rows, int n);
// In place on rows x [n_heads][head_dim] floats; row r rotated by the angles of position
// positions[r] (device int32). cos_t/sin_t: [position][rope_dim / 2]; the caller's table must
// cover every position. neox false: adjacent pairs (x[2i], x[2i+1]) (ModelConfig kNormal); true:
// (x[i], x[i + rope_dim/2]) (kNeox). Dimensions >= rope_dim are left as they are.
Status rope(Context& ctx, float* x, int64_t rows, int n_heads, int head_dim, int rope_dim, bool neox,
            const int32_t* positions, const float* cos_t, const float* sin_t);
// out[i] = silu(gate[i]) * up[i] = gate / (1 + exp(-gate)) * up, i < count.
Status silu_mul(Context& ctx, const float* gate, const float* up, float* out, int64_t count);

// ---- attention.cu ---------------------------------------------------------------------------------

// One layer of the paged KV cache: n_blocks blocks of block_tokens positions, keys and values
// each [block][row][kv_dim] IEEE half (uint16_t here, __half in the kernels). Position p of a
// sequence lives in slot table[p / block_tokens] * block_tokens + p % block_tokens.
struct KvLayer {
  uint16_t* k = nullptr;
  uint16_t* v = nullptr;
};

// k_cache[slots[t]][:] = half(k[t][:]), same for v; t < count, kv_dim values per row.
Status kv_write(Context& ctx, KvLayer layer, int kv_dim, const float* k, const float* v, const int32_t* slots,
                int64_t count);

struct AttentionShape {
  int n_head = 0, n_head_kv = 0, head_dim = 0;  // head_dim <= kMaxHeadDim
  int block_tokens = 0;
  int max_blocks = 0;  // columns of the block-table matrix (blocks per sequence)
  float scale = 0.0f;  // usually 1/sqrt(head_dim)
};
constexpr int kMaxHeadDim = 256;

// Decode (flash-decoding, split-K): each query row r (q: [rows][n_head * head_dim] f32) of
// sequence row_seq[r] attends to its keys [0, row_nkeys[r]) through block_tables
// ([n_seq][max_blocks] int32); query head h uses KV head h / (n_head / n_head_kv). Keys are split
// into chunks of kDecodeSplitKeys; one CTA per (row, head, chunk) writes a partial (max, sum,
// unnormalised output), a second kernel combines them. max_nkeys: the largest row_nkeys (host
// value). workspace: decode_workspace_floats() floats. Works for any rows, so it is also the
// simple (slow) fallback for prefill.
constexpr int kDecodeSplitKeys = 256;
size_t decode_workspace_floats(const AttentionShape& s, int rows, int max_nkeys);
Status attention_decode(Context& ctx, const AttentionShape& s, KvLayer layer, const float* q, int rows,
                        const int32_t* row_seq, const int32_t* row_nkeys, int max_nkeys, const int32_t* block_tables,
                        float* out, float* workspace, size_t workspace_floats);

// Prefill (tiled, causal): a tile is up to kPrefillTileRows consecutive query rows of one
// sequence; tiles: device int32 [n_tiles][3] = (first row, row count, sequence). Row r sees keys
// [0, row_pos[r]] of its sequence (its own K/V must already be in the cache: kv_write first).
// One CTA per (tile, head) streams the keys in tiles of 32 with an online softmax.
constexpr int kPrefillTileRows = 16;
Status attention_prefill(Context& ctx, const AttentionShape& s, KvLayer layer, const float* q, const int32_t* tiles,
                         int n_tiles, const int32_t* row_pos, const int32_t* block_tables, float* out);

// ---- lora.cu ----------------------------------------------------------------------------------------

// Grouped (segmented) LoRA, y += scale * B (A x), for the rows of many adapters in one launch per
// half. A segment is the rows of one adapter for one target matrix (engine/model/lora.h: A is
// [rank][in], B is [out][rank], f32 row-major); the products that share one input (q, k and v;
// gate and up) are segments of the same call, each with its own output. The segment array is in
// device memory (pointers are device pointers; cuda_ref takes the same struct with host ones), and
// so is `rows`: segment s covers rows[s.first .. s.first + s.count), row indices into x and into
// s.y. Each row's arithmetic is fixed (Property 12): the shrink sums A[r] . x in f32 in a fixed
// order (lane l takes k = l, l + 32, ... with FMAs, then a 5-step shuffle tree) and multiplies by
// scale; the expand accumulates B[o][r] * tmp[r] for r = 0, 1, ... with FMAs and adds that sum to
// y once. Neither depends on the other rows of the call, their number or their tile.
struct LoraSegment {
  const float* a = nullptr;  // [rank][in]
  const float* b = nullptr;  // [out][rank]
  float* y = nullptr;        // output row `row` is y + row * ldy; columns [0, out) change
  int64_t ldy = 0;
  int32_t rank = 0, out = 0;
  float scale = 1.0f;
  int32_t first = 0, count = 0;  // this segment's rows in `rows`
  int64_t tmp = 0;               // its [count][rank] intermediate starts at tmp + this (floats)
};
// Rows of one segment per CTA (both kernels): A and B are read once per tile of rows.
constexpr int kLoraTileRows = 8;

// tmp[s.tmp + i * s.rank + r] = s.scale * sum_k s.a[r * in + k] * x[rows[s.first + i] * ldx + k]
// for every segment s (all with the same input x of `in` floats per row), i < s.count, r < s.rank.
// max_count: the largest s.count (host value; sizes the grid). segs, rows, x, tmp: device.
Status lora_shrink(Context& ctx, const LoraSegment* segs, int n_segs, int max_count, const int32_t* rows,
                   const float* x, size_t ldx, int in, float* tmp);
// s.y[rows[s.first + i] * s.ldy + o] += sum_r s.b[o * s.rank + r] * tmp[s.tmp + i * s.rank + r] for
// o < s.out. No two segments of one call may write the same element of y (a row has one adapter).
// max_out: the largest s.out (host value).
Status lora_expand(Context& ctx, const LoraSegment* segs, int n_segs, int max_count, int max_out, const int32_t* rows,
                   const float* tmp);

// ---- sampling.cu ------------------------------------------------------------------------------------

// One row's sampling settings, the same meaning as SamplingParams (serve/sampler.h) for the steps
// after logit bias and penalties (those stay on the host for now): temperature <= 0 is greedy
// (argmax, ties to the lowest id); otherwise logits / temperature, top_k (0 = off), top_p (1 =
// off), min_p (0 = off), then the draw at u * (kept mass) with u in [0, 1) given by the caller
// (the CPU Sampler's u comes from its mt19937_64; pass the same u and the choice is the same up to
// float rounding at an interval boundary). A -inf logit is never drawn; all -inf gives token 0.
struct SampleRow {
  float temperature = 0.0f;
  int top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  double u = 0.0;
};

// Sorting workspace for up to max_rows rows of n_vocab logits (CUB segmented radix sort).
class DeviceSampler {
 public:
  static Result<DeviceSampler> create(Context& ctx, int max_rows, int n_vocab);
  int max_rows() const { return max_rows_; }
  int n_vocab() const { return n_vocab_; }
  // logits: device [n_rows][n_vocab] f32 (not modified); rows: host SampleRow[n_rows]; ids_out:
  // host int32[n_rows]. Synchronises (the ids are the only device -> host copy).
  Status sample(Context& ctx, const float* logits, const SampleRow* rows, int n_rows, int32_t* ids_out);

 private:
  int max_rows_ = 0, n_vocab_ = 0;
  size_t sort_temp_bytes_ = 0;
  DeviceBuffer keys_in_, keys_out_, ids_in_, ids_out_, offsets_, params_, result_, sort_temp_;
};

}  // namespace cyllm::cuda
