#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu-attention.h"
#include "backend/cpu-lora.h"
#include "backend/cpu-matmul.h"
#include "backend/cpu-ops.h"
#include "backend/quant.h"

namespace cyllm {

// Buffers for max_tokens tokens, allocated once.
struct ForwardPass::Scratch {
  std::vector<float> x, xn, q, k, v, attn, proj, gate, up, ffn;
  std::vector<int> seq_of_token, pos_of_token;
  cpu::QuantizedActs act;
};

ForwardPass::ForwardPass(const LlamaModel& model, ThreadPool& pool, int max_tokens, bool exact)
    : model_(model), pool_(pool), max_tokens_(std::max(1, max_tokens)), exact_(exact), s_(std::make_unique<Scratch>()) {
  const ModelConfig& c = model.config();
  const size_t B = static_cast<size_t>(max_tokens_);
  s_->x.resize(B * c.n_embd);
  s_->xn.resize(B * c.n_embd);
  s_->q.resize(B * c.q_dim());
  s_->k.resize(B * c.kv_dim());
  s_->v.resize(B * c.kv_dim());
  s_->attn.resize(B * c.q_dim());
  s_->proj.resize(B * c.n_embd);
  s_->gate.resize(B * c.n_ff);
  s_->up.resize(B * c.n_ff);
  s_->ffn.resize(B * c.n_ff);
  s_->seq_of_token.resize(B);
  s_->pos_of_token.resize(B);
}

ForwardPass::~ForwardPass() = default;

GgmlType ForwardPass::act_type(GgmlType weight) const { return exact_ ? GgmlType::F32 : cpu::vec_dot_type(weight); }

// RoPE angles: theta_i = pos * base^(-2i/rope_dim), divided by the optional frequency factors.
void ForwardPass::ensure_rope(int n_positions) {
  if (n_positions <= rope_positions_) return;
  const ModelConfig& c = model_.config();
  const int half = c.rope_dim / 2;
  const int n = std::max(n_positions, std::min(2 * rope_positions_ + 256, std::max(n_positions, c.n_ctx_train)));
  rope_cos_.resize(static_cast<size_t>(n) * half);
  rope_sin_.resize(rope_cos_.size());
  const auto& rf = model_.weights().rope_freqs;
  const float* factors = rf.present() ? reinterpret_cast<const float*>(rf.data) : nullptr;
  for (int i = 0; i < half; ++i) {
    double inv_freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.rope_dim);
    if (factors) inv_freq /= factors[i];
    for (int p = rope_positions_; p < n; ++p) {
      const double a = p * inv_freq;
      rope_cos_[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(a));
      rope_sin_[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(a));
    }
  }
  rope_positions_ = n;
}

void ForwardPass::attention(std::span<const SeqBatch> batch, std::span<const int> seq_of_token, int layer, KvStorage& kv) {
  const ModelConfig& c = model_.config();
  Scratch& s = *s_;
  const int QD = c.q_dim(), KVD = c.kv_dim(), HD = c.head_dim, BT = kv.block_tokens();
  const int group = c.n_head / c.n_head_kv;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HD));
  const int T = static_cast<int>(seq_of_token.size());
  // Work items: (run of up to `tile` consecutive tokens of one sequence) x (KV head). Each item
  // computes the `group` query heads of its tokens against that head's keys, loading every key
  // and value row once for all of them.
  constexpr int kMaxRows = 128;  // query rows per item (tokens x group)
  const int tile = std::max(1, kMaxRows / group);
  std::vector<std::pair<int, int>> runs;  // (first token, count)
  for (int t = 0; t < T;) {
    int e = t + 1;
    while (e < T && e - t < tile && seq_of_token[static_cast<size_t>(e)] == seq_of_token[static_cast<size_t>(t)]) ++e;
    runs.emplace_back(t, e - t);
    t = e;
  }
  const int64_t items = static_cast<int64_t>(runs.size()) * c.n_head_kv;
  pool_.parallel_for(items, 1, [&](int64_t b, int64_t e) {
    thread_local std::vector<float> scratch;
    thread_local std::vector<const float*> kb, vb;
    for (int64_t item = b; item < e; ++item) {
      const auto [t0, nt] = runs[static_cast<size_t>(item / c.n_head_kv)];
      const int g = static_cast<int>(item % c.n_head_kv);
      const SeqBatch& sq = batch[static_cast<size_t>(seq_of_token[static_cast<size_t>(t0)])];
      const int max_keys = s.pos_of_token[static_cast<size_t>(t0 + nt - 1)] + 1;
      const size_t nblk = static_cast<size_t>((max_keys + BT - 1) / BT);
      kb.resize(nblk);
      vb.resize(nblk);
      for (size_t i = 0; i < nblk; ++i) {
        kb[i] = kv.kt(layer, sq.block_table[i]) + static_cast<size_t>(g) * HD * BT;
        vb[i] = kv.v(layer, sq.block_table[i], 0) + static_cast<size_t>(g) * HD;
      }
      // Query rows: token-major, then the group's query heads (h = g * group + k).
      const float* qrows[kMaxRows];
      float* orows[kMaxRows];
      int n_keys[kMaxRows];
      const int nq = nt * group;
      for (int i = 0; i < nt; ++i)
        for (int k = 0; k < group; ++k) {
          const size_t off = static_cast<size_t>(t0 + i) * QD + static_cast<size_t>(g * group + k) * HD;
          qrows[i * group + k] = s.q.data() + off;
          orows[i * group + k] = s.attn.data() + off;
          n_keys[i * group + k] = s.pos_of_token[static_cast<size_t>(t0 + i)] + 1;
        }
      if (scratch.size() < static_cast<size_t>(nq) * max_keys) scratch.resize(static_cast<size_t>(nq) * max_keys * 2);
      const cpu::KvBlocksView view{kb.data(), vb.data(), BT, static_cast<size_t>(KVD)};  // keys: [dim][BT]
      cpu::attention_rows(qrows, nq, n_keys, view, HD, scale, orows, scratch.data());
    }
  });
}

void ForwardPass::run(std::span<const SeqBatch> batch, KvStorage& kv) {
  const ModelConfig& c = model_.config();
  const ModelWeights& W = model_.weights();
  Scratch& s = *s_;
  const int D = c.n_embd, QD = c.q_dim(), KVD = c.kv_dim(), HD = c.head_dim, FF = c.n_ff;
  const int half = c.rope_dim / 2, BT = kv.block_tokens();
  const cpu::Isa isa = cpu::active_isa();

  // Flatten the batch: token t belongs to sequence seq_of_token[t] at position pos_of_token[t].
  int T = 0, max_pos = 0;
  for (size_t si = 0; si < batch.size(); ++si) {
    for (size_t i = 0; i < batch[si].tokens.size(); ++i) {
      s.seq_of_token[static_cast<size_t>(T)] = static_cast<int>(si);
      s.pos_of_token[static_cast<size_t>(T)] = batch[si].pos0 + static_cast<int>(i);
      const int32_t tok = batch[si].tokens[i];
      cpu::dequantize_row(W.token_embd.type, W.token_embd.row(tok), s.x.data() + static_cast<size_t>(T) * D, D, isa);
      ++T;
    }
    max_pos = std::max(max_pos, batch[si].pos0 + static_cast<int>(batch[si].tokens.size()));
  }
  if (T == 0) return;
  ensure_rope(max_pos);
  const std::span<const int> seq_of_token(s.seq_of_token.data(), static_cast<size_t>(T));

  auto norm_rows = [&](const WeightRef& w) {
    pool_.parallel_for(T, 8, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t)
        cpu::rmsnorm(s.x.data() + static_cast<size_t>(t) * D, reinterpret_cast<const float*>(w.data),
                     s.xn.data() + static_cast<size_t>(t) * D, D, c.rms_eps);
    });
  };
  // Products sharing one input run in one parallel region when their activation types agree.
  auto project = [&](const float* in, int n_in, std::initializer_list<cpu::MatmulJob> jobs) {
    cpu::MatmulJob same[8];
    size_t n = 0;
    const GgmlType first = act_type(jobs.begin()->w->type);
    cpu::quantize_acts(in, T, n_in, first, s.act, pool_);
    for (const auto& j : jobs)
      if (act_type(j.w->type) == first) same[n++] = j;
    cpu::matmul(std::span(same, n), s.act, pool_);
    for (const auto& j : jobs) {
      if (act_type(j.w->type) == first) continue;
      cpu::quantize_acts(in, T, n_in, act_type(j.w->type), s.act, pool_);
      const cpu::MatmulJob one[] = {j};
      cpu::matmul(one, s.act, pool_);
    }
  };

  bool any_lora = false;
  for (const auto& sq : batch) any_lora = any_lora || sq.lora != nullptr;
  // LoRA deltas for the rows of sequences that carry an adapter: y += scale * B (A x). Grouped
  // (segmented) by adapter: rows are bucketed by their adapter, then for every (adapter, target)
  // segment of the products that share one input (q, k, v; gate, up): (1) the segment's rows'
  // scale * A x as a small GEMM (cpu::lora_shrink, split by tiles of rows), then (2) per block of
  // output rows of B, every row of the bucket (cpu::lora_expand) — so each adapter's A and B are
  // read from memory once per step however many sequences use them, and requests are never run
  // per adapter. A row's arithmetic is the same as alone (Property 12): the kernels never let it
  // depend on the other rows.
  struct LoraGroup {
    const LoraAdapter* ad;
    std::vector<int> rows;
  };
  std::vector<LoraGroup> lora_groups;
  if (any_lora) {
    for (int t = 0; t < T; ++t) {
      const LoraAdapter* ad = batch[static_cast<size_t>(s.seq_of_token[static_cast<size_t>(t)])].lora;
      if (ad == nullptr) continue;
      auto g = std::find_if(lora_groups.begin(), lora_groups.end(), [&](const LoraGroup& x) { return x.ad == ad; });
      if (g == lora_groups.end()) g = lora_groups.insert(lora_groups.end(), LoraGroup{ad, {}});
      g->rows.push_back(t);
    }
  }
  struct LoraOut {
    LoraTarget target;
    float* out;
    int n_out;
  };
  struct LoraSeg {
    const LoraMatrix* m;
    float scale;
    const std::vector<int>* rows;
    float* out;
    int n_out;
    size_t tmp;  // offset of this segment's [rows][rank] in lora_tmp
  };
  std::vector<LoraSeg> lora_segs;
  std::vector<std::pair<int, int>> lora_items;  // (segment, first row or first output)
  std::vector<float> lora_tmp;
  auto lora = [&](int layer, const float* in, int n_in, std::initializer_list<LoraOut> outs) {
    if (lora_groups.empty()) return;
    lora_segs.clear();
    size_t tmp_size = 0;
    for (const LoraOut& o : outs)
      for (const LoraGroup& g : lora_groups) {
        if (static_cast<size_t>(layer) >= g.ad->layers.size()) continue;
        const LoraMatrix& m = g.ad->layers[static_cast<size_t>(layer)][static_cast<size_t>(o.target)];
        if (!m.present() || m.in != n_in || m.out != o.n_out) continue;
        lora_segs.push_back({&m, g.ad->scale, &g.rows, o.out, o.n_out, tmp_size});
        tmp_size += g.rows.size() * static_cast<size_t>(m.rank);
      }
    if (lora_segs.empty()) return;
    lora_tmp.resize(tmp_size);
    // Work items are handed out in a few contiguous runs per thread, so that each item can tell
    // the kernel which weights its thread reads next (prefetched while the item ends).
    const int64_t runs = 2 * static_cast<int64_t>(pool_.size());
    auto grain = [&](size_t n) { return std::max<int64_t>(1, (static_cast<int64_t>(n) + runs - 1) / runs); };
    // (1) tmp = scale * A x for every adapted row, in items of up to kRows rows of one segment.
    constexpr int kRows = 16;
    lora_items.clear();
    for (int k = 0; k < static_cast<int>(lora_segs.size()); ++k)
      for (int i = 0; i < static_cast<int>(lora_segs[static_cast<size_t>(k)].rows->size()); i += kRows) lora_items.emplace_back(k, i);
    pool_.parallel_for(static_cast<int64_t>(lora_items.size()), grain(lora_items.size()), [&](int64_t b, int64_t e) {
      for (int64_t it = b; it < e; ++it) {
        const auto [k, i0] = lora_items[static_cast<size_t>(it)];
        const LoraSeg& sg = lora_segs[static_cast<size_t>(k)];
        const int n = std::min(kRows, static_cast<int>(sg.rows->size()) - i0);
        const int R = sg.m->rank;
        const float* next = nullptr;
        if (it + 1 < e && lora_items[static_cast<size_t>(it + 1)].first != k)
          next = lora_segs[static_cast<size_t>(lora_items[static_cast<size_t>(it + 1)].first)].m->a.data();
        cpu::lora_shrink(sg.m->a.data(), R, n_in, sg.scale, in, static_cast<size_t>(n_in), sg.rows->data() + i0, n,
                         lora_tmp.data() + sg.tmp + static_cast<size_t>(i0) * R, static_cast<size_t>(R), next, isa);
      }
    });
    // (2) y[t][o] += sum_r B[o][r] tmp[t][r], per (segment, block of kOuts output rows).
    constexpr int kOuts = 64;
    lora_items.clear();
    for (int k = 0; k < static_cast<int>(lora_segs.size()); ++k)
      for (int o = 0; o < lora_segs[static_cast<size_t>(k)].n_out; o += kOuts) lora_items.emplace_back(k, o);
    pool_.parallel_for(static_cast<int64_t>(lora_items.size()), grain(lora_items.size()), [&](int64_t b, int64_t e) {
      for (int64_t it = b; it < e; ++it) {
        const auto [k, o0] = lora_items[static_cast<size_t>(it)];
        const LoraSeg& sg = lora_segs[static_cast<size_t>(k)];
        const int R = sg.m->rank;
        const float* next = nullptr;
        if (it + 1 < e) {
          const auto [k1, o1] = lora_items[static_cast<size_t>(it + 1)];
          const LoraMatrix& m1 = *lora_segs[static_cast<size_t>(k1)].m;
          next = m1.b.data() + static_cast<size_t>(o1) * m1.rank;
        }
        cpu::lora_expand(sg.m->b.data(), R, o0, std::min(sg.n_out, o0 + kOuts), lora_tmp.data() + sg.tmp,
                         static_cast<size_t>(R), sg.rows->data(), static_cast<int>(sg.rows->size()), sg.out,
                         static_cast<size_t>(sg.n_out), next, isa);
      }
    });
  };

  // RoPE pairing per architecture (ModelConfig::rope_style): adjacent pairs for GGUF's permuted
  // llama Q/K rows, half-offset pairs (NeoX) for qwen2's HF-ordered rows.
  const auto rope_fn = c.rope_style == RopeStyle::kNeox ? &cpu::rope_neox : &cpu::rope_adjacent;
  auto rope = [&](float* x, int n_heads, const float* cs, const float* sn) { rope_fn(x, n_heads, HD, c.rope_dim, cs, sn); };

  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = W.layers[static_cast<size_t>(il)];
    norm_rows(L.attn_norm);
    project(s.xn.data(), D, {{&L.wq, s.q.data()}, {&L.wk, s.k.data()}, {&L.wv, s.v.data()}});
    lora(il, s.xn.data(), D, {{LoraTarget::kQ, s.q.data(), QD}, {LoraTarget::kK, s.k.data(), KVD}, {LoraTarget::kV, s.v.data(), KVD}});
    for (int t = 0; t < T; ++t) {
      float* q = s.q.data() + static_cast<size_t>(t) * QD;
      float* k = s.k.data() + static_cast<size_t>(t) * KVD;
      float* v = s.v.data() + static_cast<size_t>(t) * KVD;
      if (c.attn_bias) {
        cpu::add_f32(q, reinterpret_cast<const float*>(L.bq.data), QD);
        cpu::add_f32(k, reinterpret_cast<const float*>(L.bk.data), KVD);
        cpu::add_f32(v, reinterpret_cast<const float*>(L.bv.data), KVD);
      }
      const int p = s.pos_of_token[static_cast<size_t>(t)];
      const float* cs = &rope_cos_[static_cast<size_t>(p) * half];
      const float* sn = &rope_sin_[static_cast<size_t>(p) * half];
      rope(q, c.n_head, cs, sn);
      rope(k, c.n_head_kv, cs, sn);
      const SeqBatch& sq = batch[static_cast<size_t>(s.seq_of_token[static_cast<size_t>(t)])];
      const int blk = sq.block_table[static_cast<size_t>(p / BT)];
      kv.write(il, blk, p % BT, k, v);
    }
    attention(batch, seq_of_token, il, kv);
    project(s.attn.data(), QD, {{&L.wo, s.proj.data()}});
    lora(il, s.attn.data(), QD, {{LoraTarget::kO, s.proj.data(), D}});
    cpu::add_f32(s.x.data(), s.proj.data(), T * D);

    norm_rows(L.ffn_norm);
    project(s.xn.data(), D, {{&L.w_gate, s.gate.data()}, {&L.w_up, s.up.data()}});
    lora(il, s.xn.data(), D, {{LoraTarget::kGate, s.gate.data(), FF}, {LoraTarget::kUp, s.up.data(), FF}});
    // Element-wise, so splitting it across threads changes no result.
    pool_.parallel_for(static_cast<int64_t>(T) * FF, 4096, [&](int64_t b, int64_t e) {
      cpu::silu_mul(s.gate.data() + b, s.up.data() + b, s.ffn.data() + b, static_cast<int>(e - b));
    });
    project(s.ffn.data(), FF, {{&L.w_down, s.proj.data()}});
    lora(il, s.ffn.data(), FF, {{LoraTarget::kDown, s.proj.data(), D}});
    cpu::add_f32(s.x.data(), s.proj.data(), T * D);
  }

  // Output projection for the rows whose logits are wanted, gathered into xn.
  std::vector<std::pair<int, float*>> rows;  // (token index, destination)
  {
    int t = 0;
    for (const auto& sq : batch) {
      const int n = static_cast<int>(sq.tokens.size());
      if (sq.logits == SeqBatch::Logits::kAll)
        for (int i = 0; i < n; ++i) rows.emplace_back(t + i, sq.logits_out + static_cast<size_t>(i) * c.n_vocab);
      else if (sq.logits == SeqBatch::Logits::kLast && n > 0)
        rows.emplace_back(t + n - 1, sq.logits_out);
      t += n;
    }
  }
  if (rows.empty()) return;
  const int R = static_cast<int>(rows.size());
  for (int r = 0; r < R; ++r)
    cpu::rmsnorm(s.x.data() + static_cast<size_t>(rows[static_cast<size_t>(r)].first) * D,
                 reinterpret_cast<const float*>(W.output_norm.data), s.xn.data() + static_cast<size_t>(r) * D, D, c.rms_eps);
  cpu::quantize_acts(s.xn.data(), R, D, act_type(W.output.type), s.act, pool_);
  // Contiguous destinations (one sequence's all-logits, or a single row) go straight out;
  // otherwise the products land in a staging buffer and are scattered.
  bool contiguous = true;
  for (int r = 1; r < R && contiguous; ++r)
    contiguous = rows[static_cast<size_t>(r)].second == rows[0].second + static_cast<size_t>(r) * c.n_vocab;
  if (contiguous) {
    const cpu::MatmulJob jobs[] = {{&W.output, rows[0].second}};
    cpu::matmul(jobs, s.act, pool_);
    return;
  }
  thread_local std::vector<float> staging;
  staging.resize(static_cast<size_t>(R) * c.n_vocab);
  const cpu::MatmulJob jobs[] = {{&W.output, staging.data()}};
  cpu::matmul(jobs, s.act, pool_);
  for (int r = 0; r < R; ++r)
    std::memcpy(rows[static_cast<size_t>(r)].second, staging.data() + static_cast<size_t>(r) * c.n_vocab,
                sizeof(float) * c.n_vocab);
}

}  // namespace cyllm
