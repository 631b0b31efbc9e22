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

void KvStorage::write(int layer, int block, int row, const float* k, const float* v) {
  float* kt_base = kt(layer, block) + row;
  for (int c = 0; c < kv_dim_; ++c) kt_base[static_cast<size_t>(c) * block_tokens_] = k[c];
  std::memcpy(this->v(layer, block, row), v, sizeof(float) * kv_dim_);
}

void KvStorage::copy_block(int from, int to, int rows) {
  if (from == to || rows <= 0) return;
  const size_t block_bytes = static_cast<size_t>(block_tokens_) * kv_dim_ * sizeof(float);
  for (int l = 0; l < n_layer_; ++l) {
    std::memcpy(kt(l, to), kt(l, from), block_bytes);  // transposed: rows are spread over the block
    std::memcpy(v(l, to, 0), v(l, from, 0), static_cast<size_t>(rows) * kv_dim_ * sizeof(float));
  }
}

}  // namespace cyllm
