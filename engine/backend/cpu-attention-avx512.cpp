// AVX-512 attention (cpu-attention.h) for head dims that are multiples of 16 up to 128. Built with
// -mavx512f and only called when the active ISA is AVX-512.
//
// Why not the portable code: there each score lane is one chain of dependent FMAs over head_dim
// (latency-bound, 4 cycles per FMA) and the value accumulator spills to the stack. Here up to four
// query rows and two 16-key tiles run as independent chains that share every key load, and up to
// four rows share every value-row load with their accumulators held in registers. Per lane the
// arithmetic is the portable code's (fma over d in order, times scale; fma over keys in order), so
// a row's result still does not depend on the other rows of the call. The softmax uses a vector
// exp (avx512-exp.h) and a lane-wise sum, instead of std::exp and a serial sum.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/avx512-exp.h"
#include "backend/cpu-attention.h"

namespace cyllm::cpu::avx512 {
namespace {

struct KeyTile {
  const float* k;  // keys r0.. of one block, transposed: dim d at k[d * block_tokens]
  int j;           // position of the tile's first key
  int n;           // keys in the tile (1..16)
};

template <int NQ, int NT>
inline void score_tiles(const float* const* q, const int* n_keys, const KeyTile* tiles, int bt, int hd, float scale,
                        float* scores, int ld) {
  __m512 acc[NQ][NT];
  __mmask16 mask[NT];
  for (int t = 0; t < NT; ++t) mask[t] = static_cast<__mmask16>((1u << tiles[t].n) - 1);
  for (int c = 0; c < NQ; ++c)
    for (int t = 0; t < NT; ++t) acc[c][t] = _mm512_setzero_ps();
  for (int d = 0; d < hd; ++d) {
    __m512 k[NT];
    for (int t = 0; t < NT; ++t) k[t] = _mm512_maskz_loadu_ps(mask[t], tiles[t].k + static_cast<size_t>(d) * bt);
    for (int c = 0; c < NQ; ++c) {
      const __m512 qd = _mm512_set1_ps(q[c][d]);
      for (int t = 0; t < NT; ++t) acc[c][t] = _mm512_fmadd_ps(qd, k[t], acc[c][t]);
    }
  }
  const __m512 vs = _mm512_set1_ps(scale);
  for (int c = 0; c < NQ; ++c)
    for (int t = 0; t < NT; ++t) {
      const int m = std::min(n_keys[c] - tiles[t].j, tiles[t].n);
      if (m <= 0) continue;
      _mm512_mask_storeu_ps(scores + static_cast<size_t>(c) * ld + tiles[t].j, static_cast<__mmask16>((1u << m) - 1),
                            _mm512_mul_ps(acc[c][t], vs));
    }
}

template <int NQ>
void score_rows(const float* const* q, const int* n_keys, const std::vector<KeyTile>& tiles, int bt, int hd,
                float scale, float* scores, int ld) {
  int kmax = 0;
  for (int c = 0; c < NQ; ++c) kmax = std::max(kmax, n_keys[c]);
  size_t nt = 0;
  while (nt < tiles.size() && tiles[nt].j < kmax) ++nt;
  size_t t = 0;
  for (; t + 2 <= nt; t += 2) score_tiles<NQ, 2>(q, n_keys, &tiles[t], bt, hd, scale, scores, ld);
  if (t < nt) score_tiles<NQ, 1>(q, n_keys, &tiles[t], bt, hd, scale, scores, ld);
}

void softmax_row(float* x, int n) {
  __m512 mx = _mm512_set1_ps(-INFINITY);
  int i = 0;
  for (; i + 16 <= n; i += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(x + i));
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
  mx = _mm512_mask_max_ps(mx, tail, mx, _mm512_maskz_loadu_ps(tail, x + i));
  const __m512 vmx = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
  __m512 sum = _mm512_setzero_ps();
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), vmx));
    _mm512_storeu_ps(x + i, e);
    sum = _mm512_add_ps(sum, e);
  }
  if (tail) {
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), vmx));
    _mm512_mask_storeu_ps(x + i, tail, e);
    sum = _mm512_mask_add_ps(sum, tail, sum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
  if (tail) _mm512_mask_storeu_ps(x + i, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, x + i), inv));
}

// acc[c] += sum over keys [j0, j1) of p[c][j] * v[j], keys in order, for NQ rows at once.
template <int HV, int NQ>
inline void accumulate_keys(__m512 (&acc)[NQ][HV], const float* const* p, const KvBlocksView& kv, int j0, int j1) {
  const int bt = kv.block_tokens;
  for (int j = j0; j < j1;) {
    const int b = j / bt, e = std::min(j1, (b + 1) * bt);
    const float* v = kv.v_blocks[b] + static_cast<size_t>(j - b * bt) * kv.stride;
    for (; j < e; ++j, v += kv.stride) {
      __m512 vr[HV];
      for (int h = 0; h < HV; ++h) vr[h] = _mm512_loadu_ps(v + 16 * h);
      for (int c = 0; c < NQ; ++c) {
        const __m512 pc = _mm512_set1_ps(p[c][j]);
        for (int h = 0; h < HV; ++h) acc[c][h] = _mm512_fmadd_ps(pc, vr[h], acc[c][h]);
      }
    }
  }
}

template <int HV, int NQ>
void accumulate_rows(const int* n_keys, const KvBlocksView& kv, const float* const* p, float* const* out) {
  __m512 acc[NQ][HV];
  for (int c = 0; c < NQ; ++c)
    for (int h = 0; h < HV; ++h) acc[c][h] = _mm512_setzero_ps();
  int common = n_keys[0];
  for (int c = 1; c < NQ; ++c) common = std::min(common, n_keys[c]);
  accumulate_keys<HV, NQ>(acc, p, kv, 0, common);
  for (int c = 0; c < NQ; ++c) {  // rows that see more keys carry on alone, still in key order
    __m512 one[1][HV];
    for (int h = 0; h < HV; ++h) one[0][h] = acc[c][h];
    accumulate_keys<HV, 1>(one, p + c, kv, common, n_keys[c]);
    for (int h = 0; h < HV; ++h) _mm512_storeu_ps(out[c] + 16 * h, one[0][h]);
  }
}

template <int HV>
void attention_hv(const float* const* q, int nq, const int* n_keys, const KvBlocksView& kv, float scale,
                  float* const* out, float* scratch) {
  constexpr int hd = 16 * HV;
  constexpr int kRows = HV <= 4 ? 4 : 2;  // accumulators per row chunk: kRows * HV <= 16 registers
  int max_keys = 0;
  for (int i = 0; i < nq; ++i) max_keys = std::max(max_keys, n_keys[i]);
  const int bt = kv.block_tokens;
  thread_local std::vector<KeyTile> tiles;
  tiles.clear();
  for (int j0 = 0; j0 < max_keys; j0 += bt)
    for (int r0 = 0; r0 < bt && j0 + r0 < max_keys; r0 += 16)
      tiles.push_back({kv.k_blocks[j0 / bt] + r0, j0 + r0, std::min({16, bt - r0, max_keys - j0 - r0})});

  int i = 0;
  for (; i + 4 <= nq; i += 4)
    score_rows<4>(q + i, n_keys + i, tiles, bt, hd, scale, scratch + static_cast<size_t>(i) * max_keys, max_keys);
  switch (nq - i) {
    case 3: score_rows<3>(q + i, n_keys + i, tiles, bt, hd, scale, scratch + static_cast<size_t>(i) * max_keys, max_keys); break;
    case 2: score_rows<2>(q + i, n_keys + i, tiles, bt, hd, scale, scratch + static_cast<size_t>(i) * max_keys, max_keys); break;
    case 1: score_rows<1>(q + i, n_keys + i, tiles, bt, hd, scale, scratch + static_cast<size_t>(i) * max_keys, max_keys); break;
    default: break;
  }

  const float* probs[kRows];
  for (i = 0; i < nq; ++i) softmax_row(scratch + static_cast<size_t>(i) * max_keys, n_keys[i]);
  for (i = 0; i < nq;) {
    const int nr = std::min(kRows, nq - i);
    for (int c = 0; c < nr; ++c) probs[c] = scratch + static_cast<size_t>(i + c) * max_keys;
    if (nr == kRows) {
      accumulate_rows<HV, kRows>(n_keys + i, kv, probs, out + i);
    } else if (nr == 3) {
      accumulate_rows<HV, 3>(n_keys + i, kv, probs, out + i);
    } else if (nr == 2) {
      accumulate_rows<HV, 2>(n_keys + i, kv, probs, out + i);
    } else {
      accumulate_rows<HV, 1>(n_keys + i, kv, probs, out + i);
    }
    i += nr;
  }
}

}  // namespace

bool attention_supported(int head_dim) { return head_dim % 16 == 0 && head_dim >= 16 && head_dim <= 128; }

void attention_rows(const float* const* q, int nq, const int* n_keys, const KvBlocksView& kv, int head_dim, float scale,
                    float* const* out, float* scratch) {
  switch (head_dim / 16) {
    case 1: return attention_hv<1>(q, nq, n_keys, kv, scale, out, scratch);
    case 2: return attention_hv<2>(q, nq, n_keys, kv, scale, out, scratch);
    case 3: return attention_hv<3>(q, nq, n_keys, kv, scale, out, scratch);
    case 4: return attention_hv<4>(q, nq, n_keys, kv, scale, out, scratch);
    case 5: return attention_hv<5>(q, nq, n_keys, kv, scale, out, scratch);
    case 6: return attention_hv<6>(q, nq, n_keys, kv, scale, out, scratch);
    case 7: return attention_hv<7>(q, nq, n_keys, kv, scale, out, scratch);
    default: return attention_hv<8>(q, nq, n_keys, kv, scale, out, scratch);
  }
}

}  // namespace cyllm::cpu::avx512
