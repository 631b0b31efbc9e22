// The per-warp logic of the matvec kernel (quant-matvec.cu), host-callable so that
// tests/engine/cuda/kernel-logic-test.cu can run it on the CPU lane by lane: which bytes a chunk
// of a row covers when widened to 16-byte boundaries, and what one lane accumulates from the
// staged bytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda-ops.h"
#include "quant-decode.cuh"

namespace cyllm::cuda::dev {

// A chunk is 32 groups of 32 elements: 32 blocks of the 32-element types, 4 K-quant super-blocks.
template <GgmlType T>
struct Chunk {
  using B = BlockInfo<T>;
  static constexpr int blocks = 32 / B::groups;    // blocks per full chunk
  static constexpr int bytes = blocks * B::bytes;  // bytes per full chunk
  // Stage size in 16-byte vectors: the chunk widened to 16-byte boundaries adds at most 15 bytes
  // on each side.
  static constexpr int stage_vecs = (bytes + 30) / 16 + 1;
};

// Blocks [b0, b0 + nb) of the row starting at byte address row_start: their first byte is
// `first`; the aligned span [aligned, aligned + 16 * nvec) covers them; `offset` = first - aligned.
struct ChunkSpan {
  uintptr_t aligned;
  int nvec;
  int offset;
};
CYLLM_HD ChunkSpan chunk_span(uintptr_t row_start, int b0, int nb, int block_bytes) {
  const uintptr_t first = row_start + static_cast<uintptr_t>(b0) * block_bytes;
  const uintptr_t end = first + static_cast<uintptr_t>(nb) * block_bytes;
  const uintptr_t aligned = first & ~static_cast<uintptr_t>(15);
  const uintptr_t aligned_end = (end + 15) & ~static_cast<uintptr_t>(15);
  return {aligned, static_cast<int>((aligned_end - aligned) / 16), static_cast<int>(first - aligned)};
}

// Lane `lane` of the warp handles group g = g0 + lane of the row: it decodes that group from the
// staged chunk (stage + offset is the chunk's first block) and adds its products with each of
// the ncols activation columns (x: column c at x + c * ldx, f32, 16-byte aligned) to acc[c].
template <GgmlType T>
CYLLM_HD void lane_accumulate(const uint8_t* stage, int offset, int lane, int g, const float* x, size_t ldx, int ncols,
                              float* acc) {
  using B = BlockInfo<T>;
  const uint8_t* blk = stage + offset + static_cast<size_t>(lane / B::groups) * B::bytes;
  float wv[32];
  decode_group<T>(blk, lane % B::groups, wv);
CYLLM_UNROLL
  for (int c = 0; c < kMatvecMaxCols; ++c) {
    if (c < ncols) {
      const float4* xv = reinterpret_cast<const float4*>(x + static_cast<size_t>(c) * ldx + static_cast<size_t>(g) * 32);
      float s = acc[c];
CYLLM_UNROLL
      for (int q = 0; q < 8; ++q) {
        const float4 a = xv[q];
        s = fmaf(wv[4 * q + 0], a.x, s);
        s = fmaf(wv[4 * q + 1], a.y, s);
        s = fmaf(wv[4 * q + 2], a.z, s);
        s = fmaf(wv[4 * q + 3], a.w, s);
      }
      acc[c] = s;
    }
  }
}

}  // namespace cyllm::cuda::dev
