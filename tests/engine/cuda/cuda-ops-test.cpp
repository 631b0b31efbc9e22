// The per-op harness of the CUDA backend: every op in kernels/cuda-ops.h against its CPU reference
// (kernels/cuda-reference.h) over random shapes and every supported weight type. Comparison: bitwise
// where the kernel is specified to reproduce the CPU's arithmetic (dequantization, conversions,
// cache writes, greedy choice), otherwise normalised MSE (sum (ref - gpu)^2 / sum ref^2) with
// NaN/Inf checks; each tolerance says where its size comes from. Skips without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/device.h"
#include "backend/quant.h"
#include "cuda-ops.h"
#include "cuda-reference.h"
#include "cuda-test-util.h"

namespace cyllm::test {
namespace {

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                           GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

std::string tname(GgmlType t) { return std::string(type_name(static_cast<uint32_t>(t))); }

std::vector<float> normal(size_t n, std::mt19937& rng, float sd = 1.0f) {
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A random weight matrix of type t, nrows x n, in GGUF layout.
struct Matrix {
  GgmlType type;
  int64_t n, nrows;
  size_t row_stride;
  std::vector<uint8_t> bytes;
};
Matrix random_matrix(GgmlType t, int64_t n, int64_t nrows, std::mt19937& rng) {
  Matrix m{t, n, nrows, *row_bytes(t, n), {}};
  m.bytes.resize(m.row_stride * static_cast<size_t>(nrows));
  for (int64_t r = 0; r < nrows; ++r) {
    const std::vector<float> row = normal(static_cast<size_t>(n), rng, r % 3 == 0 ? 0.02f : 1.0f);
    cpu::quantize_row_ref(t, row.data(), m.bytes.data() + static_cast<size_t>(r) * m.row_stride, n);
  }
  return m;
}

// Row length: a random multiple of the block size (and of 32).
int64_t random_n(GgmlType t, std::mt19937& rng, int max_blocks) {
  const int64_t bs = std::max<int64_t>(32, type_traits(t)->block_size);
  return bs * std::uniform_int_distribution<int64_t>(1, max_blocks)(rng);
}

// ---- runs everywhere (no device needed) -----------------------------------------------------------

TEST(CudaBuild, ReportsOpsAndSaysWhyThereIsNoDevice) {
  const DeviceReport r = probe_devices();
  EXPECT_TRUE(r.cuda_built);
  EXPECT_FALSE(r.cuda_ops.empty());
  EXPECT_NE(std::find(r.cuda_weight_types.begin(), r.cuda_weight_types.end(), "Q4_K"), r.cuda_weight_types.end());
  EXPECT_EQ(std::find(r.cuda_weight_types.begin(), r.cuda_weight_types.end(), "Q2_K"), r.cuda_weight_types.end());
  const std::string why = cuda::no_device_reason();
  auto ctx = cuda::create_context(0);
  if (why.empty()) {
    EXPECT_TRUE(ctx.ok()) << ctx.error().message;
    EXPECT_FALSE(r.gpus.empty());
  } else {
    ASSERT_FALSE(ctx.ok());
    EXPECT_EQ(ctx.error().code, ErrorCode::kUnsupported);
    EXPECT_NE(ctx.error().message.find(why), std::string::npos) << ctx.error().message;
    EXPECT_TRUE(r.gpus.empty());
    std::printf("no CUDA device here (%s): the GPU tests below skip\n", why.c_str());
  }
}

// ---- context and errors ----------------------------------------------------------------------------

class CudaOps : public CudaTest {};

TEST_F(CudaOps, ErrorsAreValues) {
  // 1 PiB cannot be allocated on any current GPU: cudaErrorMemoryAllocation -> kOutOfMemory.
  auto huge = cuda::DeviceBuffer::allocate(size_t{1} << 50, "a test allocation");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code, ErrorCode::kOutOfMemory);
  EXPECT_NE(huge.error().message.find("a test allocation"), std::string::npos) << huge.error().message;
  // The context still works afterwards.
  auto small = cuda::DeviceBuffer::allocate(1024, "small");
  ASSERT_TRUE(small.ok());
  EXPECT_TRUE(cuda::memset_device(ctx(), small->data(), 0, 1024).ok());
  EXPECT_TRUE(cuda::synchronize(ctx()).ok());

  auto x = zeros<float>(256);
  auto y = zeros<float>(256);
  EXPECT_EQ(cuda::matvec(ctx(), GgmlType::Q2_K, small->data(), 84, 256, 1, x.as<float>(), 256, 1, y.as<float>(), 1)
                .error()
                .code,
            ErrorCode::kUnsupported);
  EXPECT_EQ(cuda::matvec(ctx(), GgmlType::Q4_0, small->data(), 18, 48, 1, x.as<float>(), 48, 1, y.as<float>(), 1)
                .error()
                .code,
            ErrorCode::kInvalidArgument);
  cuda::AttentionShape s{4, 4, 512, 16, 4, 1.0f};
  EXPECT_EQ(cuda::attention_decode(ctx(), s, {}, x.as<float>(), 1, nullptr, nullptr, 1, nullptr, y.as<float>(),
                                   y.as<float>(), 256)
                .error()
                .code,
            ErrorCode::kUnsupported);
}

// ---- dequant.cu --------------------------------------------------------------------------------------

// The device decode repeats the scalar reference expression by expression, so every value must be
// bitwise equal, and so must its f16/bf16 rounding (both round to nearest even).
TEST_F(CudaOps, DequantizeIsBitwiseTheCpuReference) {
  std::mt19937 rng(11);
  for (GgmlType t : kTypes)
    for (int trial = 0; trial < 3; ++trial) {
      const int64_t n = random_n(t, rng, t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == GgmlType::Q6_K ? 6 : 40);
      const int64_t nrows = std::uniform_int_distribution<int64_t>(1, 37)(rng);
      SCOPED_TRACE(tname(t) + " n=" + std::to_string(n) + " rows=" + std::to_string(nrows));
      const Matrix m = random_matrix(t, n, nrows, rng);
      auto w = upload(m.bytes, cuda::kWeightPadBytes);
      for (GgmlType out : {GgmlType::F32, GgmlType::F16, GgmlType::BF16}) {
        const size_t esize = out == GgmlType::F32 ? 4 : 2;
        const size_t count = static_cast<size_t>(n * nrows);
        auto d = zeros<uint8_t>(count * esize);
        ASSERT_TRUE(cuda::dequantize_rows(ctx(), t, w.data(), m.row_stride, n, nrows, out, d.data(), n).ok());
        const std::vector<uint8_t> got = download<uint8_t>(d, count * esize);
        std::vector<uint8_t> ref(count * esize);
        cuda_ref::dequantize_rows(t, m.bytes.data(), m.row_stride, n, nrows, out, ref.data(), n);
        size_t first_bad = count;
        for (size_t i = 0; i < count && first_bad == count; ++i)
          if (std::memcmp(got.data() + i * esize, ref.data() + i * esize, esize) != 0) first_bad = i;
        EXPECT_EQ(first_bad, count) << "first differing element " << first_bad << " (out type " << tname(out) << ")";
      }
    }
}

TEST_F(CudaOps, GatherRowsIsBitwiseTheCpuReference) {
  std::mt19937 rng(12);
  for (GgmlType t : kTypes) {
    SCOPED_TRACE(tname(t));
    const int64_t n = random_n(t, rng, t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == GgmlType::Q6_K ? 3 : 20);
    const Matrix m = random_matrix(t, n, 50, rng);
    std::vector<int32_t> rows(23);
    for (auto& r : rows) r = std::uniform_int_distribution<int32_t>(0, 49)(rng);
    auto w = upload(m.bytes, cuda::kWeightPadBytes);
    auto dr = upload(rows);
    auto out = zeros<float>(rows.size() * n);
    ASSERT_TRUE(cuda::gather_rows_f32(ctx(), t, w.data(), m.row_stride, n, dr.as<int32_t>(), 23, out.as<float>()).ok());
    std::vector<float> ref(rows.size() * n);
    cuda_ref::gather_rows_f32(t, m.bytes.data(), m.row_stride, n, rows.data(), 23, ref.data());
    const std::vector<float> got = download<float>(out, ref.size());
    EXPECT_EQ(std::memcmp(got.data(), ref.data(), ref.size() * 4), 0);
  }
}

TEST_F(CudaOps, ConvertF32IsBitwiseTheCpuRounding) {
  std::mt19937 rng(13);
  std::vector<float> x = normal(5000, rng, 10.0f);
  const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.0f, 65520.0f, 1e6f, -1e6f,
                            5.96e-8f, 2.98e-8f, 1e-9f, 6.1e-5f, 3.0e-5f, 1e-30f, 3.4e38f,
                            std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  x.insert(x.end(), std::begin(specials), std::end(specials));
  for (int i = 0; i < 2000; ++i) x.push_back(std::ldexp(std::uniform_real_distribution<float>(1.0f, 2.0f)(rng), -26 + i % 20));
  auto dx = upload(x);
  for (GgmlType out : {GgmlType::F16, GgmlType::BF16}) {
    SCOPED_TRACE(tname(out));
    auto d = zeros<uint16_t>(x.size());
    ASSERT_TRUE(cuda::convert_f32(ctx(), dx.as<float>(), static_cast<int64_t>(x.size()), out, d.data()).ok());
    std::vector<uint16_t> ref(x.size());
    cuda_ref::convert_f32(x.data(), static_cast<int64_t>(x.size()), out, ref.data());
    const std::vector<uint16_t> got = download<uint16_t>(d, x.size());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(got[i], ref[i]) << "x = " << x[i] << " (index " << i << ")";
  }
}

// ---- quant-matvec.cu ----------------------------------------------------------------------------------

// Reference: the same dequantized weights, products summed in double. The kernel sums in f32 (each
// lane ~n/32 FMAs, then a 5-step shuffle tree), so the relative error per output is a few 1e-7
// (NMSE ~1e-13). 1e-8 leaves a wide margin, while one wrong weight in a row of n already gives an
// NMSE of ~1/n (>= 1e-4 here), and a wrong block layout ~1.
TEST_F(CudaOps, MatvecMatchesCpuOnEveryType) {
  std::mt19937 rng(21);
  for (GgmlType t : kTypes)
    for (int64_t ncols : {1, 2, 5, 8, 13}) {
      const bool kq = type_traits(t)->block_size == 256;
      const int64_t n = random_n(t, rng, kq ? 12 : 100);
      const int64_t nrows = std::uniform_int_distribution<int64_t>(1, 70)(rng);
      SCOPED_TRACE(tname(t) + " n=" + std::to_string(n) + " rows=" + std::to_string(nrows) + " cols=" + std::to_string(ncols));
      const Matrix m = random_matrix(t, n, nrows, rng);
      const std::vector<float> x = normal(static_cast<size_t>(n * ncols), rng);
      auto w = upload(m.bytes, cuda::kWeightPadBytes);
      auto dx = upload(x);
      auto dy = zeros<float>(static_cast<size_t>(nrows * ncols));
      const Status st = cuda::matvec(ctx(), t, w.data(), m.row_stride, n, nrows, dx.as<float>(), n, ncols, dy.as<float>(), nrows);
      ASSERT_TRUE(st.ok()) << st.error().message;
      std::vector<float> ref(static_cast<size_t>(nrows * ncols));
      cuda_ref::matvec(t, m.bytes.data(), m.row_stride, n, nrows, x.data(), n, ncols, ref.data(), nrows);
      EXPECT_CLOSE_NMSE(ref, download<float>(dy, ref.size()), 1e-8);
    }
}

// More than kMatvecMaxCols columns: f16 (bf16 for BF16 weights) activations and weights through
// cuBLAS, in several dequantized chunks (the scratch is kept small on purpose). Rounding both
// operands to f16 (relative error <= 2^-11 each) gives NMSE ~1e-7; bf16 activations (2^-8) ~1e-5;
// F32 weights take a plain FP32 GEMM (~1e-13). Tolerances: 1e-5, 2e-4 and 1e-8.
TEST_F(CudaOps, MatmulGemmPathMatchesCpu) {
  std::mt19937 rng(22);
  for (GgmlType t : kTypes)
    for (int64_t ncols : {9, 40}) {
      const bool kq = type_traits(t)->block_size == 256;
      const int64_t n = random_n(t, rng, kq ? 6 : 50);
      const int64_t nrows = std::uniform_int_distribution<int64_t>(65, 300)(rng);
      SCOPED_TRACE(tname(t) + " n=" + std::to_string(n) + " rows=" + std::to_string(nrows) + " cols=" + std::to_string(ncols));
      const Matrix m = random_matrix(t, n, nrows, rng);
      const std::vector<float> x = normal(static_cast<size_t>(n * ncols), rng);
      auto w = upload(m.bytes, cuda::kWeightPadBytes);
      auto dx = upload(x);
      auto dy = zeros<float>(static_cast<size_t>(nrows * ncols));
      const size_t scratch_bytes = cuda::matmul_min_scratch_bytes(n, ncols) + 3 * static_cast<size_t>(n) * 2;  // 67-row chunks
      auto scratch = zeros<uint8_t>(scratch_bytes);
      const Status st = cuda::matmul(ctx(), t, w.data(), m.row_stride, n, nrows, dx.as<float>(), ncols, dy.as<float>(),
                                     nrows, scratch.data(), scratch_bytes);
      ASSERT_TRUE(st.ok()) << st.error().message;
      std::vector<float> ref(static_cast<size_t>(nrows * ncols));
      cuda_ref::matvec(t, m.bytes.data(), m.row_stride, n, nrows, x.data(), n, ncols, ref.data(), nrows);
      const double tol = t == GgmlType::F32 ? 1e-8 : t == GgmlType::BF16 ? 2e-4 : 1e-5;
      EXPECT_CLOSE_NMSE(ref, download<float>(dy, ref.size()), tol);
    }
}

// gemm_half on operands that are exactly representable: only the f32 accumulation differs from
// the double reference (NMSE ~1e-13; tolerance 1e-9).
TEST_F(CudaOps, GemmHalfMatchesCpu) {
  std::mt19937 rng(23);
  for (GgmlType ht : {GgmlType::F16, GgmlType::BF16})
    for (int trial = 0; trial < 3; ++trial) {
      const int64_t k = 32 * std::uniform_int_distribution<int64_t>(1, 40)(rng);
      const int64_t nrows = std::uniform_int_distribution<int64_t>(1, 200)(rng);
      const int64_t ncols = std::uniform_int_distribution<int64_t>(1, 70)(rng);
      SCOPED_TRACE(tname(ht) + " k=" + std::to_string(k) + " rows=" + std::to_string(nrows) + " cols=" + std::to_string(ncols));
      std::vector<float> a = normal(static_cast<size_t>(nrows * k), rng), x = normal(static_cast<size_t>(ncols * k), rng);
      std::vector<uint16_t> ah(a.size()), xh(x.size());
      auto round = [&](std::vector<float>& v, std::vector<uint16_t>& h) {
        cuda_ref::convert_f32(v.data(), static_cast<int64_t>(v.size()), ht, h.data());
        for (size_t i = 0; i < v.size(); ++i) v[i] = ht == GgmlType::F16 ? fp16_to_fp32(h[i]) : bf16_to_fp32(h[i]);
      };
      round(a, ah);
      round(x, xh);
      auto da = upload(ah);
      auto dx = upload(xh);
      const size_t ldy = static_cast<size_t>(nrows) + 3;  // a padded leading dimension
      auto dy = zeros<float>(ldy * ncols);
      const Status st = cuda::gemm_half(ctx(), ht, da.data(), nrows, k, dx.data(), ncols, dy.as<float>(), ldy);
      ASSERT_TRUE(st.ok()) << st.error().message;
      std::vector<float> ref(ldy * ncols, 0.0f);
      cuda_ref::gemm(a.data(), nrows, k, x.data(), ncols, ref.data(), ldy);
      EXPECT_CLOSE_NMSE(ref, download<float>(dy, ref.size()), 1e-9);
    }
}

// ---- norm-rope-act.cu ----------------------------------------------------------------------------------

// Only the summation order of the mean square differs (f32 tree vs f32 sequential): relative
// differences ~1e-7, NMSE ~1e-14; tolerance 1e-11.
TEST_F(CudaOps, RmsNormMatchesCpu) {
  std::mt19937 rng(31);
  for (int n : {64, 100, 576, 2048, 4096}) {
    const int rows = std::uniform_int_distribution<int>(1, 9)(rng);
    SCOPED_TRACE("n=" + std::to_string(n) + " rows=" + std::to_string(rows));
    const std::vector<float> x = normal(static_cast<size_t>(rows) * n, rng, 3.0f), w = normal(static_cast<size_t>(n), rng);
    auto dx = upload(x);
    auto dw = upload(w);
    auto dy = zeros<float>(x.size());
    ASSERT_TRUE(cuda::rmsnorm(ctx(), dx.as<float>(), dw.as<float>(), dy.as<float>(), rows, n, 1e-5f).ok());
    std::vector<float> ref(x.size());
    cuda_ref::rmsnorm(x.data(), w.data(), ref.data(), rows, n, 1e-5f);
    EXPECT_CLOSE_NMSE(ref, download<float>(dy, ref.size()), 1e-11);
    // In place (y == x), as the forward pass uses it for the logits rows.
    ASSERT_TRUE(cuda::rmsnorm(ctx(), dx.as<float>(), dw.as<float>(), dx.as<float>(), rows, n, 1e-5f).ok());
    EXPECT_CLOSE_NMSE(ref, download<float>(dx, ref.size()), 1e-11);
  }
}

// The rotation uses the CPU's operation order with explicitly rounded products, so results are
// expected to be (nearly) bitwise equal; tolerance 1e-12 allows a last-bit difference should the
// host compiler contract the CPU expression.
TEST_F(CudaOps, RopeMatchesCpuInBothStyles) {
  std::mt19937 rng(32);
  struct Shape { int heads, head_dim, rope_dim; };
  for (const Shape s : {Shape{9, 64, 64}, Shape{4, 128, 128}, Shape{3, 80, 40}, Shape{8, 64, 32}, Shape{2, 256, 256}})
    for (bool neox : {false, true}) {
      SCOPED_TRACE("heads=" + std::to_string(s.heads) + " head_dim=" + std::to_string(s.head_dim) +
                   " rope_dim=" + std::to_string(s.rope_dim) + (neox ? " neox" : " normal"));
      const int half = s.rope_dim / 2, n_pos = 4096, rows = 11;
      std::vector<float> cs(static_cast<size_t>(n_pos) * half), sn(cs.size());
      for (int i = 0; i < half; ++i)
        for (int p = 0; p < n_pos; ++p) {
          const double a = p * std::pow(10000.0, -2.0 * i / s.rope_dim);
          cs[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(a));
          sn[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(a));
        }
      std::vector<int32_t> pos(rows);
      for (auto& p : pos) p = std::uniform_int_distribution<int32_t>(0, n_pos - 1)(rng);
      const std::vector<float> x = normal(static_cast<size_t>(rows) * s.heads * s.head_dim, rng);
      auto dx = upload(x);
      auto dp = upload(pos);
      auto dc = upload(cs);
      auto ds = upload(sn);
      ASSERT_TRUE(cuda::rope(ctx(), dx.as<float>(), rows, s.heads, s.head_dim, s.rope_dim, neox, dp.as<int32_t>(),
                             dc.as<float>(), ds.as<float>())
                      .ok());
      std::vector<float> ref = x;
      cuda_ref::rope(ref.data(), rows, s.heads, s.head_dim, s.rope_dim, neox, pos.data(), cs.data(), sn.data());
      const std::vector<float> got = download<float>(dx, ref.size());
      EXPECT_CLOSE_NMSE(ref, got, 1e-12);
      // Dimensions past rope_dim are untouched.
      for (int r = 0; r < rows; ++r)
        for (int h = 0; h < s.heads; ++h)
          for (int d = s.rope_dim; d < s.head_dim; ++d) {
            const size_t i = (static_cast<size_t>(r) * s.heads + h) * s.head_dim + d;
            ASSERT_EQ(got[i], x[i]);
          }
    }
}

// Device expf is within 2 ulp of the correctly rounded value (glibc's expf within 1): relative
// differences of a few 1e-7 at most, NMSE ~1e-13; tolerance 1e-11.
TEST_F(CudaOps, SiluMulMatchesCpu) {
  std::mt19937 rng(33);
  std::vector<float> g = normal(20000, rng, 4.0f), u = normal(20000, rng);
  for (float e : {-90.0f, -20.0f, 0.0f, 20.0f, 90.0f}) {
    g.push_back(e);
    u.push_back(1.5f);
  }
  auto dg = upload(g);
  auto du = upload(u);
  auto dout = zeros<float>(g.size());
  ASSERT_TRUE(cuda::silu_mul(ctx(), dg.as<float>(), du.as<float>(), dout.as<float>(), static_cast<int64_t>(g.size())).ok());
  std::vector<float> ref(g.size());
  cuda_ref::silu_mul(g.data(), u.data(), ref.data(), static_cast<int64_t>(g.size()));
  EXPECT_CLOSE_NMSE(ref, download<float>(dout, ref.size()), 1e-11);
}

TEST_F(CudaOps, AddsAreExact) {
  std::mt19937 rng(34);
  const int rows = 7, n = 333;
  std::vector<float> y = normal(static_cast<size_t>(rows) * n, rng), x = normal(y.size(), rng), b = normal(n, rng);
  auto dy = upload(y);
  auto dx = upload(x);
  auto db = upload(b);
  ASSERT_TRUE(cuda::add_inplace(ctx(), dy.as<float>(), dx.as<float>(), static_cast<int64_t>(y.size())).ok());
  ASSERT_TRUE(cuda::add_bias(ctx(), dy.as<float>(), db.as<float>(), rows, n).ok());
  std::vector<float> ref = y;
  for (size_t i = 0; i < ref.size(); ++i) ref[i] += x[i];
  cuda_ref::add_bias(ref.data(), b.data(), rows, n);
  EXPECT_EQ(download<float>(dy, ref.size()), ref);
}

// ---- attention.cu -----------------------------------------------------------------------------------------

struct AttnCase {
  int n_head, n_head_kv, head_dim, block_tokens;
};
const AttnCase kAttnCases[] = {{4, 4, 64, 16}, {9, 3, 64, 16}, {8, 2, 128, 32}, {4, 1, 256, 16}, {6, 2, 80, 16}};

std::string attn_name(const AttnCase& a) {
  return "heads " + std::to_string(a.n_head) + "/" + std::to_string(a.n_head_kv) + " head_dim " +
         std::to_string(a.head_dim) + " block " + std::to_string(a.block_tokens);
}

// A paged cache of random halves for one layer, and block tables giving each sequence its own
// shuffled blocks.
struct PagedCache {
  int n_blocks = 0, kv_dim = 0, max_blocks = 0;
  std::vector<uint16_t> k, v;
  std::vector<int32_t> tables;  // [n_seq][max_blocks]
};
PagedCache random_cache(const AttnCase& a, int n_seq, int max_keys, std::mt19937& rng) {
  PagedCache c;
  c.kv_dim = a.n_head_kv * a.head_dim;
  c.max_blocks = (max_keys + a.block_tokens - 1) / a.block_tokens;
  c.n_blocks = n_seq * c.max_blocks + 3;
  const size_t elems = static_cast<size_t>(c.n_blocks) * a.block_tokens * c.kv_dim;
  c.k.resize(elems);
  c.v.resize(elems);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (auto& h : c.k) h = fp32_to_fp16(d(rng));
  for (auto& h : c.v) h = fp32_to_fp16(d(rng));
  std::vector<int32_t> ids(static_cast<size_t>(c.n_blocks));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  c.tables.assign(ids.begin(), ids.begin() + static_cast<long>(n_seq) * c.max_blocks);
  return c;
}

// Reference: cpu::attention_rows on the same fp16 values converted to f32. Both sides compute in
// f32 with different summation orders and exp implementations; relative differences ~1e-6 at most,
// NMSE ~1e-12; tolerance 1e-9.
constexpr double kAttnTol = 1e-9;

TEST_F(CudaOps, KvWriteIsBitwiseTheCpuReference) {
  std::mt19937 rng(41);
  const int kv_dim = 192, n_slots = 64, count = 25;
  std::vector<int32_t> slots(n_slots);
  std::iota(slots.begin(), slots.end(), 0);
  std::shuffle(slots.begin(), slots.end(), rng);
  slots.resize(count);
  const std::vector<float> k = normal(static_cast<size_t>(count) * kv_dim, rng), v = normal(k.size(), rng);
  auto dk = upload(k);
  auto dv = upload(v);
  auto ds = upload(slots);
  auto kc = zeros<uint16_t>(static_cast<size_t>(n_slots) * kv_dim);
  auto vc = zeros<uint16_t>(static_cast<size_t>(n_slots) * kv_dim);
  ASSERT_TRUE(cuda::kv_write(ctx(), {kc.as<uint16_t>(), vc.as<uint16_t>()}, kv_dim, dk.as<float>(), dv.as<float>(),
                             ds.as<int32_t>(), count)
                  .ok());
  std::vector<uint16_t> rk(static_cast<size_t>(n_slots) * kv_dim, 0), rv(rk.size(), 0);
  cuda_ref::kv_write(rk.data(), rv.data(), kv_dim, k.data(), v.data(), slots.data(), count);
  EXPECT_EQ(download<uint16_t>(kc, rk.size()), rk);
  EXPECT_EQ(download<uint16_t>(vc, rv.size()), rv);
}

TEST_F(CudaOps, DecodeAttentionMatchesCpu) {
  std::mt19937 rng(42);
  for (const AttnCase& a : kAttnCases) {
    SCOPED_TRACE(attn_name(a));
    const int n_seq = 4, max_keys = 700;  // > 2 splits of kDecodeSplitKeys
    const PagedCache c = random_cache(a, n_seq, max_keys, rng);
    // Rows: one per sequence plus two extra rows of sequence 1 with fewer keys (decode is also the
    // generic fallback, so rows need not be one per sequence).
    std::vector<int32_t> row_seq = {0, 1, 2, 3, 1, 1};
    std::vector<int32_t> row_nkeys = {1, 700, 256, 257, 31, 513};
    const int rows = static_cast<int>(row_seq.size());
    const std::vector<float> q = normal(static_cast<size_t>(rows) * a.n_head * a.head_dim, rng);
    const cuda::AttentionShape s{a.n_head, a.n_head_kv, a.head_dim, a.block_tokens, c.max_blocks,
                                 1.0f / std::sqrt(static_cast<float>(a.head_dim))};
    auto dk = upload(c.k);
    auto dv = upload(c.v);
    auto dt = upload(c.tables);
    auto dq = upload(q);
    auto drs = upload(row_seq);
    auto drn = upload(row_nkeys);
    auto dout = zeros<float>(q.size());
    const size_t wsf = cuda::decode_workspace_floats(s, rows, max_keys);
    auto ws = zeros<float>(wsf);
    const Status st = cuda::attention_decode(ctx(), s, {dk.as<uint16_t>(), dv.as<uint16_t>()}, dq.as<float>(), rows,
                                             drs.as<int32_t>(), drn.as<int32_t>(), max_keys, dt.as<int32_t>(),
                                             dout.as<float>(), ws.as<float>(), wsf);
    ASSERT_TRUE(st.ok()) << st.error().message;
    std::vector<float> ref(q.size());
    cuda_ref::attention(s, c.k.data(), c.v.data(), q.data(), rows, row_seq.data(), row_nkeys.data(), c.tables.data(),
                        ref.data());
    EXPECT_CLOSE_NMSE(ref, download<float>(dout, ref.size()), kAttnTol);
  }
}

TEST_F(CudaOps, PrefillAttentionMatchesCpuAndDecodeFallback) {
  std::mt19937 rng(43);
  for (const AttnCase& a : kAttnCases) {
    SCOPED_TRACE(attn_name(a));
    // Sequences: (cached prefix, new tokens). Tiles of up to kPrefillTileRows consecutive rows.
    const std::vector<std::pair<int, int>> seqs = {{0, 37}, {100, 5}, {15, 16}, {0, 1}};
    const int max_keys = 110;
    const PagedCache c = random_cache(a, static_cast<int>(seqs.size()), max_keys, rng);
    std::vector<int32_t> row_seq, row_pos, row_nkeys, tiles;
    for (size_t si = 0; si < seqs.size(); ++si)
      for (int i = 0; i < seqs[si].second; ++i) {
        if (i % cuda::kPrefillTileRows == 0) {
          tiles.push_back(static_cast<int32_t>(row_seq.size()));
          tiles.push_back(std::min(cuda::kPrefillTileRows, seqs[si].second - i));
          tiles.push_back(static_cast<int32_t>(si));
        }
        row_seq.push_back(static_cast<int32_t>(si));
        row_pos.push_back(seqs[si].first + i);
        row_nkeys.push_back(seqs[si].first + i + 1);
      }
    const int rows = static_cast<int>(row_seq.size());
    const std::vector<float> q = normal(static_cast<size_t>(rows) * a.n_head * a.head_dim, rng);
    const cuda::AttentionShape s{a.n_head, a.n_head_kv, a.head_dim, a.block_tokens, c.max_blocks,
                                 1.0f / std::sqrt(static_cast<float>(a.head_dim))};
    auto dk = upload(c.k);
    auto dv = upload(c.v);
    auto dt = upload(c.tables);
    auto dq = upload(q);
    auto dtiles = upload(tiles);
    auto dpos = upload(row_pos);
    auto dout = zeros<float>(q.size());
    const cuda::KvLayer layer{dk.as<uint16_t>(), dv.as<uint16_t>()};
    Status st = cuda::attention_prefill(ctx(), s, layer, dq.as<float>(), dtiles.as<int32_t>(),
                                        static_cast<int>(tiles.size() / 3), dpos.as<int32_t>(), dt.as<int32_t>(),
                                        dout.as<float>());
    ASSERT_TRUE(st.ok()) << st.error().message;
    std::vector<float> ref(q.size());
    cuda_ref::attention(s, c.k.data(), c.v.data(), q.data(), rows, row_seq.data(), row_nkeys.data(), c.tables.data(),
                        ref.data());
    EXPECT_CLOSE_NMSE(ref, download<float>(dout, ref.size()), kAttnTol);

    auto drs = upload(row_seq);
    auto drn = upload(row_nkeys);
    auto dout2 = zeros<float>(q.size());
    const size_t wsf = cuda::decode_workspace_floats(s, rows, max_keys);
    auto ws = zeros<float>(wsf);
    st = cuda::attention_decode(ctx(), s, layer, dq.as<float>(), rows, drs.as<int32_t>(), drn.as<int32_t>(), max_keys,
                                dt.as<int32_t>(), dout2.as<float>(), ws.as<float>(), wsf);
    ASSERT_TRUE(st.ok()) << st.error().message;
    EXPECT_CLOSE_NMSE(ref, download<float>(dout2, ref.size()), kAttnTol);
  }
}

// ---- sampling.cu ----------------------------------------------------------------------------------------

// Logits with ties (multiples of 0.25) and some banned (-inf) tokens.
std::vector<float> random_logits(int rows, int n_vocab, std::mt19937& rng, double banned_fraction) {
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<float> l(static_cast<size_t>(rows) * n_vocab);
  for (auto& x : l) x = u(rng) < banned_fraction ? -std::numeric_limits<float>::infinity() : std::round(d(rng) * 4.0f) / 4.0f;
  return l;
}

TEST_F(CudaOps, GreedySamplingIsTheCpuArgmax) {
  std::mt19937 rng(51);
  for (int n_vocab : {7, 1000, 49152}) {
    SCOPED_TRACE("vocab " + std::to_string(n_vocab));
    const int rows = 9;
    std::vector<float> logits = random_logits(rows, n_vocab, rng, 0.1);
    std::fill(logits.begin() + static_cast<long>(n_vocab) * 8, logits.end(), -std::numeric_limits<float>::infinity());
    auto sampler = cuda::DeviceSampler::create(ctx(), 16, n_vocab);
    ASSERT_TRUE(sampler.ok()) << sampler.error().message;
    auto dl = upload(logits);
    std::vector<cuda::SampleRow> params(rows);  // temperature 0
    std::vector<int32_t> ids(rows, -1);
    const Status st = sampler->sample(ctx(), dl.as<float>(), params.data(), rows, ids.data());
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (int r = 0; r < rows; ++r)
      EXPECT_EQ(ids[static_cast<size_t>(r)], cuda_ref::sample(logits.data() + static_cast<size_t>(r) * n_vocab, n_vocab,
                                                              params[static_cast<size_t>(r)], 1))
          << "row " << r;
  }
}

// The same u as the CPU Sampler's first draw must pick the same token. It can legitimately differ
// only when u * mass falls within float-rounding distance (~1e-6 relative) of an interval boundary
// (see sampling.cu), which random draws hit with probability ~1e-5; at most 1% mismatches are
// tolerated, while any ordering/filter bug mismatches on a large share of rows. top_k = 1 must
// always agree.
TEST_F(CudaOps, SamplingFollowsTheCpuSampler) {
  std::mt19937 rng(52);
  int total = 0, mismatches = 0;
  for (int n_vocab : {50, 1000, 49152}) {
    const int rows = 16;
    auto sampler = cuda::DeviceSampler::create(ctx(), rows, n_vocab);
    ASSERT_TRUE(sampler.ok()) << sampler.error().message;
    for (int round = 0; round < 10; ++round) {
      std::vector<float> logits = random_logits(rows, n_vocab, rng, round % 2 ? 0.3 : 0.0);
      if (round == 3) std::fill(logits.begin(), logits.begin() + n_vocab, -std::numeric_limits<float>::infinity());
      std::vector<cuda::SampleRow> params(rows);
      std::vector<uint64_t> seeds(rows);
      for (int r = 0; r < rows; ++r) {
        cuda::SampleRow& p = params[static_cast<size_t>(r)];
        p.temperature = std::uniform_real_distribution<float>(0.3f, 1.5f)(rng);
        p.top_k = std::vector<int>{0, 1, 5, 50, 100000}[static_cast<size_t>(r) % 5];
        p.top_p = std::vector<float>{1.0f, 0.9f, 0.5f}[static_cast<size_t>(r) % 3];
        p.min_p = r % 4 == 0 ? 0.05f : 0.0f;
        if (r == rows - 1) p.temperature = 0.0f;  // a greedy row in a mixed batch
        seeds[static_cast<size_t>(r)] = rng();
        p.u = cuda_ref::sampler_u(seeds[static_cast<size_t>(r)]);
      }
      auto dl = upload(logits);
      std::vector<int32_t> ids(rows, -1);
      const Status st = sampler->sample(ctx(), dl.as<float>(), params.data(), rows, ids.data());
      ASSERT_TRUE(st.ok()) << st.error().message;
      for (int r = 0; r < rows; ++r) {
        const float* row = logits.data() + static_cast<size_t>(r) * n_vocab;
        const int32_t want = cuda_ref::sample(row, n_vocab, params[static_cast<size_t>(r)], seeds[static_cast<size_t>(r)]);
        const int32_t got = ids[static_cast<size_t>(r)];
        ASSERT_GE(got, 0);
        ASSERT_LT(got, n_vocab);
        if (round == 3 && r == 0) EXPECT_EQ(got, 0) << "all tokens banned";
        else if (row[got] == -std::numeric_limits<float>::infinity()) ADD_FAILURE() << "drew a banned token";
        if (params[static_cast<size_t>(r)].top_k == 1 || params[static_cast<size_t>(r)].temperature <= 0.0f)
          EXPECT_EQ(got, want) << "vocab " << n_vocab << " row " << r;
        ++total;
        mismatches += got != want ? 1 : 0;
      }
    }
  }
  std::printf("sampling: %d of %d draws differ from the CPU sampler\n", mismatches, total);
  EXPECT_LE(mismatches, total / 100);
}

}  // namespace
}  // namespace cyllm::test
