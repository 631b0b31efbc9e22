#include "cuda-reference.h"

#include <algorithm>
#include <random>
#include <span>
#include <vector>

#include "backend/cpu-attention.h"
#include "backend/cpu-ops.h"
#include "backend/quant.h"
#include "serve/sampler.h"

namespace cyllm::cuda_ref {

namespace {

std::vector<float> dequant_row(GgmlType t, const void* w, size_t row_stride, int64_t r, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  cpu::dequantize_row(t, static_cast<const uint8_t*>(w) + static_cast<size_t>(r) * row_stride, out.data(), n,
                      cpu::Isa::kScalar);
  return out;
}

}  // namespace

void matvec(GgmlType t, const void* w, size_t row_stride, int64_t n, int64_t nrows, const float* x, size_t ldx,
            int64_t ncols, float* y, size_t ldy) {
  for (int64_t r = 0; r < nrows; ++r) {
    const std::vector<float> wr = dequant_row(t, w, row_stride, r, n);
    for (int64_t c = 0; c < ncols; ++c) {
      double s = 0.0;
      for (int64_t k = 0; k < n; ++k) s += static_cast<double>(wr[static_cast<size_t>(k)]) * x[static_cast<size_t>(c) * ldx + k];
      y[static_cast<size_t>(c) * ldy + r] = static_cast<float>(s);
    }
  }
}

void dequantize_rows(GgmlType t, const void* w, size_t row_stride, int64_t n, int64_t nrows, GgmlType out_type,
                     void* out, size_t ld_out) {
  for (int64_t r = 0; r < nrows; ++r) {
    const std::vector<float> wr = dequant_row(t, w, row_stride, r, n);
    for (int64_t k = 0; k < n; ++k) {
      const size_t i = static_cast<size_t>(r) * ld_out + static_cast<size_t>(k);
      const float v = wr[static_cast<size_t>(k)];
      if (out_type == GgmlType::F32)
        static_cast<float*>(out)[i] = v;
      else if (out_type == GgmlType::F16)
        static_cast<uint16_t*>(out)[i] = fp32_to_fp16(v);
      else
        static_cast<uint16_t*>(out)[i] = fp32_to_bf16(v);
    }
  }
}

void gather_rows_f32(GgmlType t, const void* w, size_t row_stride, int64_t n, const int32_t* rows, int64_t count,
                     float* out) {
  for (int64_t i = 0; i < count; ++i) {
    const std::vector<float> wr = dequant_row(t, w, row_stride, rows[i], n);
    std::copy(wr.begin(), wr.end(), out + static_cast<size_t>(i) * n);
  }
}

void convert_f32(const float* x, int64_t count, GgmlType out_type, uint16_t* out) {
  for (int64_t i = 0; i < count; ++i) out[i] = out_type == GgmlType::F16 ? fp32_to_fp16(x[i]) : fp32_to_bf16(x[i]);
}

void gemm(const float* a, int64_t nrows, int64_t k, const float* x, int64_t ncols, float* y, size_t ldy) {
  for (int64_t t = 0; t < ncols; ++t)
    for (int64_t r = 0; r < nrows; ++r) {
      double s = 0.0;
      for (int64_t i = 0; i < k; ++i) s += static_cast<double>(a[r * k + i]) * x[t * k + i];
      y[static_cast<size_t>(t) * ldy + r] = static_cast<float>(s);
    }
}

void rmsnorm(const float* x, const float* w, float* y, int64_t rows, int n, float eps) {
  for (int64_t r = 0; r < rows; ++r) cpu::rmsnorm(x + r * n, w, y + r * n, n, eps);
}

void rope(float* x, int64_t rows, int n_heads, int head_dim, int rope_dim, bool neox, const int32_t* positions,
          const float* cos_t, const float* sin_t) {
  const int half = rope_dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * static_cast<int64_t>(n_heads) * head_dim;
    const float* c = cos_t + static_cast<size_t>(positions[r]) * half;
    const float* s = sin_t + static_cast<size_t>(positions[r]) * half;
    if (neox)
      cpu::rope_neox(row, n_heads, head_dim, rope_dim, c, s);
    else
      cpu::rope_adjacent(row, n_heads, head_dim, rope_dim, c, s);
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t count) {
  cpu::silu_mul(gate, up, out, static_cast<int>(count));
}

void add_bias(float* y, const float* b, int64_t rows, int n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int i = 0; i < n; ++i) y[r * n + i] += b[i];
}

void kv_write(uint16_t* k_cache, uint16_t* v_cache, int kv_dim, const float* k, const float* v, const int32_t* slots,
              int64_t count) {
  for (int64_t t = 0; t < count; ++t)
    for (int d = 0; d < kv_dim; ++d) {
      const size_t dst = static_cast<size_t>(slots[t]) * kv_dim + d;
      k_cache[dst] = fp32_to_fp16(k[t * kv_dim + d]);
      v_cache[dst] = fp32_to_fp16(v[t * kv_dim + d]);
    }
}

void attention(const cuda::AttentionShape& s, const uint16_t* k_cache, const uint16_t* v_cache, const float* q,
               int rows, const int32_t* row_seq, const int32_t* row_nkeys, const int32_t* block_tables, float* out) {
  const int hd = s.head_dim, bt = s.block_tokens, kv_dim = s.n_head_kv * hd, group = s.n_head / s.n_head_kv;
  for (int r = 0; r < rows; ++r) {
    const int nkeys = row_nkeys[r];
    const int nblk = (nkeys + bt - 1) / bt;
    const int32_t* table = block_tables + static_cast<size_t>(row_seq[r]) * s.max_blocks;
    for (int h = 0; h < s.n_head; ++h) {
      const int g = h / group;
      // This head's keys and values of the row's blocks in the CPU layout: keys [d][bt] per block,
      // values [bt][hd] per block.
      std::vector<float> kt(static_cast<size_t>(nblk) * hd * bt, 0.0f), vv(static_cast<size_t>(nblk) * bt * hd, 0.0f);
      std::vector<const float*> kb(static_cast<size_t>(nblk)), vb(static_cast<size_t>(nblk));
      for (int b = 0; b < nblk; ++b) {
        for (int i = 0; i < bt && b * bt + i < nkeys; ++i) {
          const size_t slot = static_cast<size_t>(table[b]) * bt + i;
          for (int d = 0; d < hd; ++d) {
            kt[(static_cast<size_t>(b) * hd + d) * bt + i] = fp16_to_fp32(k_cache[slot * kv_dim + static_cast<size_t>(g) * hd + d]);
            vv[(static_cast<size_t>(b) * bt + i) * hd + d] = fp16_to_fp32(v_cache[slot * kv_dim + static_cast<size_t>(g) * hd + d]);
          }
        }
        kb[static_cast<size_t>(b)] = kt.data() + static_cast<size_t>(b) * hd * bt;
        vb[static_cast<size_t>(b)] = vv.data() + static_cast<size_t>(b) * bt * hd;
      }
      const float* qrow = q + (static_cast<size_t>(r) * s.n_head + h) * hd;
      float* orow = out + (static_cast<size_t>(r) * s.n_head + h) * hd;
      std::fill(orow, orow + hd, 0.0f);  // attention_rows accumulates into the output
      std::vector<float> scratch(static_cast<size_t>(std::max(nkeys, 1)));
      const cpu::KvBlocksView view{kb.data(), vb.data(), bt, static_cast<size_t>(hd)};
      cpu::attention_rows(&qrow, 1, &nkeys, view, hd, s.scale, &orow, scratch.data());
    }
  }
}

void lora_shrink(const cuda::LoraSegment* segs, int n_segs, const int32_t* rows, const float* x, size_t ldx, int in,
                 float* tmp) {
  for (int s = 0; s < n_segs; ++s) {
    const cuda::LoraSegment& sg = segs[s];
    for (int i = 0; i < sg.count; ++i) {
      const float* xi = x + static_cast<size_t>(rows[sg.first + i]) * ldx;
      for (int r = 0; r < sg.rank; ++r) {
        double sum = 0.0;
        for (int k = 0; k < in; ++k) sum += static_cast<double>(sg.a[static_cast<size_t>(r) * in + k]) * xi[k];
        tmp[static_cast<size_t>(sg.tmp) + static_cast<size_t>(i) * sg.rank + r] = static_cast<float>(sum) * sg.scale;
      }
    }
  }
}

void lora_expand(const cuda::LoraSegment* segs, int n_segs, const int32_t* rows, const float* tmp) {
  for (int s = 0; s < n_segs; ++s) {
    const cuda::LoraSegment& sg = segs[s];
    for (int i = 0; i < sg.count; ++i) {
      const float* ti = tmp + static_cast<size_t>(sg.tmp) + static_cast<size_t>(i) * sg.rank;
      float* yi = sg.y + static_cast<size_t>(rows[sg.first + i]) * static_cast<size_t>(sg.ldy);
      for (int o = 0; o < sg.out; ++o) {
        double sum = 0.0;
        for (int r = 0; r < sg.rank; ++r) sum += static_cast<double>(sg.b[static_cast<size_t>(o) * sg.rank + r]) * ti[r];
        yi[o] += static_cast<float>(sum);
      }
    }
  }
}

double sampler_u(uint64_t seed) {
  std::mt19937_64 rng(seed);
  return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
}

int32_t sample(const float* logits, int n_vocab, const cuda::SampleRow& row, uint64_t seed) {
  SamplingParams p;
  p.temperature = row.temperature;
  p.top_k = row.top_k;
  p.top_p = row.top_p;
  p.min_p = row.min_p;
  p.seed = seed;
  Sampler sampler(p);
  std::vector<float> copy(logits, logits + n_vocab);
  return sampler.sample(std::span<float>(copy), {});
}

}  // namespace cyllm::cuda_ref
