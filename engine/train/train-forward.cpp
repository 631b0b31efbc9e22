// Training forward pass of one llama block (see train-graph.h): RMSNorm, q/k/v with LoRA,
// RoPE (adjacent pairs or NeoX, per architecture), causal GQA attention (train-attention.cpp),
// o with LoRA and the residual, RMSNorm, SwiGLU with LoRA on gate/up/down, residual.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "backend/quant.h"
#include "train/train-gemm.h"
#include "train/train-graph-impl.h"
#include "train/train-pointwise.h"

namespace cyllm::train::detail {

template <class T>
GraphState<T>::GraphState(const LlamaModel& m, ThreadPool& p, GraphOptions o)
    : model(m), c(m.config()), W(m.weights()), pool(p), opts(o) {}

template <class T>
void GraphState<T>::ensure_rope(int n_positions) {
  if (n_positions <= rope_n) return;
  const int half = c.rope_dim / 2;
  rope_cos.resize(static_cast<size_t>(n_positions) * half);
  rope_sin.resize(rope_cos.size());
  const float* factors = W.rope_freqs.present() ? reinterpret_cast<const float*>(W.rope_freqs.data) : nullptr;
  for (int i = 0; i < half; ++i) {
    double inv_freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.rope_dim);
    if (factors) inv_freq /= factors[i];
    for (int p = rope_n; p < n_positions; ++p) {
      rope_cos[static_cast<size_t>(p) * half + i] = static_cast<T>(std::cos(p * inv_freq));
      rope_sin[static_cast<size_t>(p) * half + i] = static_cast<T>(std::sin(p * inv_freq));
    }
  }
  rope_n = n_positions;
}

template <class T>
void GraphState<T>::linear(const WeightRef& w, const T* X, T* Y) {
  const int64_t in = w.ne0, out = w.ne1;
  if constexpr (std::is_same_v<T, float>) {
    if (opts.bf16) {
      pack_bf16_transposed(pool, w, 0, out, wbf);
      gemm_bf16(pool, n, X, in, wbf, Y, out, false);
      return;
    }
  }
  wdq.resize(static_cast<size_t>(in * out));
  wt.resize(wdq.size());
  dequant_rows(pool, w, 0, out, wdq.data());
  if (bf16_emulated()) {  // the double graph as the bf16 one's oracle: the same rounded operands
    X = rounded_bf16(X, static_cast<size_t>(n) * in, xr);
    rounded_bf16(wdq.data(), wdq.size(), wdq);
  }
  transpose(pool, out, in, wdq.data(), in, wt.data(), out);
  gemm_nn(pool, n, out, in, X, in, wt.data(), out, Y, out, false);
}

template <class T>
const T* GraphState<T>::rounded_bf16(const T* x, size_t count, std::vector<T>& dst) {
  if (dst.data() != x) dst.resize(count);
  T* out = dst.data();
  pool.parallel_for(static_cast<int64_t>(count), 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = static_cast<T>(round_bf16(static_cast<float>(x[i])));
  });
  return out;
}

template <class T>
uint64_t GraphState<T>::dropout_base(int layer, int target) const {
  return mix64(drop.key ^ mix64((static_cast<uint64_t>(layer) << 8) | static_cast<uint64_t>(target)));
}

template <class T>
const T* GraphState<T>::lora_input(int layer, int target, const T* X, int n_in) {
  if (drop.p <= 0.0) return X;
  xd.resize(static_cast<size_t>(n) * n_in);
  const T keep_scale = static_cast<T>(1.0 / (1.0 - drop.p));
  const uint64_t base = dropout_base(layer, target);
  pool.parallel_for(n, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      for (int i = 0; i < n_in; ++i) {
        const size_t idx = static_cast<size_t>(t) * n_in + i;
        const bool keep = uniform01(mix64(base + idx)) >= drop.p;
        xd[idx] = keep ? X[idx] * keep_scale : T(0);
      }
  });
  return xd.data();
}

template <class T>
void GraphState<T>::lora_fwd(int layer, int target, const T* X, T* Y, std::vector<T>& h) {
  const auto& m = params->layers[static_cast<size_t>(layer)][static_cast<size_t>(target)];
  if (!m.present()) {
    h.clear();
    return;
  }
  const T* xin = lora_input(layer, target, X, m.in);
  const int r = m.rank;
  h.resize(static_cast<size_t>(n) * r);
  tmp_t.resize(static_cast<size_t>(std::max(m.in, m.out)) * r);
  transpose(pool, r, m.in, m.a.data(), m.in, tmp_t.data(), r);  // Aᵀ [in, r]
  gemm_nn(pool, n, r, m.in, xin, m.in, tmp_t.data(), r, h.data(), r, false);
  const T s = static_cast<T>(params->scale);
  for (auto& v : h) v *= s;
  transpose(pool, m.out, r, m.b.data(), r, tmp_t.data(), m.out);  // Bᵀ [r, out]
  gemm_nn(pool, n, m.out, r, h.data(), r, tmp_t.data(), m.out, Y, m.out, true);
}

template <class T>
void GraphState<T>::rmsnorm_fwd(const T* x, const WeightRef& w, T* y, T* r) {
  const int D = c.n_embd;
  const float* g = reinterpret_cast<const float*>(w.data);
  pool.parallel_for(n, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const T* xr = x + t * D;
      T ss = 0;
      for (int i = 0; i < D; ++i) ss += xr[i] * xr[i];
      const T inv = T(1) / std::sqrt(ss / static_cast<T>(D) + static_cast<T>(c.rms_eps));
      r[t] = inv;
      for (int i = 0; i < D; ++i) y[t * D + i] = xr[i] * inv * static_cast<T>(g[i]);
    }
  });
}

template <class T>
void GraphState<T>::rope(T* x, int n_heads, bool inverse) {
  const int HD = c.head_dim, half = c.rope_dim / 2, stride = n_heads * HD;
  pool.parallel_for(n, 32, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const T* cs = &rope_cos[static_cast<size_t>(pos[static_cast<size_t>(t)]) * half];
      const T* sn = &rope_sin[static_cast<size_t>(pos[static_cast<size_t>(t)]) * half];
      // Pairs per architecture (ModelConfig::rope_style, as model/forward.cpp): adjacent
      // (v[2i], v[2i+1]) for llama's permuted rows, half-offset (v[i], v[i+half]) for NeoX/qwen2.
      const bool neox = c.rope_style == RopeStyle::kNeox;
      for (int h = 0; h < n_heads; ++h) {
        T* v = x + t * stride + h * HD;
        for (int i = 0; i < half; ++i) {
          const int i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
          const T a = v[i0], bb = v[i1];
          const T s = inverse ? -sn[i] : sn[i];
          v[i0] = a * cs[i] - bb * s;
          v[i1] = a * s + bb * cs[i];
        }
      }
    }
  });
}

template <class T>
void GraphState<T>::embed(T* x) {
  const int D = c.n_embd;
  pool.parallel_for(n, 16, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> row;
    row.resize(static_cast<size_t>(D));
    for (int64_t t = b; t < e; ++t) {
      cpu::dequantize_row(W.token_embd.type, W.token_embd.row(ids[static_cast<size_t>(t)]), row.data(), D);
      for (int i = 0; i < D; ++i) x[t * D + i] = row[static_cast<size_t>(i)];
    }
  });
}

template <class T>
void GraphState<T>::layer_forward(int l, LayerActs<T>& a, T* x_out) {
  const LayerWeights& L = W.layers[static_cast<size_t>(l)];
  const size_t D = static_cast<size_t>(c.n_embd), QD = static_cast<size_t>(c.q_dim()),
               KVD = static_cast<size_t>(c.kv_dim()), FF = static_cast<size_t>(c.n_ff), N = static_cast<size_t>(n);
  a.xn1.resize(N * D);
  a.r1.resize(N);
  rmsnorm_fwd(a.x_in.data(), L.attn_norm, a.xn1.data(), a.r1.data());
  a.q.resize(N * QD);
  a.k.resize(N * KVD);
  a.v.resize(N * KVD);
  linear(L.wq, a.xn1.data(), a.q.data());
  linear(L.wk, a.xn1.data(), a.k.data());
  linear(L.wv, a.xn1.data(), a.v.data());
  lora_fwd(l, 0, a.xn1.data(), a.q.data(), a.h[0]);
  lora_fwd(l, 1, a.xn1.data(), a.k.data(), a.h[1]);
  lora_fwd(l, 2, a.xn1.data(), a.v.data(), a.h[2]);
  if (c.attn_bias) {
    auto add_bias = [&](std::vector<T>& y, const WeightRef& bias, size_t dim) {
      const float* bv = reinterpret_cast<const float*>(bias.data);
      for (size_t t = 0; t < N; ++t)
        for (size_t i = 0; i < dim; ++i) y[t * dim + i] += static_cast<T>(bv[i]);
    };
    add_bias(a.q, L.bq, QD);
    add_bias(a.k, L.bk, KVD);
    add_bias(a.v, L.bv, KVD);
  }
  rope(a.q.data(), c.n_head, false);
  rope(a.k.data(), c.n_head_kv, false);
  attn_fwd(a);

  linear(L.wo, a.o.data(), x_out);
  lora_fwd(l, 3, a.o.data(), x_out, a.h[3]);
  a.x_mid.resize(N * D);
  for (size_t i = 0; i < N * D; ++i) a.x_mid[i] = a.x_in[i] + x_out[i];

  a.xn2.resize(N * D);
  a.r2.resize(N);
  rmsnorm_fwd(a.x_mid.data(), L.ffn_norm, a.xn2.data(), a.r2.data());
  a.g.resize(N * FF);
  a.u.resize(N * FF);
  a.a.resize(N * FF);
  linear(L.w_gate, a.xn2.data(), a.g.data());
  linear(L.w_up, a.xn2.data(), a.u.data());
  lora_fwd(l, 4, a.xn2.data(), a.g.data(), a.h[4]);
  lora_fwd(l, 5, a.xn2.data(), a.u.data(), a.h[5]);
  pool.parallel_for(static_cast<int64_t>(N * FF), 4096,
                    [&](int64_t b, int64_t e) { swiglu_fwd(a.g.data() + b, a.u.data() + b, a.a.data() + b, e - b); });
  linear(L.w_down, a.a.data(), x_out);
  lora_fwd(l, 6, a.a.data(), x_out, a.h[6]);
  for (size_t i = 0; i < N * D; ++i) x_out[i] += a.x_mid[i];
}

#define CYLLM_INSTANTIATE_FORWARD(T)                                                   \
  template GraphState<T>::GraphState(const LlamaModel&, ThreadPool&, GraphOptions);    \
  template void GraphState<T>::ensure_rope(int);                                       \
  template void GraphState<T>::linear(const WeightRef&, const T*, T*);                 \
  template const T* GraphState<T>::rounded_bf16(const T*, size_t, std::vector<T>&);    \
  template const T* GraphState<T>::lora_input(int, int, const T*, int);                \
  template uint64_t GraphState<T>::dropout_base(int, int) const;                       \
  template void GraphState<T>::lora_fwd(int, int, const T*, T*, std::vector<T>&);     \
  template void GraphState<T>::rmsnorm_fwd(const T*, const WeightRef&, T*, T*);        \
  template void GraphState<T>::rope(T*, int, bool);                                    \
  template void GraphState<T>::embed(T*);                                              \
  template void GraphState<T>::layer_forward(int, LayerActs<T>&, T*);

CYLLM_INSTANTIATE_FORWARD(float)
CYLLM_INSTANTIATE_FORWARD(double)

}  // namespace cyllm::train::detail
