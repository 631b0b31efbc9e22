// Row-interleaved ("packed") copies of Q4_1 and Q8_0 weight matrices for the AVX-512 VNNI
// matmul kernels (packed-avx512-vnni.cpp), made once at model load.
//
// Layout. Rows are taken in groups of kPackRows = 16 (the last group is zero-padded). A group
// holds, for its nb blocks of 32 weights:
//   scales: per block, the 16 rows' fp16 d (Q4_1: then the 16 fp16 m), 32 (64) bytes per block,
//           the region padded to a multiple of 64 bytes;
//   quants: per block, 8 "quads" of 4 consecutive weights; for quad k, 16 rows x 4 bytes with
//           byte 4*j + t = weight 4k + t of row j, so one 512-bit vpdpbusd against a broadcast
//           4-byte activation quad adds 4 products into int32 lane j = row j.
//           Q8_0 stores the 8 quads as 8 x 64 bytes of (q + 128) (unsigned for vpdpbusd);
//           Q4_1 stores 4 x 64 bytes whose low nibbles are quad 2i and high nibbles quad 2i+1.
// Dot per block: d_w*d_a*sum(u*a) + m_w*(d_a*sum(a)) for Q4_1 (Q8_1 activations) and
// d_w*d_a*(sum(u*a) - 128*sum(a)) for Q8_0, the integer parts exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "model/tensor-types.h"

namespace cyllm {
struct WeightRef;
}

namespace cyllm::cpu {

constexpr int kPackRows = 16;

struct PackedWeight {
  GgmlType type = GgmlType::F32;  // source type: Q4_1 or Q8_0
  int64_t ne0 = 0, ne1 = 0;       // inputs per row, rows
  int64_t nb = 0;                 // 32-blocks per row
  int64_t ngroups = 0;            // ceil(ne1 / 16)
  size_t scale_bytes = 0;         // bytes of a group's scale region (multiple of 64)
  size_t group_bytes = 0;         // bytes per group (multiple of 64)
  uint8_t* data = nullptr;        // 64-byte aligned, inside `storage`
  std::shared_ptr<void> storage;  // the arena (shared by the weights packed together)

  const uint8_t* group(int64_t g) const { return data + static_cast<size_t>(g) * group_bytes; }
  size_t bytes() const { return static_cast<size_t>(ngroups) * group_bytes; }
};

// Whether packed kernels run here: the active ISA is AVX-512 and the CPU has AVX512-VNNI.
bool packed_available();
bool packed_type_supported(GgmlType t);  // Q4_1, Q8_0

// Packs rows [0, nrows) of a row-major matrix (rows row_stride bytes apart). Null if the type is
// not supported or n is not a multiple of 32.
std::shared_ptr<const PackedWeight> pack_weight(GgmlType t, int64_t n, int64_t nrows, const uint8_t* rows,
                                                size_t row_stride);

// Sets w->packed for every weight that can be packed, spreading the work over up to n_threads
// threads (<= 0: all hardware threads). The copies share one arena, laid out in the order given
// (pass weights in the order a forward pass reads them) and backed by transparent huge pages
// where the kernel allows (fewer TLB misses when decode streams the whole model). Returns the
// bytes allocated. No-op (0) when !packed_available().
size_t pack_weights(std::span<WeightRef* const> ws, int n_threads = 0);

// Per-block activation scales the packed kernels need, two floats per block: Q8_1 rows give
// (d, d * sum(q)), Q8_0 rows give (d, -128 * sum(q)). out has 2 * (n / 32) floats.
void packed_act_scales(GgmlType act_type, const uint8_t* act_row, int64_t n, float* out);

// y[c * ldy + r] for rows r in groups [g0, g0 + ng) (rows >= w.ne1 are not written) and columns
// c < ncols: the dot of weight row r with activation row c (act rows act_stride bytes apart, of
// type vec_dot_type(w.type)), using scales from packed_act_scales (row c at sc + c * 2 * nb).
// y points at row 0 of column 0. Requires packed_available().
void packed_matmul(const PackedWeight& w, int64_t g0, int64_t ng, const uint8_t* act, size_t act_stride,
                   const float* sc, int64_t ncols, float* y, int64_t ldy);

}  // namespace cyllm::cpu
