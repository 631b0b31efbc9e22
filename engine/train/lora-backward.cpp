// Hand-written backward pass of one llama block (see train-graph.h), in reverse order of
// train-forward.cpp: SwiGLU down/gate/up with their LoRA branches, FFN RMSNorm, o, attention
// (train-attention.cpp), inverse RoPE, q/k/v, attention RMSNorm.
// Base weights receive no gradient; the LoRA A and B matrices do. Every reduction runs in a fixed
// order (see train-gemm.h), so gradients do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "train/train-gemm.h"
#include "train/train-graph-impl.h"
#include "train/train-pointwise.h"

namespace cyllm::train::detail {

template <class T>
void GraphState<T>::linear_back(const WeightRef& w, const T* dY, T* dX, bool accumulate) {
  const int64_t in = w.ne0, out = w.ne1;
  if constexpr (std::is_same_v<T, float>) {
    if (opts.bf16) {
      pack_bf16(pool, w, 0, out, wbf);
      gemm_bf16(pool, n, dY, out, wbf, dX, in, accumulate);
      return;
    }
  }
  wdq.resize(static_cast<size_t>(in * out));
  dequant_rows(pool, w, 0, out, wdq.data());
  if (bf16_emulated()) {  // as in linear()
    dY = rounded_bf16(dY, static_cast<size_t>(n) * out, xr);
    rounded_bf16(wdq.data(), wdq.size(), wdq);
  }
  gemm_nn(pool, n, in, out, dY, out, wdq.data(), in, dX, in, accumulate);
}

template <class T>
void GraphState<T>::lora_input_back(int layer, int target, const T* src, T* dst, int n_in) {
  const T keep_scale = static_cast<T>(1.0 / (1.0 - drop.p));
  const uint64_t base = dropout_base(layer, target);
  pool.parallel_for(n, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      for (int i = 0; i < n_in; ++i) {
        const size_t idx = static_cast<size_t>(t) * n_in + i;
        if (uniform01(mix64(base + idx)) >= drop.p) dst[idx] += src[idx] * keep_scale;
      }
  });
}

// y = Wx + h Bᵀ with h = s · A xd: dB += dYᵀ h, dh = s · dY B, dA += dhᵀ xd, dxd = dh A.
template <class T>
void GraphState<T>::lora_back(int layer, int target, const T* X, const T* dY, const std::vector<T>& h, T* dX) {
  const auto& m = params->layers[static_cast<size_t>(layer)][static_cast<size_t>(target)];
  if (!m.present()) return;
  auto& gm = grads->layers[static_cast<size_t>(layer)][static_cast<size_t>(target)];
  const int r = m.rank;
  // dBᵀ [r, out] += hᵀ dY: reads dY in place (no [out, n] transpose of it); each element is the
  // same ordered sum over tokens as dB = dYᵀ h would be.
  b_dht.resize(static_cast<size_t>(r) * n);
  transpose(pool, n, r, h.data(), r, b_dht.data(), n);
  b_dyt.resize(static_cast<size_t>(r) * m.out);
  transpose(pool, m.out, r, gm.b.data(), r, b_dyt.data(), m.out);
  gemm_nn(pool, r, m.out, n, b_dht.data(), n, dY, m.out, b_dyt.data(), m.out, true);
  transpose(pool, r, m.out, b_dyt.data(), m.out, gm.b.data(), r);

  b_dh.resize(static_cast<size_t>(n) * r);
  gemm_nn(pool, n, r, m.out, dY, m.out, m.b.data(), r, b_dh.data(), r, false);
  const T s = static_cast<T>(params->scale);
  for (auto& v : b_dh) v *= s;

  const T* xin = lora_input(layer, target, X, m.in);
  b_dht.resize(static_cast<size_t>(r) * n);
  transpose(pool, n, r, b_dh.data(), r, b_dht.data(), n);
  gemm_nn(pool, r, m.in, n, b_dht.data(), n, xin, m.in, gm.a.data(), m.in, true);

  if (drop.p <= 0.0) {
    gemm_nn(pool, n, m.in, r, b_dh.data(), r, m.a.data(), m.in, dX, m.in, true);
  } else {
    b_dxd.resize(static_cast<size_t>(n) * m.in);
    gemm_nn(pool, n, m.in, r, b_dh.data(), r, m.a.data(), m.in, b_dxd.data(), m.in, false);
    lora_input_back(layer, target, b_dxd.data(), dX, m.in);
  }
}

// y = x r w with r = (mean(x²) + eps)^-1/2: dx = r g - (r³ / D) x (g · x), where g = dy w.
template <class T>
void GraphState<T>::rmsnorm_back(const T* x, const T* r, const WeightRef& w, const T* dy, T* dx) {
  const int D = c.n_embd;
  const float* wv = reinterpret_cast<const float*>(w.data);
  pool.parallel_for(n, 16, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const T* xr = x + t * D;
      const T* dyr = dy + t * D;
      T gx = 0;
      for (int i = 0; i < D; ++i) gx += dyr[i] * static_cast<T>(wv[i]) * xr[i];
      const T rt = r[t];
      const T k = rt * rt * rt * gx / static_cast<T>(D);
      for (int i = 0; i < D; ++i) dx[t * D + i] += rt * dyr[i] * static_cast<T>(wv[i]) - k * xr[i];
    }
  });
}

template <class T>
void GraphState<T>::layer_backward(int l, const LayerActs<T>& a, T* dx) {
  const LayerWeights& L = W.layers[static_cast<size_t>(l)];
  const size_t D = static_cast<size_t>(c.n_embd), QD = static_cast<size_t>(c.q_dim()),
               KVD = static_cast<size_t>(c.kv_dim()), FF = static_cast<size_t>(c.n_ff), N = static_cast<size_t>(n);
  // FFN: x_out = x_mid + W_down (silu(g) ∘ u).
  b_da.resize(N * FF);
  b_dg.resize(N * FF);
  b_du.resize(N * FF);
  b_dxn.resize(N * D);
  linear_back(L.w_down, dx, b_da.data(), false);
  lora_back(l, 6, a.a.data(), dx, a.h[6], b_da.data());
  pool.parallel_for(static_cast<int64_t>(N * FF), 4096, [&](int64_t b, int64_t e) {
    swiglu_back(b_da.data() + b, a.g.data() + b, a.u.data() + b, b_dg.data() + b, b_du.data() + b, e - b);
  });
  linear_back(L.w_gate, b_dg.data(), b_dxn.data(), false);
  linear_back(L.w_up, b_du.data(), b_dxn.data(), true);
  lora_back(l, 4, a.xn2.data(), b_dg.data(), a.h[4], b_dxn.data());
  lora_back(l, 5, a.xn2.data(), b_du.data(), a.h[5], b_dxn.data());
  rmsnorm_back(a.x_mid.data(), a.r2.data(), L.ffn_norm, b_dxn.data(), dx);  // dx is now d(x_mid)

  // Attention: x_mid = x_in + W_o attn(rope(q), rope(k), v).
  b_do.resize(N * QD);
  linear_back(L.wo, dx, b_do.data(), false);
  lora_back(l, 3, a.o.data(), dx, a.h[3], b_do.data());
  b_dq.resize(N * QD);
  b_dk.resize(N * KVD);
  b_dv.resize(N * KVD);
  attn_back(a, b_do.data(), b_dq.data(), b_dk.data(), b_dv.data());
  rope(b_dq.data(), c.n_head, true);
  rope(b_dk.data(), c.n_head_kv, true);
  linear_back(L.wq, b_dq.data(), b_dxn.data(), false);
  linear_back(L.wk, b_dk.data(), b_dxn.data(), true);
  linear_back(L.wv, b_dv.data(), b_dxn.data(), true);
  lora_back(l, 0, a.xn1.data(), b_dq.data(), a.h[0], b_dxn.data());
  lora_back(l, 1, a.xn1.data(), b_dk.data(), a.h[1], b_dxn.data());
  lora_back(l, 2, a.xn1.data(), b_dv.data(), a.h[2], b_dxn.data());
  rmsnorm_back(a.x_in.data(), a.r1.data(), L.attn_norm, b_dxn.data(), dx);  // dx is now d(x_in)
}

#define CYLLM_INSTANTIATE_BACKWARD(T)                                                                    \
  template void GraphState<T>::linear_back(const WeightRef&, const T*, T*, bool);                        \
  template void GraphState<T>::lora_input_back(int, int, const T*, T*, int);                             \
  template void GraphState<T>::lora_back(int, int, const T*, const T*, const std::vector<T>&, T*);       \
  template void GraphState<T>::rmsnorm_back(const T*, const T*, const WeightRef&, const T*, T*);         \
  template void GraphState<T>::layer_backward(int, const LayerActs<T>&, T*);

CYLLM_INSTANTIATE_BACKWARD(float)
CYLLM_INSTANTIATE_BACKWARD(double)

}  // namespace cyllm::train::detail
