// Internals of TrainGraph (train-graph.h), shared by its source files: train-forward.cpp (layer
// forward, norms, RoPE, LoRA forward), lora-backward.cpp (their backward passes),
// train-attention.cpp (attention forward and backward),
// fused-ce.cpp (output projection + cross-entropy) and train-graph.cpp (the driver).
#pragma once

#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "train/train-gemm-bf16.h"
#include "train/train-graph.h"

namespace cyllm::train::detail {

// One layer's saved activations for n tokens (only x_in is kept per layer under checkpointing).
template <class T>
struct LayerActs {
  std::vector<T> x_in;          // [n, D] layer input (residual stream)
  std::vector<T> xn1, r1;       // attention RMSNorm output [n, D] and 1/rms [n]
  std::vector<T> q, k, v;       // [n, QD], [n, KVD] x2; q and k after RoPE
  std::vector<T> lse;           // [n, n_head] log-sum-exp of each attention row
  std::vector<T> o;             // [n, QD] attention output
  std::vector<T> x_mid;         // [n, D] after the attention residual
  std::vector<T> xn2, r2;       // FFN RMSNorm output and 1/rms
  std::vector<T> g, u, a;       // [n, FF] gate, up, silu(gate) * up
  std::array<std::vector<T>, kLoraTargets> h;  // [n, rank]: scale * A · dropout(x) per target
};

template <class T>
struct GraphState {
  GraphState(const LlamaModel& m, ThreadPool& p, GraphOptions o);

  const LlamaModel& model;
  const ModelConfig& c;
  const ModelWeights& W;
  ThreadPool& pool;
  GraphOptions opts;

  // The current micro-batch.
  int n = 0;                     // tokens
  std::vector<int> seq_begin;    // token index where each sequence starts, plus the end
  std::vector<int> pos;          // position of each token within its sequence
  std::vector<int32_t> ids;      // flat token ids
  std::vector<int32_t> label;    // flat: the label token predicted at this token, or -1
  const LoraSet<T>* params = nullptr;
  LoraSet<T>* grads = nullptr;
  double grad_scale = 1.0;
  DropoutSpec drop;

  // RoPE tables [position][rope_dim / 2], in double then rounded to T (as model/forward.cpp).
  std::vector<T> rope_cos, rope_sin;
  int rope_n = 0;
  void ensure_rope(int n_positions);

  // Scratch.
  std::vector<T> wdq, wt, xd, tmp_t;
  Bf16Panels wbf;  // a base weight packed for the bf16 products (opts.bf16)
  std::vector<T> xr;  // an operand rounded to bf16 (bf16_emulated)

  // opts.bf16 on the double graph: the products with base weights take the bf16-rounded values
  // of both operands (then multiply exactly), which makes it the float bf16 graph's oracle.
  bool bf16_emulated() const { return std::is_same_v<T, double> && opts.bf16; }
  // x rounded to bf16 (round_bf16 of its float value) into dst, which may be x's own vector.
  const T* rounded_bf16(const T* x, size_t count, std::vector<T>& dst);
  std::vector<T> b_da, b_dg, b_du, b_dxn, b_do, b_dq, b_dk, b_dv, b_dyt, b_dh, b_dht, b_dxd;

  // Base matrix products: Y[n, out] = X[n, in] · Wᵀ; dX[n, in] (+)= dY[n, out] · W. In bf16
  // (train-gemm-bf16.h) when opts.bf16 and T is float.
  void linear(const WeightRef& w, const T* X, T* Y);
  void linear_back(const WeightRef& w, const T* dY, T* dX, bool accumulate);
  // The LoRA branch's input for (layer, target): x itself, or x with dropout applied (in xd).
  const T* lora_input(int layer, int target, const T* X, int n_in);
  // dst += src with the same dropout mask and scaling as lora_input (the branch's input gradient).
  void lora_input_back(int layer, int target, const T* src, T* dst, int n_in);
  uint64_t dropout_base(int layer, int target) const;
  // Y += scale * B (A dropout(X)); keeps h = scale * A dropout(X).
  void lora_fwd(int layer, int target, const T* X, T* Y, std::vector<T>& h);
  // Adds the LoRA gradients of (layer, target) and dX += d(Y)/dX · dY for the LoRA branch.
  void lora_back(int layer, int target, const T* X, const T* dY, const std::vector<T>& h, T* dX);

  void rmsnorm_fwd(const T* x, const WeightRef& w, T* y, T* r);
  void rmsnorm_back(const T* x, const T* r, const WeightRef& w, const T* dy, T* dx);  // dx += ...
  void rope(T* x, int n_heads, bool inverse);
  void attn_fwd(LayerActs<T>& a);
  void attn_back(const LayerActs<T>& a, const T* d_o, T* dq, T* dk, T* dv);

  void embed(T* x);
  void layer_forward(int layer, LayerActs<T>& a, T* x_out);  // reads a.x_in
  void layer_backward(int layer, const LayerActs<T>& a, T* dx);  // dx: d(layer output) -> d(layer input)
  // Final norm, output projection and cross-entropy over the labelled tokens; with dx non-null,
  // writes d(grad_scale * loss)/d(final hidden) into it ([n, D], zero where there is no label).
  LossSum head(const T* x, T* dx);
};

}  // namespace cyllm::train::detail
