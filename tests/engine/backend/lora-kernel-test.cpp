// The batched LoRA kernels (backend/cpu-lora.h) against a plain float64 reference, on every ISA
// this CPU runs (the portable path and, where available, AVX-512), over ranks, widths and row
// counts that hit every tail (not multiples of 4 or 16, one row, more than 8 rows); plus the
// property the forward pass relies on (Property 12): a row's result is bit-for-bit the same
// whichever rows share the call and however many there are.
#include "backend/cpu-lora.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "support/cpu-isas.h"

namespace cyllm::cpu {
namespace {

constexpr double kU = 1.0 / (1 << 24);  // float32 unit roundoff

struct Shape {
  int rank, in, out;
};
const Shape kShapes[] = {{1, 1, 1},    {4, 16, 16},   {3, 17, 5},    {7, 100, 63},  {16, 576, 192},
                         {16, 64, 65}, {20, 33, 130}, {33, 47, 64},  {8, 1536, 77}, {16, 15, 1}};
const int kRowCounts[] = {1, 2, 3, 4, 5, 8, 9, 13, 21};

struct Data {
  int T = 24;  // rows of x / y; the kernels touch only the listed ones
  std::vector<float> a, b, x, y0;
};

Data make(const Shape& s, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Data d;
  d.a.resize(static_cast<size_t>(s.rank) * s.in);
  d.b.resize(static_cast<size_t>(s.out) * s.rank);
  d.x.resize(static_cast<size_t>(d.T) * s.in);
  d.y0.resize(static_cast<size_t>(d.T) * s.out);
  for (auto* v : {&d.a, &d.b, &d.x, &d.y0})
    for (float& f : *v) f = nd(rng);
  return d;
}

std::vector<int> pick_rows(int n, int T, std::mt19937& rng) {
  std::vector<int> all(static_cast<size_t>(T));
  for (int i = 0; i < T; ++i) all[static_cast<size_t>(i)] = i;
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(static_cast<size_t>(n));
  return all;
}

TEST(LoraKernel, ShrinkMatchesFloat64Reference) {
  std::mt19937 rng(1);
  for (const Shape& s : kShapes)
    for (int n : kRowCounts) {
      Data d = make(s, rng);
      const std::vector<int> rows = pick_rows(n, d.T, rng);
      const float scale = 0.75f;
      for (Isa isa : test::runnable_isas()) {
        std::vector<float> t(static_cast<size_t>(n) * s.rank, -1.0f);
        lora_shrink(d.a.data(), s.rank, s.in, scale, d.x.data(), s.in, rows.data(), n, t.data(), s.rank, nullptr, isa);
        for (int i = 0; i < n; ++i)
          for (int r = 0; r < s.rank; ++r) {
            double ref = 0, mag = 0;
            for (int k = 0; k < s.in; ++k) {
              const double p = static_cast<double>(d.a[static_cast<size_t>(r) * s.in + k]) *
                               d.x[static_cast<size_t>(rows[static_cast<size_t>(i)]) * s.in + k];
              ref += p;
              mag += std::fabs(p);
            }
            // Any float32 summation order of `in` products: |error| <= (in + 1) u sum |products|;
            // then one rounding for the scale.
            const double tol = ((s.in + 1) * kU * mag + kU * std::fabs(ref)) * scale + 1e-30;
            EXPECT_NEAR(t[static_cast<size_t>(i) * s.rank + r], ref * scale, tol)
                << isa_name(isa) << " rank " << s.rank << " in " << s.in << " rows " << n << " (" << i << ", " << r << ")";
          }
      }
    }
}

TEST(LoraKernel, ExpandMatchesFloat64Reference) {
  std::mt19937 rng(2);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const Shape& s : kShapes)
    for (int n : kRowCounts) {
      Data d = make(s, rng);
      const std::vector<int> rows = pick_rows(n, d.T, rng);
      std::vector<float> t(static_cast<size_t>(n) * s.rank);
      for (float& f : t) f = nd(rng);
      // A block that starts inside B and ends before its last row, and the whole of B.
      const int o0 = s.out / 3, o1 = std::max(o0 + 1, s.out - s.out / 5);
      for (auto [lo, hi] : {std::pair{o0, o1}, std::pair{0, s.out}})
        for (Isa isa : test::runnable_isas()) {
          std::vector<float> y = d.y0;
          lora_expand(d.b.data(), s.rank, lo, hi, t.data(), s.rank, rows.data(), n, y.data(), s.out, nullptr, isa);
          std::vector<bool> listed(static_cast<size_t>(d.T), false);
          for (int i = 0; i < n; ++i) listed[static_cast<size_t>(rows[static_cast<size_t>(i)])] = true;
          for (int row = 0; row < d.T; ++row)
            for (int o = 0; o < s.out; ++o) {
              const size_t at = static_cast<size_t>(row) * s.out + o;
              if (!listed[static_cast<size_t>(row)] || o < lo || o >= hi) {
                EXPECT_EQ(y[at], d.y0[at]) << "untouched output changed";
                continue;
              }
              const size_t i = static_cast<size_t>(std::find(rows.begin(), rows.end(), row) - rows.begin());
              double ref = d.y0[at], mag = std::fabs(d.y0[at]);
              for (int r = 0; r < s.rank; ++r) {
                const double p = static_cast<double>(d.b[static_cast<size_t>(o) * s.rank + r]) * t[i * s.rank + r];
                ref += p;
                mag += std::fabs(p);
              }
              // rank products summed in float32, plus the add into y: (rank + 2) u sum |terms|.
              EXPECT_NEAR(y[at], ref, (s.rank + 2) * kU * mag + 1e-30)
                  << isa_name(isa) << " rank " << s.rank << " out " << s.out << " rows " << n;
            }
        }
    }
}

// Property 12 at the kernel level: every row computed alone (and in another company and order)
// gives exactly the bits it gets in the full call; the prefetch hint changes nothing either.
TEST(LoraKernel, RowResultsDoNotDependOnTheOtherRows) {
  std::mt19937 rng(3);
  for (const Shape& s : kShapes)
    for (int n : kRowCounts) {
      Data d = make(s, rng);
      const std::vector<int> rows = pick_rows(n, d.T, rng);
      for (Isa isa : test::runnable_isas()) {
        std::vector<float> t_all(static_cast<size_t>(n) * s.rank), y_all = d.y0;
        lora_shrink(d.a.data(), s.rank, s.in, 1.5f, d.x.data(), s.in, rows.data(), n, t_all.data(), s.rank,
                    d.b.data(), isa);
        lora_expand(d.b.data(), s.rank, 0, s.out, t_all.data(), s.rank, rows.data(), n, y_all.data(), s.out, d.a.data(),
                    isa);
        // Alone: one row per call.
        for (int i = 0; i < n; ++i) {
          std::vector<float> t1(static_cast<size_t>(s.rank)), y1 = d.y0;
          const int row = rows[static_cast<size_t>(i)];
          lora_shrink(d.a.data(), s.rank, s.in, 1.5f, d.x.data(), s.in, &row, 1, t1.data(), s.rank, nullptr, isa);
          for (int r = 0; r < s.rank; ++r) ASSERT_EQ(t1[static_cast<size_t>(r)], t_all[static_cast<size_t>(i) * s.rank + r]);
          lora_expand(d.b.data(), s.rank, 0, s.out, t1.data(), s.rank, &row, 1, y1.data(), s.out, nullptr, isa);
          for (int o = 0; o < s.out; ++o) {
            const size_t at = static_cast<size_t>(row) * s.out + o;
            ASSERT_EQ(y1[at], y_all[at]) << isa_name(isa) << " rank " << s.rank << " out " << s.out << " rows " << n;
          }
        }
        // Reversed order, with 9 extra rows (so a small bucket joins a large one's code path).
        std::vector<int> rev(rows.rbegin(), rows.rend());
        std::vector<float> t_rev(static_cast<size_t>(n) * s.rank);
        lora_shrink(d.a.data(), s.rank, s.in, 1.5f, d.x.data(), s.in, rev.data(), n, t_rev.data(), s.rank, nullptr, isa);
        for (int i = 0; i < n; ++i)
          for (int r = 0; r < s.rank; ++r)
            ASSERT_EQ(t_rev[static_cast<size_t>(n - 1 - i) * s.rank + r], t_all[static_cast<size_t>(i) * s.rank + r]);
        std::vector<int> big = rev;
        std::vector<float> t_big = t_rev;
        for (int extra = 0; extra < 9; ++extra) {
          big.push_back(d.T + extra);  // rows past the ones compared, in a larger y
          for (int r = 0; r < s.rank; ++r) t_big.push_back(static_cast<float>(extra - r));
        }
        std::vector<float> y_big(static_cast<size_t>(d.T + 9) * s.out, 0.0f);
        std::copy(d.y0.begin(), d.y0.end(), y_big.begin());
        lora_expand(d.b.data(), s.rank, 0, s.out, t_big.data(), s.rank, big.data(), static_cast<int>(big.size()),
                    y_big.data(), s.out, nullptr, isa);
        for (int row : rows)
          for (int o = 0; o < s.out; ++o) {
            const size_t at = static_cast<size_t>(row) * s.out + o;
            ASSERT_EQ(y_big[at], y_all[at]) << isa_name(isa) << " rank " << s.rank << " out " << s.out;
          }
      }
    }
}

}  // namespace
}  // namespace cyllm::cpu
