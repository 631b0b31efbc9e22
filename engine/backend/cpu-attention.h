// Causal attention over keys and values stored in blocks (model/kv-storage.h), for a group of query
// rows that share one KV head (GQA) and one sequence. Each key and value row is loaded once for
// all query rows of the group, which is what makes prefill attention fast; the softmax is exact
// (scores kept for the whole visible range, then normalised).
#pragma once

#include <cstddef>

namespace cyllm::cpu {

struct KvBlocksView {
  // Per block: this head's keys, transposed: dim d of position r at k_blocks[b][d * block_tokens + r].
  const float* const* k_blocks;
  // Per block: this head's first value row; rows are `stride` floats apart.
  const float* const* v_blocks;
  int block_tokens;
  size_t stride;
};

// q[r]: query row r (head_dim floats), which sees keys [0, n_keys[r]); out[r]: its output row.
// scratch: at least nq * max(n_keys) floats.
void attention_rows(const float* const* q, int nq, const int* n_keys, const KvBlocksView& kv, int head_dim, float scale,
                    float* const* out, float* scratch);

}  // namespace cyllm::cpu
