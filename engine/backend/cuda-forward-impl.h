// Private to the CUDA forward pass (cuda-forward.cpp: weights, KV cache and the step;
// cuda-forward-lora.cpp: the adapter cache and the grouped LoRA calls): the device-side state both
// files work on. Not for other includes.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "backend/cuda-forward.h"
#include "cuda-ops.h"

namespace cyllm {

namespace cuda_detail {

// A weight on the device in its stored type and layout (plus kWeightPadBytes).
struct DevWeight {
  cuda::DeviceBuffer buf;
  GgmlType type = GgmlType::F32;
  int64_t ne0 = 0, ne1 = 0;
  size_t row_stride = 0;
  bool present() const { return buf.data() != nullptr; }
  const float* f32() const { return buf.as<const float>(); }
};

constexpr int64_t kDequantChunkRows = 4096;  // rows per dequantize+GEMM step in prefill products

inline size_t align256(size_t b) { return (b + 255) / 256 * 256; }
inline size_t tensor_bytes(const WeightRef& w) { return w.present() ? w.row_stride * static_cast<size_t>(w.ne1) : 0; }

// Host vector -> a device buffer of at least its size (grown when needed).
template <class T>
Status put(cuda::Context& ctx, cuda::DeviceBuffer& buf, const std::vector<T>& v) {
  return cuda::copy_to_device(ctx, buf.data(), v.data(), v.size() * sizeof(T));
}

// Grows `buf` to at least `bytes` (contents are not kept; run() synchronises before returning, so
// no kernel of an earlier step still reads the old allocation when it is freed).
inline Status grow(cuda::DeviceBuffer& buf, size_t bytes, const char* what) {
  if (buf.size() >= bytes) return {};
  auto b = cuda::DeviceBuffer::allocate(std::max<size_t>(bytes, 2 * buf.size()), what);
  if (!b.ok()) return b.error();
  buf = std::move(b.value());
  return {};
}

// One adapter's matrices on the device: every matrix that the forward pass would apply (present,
// `in`/`out` equal to the model's dimensions for its target, as the CPU ForwardPass checks) in
// one allocation; a and b are float offsets into it, -1 for a matrix that is skipped.
struct DevLoraMatrix {
  int64_t a = -1, b = -1;
  int rank = 0;
};
struct DevAdapter {
  std::weak_ptr<const LoraAdapter> owner;  // cached adapters; empty for a one-run upload
  cuda::DeviceBuffer buf;
  float scale = 1.0f;
  std::vector<std::array<DevLoraMatrix, kLoraTargets>> layers;
  size_t bytes() const { return buf.size(); }
};

// in/out of each LoraTarget for this model (LoraAdapter::random's table).
inline std::array<std::pair<int, int>, kLoraTargets> lora_dims(const ModelConfig& c) {
  return {{{c.n_embd, c.q_dim()}, {c.n_embd, c.kv_dim()}, {c.n_embd, c.kv_dim()}, {c.q_dim(), c.n_embd},
           {c.n_embd, c.n_ff}, {c.n_embd, c.n_ff}, {c.n_ff, c.n_embd}}};
}

// One grouped LoRA call (a call site of one layer): segments [seg0, seg0 + n_segs) of the step's
// segment table, all reading the same input.
struct LoraCall {
  int seg0 = 0, n_segs = 0, max_count = 0, max_out = 0;
};
constexpr int kLoraSites = 4;  // q/k/v, o, gate/up, down

}  // namespace cuda_detail
using namespace cuda_detail;  // this header is private to cuda-forward*.cpp

struct CudaForwardPass::Impl {
  ModelConfig c;
  CudaForwardOptions opt;
  cuda::ContextPtr ctx;
  int max_blocks = 0;  // block-table width
  int n_blocks = 0;
  int context = 0;     // positions covered by the RoPE table
  int max_k = 0;       // longest product input (n_embd, q_dim or n_ff)
  size_t weight_bytes = 0;

  struct Layer {
    DevWeight attn_norm, wq, wk, wv, wo, bq, bk, bv, ffn_norm, gate, up, down;
  };
  DevWeight token_embd, output_norm, output;  // output empty when the embeddings are tied
  std::vector<Layer> layers;
  cuda::DeviceBuffer k_cache, v_cache;    // [layer][block][row][kv_dim] halves
  cuda::DeviceBuffer rope_cos, rope_sin;  // [position][rope_dim / 2]
  cuda::DeviceBuffer x, xn, q, k, v, attn, proj, gate, up, ffn, logits, mm_scratch, attn_ws;
  cuda::DeviceBuffer d_tokens, d_pos, d_slots, d_row_seq, d_row_nkeys, d_tables, d_tiles, d_out_rows;
  size_t mm_scratch_bytes = 0, attn_ws_floats = 0;
  std::vector<float> host_logits;
  // LoRA: cached adapters (see cache_adapter in the header) and the per-step segment tables.
  std::unordered_map<const LoraAdapter*, DevAdapter> adapters;
  cuda::DeviceBuffer d_lora_rows, d_lora_segs, lora_tmp;
  void drop_stale_adapters() {
    for (auto it = adapters.begin(); it != adapters.end();) it = it->second.owner.expired() ? adapters.erase(it) : std::next(it);
  }

  const DevWeight& out_w() const { return output.present() ? output : token_embd; }
  cuda::KvLayer kv_layer(int il) const {
    const size_t off = static_cast<size_t>(il) * n_blocks * opt.block_tokens * c.kv_dim();
    return {k_cache.as<uint16_t>() + off, v_cache.as<uint16_t>() + off};
  }
  Status upload(const WeightRef& w, DevWeight& out, const std::string& name);
  Status product(const DevWeight& w, const float* in, int cols, float* out);
  Status prepare_lora(std::span<const SeqBatch> batch, std::vector<LoraCall>& calls,
                      std::vector<DevAdapter>& transient);
};

// One adapter's matrices (those whose shapes match the model) copied to the device.
Result<DevAdapter> upload_adapter(cuda::Context& ctx, const ModelConfig& c, const LoraAdapter& ad);

}  // namespace cyllm
