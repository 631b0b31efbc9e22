#include "backend/cpu-attention.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu-ops.h"

namespace cyllm::cpu {

namespace {

// Scores of up to 16 keys at a time against every query row. The keys are transposed into
// kt[d][lane] so each query row needs head_dim vector FMAs (broadcast q[d] times 16 key values) and
// no horizontal sums. Each (row, key) score is one lane summing over d in order, so it does not
// depend on how many rows or keys are processed together (batch-independent results).
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void score_block(const float* const* q, int nq, const int* n_keys, const float* k, int rows, size_t k_stride, int j0,
                 int hd, float scale, float* scores, int ld) {
  constexpr int kLanes = 16;
  alignas(64) float kt[256 * kLanes];  // head_dim <= 256
  for (int r0 = 0; r0 < rows; r0 += kLanes) {
    const int nk = rows - r0 < kLanes ? rows - r0 : kLanes;
    for (int l = 0; l < kLanes; ++l) {
      const float* kr = k + static_cast<size_t>(r0 + (l < nk ? l : 0)) * k_stride;
      for (int d = 0; d < hd; ++d) kt[d * kLanes + l] = kr[d];
    }
    for (int i = 0; i < nq; ++i) {
      const int visible = n_keys[i] - (j0 + r0);
      if (visible <= 0) continue;
      const float* qi = q[i];
      float acc[kLanes] = {};
      for (int d = 0; d < hd; ++d) {
        const float qd = qi[d];
        for (int l = 0; l < kLanes; ++l) acc[l] += qd * kt[d * kLanes + l];
      }
      const int m = visible < nk ? visible : nk;
      float* out = scores + static_cast<size_t>(i) * ld + j0 + r0;
      for (int l = 0; l < m; ++l) out[l] = acc[l] * scale;
    }
  }
}

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void accumulate_block(int nq, const int* n_keys, const float* v, int rows, size_t v_stride, int j0, int hd,
                      const float* probs, int ld, float* const* out) {
  for (int r = 0; r < rows; ++r) {
    const float* vr = v + static_cast<size_t>(r) * v_stride;
    const int j = j0 + r;
    for (int i = 0; i < nq; ++i) {
      if (j >= n_keys[i]) continue;
      const float p = probs[static_cast<size_t>(i) * ld + j];
      float* o = out[i];
      for (int d = 0; d < hd; ++d) o[d] += p * vr[d];
    }
  }
}

}  // namespace

void attention_rows(const float* const* q, int nq, const int* n_keys, const KvBlocksView& kv, int head_dim, float scale,
                    float* const* out, float* scratch) {
  int max_keys = 0;
  for (int i = 0; i < nq; ++i) max_keys = std::max(max_keys, n_keys[i]);
  const int BT = kv.block_tokens;
  for (int j0 = 0; j0 < max_keys; j0 += BT) {
    const int rows = std::min(BT, max_keys - j0);
    score_block(q, nq, n_keys, kv.k_blocks[j0 / BT], rows, kv.stride, j0, head_dim, scale, scratch, max_keys);
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
