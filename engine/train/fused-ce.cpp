// The fused output head of training (see train-graph.h): final RMSNorm, output projection and
// masked cross-entropy, forward and backward, over chunks of labelled rows. For each chunk the
// output matrix is dequantized one block of vocabulary rows at a time, twice: once to compute the
// chunk's logits, once to take dX = dlogits · W_out. Only [chunk rows x vocab] logits exist at
// any moment, and rows without a trained label are skipped altogether. With opts.bf16 the two
// products take bf16 operands (train-gemm-bf16.h).
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "train/train-gemm.h"
#include "train/train-graph-impl.h"
#include "train/train-pointwise.h"

namespace cyllm::train::detail {

template <class T>
LossSum GraphState<T>::head(const T* x, T* dx) {
  const int D = c.n_embd, V = c.n_vocab;
  if (dx) std::fill(dx, dx + static_cast<size_t>(n) * D, T(0));
  std::vector<int> rows;
  for (int t = 0; t < n; ++t)
    if (label[static_cast<size_t>(t)] >= 0) rows.push_back(t);
  const int R = static_cast<int>(rows.size());
  LossSum out;
  out.count = R;
  if (R == 0) return out;
  const WeightRef& Wo = W.output;
  const float* nw = reinterpret_cast<const float*>(W.output_norm.data);
  const int RC = std::min(std::max(1, opts.ce_chunk_rows), R);
  const int VB = std::min(std::max(16, opts.vocab_block), V);
  std::vector<T> xf(static_cast<size_t>(RC) * D), inv(static_cast<size_t>(RC)), logits(static_cast<size_t>(RC) * V);
  std::vector<T> wblk(static_cast<size_t>(VB) * D), wblk_t(static_cast<size_t>(VB) * D), dxf;
  std::vector<double> row_loss(static_cast<size_t>(RC));
  if (dx) dxf.resize(static_cast<size_t>(RC) * D);
  const T eps = static_cast<T>(c.rms_eps);

  for (int c0 = 0; c0 < R; c0 += RC) {
    const int rc = std::min(RC, R - c0);
    pool.parallel_for(rc, 8, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* xr = x + static_cast<size_t>(rows[static_cast<size_t>(c0 + r)]) * D;
        T ss = 0;
        for (int i = 0; i < D; ++i) ss += xr[i] * xr[i];
        const T iv = T(1) / std::sqrt(ss / static_cast<T>(D) + eps);
        inv[static_cast<size_t>(r)] = iv;
        for (int i = 0; i < D; ++i) xf[static_cast<size_t>(r) * D + i] = xr[i] * iv * static_cast<T>(nw[i]);
      }
    });
    if (bf16_emulated()) rounded_bf16(xf.data(), static_cast<size_t>(rc) * D, xf);
    for (int v0 = 0; v0 < V; v0 += VB) {
      const int vb = std::min(VB, V - v0);
      if constexpr (std::is_same_v<T, float>) {
        if (opts.bf16) {  // the products in bf16 (train-gemm-bf16.h)
          pack_bf16_transposed(pool, Wo, v0, v0 + vb, wbf);
          gemm_bf16(pool, rc, xf.data(), D, wbf, logits.data() + v0, V, false);
          continue;
        }
      }
      dequant_rows(pool, Wo, v0, v0 + vb, wblk.data());
      if (bf16_emulated()) rounded_bf16(wblk.data(), wblk.size(), wblk);
      transpose(pool, vb, D, wblk.data(), D, wblk_t.data(), vb);
      gemm_nn(pool, rc, vb, D, xf.data(), D, wblk_t.data(), vb, logits.data() + v0, V, false);
    }
    // Per row: log-sum-exp (summed in double), loss, and in place d(grad_scale * loss)/dlogits.
    pool.parallel_for(rc, 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        T* lg = logits.data() + static_cast<size_t>(r) * V;
        const int y = label[static_cast<size_t>(rows[static_cast<size_t>(c0 + r)])];
        const double lse = log_sum_exp(lg, V);
        row_loss[static_cast<size_t>(r)] = lse - static_cast<double>(lg[y]);
        if (dx) {
          const T gs = static_cast<T>(grad_scale);
          const T shift = static_cast<T>(lse);
          exp_shift_scale(lg, V, shift, gs);
          lg[y] -= gs;
        }
      }
    });
    for (int r = 0; r < rc; ++r) out.sum += row_loss[static_cast<size_t>(r)];  // fixed order
    if (!dx) continue;
    if (bf16_emulated()) rounded_bf16(logits.data(), static_cast<size_t>(rc) * V, logits);
    for (int v0 = 0; v0 < V; v0 += VB) {
      const int vb = std::min(VB, V - v0);
      if constexpr (std::is_same_v<T, float>) {
        if (opts.bf16) {  // the products in bf16 (train-gemm-bf16.h)
          pack_bf16(pool, Wo, v0, v0 + vb, wbf);
          gemm_bf16(pool, rc, logits.data() + v0, V, wbf, dxf.data(), D, v0 > 0);
          continue;
        }
      }
      dequant_rows(pool, Wo, v0, v0 + vb, wblk.data());
      if (bf16_emulated()) rounded_bf16(wblk.data(), wblk.size(), wblk);
      gemm_nn(pool, rc, D, vb, logits.data() + v0, V, wblk.data(), D, dxf.data(), D, v0 > 0);
    }
    // Final RMSNorm backward into the labelled rows of dx.
    pool.parallel_for(rc, 8, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const size_t t = static_cast<size_t>(rows[static_cast<size_t>(c0 + r)]);
        const T* xr = x + t * D;
        const T* dyr = dxf.data() + static_cast<size_t>(r) * D;
        T gx = 0;
        for (int i = 0; i < D; ++i) gx += dyr[i] * static_cast<T>(nw[i]) * xr[i];
        const T rt = inv[static_cast<size_t>(r)];
        const T k = rt * rt * rt * gx / static_cast<T>(D);
        for (int i = 0; i < D; ++i) dx[t * D + i] = rt * dyr[i] * static_cast<T>(nw[i]) - k * xr[i];
      }
    });
  }
  return out;
}

template LossSum GraphState<float>::head(const float*, float*);
template LossSum GraphState<double>::head(const double*, double*);

}  // namespace cyllm::train::detail
