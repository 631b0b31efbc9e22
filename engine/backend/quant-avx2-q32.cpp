// AVX2 blocked matmul for the 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) against
// Q8_0/Q8_1 activations. Same scheme as quant-avx512-q32.inc (unsigned weight bytes, offset folded
// into a per-block float term; repacked activations), one 32-byte block per register: vpmaddubsw
// then vpmaddwd with ones. Q8_0 weights are signed; vpsignb moves their sign onto the activation so
// the unsigned operand is |w| <= 128 and the int16 pair sums cannot saturate (activations are in
// [-127, 127]). The per-block min/offset term (m * s) is summed in a scalar pass after the tile.
#include <immintrin.h>

#include "backend/quant-q32-pack.h"

namespace cyllm::cpu::avx2 {
namespace {

inline __m256i nib(const uint8_t* q) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m128i m4 = _mm_set1_epi8(15);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(x, m4)),
                                 _mm_and_si128(_mm_srli_epi16(x, 4), m4), 1);
}
// 0x10 in byte j where bit j of the little-endian u32 at qh is set.
inline __m256i hbit(const uint8_t* qh) {
  const __m256i x = _mm256_set1_epi32(static_cast<int>(ld32(qh)));
  const __m256i sel = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  const __m256i b = _mm256_and_si256(_mm256_shuffle_epi8(x, sel), bit);
  return _mm256_and_si256(_mm256_cmpeq_epi8(b, bit), _mm256_set1_epi8(16));
}

// Weight policies: bytes per block, activation type, pack offset K, expand to bytes, d and the
// per-block min-term weight (m for Q4_1/Q5_1; d for the offset types; 0 for signed Q8_0).
struct WQ4_0 {
  static constexpr int kBytes = 18; static constexpr bool kQ81 = false, kSigned = false; static constexpr float kK = 8;
  static __m256i expand(const uint8_t* b) { return nib(b + 2); }
  static float mw(const uint8_t* b) { return h2f(static_cast<uint16_t>(ld16(b))); }
};
struct WQ4_1 {
  static constexpr int kBytes = 20; static constexpr bool kQ81 = true, kSigned = false; static constexpr float kK = 0;
  static __m256i expand(const uint8_t* b) { return nib(b + 4); }
  static float mw(const uint8_t* b) { return h2f(static_cast<uint16_t>(ld16(b + 2))); }
};
struct WQ5_0 {
  static constexpr int kBytes = 22; static constexpr bool kQ81 = false, kSigned = false; static constexpr float kK = 16;
  static __m256i expand(const uint8_t* b) { return _mm256_or_si256(nib(b + 6), hbit(b + 2)); }
  static float mw(const uint8_t* b) { return h2f(static_cast<uint16_t>(ld16(b))); }
};
struct WQ5_1 {
  static constexpr int kBytes = 24; static constexpr bool kQ81 = true, kSigned = false; static constexpr float kK = 0;
  static __m256i expand(const uint8_t* b) { return _mm256_or_si256(nib(b + 8), hbit(b + 4)); }
  static float mw(const uint8_t* b) { return h2f(static_cast<uint16_t>(ld16(b + 2))); }
};
struct WQ8_0 {
  static constexpr int kBytes = 34; static constexpr bool kQ81 = false, kSigned = true; static constexpr float kK = 0;
  static __m256i expand(const uint8_t* b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)); }
  static float mw(const uint8_t*) { return 0.0f; }
};

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

template <class W, int R, int C>
void tile(const uint8_t* w, size_t ws, int64_t nb, const Pack& pk, int64_t c0, float* y, int64_t ldy) {
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t b = 0; b < nb; ++b) {
    const int64_t i = (b / 2) * pk.ncols + c0;
    const int h = static_cast<int>(b & 1);
    const int8_t* qa = pk.qa + i * 64 + 32 * h;
    const float* da = pk.da + i * 16 + 8 * h;
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * ws + b * W::kBytes;
      const __m256i wq = W::expand(blk);
      const __m256i wu = W::kSigned ? _mm256_abs_epi8(wq) : wq;
      const __m256 dw = _mm256_set1_ps(h2f(static_cast<uint16_t>(ld16(blk))));
      for (int c = 0; c < C; ++c) {
        __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(qa + 64 * c));
        if constexpr (W::kSigned) a = _mm256_sign_epi8(a, wq);
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(wu, a), ones);
        acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(dw, _mm256_load_ps(da + 16 * c)), acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    float m[C] = {};
    if (W::kQ81 || W::kK != 0.0f)
      for (int64_t b = 0; b < nb; ++b) {
        const float mw = W::mw(w + r * ws + b * W::kBytes);
        for (int c = 0; c < C; ++c) m[c] += mw * pk.sa[(c0 + c) * pk.nbpad + b];
      }
    for (int c = 0; c < C; ++c) y[(c0 + c) * ldy + r] = hsum(acc[r][c]) + m[c];
  }
}

template <class W, int R>
void row_group(const uint8_t* w, size_t ws, int64_t nb, const Pack& pk, int64_t cb, int64_t ce, float* y, int64_t ldy) {
  int64_t c0 = cb;
  for (; c0 + 4 <= ce; c0 += 4) tile<W, R, 4>(w, ws, nb, pk, c0, y, ldy);
  switch (ce - c0) {
    case 3: tile<W, R, 3>(w, ws, nb, pk, c0, y, ldy); break;
    case 2: tile<W, R, 2>(w, ws, nb, pk, c0, y, ldy); break;
    case 1: tile<W, R, 1>(w, ws, nb, pk, c0, y, ldy); break;
    default: break;
  }
}

template <class W>
void matmul(int64_t n, const uint8_t* w, size_t ws, int64_t nrows, const uint8_t* act, size_t as, int64_t ncols,
            float* y, int64_t ldy) {
  const int64_t nb = n / 32;
  const Pack pk = pack_acts(act, as, ncols, nb, W::kQ81, W::kK);
  for (int64_t cb = 0; cb < ncols; cb += 64) {  // column blocks: packed activations stay in L2
    const int64_t ce = ncols - cb < 64 ? ncols : cb + 64;
    int64_t r0 = 0;
    for (; r0 + 2 <= nrows; r0 += 2) row_group<W, 2>(w + r0 * ws, ws, nb, pk, cb, ce, y + r0, ldy);
    for (; r0 < nrows; ++r0) row_group<W, 1>(w + r0 * ws, ws, nb, pk, cb, ce, y + r0, ldy);
  }
}

}  // namespace

bool q32_matmul(GgmlType t, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows, const void* act_rows,
                size_t act_stride, int64_t ncols, float* y, int64_t ldy) {
  const auto* w = static_cast<const uint8_t*>(w_rows);
  const auto* a = static_cast<const uint8_t*>(act_rows);
  switch (t) {
    case GgmlType::Q4_0: matmul<WQ4_0>(n, w, w_stride, nrows, a, act_stride, ncols, y, ldy); return true;
    case GgmlType::Q4_1: matmul<WQ4_1>(n, w, w_stride, nrows, a, act_stride, ncols, y, ldy); return true;
    case GgmlType::Q5_0: matmul<WQ5_0>(n, w, w_stride, nrows, a, act_stride, ncols, y, ldy); return true;
    case GgmlType::Q5_1: matmul<WQ5_1>(n, w, w_stride, nrows, a, act_stride, ncols, y, ldy); return true;
    case GgmlType::Q8_0: matmul<WQ8_0>(n, w, w_stride, nrows, a, act_stride, ncols, y, ldy); return true;
    default: return false;
  }
}

}  // namespace cyllm::cpu::avx2
