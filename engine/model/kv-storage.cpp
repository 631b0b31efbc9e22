#include "model/kv-storage.h"

#include <cstring>

namespace cyllm {

KvStorage::KvStorage(int n_layer, int kv_dim, int block_tokens, int n_blocks)
    : n_layer_(n_layer), kv_dim_(kv_dim), block_tokens_(block_tokens), n_blocks_(n_blocks) {
  elements_ = static_cast<size_t>(n_layer) * n_blocks * block_tokens * kv_dim;
  // Not zero-filled on purpose: every row is written before it is read, and the untouched pages
  // of a large budget then cost no memory.
  k_.reset(new float[elements_]);
  v_.reset(new float[elements_]);
}

void KvStorage::copy_block(int from, int to, int rows) {
  if (from == to || rows <= 0) return;
  const size_t bytes = static_cast<size_t>(rows) * kv_dim_ * sizeof(float);
  for (int l = 0; l < n_layer_; ++l) {
    std::memcpy(k(l, to, 0), k(l, from, 0), bytes);
    std::memcpy(v(l, to, 0), v(l, from, 0), bytes);
  }
}

}  // namespace cyllm
