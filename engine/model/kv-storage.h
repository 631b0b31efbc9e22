// Key/value storage for the forward pass, in fixed-size blocks: for every layer, `n_blocks`
// blocks of `block_tokens` positions, for keys and for values. Values are stored row-major
// ([position][kv_dim]); keys are stored transposed ([kv_dim][position]) so that attention scores
// for 16 consecutive positions are one vector FMA per dimension, with no transpose at read time.
// A sequence sees its
// positions through a block table (position p lives in block table[p / block_tokens] at row
// p % block_tokens). A single sequence with one block of n_ctx positions is a plain contiguous
// cache; the scheduler's paged cache uses many small blocks (bookkeeping in serve/kv-blocks.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace cyllm {

class KvStorage {
 public:
  KvStorage() = default;
  KvStorage(int n_layer, int kv_dim, int block_tokens, int n_blocks);

  int n_layer() const { return n_layer_; }
  int kv_dim() const { return kv_dim_; }
  int block_tokens() const { return block_tokens_; }
  int n_blocks() const { return n_blocks_; }
  size_t bytes() const { return 2 * elements_ * sizeof(float); }
  // Bytes one token occupies across all layers (keys and values).
  static size_t bytes_per_token(int n_layer, int kv_dim) { return size_t{2} * n_layer * kv_dim * sizeof(float); }

  // Keys of a block, transposed: element (dim c, position r) at kt(layer, block)[c * block_tokens + r].
  float* kt(int layer, int block) { return k_.get() + offset(layer, block, 0); }
  const float* kt(int layer, int block) const { return k_.get() + offset(layer, block, 0); }
  // Values of a block, row-major: row r at v(layer, block, r).
  float* v(int layer, int block, int row) { return v_.get() + offset(layer, block, row); }
  const float* v(int layer, int block, int row) const { return v_.get() + offset(layer, block, row); }
  // Stores one position's keys (kv_dim floats) and values.
  void write(int layer, int block, int row, const float* k, const float* v);
  // Copies every layer's rows [0, rows) of block `from` into block `to` (copy-on-write of a
  // shared, partly filled block).
  void copy_block(int from, int to, int rows);

 private:
  size_t offset(int layer, int block, int row) const {
    return ((static_cast<size_t>(layer) * n_blocks_ + block) * block_tokens_ + row) * kv_dim_;
  }
  int n_layer_ = 0, kv_dim_ = 0, block_tokens_ = 1, n_blocks_ = 0;
  size_t elements_ = 0;
  std::unique_ptr<float[]> k_, v_;
};

}  // namespace cyllm
