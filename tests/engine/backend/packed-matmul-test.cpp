// Property tests for backend/packed.h: on random Q4_1 / Q8_0 weight blocks (random bytes, random
// finite fp16 scales) of random shapes (row counts that are not multiples of the 16-row group,
// odd block counts, 1..70 activation columns, group ranges split across calls), the packed
// AVX-512 VNNI matmul agrees with quant.h's scalar matmul_tile, and writes nothing outside its
// rows. Skipped where packed_available() is false (no AVX512-VNNI, or another ISA forced).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "backend/packed.h"
#include "backend/quant-impl.h"
#include "backend/quant.h"
#include "model/weights.h"

namespace cyllm::cpu {
namespace {

uint16_t finite_half(uint16_t h) { return (h & 0x7c00u) == 0x7c00u ? static_cast<uint16_t>(h & ~0x4000u) : h; }

std::string g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Random rows of weight type t: random bytes, fp16 fields forced finite.
std::vector<uint8_t> gen_weights(GgmlType t, int64_t rows, int64_t nb) {
  const size_t bb = type_traits(t)->block_bytes;
  std::vector<uint8_t> w = *rc::gen::container<std::vector<uint8_t>>(static_cast<size_t>(rows * nb) * bb,
                                                                     rc::gen::arbitrary<uint8_t>());
  const int nf = t == GgmlType::Q4_1 ? 2 : 1;  // d (and m) at offsets 0, 2
  for (size_t b = 0; b < static_cast<size_t>(rows * nb); ++b)
    for (int f = 0; f < nf; ++f) {
      uint16_t h;
      std::memcpy(&h, w.data() + b * bb + 2 * f, 2);
      h = finite_half(h);
      std::memcpy(w.data() + b * bb + 2 * f, &h, 2);
    }
  return w;
}

// Bound on the sum of |float terms| of one row x column dot (what float rounding can scale):
// per block |d_w d_a| * (sum |u_k a_k| + 128 |sum a|) + |m_w d_a sum a|, u the unsigned level.
double term_bound(GgmlType t, const uint8_t* w, const uint8_t* a, int64_t nb) {
  double m = 0.0;
  for (int64_t b = 0; b < nb; ++b) {
    const bool q41 = t == GgmlType::Q4_1;
    const uint8_t* wb = w + b * (q41 ? 20 : 34);
    const uint8_t* ab = a + b * (q41 ? 36 : 34);
    uint16_t h;
    std::memcpy(&h, wb, 2);
    const double dw = std::fabs(fp16_to_fp32(h));
    double mw = 0.0;
    if (q41) {
      std::memcpy(&h, wb + 2, 2);
      mw = std::fabs(fp16_to_fp32(h));
    }
    std::memcpy(&h, ab, 2);
    const double da = std::fabs(fp16_to_fp32(h));
    const auto* qa = reinterpret_cast<const int8_t*>(ab + (q41 ? 4 : 2));
    double sabs = 0.0, sum = 0.0;
    for (int k = 0; k < 32; ++k) {
      sabs += 255.0 * std::abs(qa[k]);
      sum += qa[k];
    }
    m += dw * da * (sabs + 128.0 * std::fabs(sum)) + mw * da * std::fabs(sum);
  }
  return m;
}

void check_packed(GgmlType t) {
  // Small (odd included) block counts, sometimes the model's 18 and 48.
  const int64_t nb = *rc::gen::weightedOneOf<int64_t>({{4, rc::gen::inRange<int64_t>(1, 8)},
                                                       {1, rc::gen::element<int64_t>(18, 48)}});
  const int64_t n = 32 * nb;
  const int64_t nrows = *rc::gen::inRange(1, 71);        // mostly not a multiple of 16
  const int64_t ncols = *rc::gen::inRange(1, 71);        // every register-tile remainder, > 64
  const GgmlType at = vec_dot_type(t);
  const size_t ws = *row_bytes(t, n), as = *row_bytes(at, n);
  const std::vector<uint8_t> w = gen_weights(t, nrows, nb);
  // Activations: random floats of a random scale, quantized by the scalar reference.
  const float scale = *rc::gen::element(0.001f, 1.0f, 1000.0f);
  std::vector<uint8_t> a(as * static_cast<size_t>(ncols));
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t c = 0; c < ncols; ++c) {
    for (auto& v : x) v = static_cast<float>(*rc::gen::inRange(-1000000, 1000001)) * (scale / 1e6f);
    quantize_row_act(at, x.data(), a.data() + c * as, n, Isa::kScalar);
  }
  std::vector<float> sc(static_cast<size_t>(2 * nb * ncols));
  for (int64_t c = 0; c < ncols; ++c) packed_act_scales(at, a.data() + c * as, n, sc.data() + 2 * nb * c);

  const auto pw = pack_weight(t, n, nrows, w.data(), ws);
  RC_ASSERT(pw != nullptr);
  RC_ASSERT(pw->ngroups == (nrows + 15) / 16);
  const int64_t ldy = nrows + *rc::gen::inRange(0, 3);
  std::vector<float> y(static_cast<size_t>(ldy * ncols), -12345.0f);  // sentinel: padding stays untouched
  // Two calls over a random split of the groups, as the threads of cpu::matmul make them.
  const int64_t split = *rc::gen::inRange<int64_t>(0, pw->ngroups + 1);
  packed_matmul(*pw, 0, split, a.data(), as, sc.data(), ncols, y.data(), ldy);
  packed_matmul(*pw, split, pw->ngroups - split, a.data(), as, sc.data(), ncols, y.data(), ldy);

  std::vector<float> ref(static_cast<size_t>(nrows * ncols));
  matmul_tile(t, n, w.data(), ws, nrows, a.data(), as, ncols, ref.data(), nrows, Isa::kScalar);
  for (int64_t c = 0; c < ncols; ++c)
    for (int64_t r = 0; r < ldy; ++r) {
      const float got = y[c * ldy + r];
      if (r >= nrows) {
        RC_ASSERT(got == -12345.0f);
        continue;
      }
      const float want = ref[c * nrows + r];
      // The integer block dots are exact in both; only the order of the float accumulation (and
      // FMA vs separate rounding) differs: at most a few ulps of the sum of |terms| per block, so
      // 1e-5 of that sum is loose for nb <= 48 yet far below any layout or scale mistake.
      const double tol = 1e-5 * term_bound(t, w.data() + r * ws, a.data() + c * as, nb) + 1e-30;
      RC_ASSERT(std::isfinite(got));
      if (std::fabs(static_cast<double>(got) - want) > tol)
        RC_FAIL("packed row " + std::to_string(r) + " col " + std::to_string(c) + ": " + g(got) + " vs scalar " +
                g(want) + " tol " + g(tol));
    }
}

RC_GTEST_PROP(PackedMatmul, Q4_1, ()) {
  if (!packed_available()) return;
  check_packed(GgmlType::Q4_1);
}

RC_GTEST_PROP(PackedMatmul, Q8_0, ()) {
  if (!packed_available()) return;
  check_packed(GgmlType::Q8_0);
}

// pack_weights sets WeightRef::packed for supported 2-D weights only and leaves others alone.
TEST(PackedMatmul, PackWeightsSelectsTypes) {
  if (!packed_available()) GTEST_SKIP() << "packed kernels need AVX512-VNNI";
  std::vector<uint8_t> q41(20 * 2 * 40, 0), f32(4 * 64 * 3, 0);
  WeightRef a{nullptr, GgmlType::Q4_1, 64, 40, 40, q41.data(), nullptr};
  WeightRef b{nullptr, GgmlType::F32, 64, 3, 256, f32.data(), nullptr};
  WeightRef* ws[] = {&a, &b};
  EXPECT_EQ(pack_weights(ws, 2), 3u * (2 * 64 + 2 * 256));  // 3 groups of 2 x (64 scale + 256 quant bytes)
  ASSERT_NE(a.packed, nullptr);
  EXPECT_EQ(a.packed->ngroups, 3);
  EXPECT_EQ(b.packed, nullptr);
}

}  // namespace
}  // namespace cyllm::cpu
