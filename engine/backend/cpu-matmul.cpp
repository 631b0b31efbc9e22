#include "backend/cpu-matmul.h"

#include <algorithm>
#include <cassert>

#include "backend/cpu-ops.h"
#include "backend/quant.h"

namespace cyllm::cpu {

namespace {
// Weight rows per work unit: small enough that two threads balance on the 192-row k/v
// projections, large enough that the per-unit overhead (one atomic) is negligible.
constexpr int64_t kRowsPerUnit = 32;

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
  const Isa isa = active_isa();
  auto body = [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) quantize_row_act(type, x + r * n, out.data.data() + r * out.row_bytes, n, isa);
  };
  if (rows < 8) {
    body(0, rows);
  } else {
    pool.parallel_for(rows, 4, body);
  }
}

void matmul(std::span<const MatmulJob> jobs, const QuantizedActs& act, ThreadPool& pool) {
  assert(jobs.size() <= 8);
  int64_t units_before[8] = {};
  int64_t total = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    units_before[j] = total;
    total += (jobs[j].w->ne1 + kRowsPerUnit - 1) / kRowsPerUnit;
  }
  const Isa isa = active_isa();
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
      matmul_tile(w.type, w.ne0, w.row(r0), w.row_stride, nr, act.data.data(), act.row_bytes, act.rows,
                  jobs[j].y + r0, w.ne1, isa);
    }
  });
}

}  // namespace cyllm::cpu
