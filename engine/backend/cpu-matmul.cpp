// Multi-threaded quantized matmul driver (see cpu-matmul.h): activation quantization, work split
// over the thread pool, and dispatch to the packed (VNNI), blocked (quant.h) or exact kernels.
#include "backend/cpu-matmul.h"

#include <algorithm>
#include <cassert>

#include "backend/cpu-ops.h"
#include "backend/packed.h"
#include "backend/quant.h"

namespace cyllm::cpu {

namespace {
// Weight rows per work unit: small enough that two threads balance on the 192-row k/v
// projections, large enough that the per-unit overhead (one atomic) is negligible. A multiple of
// the packed row-group size.
constexpr int64_t kRowsPerUnit = 32;
static_assert(kRowsPerUnit % kPackRows == 0);

// Exact path: dequantize the weight rows and take float dot products with float activations.
void matmul_dequantized(const WeightRef& w, int64_t r0, int64_t nr, const QuantizedActs& act, float* y, Isa isa) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(w.ne0));
  for (int64_t r = r0; r < r0 + nr; ++r) {
    dequantize_row(w.type, w.row(r), row.data(), w.ne0, isa);
    for (int64_t c = 0; c < act.rows; ++c)
      y[c * w.ne1 + r] = dot_f32(row.data(), reinterpret_cast<const float*>(act.row(c)), static_cast<int>(w.ne0));
  }
}

}  // namespace

void quantize_acts(const float* x, int64_t rows, int64_t n, GgmlType type, QuantizedActs& out, ThreadPool& pool) {
  out.type = type;
  out.n = n;
  out.rows = rows;
  out.row_bytes = *row_bytes(type, n);
  out.data.resize(out.row_bytes * static_cast<size_t>(rows));
  const bool scales = (type == GgmlType::Q8_0 || type == GgmlType::Q8_1) && n % 32 == 0 && packed_available();
  const int64_t ns = scales ? 2 * (n / 32) : 0;
  out.scales.resize(static_cast<size_t>(ns * rows));
  const Isa isa = active_isa();
  auto body = [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      uint8_t* q = out.data.data() + r * out.row_bytes;
      quantize_row_act(type, x + r * n, q, n, isa);
      if (scales) packed_act_scales(type, q, n, out.scales.data() + r * ns);
    }
  };
  if (rows < 8) {
    body(0, rows);
  } else {
    pool.parallel_for(rows, 4, body);
  }
}

namespace {

// Decode-shaped products over packed weights: each thread takes one contiguous range of the
// jobs' row groups, split by cost (groups x blocks), so it streams its weights sequentially and
// takes no atomics.
void matmul_packed_static(std::span<const MatmulJob> jobs, const QuantizedActs& act, ThreadPool& pool) {
  int64_t start[9] = {};
  for (size_t j = 0; j < jobs.size(); ++j) start[j + 1] = start[j] + jobs[j].w->packed->ngroups * jobs[j].w->packed->nb;
  const int64_t total = start[jobs.size()];
  pool.run([&](int i, int n) {
    const int64_t lo = total * i / n, hi = total * (i + 1) / n;
    for (size_t j = 0; j < jobs.size(); ++j) {
      const PackedWeight& pw = *jobs[j].w->packed;
      // Group g (cost pw.nb, starting at start[j] + g * nb) belongs to the range holding its start.
      auto first_at = [&](int64_t c) { return std::clamp((c - start[j] + pw.nb - 1) / pw.nb, int64_t{0}, pw.ngroups); };
      const int64_t g0 = first_at(lo), g1 = first_at(hi);
      if (g1 > g0)
        packed_matmul(pw, g0, g1 - g0, act.data.data(), act.row_bytes, act.scales.data(), act.rows, jobs[j].y, pw.ne1);
    }
  });
}

}  // namespace

void matmul(std::span<const MatmulJob> jobs, const QuantizedActs& act, ThreadPool& pool) {
  assert(jobs.size() <= 8);
  const Isa isa = active_isa();
  bool all_packed = !act.scales.empty() && isa == Isa::kAvx512;
  for (const MatmulJob& j : jobs) all_packed = all_packed && j.w->packed && act.type == vec_dot_type(j.w->type);
  if (all_packed && act.rows <= 4) return matmul_packed_static(jobs, act, pool);
  int64_t units_before[8] = {};
  int64_t total = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    units_before[j] = total;
    total += (jobs[j].w->ne1 + kRowsPerUnit - 1) / kRowsPerUnit;
  }
  pool.parallel_for(total, 1, [&](int64_t b, int64_t e) {
    for (int64_t u = b; u < e; ++u) {
      size_t j = jobs.size() - 1;
      while (units_before[j] > u) --j;
      const WeightRef& w = *jobs[j].w;
      const int64_t r0 = (u - units_before[j]) * kRowsPerUnit;
      const int64_t nr = std::min(kRowsPerUnit, w.ne1 - r0);
      if (act.type != vec_dot_type(w.type)) {  // float activations with a quantized weight
        matmul_dequantized(w, r0, nr, act, jobs[j].y, isa);
        continue;
      }
      if (w.packed && !act.scales.empty() && isa == Isa::kAvx512) {
        packed_matmul(*w.packed, r0 / kPackRows, (nr + kPackRows - 1) / kPackRows, act.data.data(), act.row_bytes,
                      act.scales.data(), act.rows, jobs[j].y, w.ne1);
        continue;
      }
      matmul_tile(w.type, w.ne0, w.row(r0), w.row_stride, nr, act.data.data(), act.row_bytes, act.rows,
                  jobs[j].y + r0, w.ne1, isa);
    }
  });
}

}  // namespace cyllm::cpu
