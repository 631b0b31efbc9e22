#include "backend/cpu-attention.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu-ops.h"

namespace cyllm::cpu {

namespace {

// Scores of up to 16 consecutive keys at a time against every query row, reading the keys
// transposed (kt[d * bt + r]), so each query row takes head_dim vector FMAs (q[d] broadcast times
// 16 keys) and no horizontal sums. Each (row, key) score is one lane summing over d in order, so
// it does not depend on how many rows or keys are processed together (batch-independent results).
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void score_block(const float* const* q, int nq, const int* n_keys, const float* kt, int rows, int bt, int j0, int hd,
                 float scale, float* scores, int ld) {
  constexpr int kLanes = 16;
  for (int r0 = 0; r0 < rows; r0 += kLanes) {
    const int nk = rows - r0 < kLanes ? rows - r0 : kLanes;
    for (int i = 0; i < nq; ++i) {
      const int visible = n_keys[i] - (j0 + r0);
      if (visible <= 0) continue;
      const float* qi = q[i];
      float acc[kLanes] = {};
      if (nk == kLanes) {
        for (int d = 0; d < hd; ++d) {
          const float qd = qi[d];
          const float* kd = kt + static_cast<size_t>(d) * bt + r0;
          for (int l = 0; l < kLanes; ++l) acc[l] += qd * kd[l];
        }
      } else {
        for (int d = 0; d < hd; ++d) {
          const float qd = qi[d];
          const float* kd = kt + static_cast<size_t>(d) * bt + r0;
          for (int l = 0; l < nk; ++l) acc[l] += qd * kd[l];
        }
      }
      const int m = visible < nk ? visible : nk;
      float* out = scores + static_cast<size_t>(i) * ld + j0 + r0;
      for (int l = 0; l < m; ++l) out[l] = acc[l] * scale;
    }
  }
}

// out[i] = sum_j p[i][j] * v[j] for one block of value rows. Row-outer, so the output row stays in
// registers across the keys (HD is a compile-time size for the common head dims); each output
// element sums over keys in order, independent of which other rows are processed.
template <int HD>
__attribute__((always_inline)) inline void accumulate_fixed(int nq, const int* n_keys, const float* v, int rows,
                                                            size_t v_stride, int j0, const float* probs, int ld,
                                                            float* const* out) {
  for (int i = 0; i < nq; ++i) {
    const int m = std::min(rows, n_keys[i] - j0);
    if (m <= 0) continue;
    float acc[HD];
    float* o = out[i];
    for (int d = 0; d < HD; ++d) acc[d] = o[d];
    const float* p = probs + static_cast<size_t>(i) * ld + j0;
    for (int r = 0; r < m; ++r) {
      const float* vr = v + static_cast<size_t>(r) * v_stride;
      const float pr = p[r];
      for (int d = 0; d < HD; ++d) acc[d] += pr * vr[d];
    }
    for (int d = 0; d < HD; ++d) o[d] = acc[d];
  }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void accumulate_block(int nq, const int* n_keys, const float* v, int rows, size_t v_stride, int j0, int hd,
                      const float* probs, int ld, float* const* out) {
  if (hd == 64) return accumulate_fixed<64>(nq, n_keys, v, rows, v_stride, j0, probs, ld, out);
  if (hd == 128) return accumulate_fixed<128>(nq, n_keys, v, rows, v_stride, j0, probs, ld, out);
  for (int i = 0; i < nq; ++i) {
    const int m = std::min(rows, n_keys[i] - j0);
    float* o = out[i];
    for (int r = 0; r < m; ++r) {
      const float* vr = v + static_cast<size_t>(r) * v_stride;
      const float pr = probs[static_cast<size_t>(i) * ld + j0 + r];
      for (int d = 0; d < hd; ++d) o[d] += pr * vr[d];
    }
  }
}

}  // namespace

void attention_rows(const float* const* q, int nq, const int* n_keys, const KvBlocksView& kv, int head_dim, float scale,
                    float* const* out, float* scratch, Isa isa) {
  if (isa == Isa::kAvx512 && avx512::attention_supported(head_dim))
    return avx512::attention_rows(q, nq, n_keys, kv, head_dim, scale, out, scratch);
  int max_keys = 0;
  for (int i = 0; i < nq; ++i) max_keys = std::max(max_keys, n_keys[i]);
  const int BT = kv.block_tokens;
  for (int j0 = 0; j0 < max_keys; j0 += BT) {
    const int rows = std::min(BT, max_keys - j0);
    score_block(q, nq, n_keys, kv.k_blocks[j0 / BT], rows, BT, j0, head_dim, scale, scratch, max_keys);
  }
  for (int i = 0; i < nq; ++i) {
    softmax_inplace(scratch + static_cast<size_t>(i) * max_keys, n_keys[i]);
    std::fill(out[i], out[i] + head_dim, 0.0f);
  }
  for (int j0 = 0; j0 < max_keys; j0 += BT) {
    const int rows = std::min(BT, max_keys - j0);
    accumulate_block(nq, n_keys, kv.v_blocks[j0 / BT], rows, kv.stride, j0, head_dim, scratch, max_keys, out);
  }
}

}  // namespace cyllm::cpu
