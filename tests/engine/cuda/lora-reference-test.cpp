// The CPU reference of the grouped LoRA kernels (cuda_ref::lora_shrink / lora_expand, sums in
// double) against the engine's own CPU path (engine/backend/cpu-lora.h, every ISA this machine has,
// called per segment as model/forward.cpp calls it) and the unbatched lora_apply (model/lora.h).
// Runs without a GPU (part of kernel_logic_test): it pins down what the segment layout means, so
// cuda_ops_test on a GPU only has to compare the kernels with this reference.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend/cpu-lora.h"
#include "backend/quant.h"
#include "cuda-reference.h"
#include "cuda-test-util.h"
#include "lora-test-case.h"
#include "model/lora.h"

namespace cyllm::test {
namespace {

std::vector<float> delta(const std::vector<float>& y, const std::vector<float>& y0) {
  std::vector<float> d(y.size());
  for (size_t i = 0; i < y.size(); ++i) d[i] = static_cast<float>(static_cast<double>(y[i]) - y0[i]);
  return d;
}

// Rows without an adapter and the columns past `out` (ldy > out) must keep y0's bits.
void expect_untouched(const LoraCase& lc, const std::vector<float>& y) {
  for (int r = 0; r < lc.n_rows; ++r)
    for (size_t o = 0; o < 208; ++o) {
      const size_t i = static_cast<size_t>(r) * 208 + o;
      if (lc.adapter_of_row[static_cast<size_t>(r)] < 0 || o >= 200) ASSERT_EQ(y[i], lc.y0[i]) << "row " << r << " col " << o;
    }
  for (int r = 0; r < lc.n_rows; ++r)
    if (lc.adapter_of_row[static_cast<size_t>(r)] < 0)
      for (size_t o = 0; o < 72; ++o) {
        const size_t i = lc.y1_offset + static_cast<size_t>(r) * 72 + o;
        ASSERT_EQ(y[i], lc.y0[i]) << "output 1, base row " << r;
      }
}

// Both sides sum f32 products (the engine in f32, the reference in double): over in <= 1000 terms
// of unit size the relative error per value is ~1e-6 at worst, NMSE ~1e-12; 1e-10 leaves margin
// while a wrong row, scale or segment offset gives NMSE ~1.
TEST(LoraReference, MatchesTheEngineCpuKernels) {
  std::vector<cpu::Isa> isas = {cpu::Isa::kScalar};
  if (cpu::best_supported_isa() == cpu::Isa::kAvx512) isas.push_back(cpu::Isa::kAvx512);
  for (cpu::Isa isa : isas)
    for (int in : {96, 1000}) {
      SCOPED_TRACE(std::string(cpu::isa_name(isa)) + " in=" + std::to_string(in));
      const LoraCase lc = make_lora_case(3, in);
      std::vector<float> y_ref = lc.y0, tmp_ref(static_cast<size_t>(lc.tmp_floats));
      const auto segs_ref = lc.bind(lc.weights.data(), y_ref.data());
      cuda_ref::lora_shrink(segs_ref.data(), static_cast<int>(segs_ref.size()), lc.rows.data(), lc.x.data(),
                            static_cast<size_t>(in), in, tmp_ref.data());
      cuda_ref::lora_expand(segs_ref.data(), static_cast<int>(segs_ref.size()), lc.rows.data(), tmp_ref.data());

      std::vector<float> y_cpu = lc.y0, tmp_cpu(tmp_ref.size());
      for (const cuda::LoraSegment& s : lc.bind(lc.weights.data(), y_cpu.data())) {
        float* t = tmp_cpu.data() + s.tmp;
        cpu::lora_shrink(s.a, s.rank, in, s.scale, lc.x.data(), static_cast<size_t>(in), lc.rows.data() + s.first,
                         s.count, t, static_cast<size_t>(s.rank), nullptr, isa);
        cpu::lora_expand(s.b, s.rank, 0, s.out, t, static_cast<size_t>(s.rank), lc.rows.data() + s.first, s.count, s.y,
                         static_cast<size_t>(s.ldy), nullptr, isa);
      }
      EXPECT_CLOSE_NMSE(tmp_ref, tmp_cpu, 1e-10);
      EXPECT_CLOSE_NMSE(delta(y_ref, lc.y0), delta(y_cpu, lc.y0), 1e-10);
      // The delta is of the order of y0 (see lora-test-case.h): a skipped segment would show.
      EXPECT_GT(nmse(lc.y0, y_ref), 0.1);
      expect_untouched(lc, y_ref);
      expect_untouched(lc, y_cpu);
    }
}

// The same segments, one row at a time through lora_apply (y += scale * B (A x), float dot
// products): the grouped form is only a regrouping of that.
TEST(LoraReference, IsLoraApplyPerRow) {
  const LoraCase lc = make_lora_case(4);
  std::vector<float> y_ref = lc.y0, tmp_ref(static_cast<size_t>(lc.tmp_floats));
  const auto segs = lc.bind(lc.weights.data(), y_ref.data());
  cuda_ref::lora_shrink(segs.data(), static_cast<int>(segs.size()), lc.rows.data(), lc.x.data(),
                        static_cast<size_t>(lc.in), lc.in, tmp_ref.data());
  cuda_ref::lora_expand(segs.data(), static_cast<int>(segs.size()), lc.rows.data(), tmp_ref.data());
  std::vector<float> y_row = lc.y0;
  for (size_t k = 0; k < segs.size(); ++k) {
    const cuda::LoraSegment& s = segs[k];
    LoraMatrix m;
    m.rank = s.rank;
    m.in = lc.in;
    m.out = s.out;
    m.a.assign(s.a, s.a + static_cast<size_t>(s.rank) * lc.in);
    m.b.assign(s.b, s.b + static_cast<size_t>(s.out) * s.rank);
    std::vector<float> tmp(static_cast<size_t>(s.rank));
    for (int i = 0; i < s.count; ++i) {
      const int r = lc.rows[static_cast<size_t>(s.first + i)];
      lora_apply(m, s.scale, lc.x.data() + static_cast<size_t>(r) * lc.in,
                 y_row.data() + lc.spec[k].y + static_cast<size_t>(r) * s.ldy, tmp.data());
    }
  }
  EXPECT_CLOSE_NMSE(delta(y_ref, lc.y0), delta(y_row, lc.y0), 1e-10);
}

}  // namespace
}  // namespace cyllm::test
