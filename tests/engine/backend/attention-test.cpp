// The CPU attention kernel against a naive float64 reference: random head sizes, block sizes (not
// multiples of 16 too), query-row counts and per-row visible key counts; plus the property the
// scheduler relies on: a row's output does not depend on which other rows are computed with it.
#include "backend/cpu-attention.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <vector>

#include "support/cpu-isas.h"

namespace cyllm::cpu {
namespace {

struct Case {
  int hd, bt, nblocks, nq;
  std::vector<float> kt, v, q;  // kt: per block [hd][bt]; v: per block [bt][hd]
  std::vector<int> n_keys;
};

Case make_case() {
  Case c;
  c.hd = *rc::gen::element(16, 32, 48, 64, 96, 128);
  c.bt = *rc::gen::element(1, 4, 7, 16, 33);
  const int max_keys = *rc::gen::inRange(1, 120);
  c.nblocks = (max_keys + c.bt - 1) / c.bt;
  c.nq = *rc::gen::inRange(1, 12);
  auto val = [] { return *rc::gen::inRange(-1000, 1000) / 250.0f; };
  c.kt.resize(static_cast<size_t>(c.nblocks) * c.hd * c.bt);
  c.v.resize(static_cast<size_t>(c.nblocks) * c.bt * c.hd);
  c.q.resize(static_cast<size_t>(c.nq) * c.hd);
  for (auto& x : c.kt) x = val();
  for (auto& x : c.v) x = val();
  for (auto& x : c.q) x = val();
  for (int i = 0; i < c.nq; ++i) c.n_keys.push_back(*rc::gen::inRange(1, max_keys + 1));
  return c;
}

std::vector<float> run(const Case& c, const std::vector<int>& rows, Isa isa) {
  std::vector<const float*> kb, vb, q;
  std::vector<float*> o;
  std::vector<int> nk;
  for (int b = 0; b < c.nblocks; ++b) {
    kb.push_back(c.kt.data() + static_cast<size_t>(b) * c.hd * c.bt);
    vb.push_back(c.v.data() + static_cast<size_t>(b) * c.bt * c.hd);
  }
  std::vector<float> out(static_cast<size_t>(c.nq) * c.hd, -7.0f);
  for (int r : rows) {
    q.push_back(c.q.data() + static_cast<size_t>(r) * c.hd);
    o.push_back(out.data() + static_cast<size_t>(r) * c.hd);
    nk.push_back(c.n_keys[static_cast<size_t>(r)]);
  }
  std::vector<float> scratch(static_cast<size_t>(c.nq) * c.nblocks * c.bt);
  const KvBlocksView view{kb.data(), vb.data(), c.bt, static_cast<size_t>(c.hd)};
  attention_rows(q.data(), static_cast<int>(rows.size()), nk.data(), view, c.hd, 0.125f, o.data(), scratch.data(),
                 isa);
  return out;
}

RC_GTEST_PROP(CpuAttention, MatchesFloat64Reference, ()) {
  const Case c = make_case();
  std::vector<int> all(static_cast<size_t>(c.nq));
  for (int i = 0; i < c.nq; ++i) all[static_cast<size_t>(i)] = i;
  for (const Isa isa : test::runnable_isas()) {
    const std::vector<float> got = run(c, all, isa);
    for (int i = 0; i < c.nq; ++i) {
      const int n = c.n_keys[static_cast<size_t>(i)];
      std::vector<double> s(static_cast<size_t>(n));
      double mx = -1e300;
      for (int j = 0; j < n; ++j) {
        double acc = 0;
        for (int d = 0; d < c.hd; ++d)
          acc += static_cast<double>(c.q[static_cast<size_t>(i) * c.hd + d]) *
                 c.kt[(static_cast<size_t>(j / c.bt) * c.hd + d) * c.bt + j % c.bt];
        s[static_cast<size_t>(j)] = acc * 0.125;
        mx = std::max(mx, s[static_cast<size_t>(j)]);
      }
      double z = 0;
      for (double& x : s) z += (x = std::exp(x - mx));
      for (int d = 0; d < c.hd; ++d) {
        double want = 0;
        for (int j = 0; j < n; ++j)
          want += s[static_cast<size_t>(j)] / z * c.v[(static_cast<size_t>(j / c.bt) * c.bt + j % c.bt) * c.hd + d];
        // float32 scores, exp and sums over at most 120 keys of magnitude < 4: 1e-4 absolute is
        // about 100x the accumulated rounding, and far below any indexing mistake.
        RC_ASSERT(std::abs(got[static_cast<size_t>(i) * c.hd + d] - want) < 1e-4);
      }
    }
  }
}

RC_GTEST_PROP(CpuAttention, RowsAreIndependentOfTheirCompany, ()) {
  const Case c = make_case();
  std::vector<int> all(static_cast<size_t>(c.nq));
  for (int i = 0; i < c.nq; ++i) all[static_cast<size_t>(i)] = i;
  const int r = *rc::gen::inRange(0, c.nq);
  for (const Isa isa : test::runnable_isas()) {
    const std::vector<float> together = run(c, all, isa);
    const std::vector<float> alone = run(c, {r}, isa);
    for (int d = 0; d < c.hd; ++d)  // bitwise: the same arithmetic whatever else is in the call
      RC_ASSERT(together[static_cast<size_t>(r) * c.hd + d] == alone[static_cast<size_t>(r) * c.hd + d]);
  }
}

}  // namespace
}  // namespace cyllm::cpu
