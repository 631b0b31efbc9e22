// silu_mul (backend/cpu-ops.h) on every ISA path this CPU runs, against float64: random gates
// over the whole range where silu changes (including where e^-g over- or underflows in float),
// and random multipliers.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu-ops.h"
#include "support/cpu-isas.h"

namespace cyllm::cpu {
namespace {

RC_GTEST_PROP(Activation, SiluMulMatchesFloat64, ()) {
  const int n = *rc::gen::inRange(1, 100);  // not only multiples of 16: the masked tail
  std::vector<float> gate(static_cast<size_t>(n)), up(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    gate[static_cast<size_t>(i)] = static_cast<float>(*rc::gen::inRange(-1200000, 1200000)) / 10000.0f;
    up[static_cast<size_t>(i)] = static_cast<float>(*rc::gen::inRange(-10000, 10000)) / 1000.0f;
  }
  for (const Isa isa : test::runnable_isas()) {
    std::vector<float> out(static_cast<size_t>(n) + 1, 7.0f);
    silu_mul(gate.data(), up.data(), out.data(), n, isa);
    RC_ASSERT(out[static_cast<size_t>(n)] == 7.0f);  // nothing written past n
    for (int i = 0; i < n; ++i) {
      const double g = gate[static_cast<size_t>(i)];
      const double want = g / (1.0 + std::exp(-g)) * up[static_cast<size_t>(i)];
      // float32 exp (< 2 ulp), one add, one divide, one multiply: 1e-6 relative is about 8 ulp.
      // The absolute floor: below g = -88.7, e^-g overflows float and both paths give 0, where
      // the true value is at most 120 * e^-88.7 * 10 < 4e-36.
      RC_ASSERT(std::abs(out[static_cast<size_t>(i)] - want) <= 1e-6 * std::abs(want) + 4e-36);
    }
  }
}

TEST(Activation, SiluMulLimits) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> gate{0.0f, -200.0f, 200.0f, 88.0f, -88.0f, 1e-30f};
  const std::vector<float> up(gate.size(), 1.0f);
  for (const Isa isa : test::runnable_isas()) {
    std::vector<float> out(gate.size());
    silu_mul(gate.data(), up.data(), out.data(), static_cast<int>(gate.size()), isa);
    EXPECT_EQ(out[0], 0.0f);
    EXPECT_EQ(out[1], 0.0f);  // -200 / (1 + inf)
    EXPECT_EQ(out[2], 200.0f);
    EXPECT_NEAR(out[3], 88.0f, 1e-5f);
    EXPECT_NEAR(out[4], -88.0 * std::exp(-88.0), 1e-40);
    EXPECT_FLOAT_EQ(out[5], 0.5e-30f);
    for (float v : out) EXPECT_NE(std::abs(v), inf);
  }
}

}  // namespace
}  // namespace cyllm::cpu
