// Reference weight quantizers (round to nearest), used by tests and GGUF-writing tools; not
// performance critical. The 32-blocked types use the classic per-block min/max scheme; the K-quants
// use a simple two-level scheme (per-sub-block scale/min quantized to 6 or 8 bits, rounded up so the
// sub-block range always fits) rather than an iterative search: good enough for tests and tools,
// and its error is bounded by a small fraction of each super-block's range.
#include <algorithm>
#include <cmath>

#include "backend/quant-impl.h"

namespace cyllm::cpu::scalar {

namespace {

int clampi(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// Value with the largest magnitude (keeping its sign), as the symmetric 4/5-bit types use it.
float signed_absmax(const float* x, int m) {
  float amax = 0.0f, mx = 0.0f;
  for (int j = 0; j < m; ++j)
    if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), mx = x[j];
  return mx;
}

void put_q4(uint8_t* qs, const int* q) {  // element j < 16 in the low nibble of qs[j], j+16 high
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(q[j] | (q[j + 16] << 4));
}
void put_qh(uint8_t* qh, const int* q) {
  uint32_t h = 0;
  for (int j = 0; j < 32; ++j) h |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  std::memcpy(qh, &h, 4);
}

// Symmetric: q = x/d + offset in [0, 2*offset-1], d = max/-offset (so the largest magnitude maps to 0).
void quant_sym(const float* x, int* q, int offset, uint16_t* d_out) {
  const float mx = signed_absmax(x, 32);
  const float d = mx / static_cast<float>(-offset);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) q[j] = clampi(static_cast<int>(x[j] * id + offset + 0.5f), 0, 2 * offset - 1);
  *d_out = f2h(d);
}

// Affine: q = (x - min)/d in [0, levels], d = (max - min)/levels.
void quant_affine(const float* x, int* q, int levels, uint16_t* d_out, uint16_t* m_out) {
  float mn = x[0], mx = x[0];
  for (int j = 1; j < 32; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
  const float d = (mx - mn) / static_cast<float>(levels);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) q[j] = clampi(static_cast<int>((x[j] - mn) * id + 0.5f), 0, levels);
  *d_out = f2h(d);
  *m_out = f2h(mn);
}

// Q4_K / Q5_K super-block: value = d*sc[s]*q - dmin*m[s], q in [0, levels].
void quant_k45(const float* x, int levels, uint16_t* d_out, uint16_t* dmin_out, uint8_t* scales, uint8_t* q) {
  float mins[8], maxs[8];
  float max_neg_min = 0.0f;
  for (int s = 0; s < 8; ++s) {
    mins[s] = 0.0f, maxs[s] = 0.0f;  // the min term can only subtract, so the offset range includes 0
    for (int l = 0; l < 32; ++l) mins[s] = std::min(mins[s], x[32 * s + l]), maxs[s] = std::max(maxs[s], x[32 * s + l]);
    max_neg_min = std::max(max_neg_min, -mins[s]);
  }
  const float dmin = h2f(f2h(max_neg_min / 63.0f));
  int m[8], sc[8];
  float need_max = 0.0f;
  for (int s = 0; s < 8; ++s) {
    m[s] = dmin > 0.0f ? clampi(static_cast<int>(std::nearbyint(-mins[s] / dmin)), 0, 63) : 0;
    need_max = std::max(need_max, maxs[s] + dmin * m[s]);  // top of the shifted range
  }
  // d is rounded up (in fp16) so that ceil(need/d/levels) <= 63 for every sub-block.
  float d = need_max / (63.0f * levels);
  uint16_t dh = f2h(d);
  if (h2f(dh) < d) dh = static_cast<uint16_t>(dh + 1);
  d = h2f(dh);
  for (int s = 0; s < 8; ++s) {
    const float need = maxs[s] + dmin * m[s];
    sc[s] = d > 0.0f ? clampi(static_cast<int>(std::ceil(need / (d * levels))), 0, 63) : 0;
    const float step = d * sc[s];
    const float istep = step > 0.0f ? 1.0f / step : 0.0f;
    for (int l = 0; l < 32; ++l)
      q[32 * s + l] = static_cast<uint8_t>(clampi(static_cast<int>(std::nearbyint((x[32 * s + l] + dmin * m[s]) * istep)), 0, levels));
  }
  std::memset(scales, 0, 12);
  for (int j = 0; j < 8; ++j) {  // inverse of scale_min_k4
    if (j < 4) {
      scales[j] |= static_cast<uint8_t>(sc[j]);
      scales[j + 4] |= static_cast<uint8_t>(m[j]);
    } else {
      scales[j + 4] = static_cast<uint8_t>((sc[j] & 15) | ((m[j] & 15) << 4));
      scales[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      scales[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
    }
  }
  *d_out = dh;
  *dmin_out = f2h(dmin);
}

void put_k45(const uint8_t* q, uint8_t* qs, uint8_t* qh) {
  if (qh) std::memset(qh, 0, 32);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const uint8_t lo = q[64 * c + l], hi = q[64 * c + 32 + l];
      qs[32 * c + l] = static_cast<uint8_t>((lo & 15) | ((hi & 15) << 4));
      if (qh) qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
    }
}

void quant_q6k(const float* x, BlockQ6_K& b) {
  float gscale[16], gmax = 0.0f;
  for (int g = 0; g < 16; ++g) {
    const float mx = signed_absmax(x + 16 * g, 16);
    gscale[g] = mx / 31.0f;  // signed, so the largest magnitude maps to +31
    gmax = std::max(gmax, std::fabs(gscale[g]));
  }
  float d = gmax / 127.0f;
  uint16_t dh = f2h(d);
  if (h2f(dh) < d) dh = static_cast<uint16_t>(dh + 1);  // round up: |sc| = ceil(...) <= 127
  d = h2f(dh);
  int8_t q[256];
  for (int g = 0; g < 16; ++g) {
    int sc = 0;
    if (d > 0.0f) {
      const float r = gscale[g] / d;
      sc = clampi(static_cast<int>(r >= 0 ? std::ceil(r) : std::floor(r)), -127, 127);  // |sc*d| >= |gscale|
    }
    b.scales[g] = static_cast<int8_t>(sc);
    const float step = d * sc;
    const float istep = step != 0.0f ? 1.0f / step : 0.0f;
    for (int l = 0; l < 16; ++l) q[16 * g + l] = static_cast<int8_t>(clampi(static_cast<int>(std::nearbyint(x[16 * g + l] * istep)), -32, 31));
  }
  std::memset(b.qh, 0, 64);
  for (int h = 0; h < 2; ++h) {
    uint8_t* ql = b.ql + 64 * h;
    uint8_t* qh = b.qh + 32 * h;
    const int8_t* v = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const int q1 = v[l] + 32, q2 = v[l + 32] + 32, q3 = v[l + 64] + 32, q4 = v[l + 96] + 32;
      ql[l] = static_cast<uint8_t>((q1 & 15) | ((q3 & 15) << 4));
      ql[l + 32] = static_cast<uint8_t>((q2 & 15) | ((q4 & 15) << 4));
      qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
  b.d = dh;
}

}  // namespace

void quantize_row_ref(GgmlType t, const float* x, void* dst, int64_t n) {
  auto* u16 = static_cast<uint16_t*>(dst);
  int q[32];
  switch (t) {
    case GgmlType::F32: std::memcpy(dst, x, static_cast<size_t>(n) * 4); return;
    case GgmlType::F16: for (int64_t i = 0; i < n; ++i) u16[i] = f2h(x[i]); return;
    case GgmlType::BF16: for (int64_t i = 0; i < n; ++i) u16[i] = fp32_to_bf16(x[i]); return;
    case GgmlType::Q4_0:
      for (int64_t i = 0; i < n / kQK; ++i) {
        auto& b = static_cast<BlockQ4_0*>(dst)[i];
        quant_sym(x + i * kQK, q, 8, &b.d);
        put_q4(b.qs, q);
      }
      return;
    case GgmlType::Q4_1:
      for (int64_t i = 0; i < n / kQK; ++i) {
        auto& b = static_cast<BlockQ4_1*>(dst)[i];
        quant_affine(x + i * kQK, q, 15, &b.d, &b.m);
        put_q4(b.qs, q);
      }
      return;
    case GgmlType::Q5_0:
      for (int64_t i = 0; i < n / kQK; ++i) {
        auto& b = static_cast<BlockQ5_0*>(dst)[i];
        quant_sym(x + i * kQK, q, 16, &b.d);
        int lo[32];
        for (int j = 0; j < 32; ++j) lo[j] = q[j] & 15;
        put_q4(b.qs, lo);
        put_qh(b.qh, q);
      }
      return;
    case GgmlType::Q5_1:
      for (int64_t i = 0; i < n / kQK; ++i) {
        auto& b = static_cast<BlockQ5_1*>(dst)[i];
        quant_affine(x + i * kQK, q, 31, &b.d, &b.m);
        int lo[32];
        for (int j = 0; j < 32; ++j) lo[j] = q[j] & 15;
        put_q4(b.qs, lo);
        put_qh(b.qh, q);
      }
      return;
    case GgmlType::Q8_0: quantize_row_act(GgmlType::Q8_0, x, dst, n); return;
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
      for (int64_t i = 0; i < n / kQKK; ++i) {
        uint8_t qv[256];
        if (t == GgmlType::Q4_K) {
          auto& b = static_cast<BlockQ4_K*>(dst)[i];
          quant_k45(x + i * kQKK, 15, &b.d, &b.dmin, b.scales, qv);
          put_k45(qv, b.qs, nullptr);
        } else {
          auto& b = static_cast<BlockQ5_K*>(dst)[i];
          quant_k45(x + i * kQKK, 31, &b.d, &b.dmin, b.scales, qv);
          put_k45(qv, b.qs, b.qh);
        }
      }
      return;
    case GgmlType::Q6_K:
      for (int64_t i = 0; i < n / kQKK; ++i) quant_q6k(x + i * kQKK, static_cast<BlockQ6_K*>(dst)[i]);
      return;
    default: return;
  }
}

}  // namespace cyllm::cpu::scalar
