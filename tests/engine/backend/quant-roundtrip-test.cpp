// Property tests for the quantizers of backend/quant.h: quantize_row_act gives the same bytes on
// every ISA and dequantizes back within half a step; quantize_row_ref round-trips every weight type
// within a bound derived from its scheme (comments per type).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "backend/quant-impl.h"
#include "backend/quant.h"

namespace cyllm::cpu {
namespace {

// Random floats: a random scale, a random offset (affine types must cope), sometimes all zero.
std::vector<float> gen_floats(int64_t n) {
  const float scale = *rc::gen::element(0.0f, 0.001f, 1.0f, 30.0f, 1000.0f);
  const float offset = *rc::gen::element(0.0f, 0.0f, 0.5f, -2.0f) * scale;
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = offset + static_cast<float>(*rc::gen::inRange(-1000000, 1000001)) * (scale / 1e6f);
  return x;
}

std::vector<float> deq(GgmlType t, const void* p, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, p, y.data(), n, Isa::kScalar);
  return y;
}

// Largest error of storing v as fp16: half an ulp (2^-11 relative), or half the subnormal spacing.
float fp16_err(float v) { return std::max(std::fabs(v) / 2048.0f, 0x1p-25f); }

float absmax(const float* x, int64_t m) {
  float a = 0.0f;
  for (int64_t j = 0; j < m; ++j) a = std::max(a, std::fabs(x[j]));
  return a;
}

void check_act(GgmlType at) {
  const int64_t bs = type_traits(at)->block_size;
  const int64_t n = bs * *rc::gen::inRange(1, 9);
  const std::vector<float> x = gen_floats(n);
  std::vector<uint8_t> ref(*row_bytes(at, n));
  quantize_row_act(at, x.data(), ref.data(), n, Isa::kScalar);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!isa_supported(isa)) continue;
    std::vector<uint8_t> got(ref.size(), 0xAB);
    quantize_row_act(at, x.data(), got.data(), n, isa);
    RC_ASSERT(got == ref);  // same d, same float inverse, same rounding: identical bytes
  }
  const std::vector<float> y = deq(at, ref.data(), n);
  for (int64_t b = 0; b < n / bs; ++b) {
    const float d = absmax(x.data() + b * bs, bs) / 127.0f;
    // Half a step, plus (Q8_0/Q8_1) the fp16 rounding of d times |q| <= 127.
    const float tol = at == GgmlType::Q8_K ? d * 0.5001f + 1e-30f : d * 0.5001f + 127.0f * fp16_err(d);
    for (int64_t j = b * bs; j < (b + 1) * bs; ++j) RC_ASSERT(std::fabs(y[j] - x[j]) <= tol);
    if (at == GgmlType::Q8_1) {  // s = d * sum(q), stored as fp16
      const auto& blk = reinterpret_cast<const BlockQ8_1*>(ref.data())[b];
      int sum = 0;
      for (int8_t q : blk.qs) sum += q;
      const float dd = fp16_to_fp32(blk.d), s = fp16_to_fp32(blk.s);
      // s was rounded once from d*sum (float d), dd is d rounded: two fp16 roundings apart. A
      // known limit of the format: |d*sum| beyond the fp16 range (only when 32 activations of a
      // block all exceed ~2000 in magnitude) stores an infinite s.
      if (std::fabs(dd * sum) > 65000.0f) {
        RC_ASSERT(std::isinf(s) || std::fabs(s) >= 64000.0f);
        continue;
      }
      RC_ASSERT(std::fabs(s - dd * sum) <= fp16_err(dd * sum) + std::abs(sum) * fp16_err(dd) * 1.01f);
    }
    if (at == GgmlType::Q8_K) {
      const auto& blk = reinterpret_cast<const BlockQ8_K*>(ref.data())[b];
      for (int g = 0; g < 16; ++g) {
        int s = 0;
        for (int l = 0; l < 16; ++l) s += blk.qs[16 * g + l];
        RC_ASSERT(blk.bsums[g] == s);
      }
    }
  }
}

RC_GTEST_PROP(QuantAct, Q8_0, ()) { check_act(GgmlType::Q8_0); }
RC_GTEST_PROP(QuantAct, Q8_1, ()) { check_act(GgmlType::Q8_1); }
RC_GTEST_PROP(QuantAct, Q8_K, ()) { check_act(GgmlType::Q8_K); }

// Largest allowed |dequant(quant(x)) - x| over one block of the type, from the block's inputs.
float ref_bound(GgmlType t, const float* x, int64_t m) {
  float mn = x[0], mx = x[0];
  for (int64_t j = 0; j < m; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
  const float amax = absmax(x, m);
  switch (t) {
    // Symmetric 4/5-bit: d = amax/8 (/16); the value at -sign(max)*amax maps one level beyond the
    // top and is clamped: error up to one step d; plus up to 16 (32) levels times the fp16 error of d.
    case GgmlType::Q4_0: return amax / 8 + 16 * fp16_err(amax / 8);
    case GgmlType::Q5_0: return amax / 16 + 32 * fp16_err(amax / 16);
    // Affine: half a step (max-min)/15 (/31), plus fp16 error of d (times 15/31 levels) and of m.
    case GgmlType::Q4_1: return (mx - mn) / 15 * 0.5001f + 15 * fp16_err((mx - mn) / 15) + fp16_err(mn);
    case GgmlType::Q5_1: return (mx - mn) / 31 * 0.5001f + 31 * fp16_err((mx - mn) / 31) + fp16_err(mn);
    case GgmlType::Q8_0: return amax / 127 * 0.5001f + 127 * fp16_err(amax / 127);
    // K-quants (see quant-scalar-ref.cpp): with R = max(0,max) - min(0,min) over the super-block,
    // dmin <= R/63 and d*sc <= (R + dmin)/15 + d, d <= (R + dmin)/(15*63): the error is at most half
    // a sub-block step or dmin/2, i.e. about R/29 for 4 bits, R/61 for 5 bits.
    case GgmlType::Q4_K: return (std::max(mx, 0.0f) - std::min(mn, 0.0f)) / 25 + 1e-30f;
    case GgmlType::Q5_K: return (std::max(mx, 0.0f) - std::min(mn, 0.0f)) / 50 + 1e-30f;
    // Q6_K: group scale amax_g/31 rounded up to a multiple of d = max_g/127: error <= half of
    // (amax_g/31 + amax/(31*127)) < amax/60.
    case GgmlType::Q6_K: return amax / 55 + 1e-30f;
    default: return 0.0f;
  }
}

void check_ref(GgmlType t) {
  const int64_t bs = type_traits(t)->block_size == 1 ? 1 : type_traits(t)->block_size;
  const int64_t n = bs * *rc::gen::inRange(1, bs == 1 ? 100 : 5);
  const std::vector<float> x = gen_floats(n);
  std::vector<uint8_t> q(*row_bytes(t, n));
  quantize_row_ref(t, x.data(), q.data(), n);
  const std::vector<float> y = deq(t, q.data(), n);
  for (int64_t j = 0; j < n; ++j) {
    float tol;
    switch (t) {
      case GgmlType::F32: tol = 0.0f; break;
      case GgmlType::F16: tol = std::fabs(x[j]) / 2048.0f + 6e-8f; break;  // half an ulp (11-bit mantissa)
      case GgmlType::BF16: tol = std::fabs(x[j]) / 256.0f; break;         // half an ulp (8-bit mantissa)
      default: {
        const int64_t b = j / bs;
        tol = ref_bound(t, x.data() + b * bs, bs);
      }
    }
    if (!(std::fabs(y[j] - x[j]) <= tol))
      RC_FAIL(std::string(type_name(static_cast<uint32_t>(t))) + " j=" + std::to_string(j) + ": " +
              std::to_string(x[j]) + " -> " + std::to_string(y[j]) + " tol " + std::to_string(tol));
  }
}

#define CYLLM_REF_PROP(T) \
  RC_GTEST_PROP(QuantRef, RoundTrip_##T, ()) { check_ref(GgmlType::T); }
CYLLM_REF_PROP(F32)
CYLLM_REF_PROP(F16)
CYLLM_REF_PROP(BF16)
CYLLM_REF_PROP(Q4_0)
CYLLM_REF_PROP(Q4_1)
CYLLM_REF_PROP(Q5_0)
CYLLM_REF_PROP(Q5_1)
CYLLM_REF_PROP(Q8_0)
CYLLM_REF_PROP(Q4_K)
CYLLM_REF_PROP(Q5_K)
CYLLM_REF_PROP(Q6_K)

}  // namespace
}  // namespace cyllm::cpu
