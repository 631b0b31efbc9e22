// Causal GQA attention of the training graph, forward and backward, as blocked matrix products.
//
// Work items are (sequence, KV head), as before: an item computes every query head of its group
// for every token of the sequence, so it alone writes those rows of o and dq, and the dk/dv rows of
// its KV head in its sequence; no two threads write the same value.
//
// Blocking. Inside an item, the L queries of a head are taken kBM at a time (rows r0 .. r1). The
// block's scores against the keys it can see, 0 .. r1 (key blocks before it and the diagonal one,
// whose entries above the diagonal are masked to -inf), are one product, kept transposed:
//   Sᵀ[j][r] = K[j] · Q[r0 + r]          (keys down, the block's queries across: kBM columns)
// so the per-query softmax statistics (max, sum, log-sum-exp) are lane-wise vector operations down
// the rows, with no horizontal reductions. Then
//   forward:  Pᵀ = exp(scale Sᵀ - max), Oᵀ = Vᵀ · Pᵀ, o = Oᵀᵀ / sum, lse = max + log(sum);
//   backward: Pᵀ = exp(scale Sᵀ - lse) (recomputed), dPᵀ = V · dOᵀ, D = rowsum(dO ∘ O),
//             dSᵀ = scale Pᵀ ∘ (dPᵀ - D), dK += dSᵀ · Q_blk, dV += Pᵀ · dO_blk, dQᵀ = Kᵀ · dSᵀ.
// Every product is gemm_nn_serial (train-gemm.h) on the item's thread, with operands read in place
// (row strides) or from small per-thread transposes (Kᵀ, Vᵀ per item; Qᵀ, dOᵀ per block).
//
// Determinism: the blocking depends only on the sequence length, and dk/dv accumulate over heads
// and row blocks in a fixed order, so results do not depend on the thread count. In float the
// softmax exponential is a vectorised polynomial (exp8 below) built into every clone of the
// multiversioned kernels; the loader picks one clone per process, so a machine always runs the same
// arithmetic. In double (the gradient-check reference) it is std::exp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "train/train-gemm.h"
#include "train/train-graph-impl.h"
#include "train/vec-exp.h"

#define CYLLM_ATTN_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

namespace cyllm::train::detail {

namespace {

constexpr int kBM = 64;  // queries per row block: the columns of a transposed score block

constexpr int kNV = kBM / 8;  // 8-float vectors per score row
static_assert(kBM % 8 == 0);



// s[rows][kBM] (Sᵀ, masked entries -inf) -> unnormalised Pᵀ = exp(scale s - mx[col]); writes each
// column's mx = scale * max and sum of the exponentials. Columns past the block's queries hold
// values nobody reads.
CYLLM_ATTN_MULTIVERSION
void softmax_cols(float* s, int64_t rows, float scale, float* mx, float* sum) {
  v8f m[kNV], acc[kNV];
  for (int c = 0; c < kNV; ++c) {
    m[c] = v8f{} - INFINITY;
    acc[c] = v8f{};
  }
  for (int64_t j = 0; j < rows; ++j)
    for (int c = 0; c < kNV; ++c) {
      v8f v;
      load8(v, s + j * kBM + 8 * c);
      m[c] = v > m[c] ? v : m[c];
    }
  for (int c = 0; c < kNV; ++c) m[c] *= scale;  // scale > 0: max(scale s) = scale max(s)
  for (int64_t j = 0; j < rows; ++j)
    for (int c = 0; c < kNV; ++c) {
      v8f p;
      load8(p, s + j * kBM + 8 * c);
      p = p * scale - m[c];
      exp8(p);
      store8(s + j * kBM + 8 * c, p);
      acc[c] += p;
    }
  for (int c = 0; c < kNV; ++c) {
    store8(mx + 8 * c, m[c]);
    store8(sum + 8 * c, acc[c]);
  }
}

void softmax_cols(double* s, int64_t rows, double scale, double* mx, double* sum) {
  std::fill(mx, mx + kBM, -INFINITY);
  std::fill(sum, sum + kBM, 0.0);
  for (int64_t j = 0; j < rows; ++j)
    for (int c = 0; c < kBM; ++c) mx[c] = std::max(mx[c], s[j * kBM + c]);
  for (int c = 0; c < kBM; ++c) mx[c] *= scale;
  for (int64_t j = 0; j < rows; ++j)
    for (int c = 0; c < kBM; ++c) {
      double& v = s[j * kBM + c];
      v = std::exp(v * scale - mx[c]);
      sum[c] += v;
    }
}

// s[rows][kBM] (Sᵀ) -> Pᵀ = exp(scale s - lse[col]).
CYLLM_ATTN_MULTIVERSION
void exp_cols(float* s, int64_t rows, float scale, const float* lse) {
  v8f l[kNV];
  for (int c = 0; c < kNV; ++c) load8(l[c], lse + 8 * c);
  for (int64_t j = 0; j < rows; ++j)
    for (int c = 0; c < kNV; ++c) {
      v8f p;
      load8(p, s + j * kBM + 8 * c);
      p = p * scale - l[c];
      exp8(p);
      store8(s + j * kBM + 8 * c, p);
    }
}

void exp_cols(double* s, int64_t rows, double scale, const double* lse) {
  for (int64_t j = 0; j < rows; ++j)
    for (int c = 0; c < kBM; ++c) s[j * kBM + c] = std::exp(s[j * kBM + c] * scale - lse[c]);
}

// dp[rows][kBM] (dPᵀ) -> dSᵀ = scale p ∘ (dp - d[col]).
CYLLM_ATTN_MULTIVERSION
void ds_cols(const float* p, float* dp, int64_t rows, float scale, const float* d) {
  v8f dv[kNV];
  for (int c = 0; c < kNV; ++c) load8(dv[c], d + 8 * c);
  for (int64_t j = 0; j < rows; ++j)
    for (int c = 0; c < kNV; ++c) {
      const int64_t o = j * kBM + 8 * c;
      v8f pv, dpv;
      load8(pv, p + o);
      load8(dpv, dp + o);
      dpv = pv * (dpv - dv[c]) * scale;
      store8(dp + o, dpv);
    }
}

void ds_cols(const double* p, double* dp, int64_t rows, double scale, const double* d) {
  for (int64_t j = 0; j < rows; ++j)
    for (int c = 0; c < kBM; ++c) dp[j * kBM + c] = p[j * kBM + c] * (dp[j * kBM + c] - d[c]) * scale;
}

// Entries of the diagonal key block above the diagonal: key r0 + jj is after query r0 + r when
// r < jj. s is Sᵀ with rows = keys.
template <class T>
void mask_diagonal(T* s, int r0, int nb) {
  for (int jj = 1; jj < nb; ++jj) {
    T* row = s + static_cast<int64_t>(r0 + jj) * kBM;
    std::fill(row, row + jj, -INFINITY);
  }
}

// dst[d][r] = src[r * ld + d] for r < rows, d < hd (dst row stride ldd).
template <class T>
void gather_t(const T* src, int64_t ld, int rows, int hd, T* dst, int64_t ldd) {
  for (int r = 0; r < rows; ++r)
    for (int d = 0; d < hd; ++d) dst[d * ldd + r] = src[r * ld + d];
}

}  // namespace

template <class T>
void GraphState<T>::attn_fwd(LayerActs<T>& a) {
  const int QD = c.q_dim(), KVD = c.kv_dim(), HD = c.head_dim, H = c.n_head, G = c.n_head_kv;
  const int group = H / G;
  const T scale = T(1) / std::sqrt(static_cast<T>(HD));
  const int n_seq = static_cast<int>(seq_begin.size()) - 1;
  a.o.resize(static_cast<size_t>(n) * QD);
  a.lse.resize(static_cast<size_t>(n) * H);
  pool.parallel_for(static_cast<int64_t>(n_seq) * G, 1, [&](int64_t b, int64_t e) {
    thread_local std::vector<T> vt, st, qt, ot, mx, sum;
    for (int64_t item = b; item < e; ++item) {
      const int s = static_cast<int>(item / G), g = static_cast<int>(item % G);
      const int t0 = seq_begin[static_cast<size_t>(s)], L = seq_begin[static_cast<size_t>(s) + 1] - t0;
      if (L == 0) continue;
      const T* K = a.k.data() + static_cast<size_t>(t0) * KVD + g * HD;
      vt.resize(static_cast<size_t>(HD) * L);  // Vᵀ [HD][L]
      gather_t(a.v.data() + static_cast<size_t>(t0) * KVD + g * HD, KVD, L, HD, vt.data(), L);
      st.resize(static_cast<size_t>(L) * kBM);
      qt.resize(static_cast<size_t>(HD) * kBM);
      ot.resize(qt.size());
      mx.resize(kBM);
      sum.resize(kBM);
      for (int hh = 0; hh < group; ++hh) {
        const int h = g * group + hh;
        for (int r0 = 0; r0 < L; r0 += kBM) {
          const int nb = std::min(kBM, L - r0), jn = r0 + nb;  // queries in the block, keys seen
          const size_t row0 = static_cast<size_t>(t0 + r0);
          gather_t(a.q.data() + row0 * QD + h * HD, QD, nb, HD, qt.data(), kBM);
          gemm_nn_serial(jn, nb, HD, K, KVD, qt.data(), kBM, st.data(), kBM, false);  // Sᵀ
          mask_diagonal(st.data(), r0, nb);
          softmax_cols(st.data(), jn, scale, mx.data(), sum.data());
          gemm_nn_serial(HD, nb, jn, vt.data(), L, st.data(), kBM, ot.data(), kBM, false);  // Oᵀ = Vᵀ Pᵀ
          for (int r = 0; r < nb; ++r) {
            const T inv = T(1) / sum[static_cast<size_t>(r)];
            T* orow = a.o.data() + (row0 + r) * QD + h * HD;
            for (int d = 0; d < HD; ++d) orow[d] = ot[static_cast<size_t>(d) * kBM + r] * inv;
            a.lse[(row0 + r) * H + h] = mx[static_cast<size_t>(r)] + std::log(sum[static_cast<size_t>(r)]);
          }
        }
      }
    }
  });
}

template <class T>
void GraphState<T>::attn_back(const LayerActs<T>& a, const T* d_o, T* dq, T* dk, T* dv) {
  const int QD = c.q_dim(), KVD = c.kv_dim(), HD = c.head_dim, H = c.n_head, G = c.n_head_kv;
  const int group = H / G;
  const T scale = T(1) / std::sqrt(static_cast<T>(HD));
  const int n_seq = static_cast<int>(seq_begin.size()) - 1;
  // dq is written whole, block by block; dk and dv accumulate over heads and row blocks.
  std::fill(dk, dk + static_cast<size_t>(n) * KVD, T(0));
  std::fill(dv, dv + static_cast<size_t>(n) * KVD, T(0));
  pool.parallel_for(static_cast<int64_t>(n_seq) * G, 1, [&](int64_t b, int64_t e) {
    thread_local std::vector<T> kt, st, dpt, qt, dot, dqt, lse, dd;
    for (int64_t item = b; item < e; ++item) {
      const int s = static_cast<int>(item / G), g = static_cast<int>(item % G);
      const int t0 = seq_begin[static_cast<size_t>(s)], L = seq_begin[static_cast<size_t>(s) + 1] - t0;
      if (L == 0) continue;
      const size_t kv0 = static_cast<size_t>(t0) * KVD + g * HD;
      kt.resize(static_cast<size_t>(HD) * L);  // Kᵀ [HD][L]
      gather_t(a.k.data() + kv0, KVD, L, HD, kt.data(), L);
      st.resize(static_cast<size_t>(L) * kBM);
      dpt.resize(st.size());
      qt.resize(static_cast<size_t>(HD) * kBM);
      dot.resize(qt.size());
      dqt.resize(qt.size());
      lse.resize(kBM);
      dd.resize(kBM);
      for (int hh = 0; hh < group; ++hh) {
        const int h = g * group + hh;
        for (int r0 = 0; r0 < L; r0 += kBM) {
          const int nb = std::min(kBM, L - r0), jn = r0 + nb;
          const size_t row0 = static_cast<size_t>(t0 + r0);
          const T* q_blk = a.q.data() + row0 * QD + h * HD;
          const T* do_blk = d_o + row0 * QD + h * HD;
          gather_t(q_blk, QD, nb, HD, qt.data(), kBM);
          gather_t(do_blk, QD, nb, HD, dot.data(), kBM);
          for (int r = 0; r < nb; ++r) {
            const T* o_r = a.o.data() + (row0 + r) * QD + h * HD;
            const T* do_r = do_blk + static_cast<size_t>(r) * QD;
            T di = 0;
            for (int d = 0; d < HD; ++d) di += do_r[d] * o_r[d];
            dd[static_cast<size_t>(r)] = di;
            lse[static_cast<size_t>(r)] = a.lse[(row0 + r) * H + h];
          }
          std::fill(dd.begin() + nb, dd.end(), T(0));
          std::fill(lse.begin() + nb, lse.end(), T(0));
          gemm_nn_serial(jn, nb, HD, a.k.data() + kv0, KVD, qt.data(), kBM, st.data(), kBM, false);  // Sᵀ
          mask_diagonal(st.data(), r0, nb);
          exp_cols(st.data(), jn, scale, lse.data());                                                     // Pᵀ
          gemm_nn_serial(jn, nb, HD, a.v.data() + kv0, KVD, dot.data(), kBM, dpt.data(), kBM, false);  // dPᵀ
          ds_cols(st.data(), dpt.data(), jn, scale, dd.data());                                         // dSᵀ
          gemm_nn_serial(jn, HD, nb, dpt.data(), kBM, q_blk, QD, dk + kv0, KVD, true);   // dK += dSᵀ Q
          gemm_nn_serial(jn, HD, nb, st.data(), kBM, do_blk, QD, dv + kv0, KVD, true);   // dV += Pᵀ dO
          gemm_nn_serial(HD, nb, jn, kt.data(), L, dpt.data(), kBM, dqt.data(), kBM, false);  // dQᵀ = Kᵀ dSᵀ
          for (int r = 0; r < nb; ++r) {
            T* dq_r = dq + (row0 + r) * QD + h * HD;
            for (int d = 0; d < HD; ++d) dq_r[d] = dqt[static_cast<size_t>(d) * kBM + r];
          }
        }
      }
    }
  });
}

template void GraphState<float>::attn_fwd(LayerActs<float>&);
template void GraphState<double>::attn_fwd(LayerActs<double>&);
template void GraphState<float>::attn_back(const LayerActs<float>&, const float*, float*, float*, float*);
template void GraphState<double>::attn_back(const LayerActs<double>&, const double*, double*, double*, double*);

}  // namespace cyllm::train::detail
