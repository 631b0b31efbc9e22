// Causal attention over keys and values stored in blocks (model/kv-storage.h), for a group of query
// rows that share one KV head (GQA) and one sequence. Each key and value row is loaded once for
// all query rows of the group, which is what makes prefill attention fast; the softmax is exact
// (scores kept for the whole visible range, then normalised).
#pragma once

#include <cstddef>

#include "backend/quant.h"

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
// scratch: at least nq * max(n_keys) floats. With the AVX-512 ISA active and a head_dim that
// avx512::attention_supported() takes, the AVX-512 kernels (cpu-attention-avx512.cpp) run;
// otherwise the portable code. Either way a row's result does not depend on the other rows.
void attention_rows(const float* const* q, int nq, const int* n_keys, const KvBlocksView& kv, int head_dim, float scale,
                    float* const* out, float* scratch, Isa isa = active_isa());

namespace avx512 {
bool attention_supported(int head_dim);  // multiples of 16 up to 128
void attention_rows(const float* const* q, int nq, const int* n_keys, const KvBlocksView& kv, int head_dim, float scale,
                    float* const* out, float* scratch);
}  // namespace avx512

}  // namespace cyllm::cpu
