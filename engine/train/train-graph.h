// The training forward and hand-written backward pass of a llama-family model with LoRA adapters
// on any of q, k, v, o, gate, up, down, on the CPU.
//
// A micro-batch is a list of sequences packed into one flat token list: every matrix product
// runs over all tokens at once, while attention is causal within each sequence only (no padding,
// no attention across sequences). Token i of a sequence is trained to predict token i + 1 when
// mask[i + 1] is set; the loss is the sum of those cross-entropies.
//
// Base weights stay frozen in their stored (possibly quantized) type and are dequantized on the
// fly, one matrix (or, for the output projection, one block of vocabulary rows) at a time:
// QLoRA-style. Gradients flow through everything (RMSNorm, RoPE in the architecture's pairing:
// adjacent for llama's permuted Q/K rows, NeoX for qwen2; causal GQA attention, SwiGLU, residuals, the final norm) but are only kept for
// the LoRA A and B matrices. The output projection and cross-entropy are fused and run over
// chunks of rows, and only for rows that carry a trained label, so the [tokens x vocab] logits
// are never materialised. Attention stores only each row's log-sum-exp and recomputes the
// probabilities in the backward pass.
//
// T = float is the training path; T = double is the reference the gradient checks run against
// finite differences. With gradient checkpointing only each layer's input is kept and the
// layer's activations are recomputed during the backward pass (same arithmetic: the gradients are
// bitwise those of the stored run).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/thread-pool.h"
#include "model/llama-model.h"
#include "train/lora-params.h"

namespace cyllm::train {

struct TrainSeq {
  std::span<const int32_t> ids;
  std::span<const uint8_t> mask;  // same length as ids; mask[i] = 1: ids[i] is a trained label
};

struct GraphOptions {
  bool checkpointing = false;  // recompute each layer's activations in the backward pass
  int ce_chunk_rows = 128;     // label rows per fused output-projection + cross-entropy chunk
  int vocab_block = 4096;      // vocabulary rows dequantized at a time in that head
  // The products with the base weights in bf16 (TrainConfig::precision; train-gemm-bf16.h).
  // Requires bf16_gemm_available(). On the double graph it rounds both operands of those
  // products to bf16 and multiplies exactly: the oracle the float bf16 graph is tested against.
  bool bf16 = false;
};

struct LossSum {
  double sum = 0;     // sum of cross-entropies (nats)
  int64_t count = 0;  // trained labels
};

// Dropout on the LoRA branch: each element's keep decision is a hash of (key, layer, target,
// token, element), so the backward pass (and a resumed run) recomputes the same mask.
struct DropoutSpec {
  double p = 0.0;
  uint64_t key = 0;
};

template <class T>
class TrainGraph {
 public:
  TrainGraph(const LlamaModel& model, ThreadPool& pool, GraphOptions opts = {});
  ~TrainGraph();
  TrainGraph(const TrainGraph&) = delete;
  TrainGraph& operator=(const TrainGraph&) = delete;

  // Loss of the micro-batch. When grads is non-null, adds grad_scale * d(sum of cross-entropies)
  // / d(A, B) into it (so gradient accumulation over micro-batches is a sum). Token ids must be
  // < n_vocab and each sequence no longer than the model's context.
  LossSum run(std::span<const TrainSeq> seqs, const LoraSet<T>& params, LoraSet<T>* grads, double grad_scale,
              DropoutSpec dropout = {});

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

extern template class TrainGraph<float>;
extern template class TrainGraph<double>;

}  // namespace cyllm::train
