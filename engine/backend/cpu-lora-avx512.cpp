// AVX-512 kernels of the batched LoRA delta (cpu-lora.h), on the float32 weights as stored.
//
// shrink: register tiles of 4 ranks x up to 4 rows (16 accumulators), so each 16-float slice of A
//   and of the inputs is loaded once per tile rather than once per (row, rank) pair. Rank tiles
//   are the outer loop: each 4-row slice of A comes from memory once and is reused from L1 by
//   every row tile. Every (row, rank) accumulator sees the same fused multiply-adds (16-wide
//   slices in order, then a zero-masked tail slice), one _mm512_reduce_add_ps and the scale.
// expand: 16x16 register transposes turn B [out][rank] into [rank][16 outputs]; each row's 16
//   outputs are then sum_r t[r] * Bt[r] (fused multiply-adds in rank order from zero), added to y.
//   Up to 8 rows use the transposed slice straight from registers; more rows (prefill) share a
//   transposed 64-output block kept in a small buffer. Same per-row arithmetic either way.
//
// A step reads every adapter's A and B from memory once (they do not fit in cache), so both
// kernels prefetch the weights they will read next, continuing into the caller's `next` region
// at the end of a call: the hardware prefetchers restart at every page and every new matrix.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "backend/cpu-lora.h"

namespace cyllm::cpu::avx512 {

namespace {

inline __mmask16 lanes(int n) { return n >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << n) - 1u); }

inline void prefetch_line(const float* p, size_t line) {
  _mm_prefetch(reinterpret_cast<const char*>(p) + line * 64, _MM_HINT_T0);
}

// Rows xs[0..NR) against ranks [r0, r0 + nr) of A (nr <= 4), written to ts[i][r0 + j]. While it
// runs, 4 lines per 16 inputs of pf (the next tile's rows, or the caller's next weights) are
// prefetched, up to pf_lines.
template <int NR>
void shrink_tile(const float* a, int in, int r0, int nr, float scale, const float* const* xs, float* const* ts,
                 const float* pf, size_t pf_lines) {
  const float* ar[4];
  for (int j = 0; j < 4; ++j) ar[j] = a + static_cast<size_t>(r0 + std::min(j, nr - 1)) * in;  // tail: repeats, unused
  __m512 acc[4][NR];
  for (int j = 0; j < 4; ++j)
    for (int i = 0; i < NR; ++i) acc[j][i] = _mm512_setzero_ps();
  int k = 0;
  size_t line = 0;
  for (; k + 16 <= in; k += 16) {
    __m512 xv[NR];
    for (int i = 0; i < NR; ++i) xv[i] = _mm512_loadu_ps(xs[i] + k);
    if (line < pf_lines)
      for (int j = 0; j < 4; ++j) prefetch_line(pf, line + j);
    line += 4;
    for (int j = 0; j < 4; ++j) {
      const __m512 av = _mm512_loadu_ps(ar[j] + k);
      for (int i = 0; i < NR; ++i) acc[j][i] = _mm512_fmadd_ps(av, xv[i], acc[j][i]);
    }
  }
  if (k < in) {
    const __mmask16 m = lanes(in - k);
    __m512 xv[NR];
    for (int i = 0; i < NR; ++i) xv[i] = _mm512_maskz_loadu_ps(m, xs[i] + k);
    for (int j = 0; j < 4; ++j) {
      const __m512 av = _mm512_maskz_loadu_ps(m, ar[j] + k);
      for (int i = 0; i < NR; ++i) acc[j][i] = _mm512_fmadd_ps(av, xv[i], acc[j][i]);
    }
  }
  for (int j = 0; j < nr; ++j)
    for (int i = 0; i < NR; ++i) ts[i][r0 + j] = _mm512_reduce_add_ps(acc[j][i]) * scale;
}

// In place: r[j] (row j, lanes = columns) becomes column j of the 16x16 tile.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m512 u[16];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const __m512d a0 = _mm512_castps_pd(t[4 * i]), a1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d a2 = _mm512_castps_pd(t[4 * i + 2]), a3 = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
  }
  // u[4g + k] holds columns k, k + 4, k + 8, k + 12 (one per 128-bit lane) of rows 4g..4g+3.
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88), w0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);
    const __m512 v1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88), w1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
    r[k] = _mm512_shuffle_f32x4(v0, v1, 0x88);
    r[k + 8] = _mm512_shuffle_f32x4(v0, v1, 0xDD);
    r[k + 4] = _mm512_shuffle_f32x4(w0, w1, 0x88);
    r[k + 12] = _mm512_shuffle_f32x4(w0, w1, 0xDD);
  }
}

// Rows oc..oc+w (w <= 16) of B, ranks [rc, rc + kr), transposed: r[k] = column rc + k.
inline void load_transposed(const float* b, int rank, int oc, int w, int rc, int kr, __m512 r[16]) {
  const __mmask16 m = lanes(kr);
#pragma GCC unroll 16
  for (int j = 0; j < 16; ++j)
    r[j] = j < w ? _mm512_maskz_loadu_ps(m, b + static_cast<size_t>(oc + j) * rank + rc) : _mm512_setzero_ps();
  transpose16(r);
}

// Prefetches the 16-output chunk that starts at output pc of the stream "B's rows up to o1, then
// the caller's next weights" (at most kAhead outputs into those).
constexpr int kAhead = 64;  // outputs of B prefetched ahead

inline void prefetch_ahead(const float* b, int rank, int o1, const float* next, int pc) {
  const size_t chunk = static_cast<size_t>(16) * rank;  // floats
  if (pc < o1) {
    const float* p = b + static_cast<size_t>(pc) * rank;
    const size_t n = static_cast<size_t>(std::min(16, o1 - pc)) * rank;
    for (size_t off = 0; off < n; off += 16) prefetch_line(p + off, 0);
  } else if (next != nullptr && pc - o1 < kAhead) {
    const float* p = next + static_cast<size_t>(pc - o1) * rank;
    for (size_t off = 0; off < chunk; off += 16) prefetch_line(p + off, 0);
  }
}

// Up to 8 rows: per chunk of 16 outputs, the transposed slice of B stays in registers.
template <int NR>
void expand_regs(const float* b, int rank, int o0, int o1, const float* const* ts, float* const* ys, const float* next) {
  for (int oc = o0; oc < o1; oc += 16) {
    const int w = std::min(16, o1 - oc);
    prefetch_ahead(b, rank, o1, next, oc + kAhead);
    __m512 acc[NR];
    for (int i = 0; i < NR; ++i) acc[i] = _mm512_setzero_ps();
    for (int rc = 0; rc < rank; rc += 16) {
      const int kr = std::min(16, rank - rc);
      __m512 r[16];
      load_transposed(b, rank, oc, w, rc, kr, r);
      // r[k] for k >= kr is zero, but t holds only `rank` values: stop at kr.
#pragma GCC unroll 16
      for (int k = 0; k < 16; ++k) {
        if (k >= kr) break;
#pragma GCC unroll 8
        for (int i = 0; i < NR; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(ts[i][rc + k]), r[k], acc[i]);
      }
    }
    const __mmask16 m = lanes(w);
    for (int i = 0; i < NR; ++i) {
      float* yp = ys[i] + oc;
      _mm512_mask_storeu_ps(yp, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, yp), acc[i]));
    }
  }
}

constexpr int kBlock = 64;  // outputs per transposed block when rows are many: 4 vectors

// ts[i] (rank values) times bt [rank][64]; adds the first w outputs to ys[i][0..w).
template <int NR>
void expand_tile(const float* bt, int rank, int w, const float* const* ts, float* const* ys) {
  __m512 acc[NR][4];
  for (int i = 0; i < NR; ++i)
    for (int c = 0; c < 4; ++c) acc[i][c] = _mm512_setzero_ps();
  for (int r = 0; r < rank; ++r) {
    const float* br = bt + static_cast<size_t>(r) * kBlock;
    const __m512 b0 = _mm512_loadu_ps(br), b1 = _mm512_loadu_ps(br + 16), b2 = _mm512_loadu_ps(br + 32),
                 b3 = _mm512_loadu_ps(br + 48);
    for (int i = 0; i < NR; ++i) {
      const __m512 tv = _mm512_set1_ps(ts[i][r]);
      acc[i][0] = _mm512_fmadd_ps(tv, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(tv, b1, acc[i][1]);
      acc[i][2] = _mm512_fmadd_ps(tv, b2, acc[i][2]);
      acc[i][3] = _mm512_fmadd_ps(tv, b3, acc[i][3]);
    }
  }
  for (int i = 0; i < NR; ++i)
    for (int c = 0; c < 4 && c * 16 < w; ++c) {
      const __mmask16 m = lanes(w - c * 16);
      float* yp = ys[i] + c * 16;
      _mm512_mask_storeu_ps(yp, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, yp), acc[i][c]));
    }
}

template <int NR>
void expand_rows(const float* b, int rank, int o0, int o1, const float* t, size_t ldt, const int* rows, float* y,
                 size_t ldy, const float* next) {
  const float* ts[8];
  float* ys[8];
  for (int j = 0; j < NR; ++j) {
    ts[j] = t + static_cast<size_t>(j) * ldt;
    ys[j] = y + static_cast<size_t>(rows[j]) * ldy;
  }
  expand_regs<NR>(b, rank, o0, o1, ts, ys, next);
}

}  // namespace

void lora_shrink(const float* a, int rank, int in, float scale, const float* x, size_t ldx, const int* rows, int n,
                 float* t, size_t ldt, const float* next) {
  const size_t tile_lines = (static_cast<size_t>(4) * in * sizeof(float) + 63) / 64;
  for (int r0 = 0; r0 < rank; r0 += 4) {
    // Prefetch stream: the next rank tile's rows (as many as exist), else the caller's next weights.
    const float* pf = next;
    size_t pf_lines = next != nullptr ? tile_lines : 0;
    if (r0 + 4 < rank) {
      pf = a + static_cast<size_t>(r0 + 4) * in;
      pf_lines = (static_cast<size_t>(std::min(4, rank - r0 - 4)) * in * sizeof(float) + 63) / 64;
    }
    for (int i = 0; i < n; i += 4) {
      const int nr = std::min(4, n - i);
      const float* xs[4];
      float* ts[4];
      for (int j = 0; j < nr; ++j) {
        xs[j] = x + static_cast<size_t>(rows[i + j]) * ldx;
        ts[j] = t + static_cast<size_t>(i + j) * ldt;
      }
      const size_t lines = i == 0 ? pf_lines : 0;  // the first row tile issues the prefetches
      const int kr = std::min(4, rank - r0);
      switch (nr) {
        case 4: shrink_tile<4>(a, in, r0, kr, scale, xs, ts, pf, lines); break;
        case 3: shrink_tile<3>(a, in, r0, kr, scale, xs, ts, pf, lines); break;
        case 2: shrink_tile<2>(a, in, r0, kr, scale, xs, ts, pf, lines); break;
        default: shrink_tile<1>(a, in, r0, kr, scale, xs, ts, pf, lines); break;
      }
    }
  }
}

void lora_expand(const float* b, int rank, int o0, int o1, const float* t, size_t ldt, const int* rows, int n, float* y,
                 size_t ldy, const float* next) {
  switch (n) {
    case 8: return expand_rows<8>(b, rank, o0, o1, t, ldt, rows, y, ldy, next);
    case 7: return expand_rows<7>(b, rank, o0, o1, t, ldt, rows, y, ldy, next);
    case 6: return expand_rows<6>(b, rank, o0, o1, t, ldt, rows, y, ldy, next);
    case 5: return expand_rows<5>(b, rank, o0, o1, t, ldt, rows, y, ldy, next);
    case 4: return expand_rows<4>(b, rank, o0, o1, t, ldt, rows, y, ldy, next);
    case 3: return expand_rows<3>(b, rank, o0, o1, t, ldt, rows, y, ldy, next);
    case 2: return expand_rows<2>(b, rank, o0, o1, t, ldt, rows, y, ldy, next);
    case 1: return expand_rows<1>(b, rank, o0, o1, t, ldt, rows, y, ldy, next);
    default: break;
  }
  if (n <= 0) return;
  // More rows: each 64-output block of B is transposed once into bt and shared by all row tiles.
  thread_local std::vector<float> btv;
  btv.resize(static_cast<size_t>(rank) * kBlock);
  float* bt = btv.data();
  for (int ob = o0; ob < o1; ob += kBlock) {
    const int w = std::min(o1, ob + kBlock) - ob;
    for (int oc = 0; oc < kBlock; oc += 16) prefetch_ahead(b, rank, o1, next, ob + kBlock + oc);
    for (int rc = 0; rc < rank; rc += 16) {
      const int kr = std::min(16, rank - rc);
      for (int c = 0; c < 4; ++c) {
        __m512 r[16];
        load_transposed(b, rank, ob + c * 16, std::max(0, std::min(16, w - c * 16)), rc, kr, r);
        for (int j = 0; j < kr; ++j) _mm512_storeu_ps(bt + static_cast<size_t>(rc + j) * kBlock + c * 16, r[j]);
      }
    }
    for (int i = 0; i < n; i += 4) {
      const int nr = std::min(4, n - i);
      const float* ts[4];
      float* ys[4];
      for (int j = 0; j < nr; ++j) {
        ts[j] = t + static_cast<size_t>(i + j) * ldt;
        ys[j] = y + static_cast<size_t>(rows[i + j]) * ldy + ob;
      }
      switch (nr) {
        case 4: expand_tile<4>(bt, rank, w, ts, ys); break;
        case 3: expand_tile<3>(bt, rank, w, ts, ys); break;
        case 2: expand_tile<2>(bt, rank, w, ts, ys); break;
        default: expand_tile<1>(bt, rank, w, ts, ys); break;
      }
    }
  }
}

}  // namespace cyllm::cpu::avx512
