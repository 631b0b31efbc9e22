// Scalar reference kernels: dequantization, activation quantization (Q8_0/Q8_1/Q8_K), vec_dot and
// matmul_tile for every computable type. This is the specification the SIMD files are tested
// against, so it is written for clarity: per block, an exact integer dot product, then float
// scaling. (Weight quantizers live in quant-scalar-ref.cpp.)
#include <cmath>

#include "backend/quant-impl.h"

namespace cyllm::cpu::scalar {

namespace {

template <class B>
const B* blocks(const void* p) { return static_cast<const B*>(p); }

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Weight value j (0..31) of the 32-blocked types, as the integer that multiplies d (before adding m).
int q4_val(const uint8_t* qs, int j) { return j < 16 ? (qs[j] & 15) : (qs[j - 16] >> 4); }
int q5_val(const uint8_t* qs, uint32_t qh, int j) { return q4_val(qs, j) | static_cast<int>(((qh >> j) & 1u) << 4); }

// Unpacks a Q4_K/Q5_K super-block into q[256] (0..15 or 0..31) and its 8 scales and mins.
void unpack_k45(const uint8_t* scales, const uint8_t* qs, const uint8_t* qh, uint8_t* q, uint8_t* sc, uint8_t* mn) {
  for (int j = 0; j < 8; ++j) scale_min_k4(j, scales, &sc[j], &mn[j]);
  for (int c = 0; c < 4; ++c)  // 64-chunk c: low nibbles are sub-block 2c, high nibbles 2c+1
    for (int l = 0; l < 32; ++l) {
      int lo = qs[32 * c + l] & 15, hi = qs[32 * c + l] >> 4;
      if (qh) {
        lo |= ((qh[l] >> (2 * c)) & 1) << 4;
        hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
      }
      q[64 * c + l] = static_cast<uint8_t>(lo);
      q[64 * c + 32 + l] = static_cast<uint8_t>(hi);
    }
}

// Unpacks a Q6_K super-block into q[256] in -32..31.
void unpack_q6k(const BlockQ6_K& b, int8_t* q) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    int8_t* o = q + 128 * h;
    for (int l = 0; l < 32; ++l) {
      o[l] = static_cast<int8_t>(((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32);
      o[l + 32] = static_cast<int8_t>(((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32);
      o[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      o[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
}

float round_even(float x) { return std::nearbyint(x); }  // default rounding mode: to nearest even

// One Q8 block of m values: scale d = amax/127 and q = round(x/d) via the float inverse, as the
// SIMD quantizers do, so every ISA produces identical bytes.
float quantize_q8(const float* x, int8_t* q, int m) {
  float amax = 0.0f;
  for (int j = 0; j < m; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < m; ++j) {
    float v = round_even(x[j] * id);
    v = std::fmin(127.0f, std::fmax(-127.0f, v));
    q[j] = static_cast<int8_t>(v);
  }
  return d;
}

}  // namespace

void dequantize_row(GgmlType t, const void* src, float* y, int64_t n) {
  const auto* u16 = static_cast<const uint16_t*>(src);
  switch (t) {
    case GgmlType::F32: std::memcpy(y, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::F16: for (int64_t i = 0; i < n; ++i) y[i] = h2f(u16[i]); return;
    case GgmlType::BF16: for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_fp32(u16[i]); return;
    default: break;
  }
  const int64_t nb = n / (t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == GgmlType::Q6_K || t == GgmlType::Q8_K ? kQKK : kQK);
  for (int64_t i = 0; i < nb; ++i) {
    switch (t) {
      case GgmlType::Q4_0: {
        const auto& b = blocks<BlockQ4_0>(src)[i];
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q4_val(b.qs, j) - 8) * h2f(b.d);
        y += 32; break;
      }
      case GgmlType::Q4_1: {
        const auto& b = blocks<BlockQ4_1>(src)[i];
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q4_val(b.qs, j)) * h2f(b.d) + h2f(b.m);
        y += 32; break;
      }
      case GgmlType::Q5_0: {
        const auto& b = blocks<BlockQ5_0>(src)[i];
        const uint32_t qh = load_u32(b.qh);
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q5_val(b.qs, qh, j) - 16) * h2f(b.d);
        y += 32; break;
      }
      case GgmlType::Q5_1: {
        const auto& b = blocks<BlockQ5_1>(src)[i];
        const uint32_t qh = load_u32(b.qh);
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q5_val(b.qs, qh, j)) * h2f(b.d) + h2f(b.m);
        y += 32; break;
      }
      case GgmlType::Q8_0: {
        const auto& b = blocks<BlockQ8_0>(src)[i];
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(b.qs[j]) * h2f(b.d);
        y += 32; break;
      }
      case GgmlType::Q8_1: {
        const auto& b = blocks<BlockQ8_1>(src)[i];
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(b.qs[j]) * h2f(b.d);
        y += 32; break;
      }
      case GgmlType::Q4_K:
      case GgmlType::Q5_K: {
        uint8_t q[256], sc[8], mn[8];
        float d, dmin;
        if (t == GgmlType::Q4_K) {
          const auto& b = blocks<BlockQ4_K>(src)[i];
          unpack_k45(b.scales, b.qs, nullptr, q, sc, mn);
          d = h2f(b.d), dmin = h2f(b.dmin);
        } else {
          const auto& b = blocks<BlockQ5_K>(src)[i];
          unpack_k45(b.scales, b.qs, b.qh, q, sc, mn);
          d = h2f(b.d), dmin = h2f(b.dmin);
        }
        for (int s = 0; s < 8; ++s) {
          const float ds = d * sc[s], ms = dmin * mn[s];
          for (int l = 0; l < 32; ++l) y[32 * s + l] = ds * q[32 * s + l] - ms;
        }
        y += 256; break;
      }
      case GgmlType::Q6_K: {
        const auto& b = blocks<BlockQ6_K>(src)[i];
        int8_t q[256];
        unpack_q6k(b, q);
        const float d = h2f(b.d);
        for (int j = 0; j < 256; ++j) y[j] = d * b.scales[j / 16] * q[j];
        y += 256; break;
      }
      case GgmlType::Q8_K: {
        const auto& b = blocks<BlockQ8_K>(src)[i];
        for (int j = 0; j < 256; ++j) y[j] = b.d * b.qs[j];
        y += 256; break;
      }
      default: return;
    }
  }
}

void quantize_row_act(GgmlType t, const float* x, void* dst, int64_t n) {
  switch (t) {
    case GgmlType::F32: std::memcpy(dst, x, static_cast<size_t>(n) * 4); return;
    case GgmlType::Q8_0:
      for (int64_t i = 0; i < n / kQK; ++i) {
        auto& b = static_cast<BlockQ8_0*>(dst)[i];
        b.d = f2h(quantize_q8(x + i * kQK, b.qs, kQK));
      }
      return;
    case GgmlType::Q8_1:
      for (int64_t i = 0; i < n / kQK; ++i) {
        auto& b = static_cast<BlockQ8_1*>(dst)[i];
        const float d = quantize_q8(x + i * kQK, b.qs, kQK);
        int sum = 0;
        for (int j = 0; j < kQK; ++j) sum += b.qs[j];
        b.d = f2h(d);
        b.s = f2h(d * static_cast<float>(sum));
      }
      return;
    case GgmlType::Q8_K:
      for (int64_t i = 0; i < n / kQKK; ++i) {
        auto& b = static_cast<BlockQ8_K*>(dst)[i];
        b.d = quantize_q8(x + i * kQKK, b.qs, kQKK);
        for (int g = 0; g < 16; ++g) {
          int s = 0;
          for (int l = 0; l < 16; ++l) s += b.qs[16 * g + l];
          b.bsums[g] = static_cast<int16_t>(s);
        }
      }
      return;
    default: return;
  }
}

float vec_dot(GgmlType w, int64_t n, const void* wr, const void* ar) {
  double sum = 0.0;  // the reference accumulates in double; SIMD kernels are compared with a tolerance
  const auto* a32 = static_cast<const float*>(ar);
  const auto* w16 = static_cast<const uint16_t*>(wr);
  switch (w) {
    case GgmlType::F32:
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(static_cast<const float*>(wr)[i]) * a32[i];
      return static_cast<float>(sum);
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(h2f(w16[i])) * a32[i];
      return static_cast<float>(sum);
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(bf16_to_fp32(w16[i])) * a32[i];
      return static_cast<float>(sum);
    default: break;
  }
  const bool kq = w == GgmlType::Q4_K || w == GgmlType::Q5_K || w == GgmlType::Q6_K;
  const int64_t nb = n / (kq ? kQKK : kQK);
  for (int64_t i = 0; i < nb; ++i) {
    if (kq) {
      const auto& a = blocks<BlockQ8_K>(ar)[i];
      if (w == GgmlType::Q6_K) {
        const auto& b = blocks<BlockQ6_K>(wr)[i];
        int8_t q[256];
        unpack_q6k(b, q);
        int isum = 0;
        for (int g = 0; g < 16; ++g) {
          int gs = 0;
          for (int l = 0; l < 16; ++l) gs += q[16 * g + l] * a.qs[16 * g + l];
          isum += gs * b.scales[g];
        }
        sum += static_cast<double>(a.d * h2f(b.d) * static_cast<float>(isum));
      } else {
        uint8_t q[256], sc[8], mn[8];
        float d, dmin;
        if (w == GgmlType::Q4_K) {
          const auto& b = blocks<BlockQ4_K>(wr)[i];
          unpack_k45(b.scales, b.qs, nullptr, q, sc, mn);
          d = h2f(b.d), dmin = h2f(b.dmin);
        } else {
          const auto& b = blocks<BlockQ5_K>(wr)[i];
          unpack_k45(b.scales, b.qs, b.qh, q, sc, mn);
          d = h2f(b.d), dmin = h2f(b.dmin);
        }
        int isum = 0, msum = 0;
        for (int s = 0; s < 8; ++s) {
          int ss = 0;
          for (int l = 0; l < 32; ++l) ss += q[32 * s + l] * a.qs[32 * s + l];
          isum += ss * sc[s];
          msum += mn[s] * (a.bsums[2 * s] + a.bsums[2 * s + 1]);
        }
        sum += static_cast<double>(a.d * (d * static_cast<float>(isum) - dmin * static_cast<float>(msum)));
      }
      continue;
    }
    int isum = 0;
    float scale = 0.0f, extra = 0.0f;  // block term = scale * isum + extra
    switch (w) {
      case GgmlType::Q4_0: {
        const auto& b = blocks<BlockQ4_0>(wr)[i];
        const auto& a = blocks<BlockQ8_0>(ar)[i];
        for (int j = 0; j < 32; ++j) isum += (q4_val(b.qs, j) - 8) * a.qs[j];
        scale = h2f(b.d) * h2f(a.d);
        break;
      }
      case GgmlType::Q4_1: {
        const auto& b = blocks<BlockQ4_1>(wr)[i];
        const auto& a = blocks<BlockQ8_1>(ar)[i];
        int qsum = 0;
        for (int j = 0; j < 32; ++j) {
          isum += q4_val(b.qs, j) * a.qs[j];
          qsum += a.qs[j];
        }
        scale = h2f(b.d) * h2f(a.d);
        extra = h2f(b.m) * (h2f(a.d) * static_cast<float>(qsum));  // exact d*sum(q), not fp16 a.s
        break;
      }
      case GgmlType::Q5_0: {
        const auto& b = blocks<BlockQ5_0>(wr)[i];
        const auto& a = blocks<BlockQ8_0>(ar)[i];
        const uint32_t qh = load_u32(b.qh);
        for (int j = 0; j < 32; ++j) isum += (q5_val(b.qs, qh, j) - 16) * a.qs[j];
        scale = h2f(b.d) * h2f(a.d);
        break;
      }
      case GgmlType::Q5_1: {
        const auto& b = blocks<BlockQ5_1>(wr)[i];
        const auto& a = blocks<BlockQ8_1>(ar)[i];
        const uint32_t qh = load_u32(b.qh);
        int qsum = 0;
        for (int j = 0; j < 32; ++j) {
          isum += q5_val(b.qs, qh, j) * a.qs[j];
          qsum += a.qs[j];
        }
        scale = h2f(b.d) * h2f(a.d);
        extra = h2f(b.m) * (h2f(a.d) * static_cast<float>(qsum));  // exact d*sum(q), not fp16 a.s
        break;
      }
      case GgmlType::Q8_0: {
        const auto& b = blocks<BlockQ8_0>(wr)[i];
        const auto& a = blocks<BlockQ8_0>(ar)[i];
        for (int j = 0; j < 32; ++j) isum += b.qs[j] * a.qs[j];
        scale = h2f(b.d) * h2f(a.d);
        break;
      }
      default: return 0.0f;
    }
    sum += static_cast<double>(scale * static_cast<float>(isum) + extra);
  }
  return static_cast<float>(sum);
}

void matmul_tile(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows,
                 const void* act_rows, size_t act_stride, int64_t ncols, float* y, int64_t ldy) {
  matmul_by_rows(nrows, ncols, w_rows, w_stride, act_rows, act_stride, y, ldy,
                 [&](const uint8_t* wr, const uint8_t* ar) { return vec_dot(w, n, wr, ar); });
}

}  // namespace cyllm::cpu::scalar
