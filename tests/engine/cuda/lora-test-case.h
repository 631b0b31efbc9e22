// A grouped LoRA call for the kernel tests (lora-reference-test.cpp on the CPU, cuda-lora-ops-test.cpp
// on a GPU): 30 input rows of `in` floats; three adapters of ranks 3, 16 and 40 (40 > 32: two rank
// chunks in the expand) with different scales; two outputs sharing the input (like q and k: 200 and
// 72 columns, the first with ldy 208 > out); rows assigned to adapters in scattered order, so one
// adapter has 1 row, the others more than one tile of kLoraTileRows; four rows have no adapter.
// Pointers in the segments are bound to wherever the weights and outputs live (host or device).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "cuda-ops.h"

namespace cyllm::test {

struct LoraCase {
  int in = 0, n_rows = 0;
  std::vector<float> x;        // [n_rows][in]
  std::vector<float> weights;  // every A and B
  std::vector<float> y0;       // both outputs: output 0 at 0, output 1 at y1_offset
  size_t y1_offset = 0;
  std::vector<int32_t> rows;  // grouped by adapter
  std::vector<int> adapter_of_row;  // -1: base row
  struct Spec {
    int64_t a, b, y;  // offsets into weights / y0
  };
  std::vector<Spec> spec;
  std::vector<cuda::LoraSegment> segs;  // a, b, y null until bound
  int64_t tmp_floats = 0;
  int max_count = 0, max_out = 0;

  std::vector<cuda::LoraSegment> bind(const float* w, float* y) const {
    std::vector<cuda::LoraSegment> out = segs;
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].a = w + spec[i].a;
      out[i].b = w + spec[i].b;
      out[i].y = y + spec[i].y;
    }
    return out;
  }
};

inline LoraCase make_lora_case(uint32_t seed, int in = 96) {
  LoraCase c;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  c.in = in;
  c.n_rows = 30;
  c.x.resize(static_cast<size_t>(c.n_rows) * in);
  for (auto& v : c.x) v = nd(rng);
  const int ranks[3] = {3, 16, 40};
  const float scales[3] = {0.5f, 2.0f, 0.125f};
  const int outs[2] = {200, 72};
  const int64_t ldys[2] = {208, 72};
  c.y1_offset = static_cast<size_t>(c.n_rows) * ldys[0];
  c.y0.resize(c.y1_offset + static_cast<size_t>(c.n_rows) * ldys[1]);
  for (auto& v : c.y0) v = nd(rng);
  c.adapter_of_row.resize(static_cast<size_t>(c.n_rows));
  for (int r = 0; r < c.n_rows; ++r) c.adapter_of_row[static_cast<size_t>(r)] = r % 7 == 3 ? -1 : r == 5 ? 0 : 1 + r % 2;
  int first[3], count[3];
  for (int g = 0; g < 3; ++g) {
    first[g] = static_cast<int>(c.rows.size());
    for (int r = 0; r < c.n_rows; ++r)
      if (c.adapter_of_row[static_cast<size_t>(r)] == g) c.rows.push_back(r);
    count[g] = static_cast<int>(c.rows.size()) - first[g];
  }
  for (int o = 0; o < 2; ++o)
    for (int g = 0; g < 3; ++g) {
      const int R = ranks[g];
      LoraCase::Spec sp{static_cast<int64_t>(c.weights.size()), 0, o == 0 ? 0 : static_cast<int64_t>(c.y1_offset)};
      // A like LoraAdapter::random (unit rows over sqrt(in)); B large enough that the delta is of
      // the order of y0, so that a missing or doubled delta is obvious.
      for (int i = 0; i < R * in; ++i) c.weights.push_back(nd(rng) / std::sqrt(static_cast<float>(in)));
      sp.b = static_cast<int64_t>(c.weights.size());
      for (int i = 0; i < outs[o] * R; ++i) c.weights.push_back(nd(rng) / std::sqrt(static_cast<float>(R)));
      cuda::LoraSegment s;
      s.ldy = ldys[o];
      s.rank = R;
      s.out = outs[o];
      s.scale = scales[g];
      s.first = first[g];
      s.count = count[g];
      s.tmp = c.tmp_floats;
      c.tmp_floats += static_cast<int64_t>(count[g]) * R;
      c.max_count = std::max(c.max_count, count[g]);
      c.max_out = std::max(c.max_out, outs[o]);
      c.spec.push_back(sp);
      c.segs.push_back(s);
    }
  return c;
}

}  // namespace cyllm::test
