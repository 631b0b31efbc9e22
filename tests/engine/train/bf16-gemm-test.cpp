// The bf16 training products (engine/train/train-gemm-bf16.h) against a float64 reference of the
// same bf16-rounded operands, for random shapes (odd K, N not a multiple of the 32-column panel,
// M not a multiple of the 8-row tile), both packings, accumulate on and off; results bitwise
// independent of the thread count; packing a quantized weight equals packing its dequantized
// floats. Skips on CPUs without AVX512-BF16.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <vector>

#include "backend/quant.h"
#include "train/train-gemm-bf16.h"

namespace cyllm::train {
namespace {

std::vector<float> randoms(size_t n) {
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(*rc::gen::inRange(-100000, 100000)) / 30000.0f;
  return v;
}

RC_GTEST_PROP(Bf16Gemm, MatchesFloat64OfRoundedOperands, ()) {
  if (!bf16_gemm_available()) RC_SUCCEED("no AVX512-BF16 on this CPU");
  const int64_t M = *rc::gen::inRange(1, 40), N = *rc::gen::inRange(1, 100), K = *rc::gen::inRange(1, 300);
  const bool transposed = *rc::gen::arbitrary<bool>(), accumulate = *rc::gen::arbitrary<bool>();
  const std::vector<float> A = randoms(static_cast<size_t>(M * K)), W = randoms(static_cast<size_t>(N * K));
  // B[k][n]: W is [N][K] when transposed (B = Wᵀ), else read as [K][N].
  auto b_at = [&](int64_t k, int64_t n) { return transposed ? W[static_cast<size_t>(n * K + k)] : W[static_cast<size_t>(k * N + n)]; };
  Bf16Panels B;
  if (transposed) {
    pack_bf16_transposed(W.data(), N, K, B);
  } else {
    pack_bf16(W.data(), K, N, B);
  }
  RC_ASSERT(B.K == K);
  RC_ASSERT(B.N == N);
  const int64_t ldc = N + 3;
  std::vector<float> C0 = randoms(static_cast<size_t>(M * ldc)), C = C0;
  ThreadPool pool(2);
  gemm_bf16(pool, M, A.data(), K, B, C.data(), ldc, accumulate);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      if (j >= N) {
        RC_ASSERT(C[at] == C0[at]);  // nothing written past N
        continue;
      }
      double want = accumulate ? C0[at] : 0.0, mag = std::abs(want);
      for (int64_t k = 0; k < K; ++k) {
        const double p = static_cast<double>(round_bf16(A[static_cast<size_t>(i * K + k)])) * round_bf16(b_at(k, j));
        want += p;
        mag += std::abs(p);
      }
      // Each bf16 x bf16 product is exact in float32; the K + 1 float32 additions round by at
      // most 2^-24 of the running magnitude each.
      RC_ASSERT(std::abs(C[at] - want) <= std::ldexp(mag, -24) * static_cast<double>(K + 2) + 1e-30);
    }
  std::vector<float> C1 = C0;
  ThreadPool one(1);
  gemm_bf16(one, M, A.data(), K, B, C1.data(), ldc, accumulate);
  RC_ASSERT(C1 == C);  // bitwise, whatever the thread count
}

TEST(Bf16Gemm, RoundsToNearestEven) {
  if (!bf16_gemm_available()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  EXPECT_EQ(round_bf16(1.0f), 1.0f);
  EXPECT_EQ(round_bf16(1.0f + 1.0f / 512), 1.0f);                      // tie: to even (1.0)
  EXPECT_EQ(round_bf16(1.0f + 3.0f / 512), 1.0f + 4.0f / 512);         // tie: to even (up)
  EXPECT_EQ(round_bf16(1.0f + 1.0f / 256 + 1e-4f), 1.0f + 1.0f / 128); // above the tie: up
  EXPECT_EQ(round_bf16(-3.0f), -3.0f);
}

TEST(Bf16Gemm, PackingAQuantizedWeightEqualsPackingItsFloats) {
  if (!bf16_gemm_available()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  const int64_t rows = 70, cols = 96;  // Q8_0 rows of 3 blocks
  std::vector<float> src(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < src.size(); ++i) src[i] = std::sin(static_cast<float>(i) * 0.37f) * 2.5f;
  const size_t rb = *row_bytes(GgmlType::Q8_0, cols);
  std::vector<uint8_t> q(rb * rows);
  std::vector<float> deq(src.size());
  for (int64_t r = 0; r < rows; ++r) {
    cpu::quantize_row_act(GgmlType::Q8_0, src.data() + r * cols, q.data() + r * rb, cols);
    cpu::dequantize_row(GgmlType::Q8_0, q.data() + r * rb, deq.data() + r * cols, cols);
  }
  WeightRef w;
  w.type = GgmlType::Q8_0;
  w.ne0 = cols;
  w.ne1 = rows;
  w.row_stride = rb;
  w.data = q.data();
  ThreadPool pool(2);
  Bf16Panels a, b;
  pack_bf16_transposed(pool, w, 5, 69, a);
  pack_bf16_transposed(deq.data() + 5 * cols, 64, cols, b);
  EXPECT_EQ(a.data, b.data);
  pack_bf16(pool, w, 3, 70, a);
  pack_bf16(deq.data() + 3 * cols, 67, cols, b);
  EXPECT_EQ(a.data, b.data);
  EXPECT_NE(a.data, std::vector<uint16_t>(a.data.size(), 0));
}

}  // namespace
}  // namespace cyllm::train
