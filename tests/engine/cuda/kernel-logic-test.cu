// Kernel logic that can run without a GPU: this file is compiled by nvcc as host code and calls
// the host versions of the kernels' __host__ __device__ helpers (kernels/quant-decode.cuh,
// kernels/quant-matvec.cuh). It checks, on the CPU, that
//  - every block type decodes bitwise to the scalar reference (cpu::dequantize_row), and
//  - the matvec kernel's per-warp scheme (chunks widened to 16-byte boundaries and staged, one
//    group per lane, lanes summed) computes W x, without reading outside the tensor and its
//    kWeightPadBytes, for every type, odd row counts and odd base alignments of the rows.
// What it cannot check (thread mapping, shared memory, shuffles) is left to cuda_ops_test on a GPU.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/quant.h"
#include "cuda-reference.h"
#include "quant-matvec.cuh"

namespace cyllm::test {
namespace {

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                           GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

std::string tname(GgmlType t) { return std::string(type_name(static_cast<uint32_t>(t))); }

std::vector<uint8_t> random_rows(GgmlType t, int64_t n, int64_t rows, std::mt19937& rng) {
  const size_t rb = *row_bytes(t, n);
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = r % 3 == 0 ? 0.01f : 1.0f;
    for (auto& x : v) x = d(rng) * scale;
    cpu::quantize_row_ref(t, v.data(), out.data() + static_cast<size_t>(r) * rb, n);
  }
  return out;
}

// Calls decode_group<T> on the host for a runtime type.
void decode(GgmlType t, const uint8_t* b, int sub, float* w) {
  using namespace cuda::dev;
  switch (t) {
    case GgmlType::F32: return decode_group<GgmlType::F32>(b, sub, w);
    case GgmlType::F16: return decode_group<GgmlType::F16>(b, sub, w);
    case GgmlType::BF16: return decode_group<GgmlType::BF16>(b, sub, w);
    case GgmlType::Q4_0: return decode_group<GgmlType::Q4_0>(b, sub, w);
    case GgmlType::Q4_1: return decode_group<GgmlType::Q4_1>(b, sub, w);
    case GgmlType::Q5_0: return decode_group<GgmlType::Q5_0>(b, sub, w);
    case GgmlType::Q5_1: return decode_group<GgmlType::Q5_1>(b, sub, w);
    case GgmlType::Q8_0: return decode_group<GgmlType::Q8_0>(b, sub, w);
    case GgmlType::Q4_K: return decode_group<GgmlType::Q4_K>(b, sub, w);
    case GgmlType::Q5_K: return decode_group<GgmlType::Q5_K>(b, sub, w);
    case GgmlType::Q6_K: return decode_group<GgmlType::Q6_K>(b, sub, w);
    default: FAIL() << "no decoder";
  }
}

TEST(KernelLogic, DecodeGroupIsBitwiseTheScalarReference) {
  std::mt19937 rng(1);
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(tname(t));
    const TypeTraits* tt = type_traits(t);
    const int64_t bs = std::max<int64_t>(32, tt->block_size);
    const int64_t n = bs * 7;
    const std::vector<uint8_t> row = random_rows(t, n, 1, rng);
    std::vector<float> ref(static_cast<size_t>(n));
    cpu::dequantize_row(t, row.data(), ref.data(), n, cpu::Isa::kScalar);
    const int groups_per_block = static_cast<int>(std::max<int64_t>(1, tt->block_size / 32));
    // Bytes of one decoding unit: a GGUF block, or 32 elements of F32/F16/BF16.
    const size_t unit_bytes = tt->block_size == 1 ? 32 * tt->block_bytes : tt->block_bytes;
    for (int64_t g = 0; g < n / 32; ++g) {
      float w[32];
      decode(t, row.data() + static_cast<size_t>(g / groups_per_block) * unit_bytes, static_cast<int>(g % groups_per_block), w);
      ASSERT_EQ(std::memcmp(w, ref.data() + g * 32, sizeof w), 0) << "group " << g;
    }
  }
}

TEST(KernelLogic, HalfConversionOnTheHostIsExact) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = cuda::dev::h2f(static_cast<uint16_t>(h)), b = fp16_to_fp32(static_cast<uint16_t>(h));
    if (a != a) {
      ASSERT_NE(b, b) << h;
      continue;
    }
    ASSERT_EQ(std::memcmp(&a, &b, 4), 0) << "half bits " << h;
  }
}

// The matvec kernel's warp, one lane after another: stage each chunk's aligned span, let each lane
// accumulate its group, add the lanes. Rows start at base + offset for offsets that are not
// 16-byte aligned, as rows of most GGUF types are not.
template <GgmlType T>
void emulate_matvec(const uint8_t* base, size_t alloc_bytes, const uint8_t* w, size_t row_stride, int64_t n,
                    int64_t nrows, const float* x, size_t ldx, int ncols, float* y, size_t ldy) {
  using B = cuda::dev::BlockInfo<T>;
  using C = cuda::dev::Chunk<T>;
  alignas(16) uint8_t stage[C::stage_vecs * 16];
  const int n_groups = static_cast<int>(n / 32), n_blocks = n_groups / B::groups;
  for (int64_t row = 0; row < nrows; ++row) {
    const uintptr_t row_start = reinterpret_cast<uintptr_t>(w) + static_cast<uintptr_t>(row) * row_stride;
    float acc[32][cuda::kMatvecMaxCols] = {};
    for (int g0 = 0; g0 < n_groups; g0 += 32) {
      const int b0 = g0 / B::groups;
      const cuda::dev::ChunkSpan span = cuda::dev::chunk_span(row_start, b0, std::min(C::blocks, n_blocks - b0), B::bytes);
      ASSERT_LE(span.nvec, C::stage_vecs);
      ASSERT_EQ(span.aligned % 16, 0u);
      ASSERT_GE(span.aligned, reinterpret_cast<uintptr_t>(base)) << "reads before the allocation";
      ASSERT_LE(span.aligned + 16 * static_cast<uintptr_t>(span.nvec), reinterpret_cast<uintptr_t>(base) + alloc_bytes)
          << "reads past the allocation";
      std::memcpy(stage, reinterpret_cast<const void*>(span.aligned), 16 * static_cast<size_t>(span.nvec));
      for (int lane = 0; lane < 32; ++lane)
        if (g0 + lane < n_groups)
          cuda::dev::lane_accumulate<T>(stage, span.offset, lane, g0 + lane, x, ldx, ncols, acc[lane]);
    }
    for (int c = 0; c < ncols; ++c) {
      float s = 0.0f;
      for (int lane = 0; lane < 32; ++lane) s += acc[lane][c];
      y[static_cast<size_t>(c) * ldy + row] = s;
    }
  }
}

void emulate(GgmlType t, const uint8_t* base, size_t alloc, const uint8_t* w, size_t rs, int64_t n, int64_t nrows,
             const float* x, int ncols, float* y) {
  const size_t ldx = static_cast<size_t>(n), ldy = static_cast<size_t>(nrows);
  switch (t) {
    case GgmlType::F32: return emulate_matvec<GgmlType::F32>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    case GgmlType::F16: return emulate_matvec<GgmlType::F16>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    case GgmlType::BF16: return emulate_matvec<GgmlType::BF16>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    case GgmlType::Q4_0: return emulate_matvec<GgmlType::Q4_0>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    case GgmlType::Q4_1: return emulate_matvec<GgmlType::Q4_1>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    case GgmlType::Q5_0: return emulate_matvec<GgmlType::Q5_0>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    case GgmlType::Q5_1: return emulate_matvec<GgmlType::Q5_1>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    case GgmlType::Q8_0: return emulate_matvec<GgmlType::Q8_0>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    case GgmlType::Q4_K: return emulate_matvec<GgmlType::Q4_K>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    case GgmlType::Q5_K: return emulate_matvec<GgmlType::Q5_K>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    case GgmlType::Q6_K: return emulate_matvec<GgmlType::Q6_K>(base, alloc, w, rs, n, nrows, x, ldx, ncols, y, ldy);
    default: FAIL() << "no kernel";
  }
}

// Tolerance as in cuda_ops_test's MatvecMatchesCpuOnEveryType (f32 sums vs double): 1e-8.
TEST(KernelLogic, MatvecWarpSchemeComputesWx) {
  std::mt19937 rng(2);
  for (GgmlType t : kTypes)
    for (int trial = 0; trial < 4; ++trial) {
      const TypeTraits* tt = type_traits(t);
      const int64_t bs = std::max<int64_t>(32, tt->block_size);
      const int64_t n = bs * std::uniform_int_distribution<int64_t>(1, bs == 256 ? 10 : 70)(rng);
      const int64_t nrows = std::uniform_int_distribution<int64_t>(1, 9)(rng);
      const int ncols = std::uniform_int_distribution<int>(1, cuda::kMatvecMaxCols)(rng);
      const std::vector<uint8_t> bytes = random_rows(t, n, nrows, rng);
      const size_t rs = *row_bytes(t, n);
      // The tensor placed at a 16-byte aligned base (as cudaMalloc gives) or, for sub-tensors,
      // 2 or 4 bytes past it; the allocation ends kWeightPadBytes after the tensor.
      const size_t lead = trial % 2 == 0 ? 0 : (t == GgmlType::F32 ? 4 : 2);
      const size_t alloc = lead + bytes.size() + cuda::kWeightPadBytes;
      std::vector<uint8_t> buf(alloc + 16);
      uint8_t* base = buf.data() + (16 - reinterpret_cast<uintptr_t>(buf.data()) % 16) % 16;
      std::memcpy(base + lead, bytes.data(), bytes.size());
      SCOPED_TRACE(tname(t) + " n=" + std::to_string(n) + " rows=" + std::to_string(nrows) + " cols=" +
                   std::to_string(ncols) + " lead=" + std::to_string(lead));
      std::normal_distribution<float> d(0.0f, 1.0f);
      std::vector<float> x(static_cast<size_t>(n) * ncols);
      for (auto& v : x) v = d(rng);
      std::vector<float> y(static_cast<size_t>(nrows) * ncols), ref(y.size());
      emulate(t, base, alloc, base + lead, rs, n, nrows, x.data(), ncols, y.data());
      if (HasFatalFailure()) return;
      cuda_ref::matvec(t, bytes.data(), rs, n, nrows, x.data(), static_cast<size_t>(n), ncols, ref.data(),
                       static_cast<size_t>(nrows));
      double num = 0, den = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        num += (static_cast<double>(y[i]) - ref[i]) * (static_cast<double>(y[i]) - ref[i]);
        den += static_cast<double>(ref[i]) * ref[i];
      }
      EXPECT_LE(num / den, 1e-8);
    }
}

}  // namespace
}  // namespace cyllm::test
