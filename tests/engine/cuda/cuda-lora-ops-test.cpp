// The grouped LoRA kernels (kernels/lora.cu) against their CPU reference (cuda_ref::lora_shrink /
// lora_expand, which lora-reference-test.cpp ties to the engine's CPU LoRA), on the three-adapter
// call of lora-test-case.h: every segment of both outputs in one shrink and one expand launch.
// Part of cuda_ops_test; skips without a CUDA device.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "cuda-ops.h"
#include "cuda-reference.h"
#include "cuda-test-util.h"
#include "lora-test-case.h"

namespace cyllm::test {
namespace {

class CudaLora : public CudaTest {
 protected:
  // Runs the case's segments `segs` (host copies, pointers unbound) with rows `rows` on the device;
  // returns y (both outputs) and tmp.
  void run(const LoraCase& lc, const std::vector<cuda::LoraSegment>& segs, const std::vector<int32_t>& rows,
           int max_count, int64_t tmp_floats, std::vector<float>* y, std::vector<float>* tmp) {
    auto dw = upload(lc.weights);
    auto dy = upload(lc.y0);
    auto dx = upload(lc.x);
    auto dr = upload(rows);
    auto dt = zeros<float>(static_cast<size_t>(tmp_floats));
    LoraCase bound = lc;
    bound.segs = segs;
    auto ds = upload(bound.bind(dw.as<const float>(), dy.as<float>()));
    const int n = static_cast<int>(segs.size());
    Status st = cuda::lora_shrink(ctx(), ds.as<const cuda::LoraSegment>(), n, max_count, dr.as<const int32_t>(),
                                  dx.as<const float>(), static_cast<size_t>(lc.in), lc.in, dt.as<float>());
    ASSERT_TRUE(st.ok()) << st.error().message;
    st = cuda::lora_expand(ctx(), ds.as<const cuda::LoraSegment>(), n, max_count, lc.max_out, dr.as<const int32_t>(),
                           dt.as<const float>());
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_TRUE(cuda::synchronize(ctx()).ok());
    *y = download<float>(dy, lc.y0.size());
    *tmp = download<float>(dt, static_cast<size_t>(tmp_floats));
  }
};

std::vector<float> delta(const std::vector<float>& y, const std::vector<float>& y0) {
  std::vector<float> d(y.size());
  for (size_t i = 0; i < y.size(); ++i) d[i] = static_cast<float>(static_cast<double>(y[i]) - y0[i]);
  return d;
}

// f32 sums on the GPU (shrink: lane-strided FMA chains + shuffle tree over in <= 1000 terms;
// expand: one FMA chain over rank <= 40) against double: relative error per value ~1e-7..1e-6,
// NMSE ~1e-13; 1e-10 as in lora-reference-test.cpp. Rows without an adapter and the columns past
// `out` must keep their bits (no stray writes); a wrong segment, row or tile gives NMSE ~1.
TEST_F(CudaLora, GroupedShrinkAndExpandMatchTheReference) {
  for (int in : {96, 1000, 4096}) {
    SCOPED_TRACE("in=" + std::to_string(in));
    const LoraCase lc = make_lora_case(21, in);
    std::vector<float> y, tmp;
    run(lc, lc.segs, lc.rows, lc.max_count, lc.tmp_floats, &y, &tmp);
    if (HasFatalFailure()) return;
    std::vector<float> y_ref = lc.y0, tmp_ref(static_cast<size_t>(lc.tmp_floats));
    const auto segs = lc.bind(lc.weights.data(), y_ref.data());
    cuda_ref::lora_shrink(segs.data(), static_cast<int>(segs.size()), lc.rows.data(), lc.x.data(),
                          static_cast<size_t>(in), in, tmp_ref.data());
    cuda_ref::lora_expand(segs.data(), static_cast<int>(segs.size()), lc.rows.data(), tmp_ref.data());
    EXPECT_CLOSE_NMSE(tmp_ref, tmp, 1e-10);
    EXPECT_CLOSE_NMSE(delta(y_ref, lc.y0), delta(y, lc.y0), 1e-10);
    std::printf("LoRA kernels in=%d: NMSE tmp %.3g, delta %.3g\n", in, nmse(tmp_ref, tmp),
                nmse(delta(y_ref, lc.y0), delta(y, lc.y0)));
    for (int r = 0; r < lc.n_rows; ++r) {
      const bool base = lc.adapter_of_row[static_cast<size_t>(r)] < 0;
      for (size_t o = 0; o < 208; ++o) {
        const size_t i = static_cast<size_t>(r) * 208 + o;
        if (base || o >= 200) ASSERT_EQ(y[i], lc.y0[i]) << "output 0 row " << r << " col " << o << " written";
      }
      if (base)
        for (size_t o = 0; o < 72; ++o)
          ASSERT_EQ(y[lc.y1_offset + static_cast<size_t>(r) * 72 + o], lc.y0[lc.y1_offset + static_cast<size_t>(r) * 72 + o])
              << "output 1 base row " << r << " written";
    }
  }
}

// Property 12 at the kernel level: each adapted row, run alone (its adapter's segments with that
// one row), gives bitwise the y it gets in the full grouped call, whatever its tile neighbours.
TEST_F(CudaLora, EachRowIsTheSameAlone) {
  const LoraCase lc = make_lora_case(22, 520);
  std::vector<float> y_all, tmp_all;
  run(lc, lc.segs, lc.rows, lc.max_count, lc.tmp_floats, &y_all, &tmp_all);
  if (HasFatalFailure()) return;
  for (int r = 0; r < lc.n_rows; r += 3) {
    const int g = lc.adapter_of_row[static_cast<size_t>(r)];
    if (g < 0) continue;
    SCOPED_TRACE("row " + std::to_string(r));
    std::vector<cuda::LoraSegment> segs;
    int64_t tmp = 0;
    for (size_t k = 0; k < lc.segs.size(); ++k)
      if (static_cast<int>(k % 3) == g) {  // make_lora_case: segment k is adapter k % 3
        cuda::LoraSegment s = lc.segs[k];
        s.first = 0;
        s.count = 1;
        s.tmp = tmp;
        tmp += s.rank;
        segs.push_back(s);
      }
    std::vector<float> y, t;
    run(lc, segs, {r}, 1, tmp, &y, &t);
    if (HasFatalFailure()) return;
    for (size_t o = 0; o < 200; ++o) ASSERT_EQ(y[static_cast<size_t>(r) * 208 + o], y_all[static_cast<size_t>(r) * 208 + o]);
    for (size_t o = 0; o < 72; ++o)
      ASSERT_EQ(y[lc.y1_offset + static_cast<size_t>(r) * 72 + o], y_all[lc.y1_offset + static_cast<size_t>(r) * 72 + o]);
  }
}

TEST_F(CudaLora, EmptyCallsAndBadArguments) {
  EXPECT_TRUE(cuda::lora_shrink(ctx(), nullptr, 0, 0, nullptr, nullptr, 0, 16, nullptr).ok());
  EXPECT_TRUE(cuda::lora_expand(ctx(), nullptr, 0, 0, 0, nullptr, nullptr).ok());
  EXPECT_EQ(cuda::lora_shrink(ctx(), nullptr, 1, 1, nullptr, nullptr, 8, 16, nullptr).error().code,
            ErrorCode::kInvalidArgument);  // ldx < in
  EXPECT_EQ(cuda::lora_expand(ctx(), nullptr, 70000, 1, 1, nullptr, nullptr).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cyllm::test
