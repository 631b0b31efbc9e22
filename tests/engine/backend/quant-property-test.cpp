// Property tests for backend/quant.h: on random blocks (random bytes for quantized fields, random
// finite fp16 scales), every ISA this CPU runs (and the AVX-512 path with VNNI switched off) agrees
// with the scalar reference for dequantize_row, quantize_row_act, vec_dot and matmul_tile; and the
// reference quantizers round-trip within type-specific error bounds.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <cstring>
#include <vector>

#include "backend/quant-impl.h"
#include "backend/quant.h"

namespace cyllm::cpu {
namespace {

struct IsaCase {
  Isa isa;
  bool vnni;  // only meaningful for kAvx512
};

std::vector<IsaCase> isa_cases() {
  std::vector<IsaCase> out;
  if (isa_supported(Isa::kAvx2)) out.push_back({Isa::kAvx2, false});
  if (isa_supported(Isa::kAvx512)) {
    out.push_back({Isa::kAvx512, false});
    if (__builtin_cpu_supports("avx512vnni")) out.push_back({Isa::kAvx512, true});
  }
  return out;
}

// Runs f with the case's ISA (and VNNI switch) in force.
template <class F>
void with_isa(const IsaCase& ic, F f) {
  if (ic.isa == Isa::kAvx512) avx512::set_vnni_enabled(ic.vnni);
  f(ic.isa);
  if (ic.isa == Isa::kAvx512) avx512::set_vnni_enabled(__builtin_cpu_supports("avx512vnni") != 0);
}

int64_t block_size(GgmlType t) { return type_traits(t)->block_size; }
size_t block_bytes(GgmlType t) { return type_traits(t)->block_bytes; }

// Byte offsets of the fp16 scale fields in a block.
std::vector<int> fp16_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: return {0};
    case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q8_1: return {0, 2};
    case GgmlType::Q4_K: case GgmlType::Q5_K: return {0, 2};
    case GgmlType::Q6_K: return {208};
    default: return {};
  }
}

uint16_t finite_half(uint16_t h) { return (h & 0x7c00u) == 0x7c00u ? static_cast<uint16_t>(h & ~0x4000u) : h; }

std::string g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

float gen_float(float scale) { return static_cast<float>(*rc::gen::inRange(-1000000, 1000001)) * (scale / 1e6f); }

// A random row of nb blocks of weight type t.
std::vector<uint8_t> gen_row(GgmlType t, int64_t n) {
  const size_t bytes = *row_bytes(t, n);
  std::vector<uint8_t> row(bytes);
  if (t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16) {
    const float scale = *rc::gen::element(0.01f, 1.0f, 100.0f);
    for (int64_t i = 0; i < n; ++i) {
      const float f = gen_float(scale);
      if (t == GgmlType::F32) std::memcpy(row.data() + 4 * i, &f, 4);
      const uint16_t h = t == GgmlType::F16 ? fp32_to_fp16(f) : fp32_to_bf16(f);
      if (t != GgmlType::F32) std::memcpy(row.data() + 2 * i, &h, 2);
    }
    return row;
  }
  row = *rc::gen::container<std::vector<uint8_t>>(bytes, rc::gen::arbitrary<uint8_t>());
  for (size_t b = 0; b < bytes / block_bytes(t); ++b)
    for (int off : fp16_fields(t)) {
      uint8_t* p = row.data() + b * block_bytes(t) + off;
      uint16_t h;
      std::memcpy(&h, p, 2);
      h = finite_half(h);
      std::memcpy(p, &h, 2);
    }
  return row;
}

std::vector<float> gen_floats(int64_t n) {
  const float scale = *rc::gen::element(0.001f, 1.0f, 10.0f, 1000.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = gen_float(scale);
  return x;
}

std::vector<float> deq(GgmlType t, const void* p, int64_t n, Isa isa = Isa::kScalar) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, p, y.data(), n, isa);
  return y;
}

// Bound on sum |each float term| a kernel may round, per weight block: any integer weight level
// times |d| (levels < 384 incl. offsets) plus |m|; K-quants: |d| * 63 * 64 + |dmin| * 64,
// Q6_K: |d| * 128 * 64. Float kernels: |w|.
double term_bound(GgmlType t, const uint8_t* w, int64_t n, const float* a_deq) {
  const std::vector<float> wd = deq(t, w, n);
  const int64_t bs = block_size(t);
  double m = 0.0;
  for (int64_t b = 0; b < n / bs; ++b) {
    const uint8_t* blk = w + b * block_bytes(t);
    auto h = [&](int off) { uint16_t v; std::memcpy(&v, blk + off, 2); return std::fabs(static_cast<double>(fp16_to_fp32(v))); };
    double wb;
    switch (t) {
      case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: wb = 384 * h(0); break;
      case GgmlType::Q4_1: case GgmlType::Q5_1: wb = 384 * h(0) + h(2); break;
      case GgmlType::Q4_K: case GgmlType::Q5_K: wb = 63 * 64 * h(0) + 64 * h(2); break;
      case GgmlType::Q6_K: wb = 128 * 64 * h(208); break;
      default: wb = -1; break;
    }
    for (int64_t j = b * bs; j < (b + 1) * bs; ++j) m += (wb < 0 ? std::fabs(wd[j]) : wb) * std::fabs(a_deq[j]);
  }
  return m;
}

// A random activation row for weight type w, quantized to vec_dot_type(w) by the scalar reference.
std::vector<uint8_t> gen_act(GgmlType w, int64_t n, std::vector<float>* deq_out) {
  const GgmlType at = vec_dot_type(w);
  const std::vector<float> x = gen_floats(n);
  std::vector<uint8_t> a(*row_bytes(at, n));
  quantize_row_act(at, x.data(), a.data(), n, Isa::kScalar);
  *deq_out = deq(at, a.data(), n);
  return a;
}

bool is_kquant(GgmlType t) { return t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == GgmlType::Q6_K; }

// Tolerance for a dot product against the scalar reference. K-quant kernels compute the same
// integers and the same float expression in the same order as the scalar one: exact. Others sum
// floats in a different order (per-lane partial sums, offsets folded into separate terms): the
// error is a few float32 ulps of the sum of |terms|; 1e-5 relative to it leaves ~100x margin for
// the row lengths used here (<= 12 blocks).
double dot_tol(GgmlType t, double bound) { return is_kquant(t) ? 0.0 : 1e-5 * bound + 1e-30; }

void check_dot(GgmlType t) {
  const int64_t bs = block_size(t) == 1 ? *rc::gen::inRange(1, 8) : block_size(t);
  const int64_t n = bs * *rc::gen::inRange(1, t == GgmlType::F32 || is_kquant(t) ? 4 : 13);
  const std::vector<uint8_t> w = gen_row(t, n);
  std::vector<float> ad;
  const std::vector<uint8_t> a = gen_act(t, n, &ad);
  const float ref = vec_dot(t, n, w.data(), a.data(), Isa::kScalar);
  const double tol = dot_tol(t, term_bound(t, w.data(), n, ad.data()));
  for (const IsaCase& ic : isa_cases())
    with_isa(ic, [&](Isa isa) {
      const float got = vec_dot(t, n, w.data(), a.data(), isa);
      RC_ASSERT(std::isfinite(got));
      if (std::fabs(got - ref) > tol)
        RC_FAIL("vec_dot " + std::string(isa_name(isa)) + (ic.vnni ? "+vnni" : "") + ": " + g(got) + " vs scalar " + g(ref) +
                " tol " + g(tol));
    });
}

void check_matmul(GgmlType t) {
  const int64_t bs = block_size(t) == 1 ? 1 : block_size(t);
  const int64_t n = bs * *rc::gen::inRange(1, is_kquant(t) ? 3 : (bs == 1 ? 70 : 10));
  const int64_t nrows = *rc::gen::inRange(1, 12);
  // Mostly small column counts (every register-tile remainder); sometimes more than the kernels'
  // 64-column block.
  const int64_t ncols = *rc::gen::inRange(0, 4) == 0 ? *rc::gen::inRange(60, 75) : *rc::gen::inRange(1, 10);
  const GgmlType at = vec_dot_type(t);
  const size_t wrb = *row_bytes(t, n), arb = *row_bytes(at, n);
  const size_t ws = wrb + *rc::gen::inRange<size_t>(0, 3) * 2, as = arb + *rc::gen::inRange<size_t>(0, 3) * 4;
  std::vector<uint8_t> w(ws * nrows), a(as * ncols);
  std::vector<std::vector<float>> adeq(ncols);
  for (int64_t r = 0; r < nrows; ++r) {
    const auto row = gen_row(t, n);
    std::memcpy(w.data() + r * ws, row.data(), wrb);
  }
  for (int64_t c = 0; c < ncols; ++c) {
    const auto row = gen_act(t, n, &adeq[c]);
    std::memcpy(a.data() + c * as, row.data(), arb);
  }
  const int64_t ldy = nrows + *rc::gen::inRange(0, 3);
  for (const IsaCase& ic : isa_cases())
    with_isa(ic, [&](Isa isa) {
      std::vector<float> y(static_cast<size_t>(ldy * ncols), -12345.0f);  // sentinel: padding stays untouched
      matmul_tile(t, n, w.data(), ws, nrows, a.data(), as, ncols, y.data(), ldy, isa);
      for (int64_t c = 0; c < ncols; ++c)
        for (int64_t r = 0; r < ldy; ++r) {
          const float got = y[c * ldy + r];
          if (r >= nrows) {
            RC_ASSERT(got == -12345.0f);
            continue;
          }
          const float ref = vec_dot(t, n, w.data() + r * ws, a.data() + c * as, Isa::kScalar);
          const double tol = dot_tol(t, term_bound(t, w.data() + r * ws, n, adeq[c].data()));
          if (!(std::fabs(got - ref) <= tol))
            RC_FAIL("matmul_tile " + std::string(isa_name(isa)) + (ic.vnni ? "+vnni" : "") + " r=" + std::to_string(r) +
                    "/" + std::to_string(nrows) + " c=" + std::to_string(c) + "/" + std::to_string(ncols) + ": " +
                    g(got) + " vs " + g(ref));
        }
    });
}

// Dequantization is integer unpacking plus the scalar reference's float expression: bit-exact.
void check_dequant(GgmlType t) {
  const int64_t bs = block_size(t) == 1 ? 1 : block_size(t);
  const int64_t n = bs * *rc::gen::inRange(1, bs == 1 ? 70 : 6);
  const std::vector<uint8_t> w = gen_row(t, n);
  const std::vector<float> ref = deq(t, w.data(), n);
  for (const IsaCase& ic : isa_cases()) {
    const std::vector<float> got = deq(t, w.data(), n, ic.isa);
    RC_ASSERT(std::memcmp(got.data(), ref.data(), ref.size() * 4) == 0);
  }
}

#define CYLLM_TYPE_PROPS(T)                                             \
  RC_GTEST_PROP(QuantIsa, Dequant_##T, ()) { check_dequant(GgmlType::T); } \
  RC_GTEST_PROP(QuantIsa, VecDot_##T, ()) { check_dot(GgmlType::T); }      \
  RC_GTEST_PROP(QuantIsa, MatmulTile_##T, ()) { check_matmul(GgmlType::T); }

CYLLM_TYPE_PROPS(F32)
CYLLM_TYPE_PROPS(F16)
CYLLM_TYPE_PROPS(BF16)
CYLLM_TYPE_PROPS(Q4_0)
CYLLM_TYPE_PROPS(Q4_1)
CYLLM_TYPE_PROPS(Q5_0)
CYLLM_TYPE_PROPS(Q5_1)
CYLLM_TYPE_PROPS(Q8_0)
CYLLM_TYPE_PROPS(Q4_K)
CYLLM_TYPE_PROPS(Q5_K)
CYLLM_TYPE_PROPS(Q6_K)

RC_GTEST_PROP(QuantIsa, DequantActTypes, ()) {
  for (GgmlType t : {GgmlType::Q8_1, GgmlType::Q8_K}) check_dequant(t);
}

}  // namespace
}  // namespace cyllm::cpu
