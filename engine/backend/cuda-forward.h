// The llama-family forward pass on one CUDA GPU (compiled only with CYLLM_HAVE_CUDA). Same shape
// as ForwardPass (model/forward.h): run() takes the same SeqBatch list and fills the same logits;
// the difference is that the KV cache lives on the device, owned by this object (fp16, paged:
// block ids in the block tables index it, as they index a KvStorage on the CPU).
//
// Per layer, for all tokens of the step together: RMSNorm -> q/k/v products (+ qwen2 biases) ->
// RoPE (ModelConfig::rope_style) -> K/V written to the cache -> attention (split-K decode kernel
// when every sequence brings one token, the tiled causal kernel otherwise) -> output product +
// residual -> RMSNorm -> gate/up products -> SwiGLU -> down product + residual. Products with at
// most kMatvecMaxCols tokens run the quantized matvec kernel on the GGUF blocks (f32 activations);
// larger ones dequantize to f16 and use cuBLAS (kernels/cuda-ops.h: matmul).
//
// LoRA (SeqBatch::lora) is applied as the CPU ForwardPass applies it: the same targets (q, k, v, o,
// gate, up, down), the same skipping of absent or mis-shaped matrices, rows grouped by adapter in
// order of first appearance, and the products that share one input (q/k/v; gate/up) as segments
// of one grouped call: one cuda::lora_shrink and one cuda::lora_expand launch per call site and
// layer, over every adapter of the step (kernels/lora.cu), each delta added right after its base
// product (before the qwen2 biases, as on the CPU). Requests are never serialised per adapter.
//
// STATUS: written and compiled without a GPU; nothing here has run yet. tests/engine/cuda/
// cuda-forward-test.cpp compares it with the CPU ForwardPass on tiny random models; run it on a
// GPU machine (scripts/gpu-check.sh) before trusting any of it.
//
// TODO (issue 7), in order:
//  1. Verify on a GPU: cuda_ops_test, cuda_forward_test (logits vs CPU, greedy tokens).
//  2. Pick this class in one place: engine/backend/device.cpp's choose_device() currently keeps
//     the CPU; the scheduler/InferenceContext need a ForwardPass-like interface over both (the
//     scheduler's KvStorage::copy_block becomes copy_block() here).
//  3. Keep the logits on the device and sample there (cuda::DeviceSampler) so a decode step
//     returns only token ids; logit bias / penalties / JSON masks on the device.
//  4. CUDA graphs for the decode step (needs device-side metadata buffers of fixed size, which
//     this class already has, and no host synchronisation inside the step).
//  5. bf16 KV cache option, quantized KV cache. (LoRA: done, see below; not yet run on a GPU.)
//  6. Performance: fused q/k/v and gate/up products, matvec tuning against peak bandwidth,
//     tensor-core prefill attention, pinned host staging, `cyllm bench --device cuda`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/status.h"
#include "model/forward.h"
#include "model/llama-model.h"

namespace cyllm {

struct CudaForwardOptions {
  int device = 0;
  int max_tokens = 512;    // tokens of one run() (activation scratch)
  int context = 4096;      // positions per sequence (block-table width = context / block_tokens)
  int parallel = 4;        // sequences in one run() and, by default, sequences the cache holds
  int block_tokens = 16;   // positions per KV block
  int n_blocks = 0;        // KV blocks; 0: parallel * ceil(context / block_tokens)
};

class CudaForwardPass {
 public:
  // Uploads every weight in its stored type (quantized blocks as they are) and allocates the KV
  // cache and scratch. Errors: kUnsupported (no GPU, a weight type or shape the kernels do not
  // handle), kOutOfMemory with suggestions (core/oom-advice.h) when the plan does not fit.
  static Result<std::unique_ptr<CudaForwardPass>> create(const LlamaModel& model, const CudaForwardOptions& opt);
  ~CudaForwardPass();
  CudaForwardPass(const CudaForwardPass&) = delete;
  CudaForwardPass& operator=(const CudaForwardPass&) = delete;

  int max_tokens() const;
  int n_blocks() const;
  int block_tokens() const;
  size_t weight_bytes() const;  // device bytes of the uploaded weights
  size_t kv_bytes() const;      // device bytes of the KV cache

  // ForwardPass::run's contract (positions, block tables and token ids checked by the caller; at
  // most max_tokens() tokens, at most `parallel` sequences), with the KV cache on the device and
  // LoRA adapters as described above. Synchronises: the logits are on the host when it returns.
  Status run(std::span<const SeqBatch> batch);

  // Device copies of LoRA adapters. The rule:
  //  - cache_adapter() uploads an adapter's matrices once (those whose shapes match the model) and
  //    keeps them, keyed by the adapter's address, with a weak_ptr to it; run() then uses that copy
  //    whenever a SeqBatch::lora points at it. Once the adapter is destroyed (its last shared_ptr
  //    gone), the entry is stale: the next run() or cache_adapter() frees its device memory, and a
  //    new adapter that happens to get the same address never meets the old copy (a key is only
  //    used while its weak_ptr is alive, and two live adapters cannot share an address).
  //  - An adapter that reaches run() without cache_adapter() (a bare pointer) is uploaded for that
  //    run() only and freed when it returns: always correct, one upload per step.
  //  - A cached adapter must not be modified (the registry hands out shared_ptr<const LoraAdapter>);
  //    release_adapter() drops its copy, so a later cache_adapter() uploads it again.
  // cache_adapter errors: kOutOfMemory, kInvalidArgument (a matrix whose a/b sizes are not
  // rank x in / out x rank). Calling it again for a cached adapter does nothing.
  Status cache_adapter(std::shared_ptr<const LoraAdapter> adapter);
  void release_adapter(const LoraAdapter* adapter);
  int cached_adapters() const;
  size_t adapter_bytes() const;  // device bytes of the cached adapters
  // Copies rows [0, rows) of every layer's block `from` into block `to` (KvStorage::copy_block).
  Status copy_block(int from, int to, int rows);

 private:
  struct Impl;
  explicit CudaForwardPass(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cyllm
