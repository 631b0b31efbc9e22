#include "backend/cuda-forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <array>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/oom-advice.h"
#include "backend/cuda-forward-impl.h"
#include "cuda-ops.h"

namespace cyllm {

Status CudaForwardPass::Impl::upload(const WeightRef& w, DevWeight& out, const std::string& name) {
  if (!w.present()) return {};
  const size_t bytes = tensor_bytes(w);
  auto b = cuda::DeviceBuffer::allocate(cuda::weight_alloc_bytes(bytes), name);
  if (!b.ok()) return b.error();
  out.buf = std::move(b.value());
  if (Status st = cuda::copy_to_device(*ctx, out.buf.data(), w.data, bytes); !st.ok()) return st;
  if (Status st = cuda::memset_device(*ctx, static_cast<uint8_t*>(out.buf.data()) + bytes, 0, cuda::kWeightPadBytes); !st.ok())
    return st;
  out.type = w.type;
  out.ne0 = w.ne0;
  out.ne1 = w.ne1;
  out.row_stride = w.row_stride;
  weight_bytes += out.buf.size();
  return {};
}

// out[t][r] = W[r] . in[t] for t < cols (in: cols rows of W.ne0 floats; out rows W.ne1 apart).
Status CudaForwardPass::Impl::product(const DevWeight& w, const float* in, int cols, float* out) {
  return cuda::matmul(*ctx, w.type, w.buf.data(), w.row_stride, w.ne0, w.ne1, in, cols, out, static_cast<size_t>(w.ne1),
                      mm_scratch.data(), mm_scratch_bytes);
}


CudaForwardPass::CudaForwardPass(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaForwardPass::~CudaForwardPass() = default;

int CudaForwardPass::max_tokens() const { return impl_->opt.max_tokens; }
int CudaForwardPass::n_blocks() const { return impl_->n_blocks; }
int CudaForwardPass::block_tokens() const { return impl_->opt.block_tokens; }
size_t CudaForwardPass::weight_bytes() const { return impl_->weight_bytes; }
size_t CudaForwardPass::kv_bytes() const { return impl_->k_cache.size() + impl_->v_cache.size(); }

Result<std::unique_ptr<CudaForwardPass>> CudaForwardPass::create(const LlamaModel& model, const CudaForwardOptions& opt) {
  auto impl = std::make_unique<Impl>();
  Impl& m = *impl;
  m.c = model.config();
  m.opt = opt;
  const ModelConfig& c = m.c;
  const ModelWeights& W = model.weights();
  if (opt.max_tokens <= 0 || opt.context <= 0 || opt.parallel <= 0 || opt.block_tokens <= 0 || opt.n_blocks < 0)
    return make_error(ErrorCode::kInvalidArgument, "CUDA forward pass: sizes must be positive");

  // Shapes and types the kernels handle.
  auto unsupported = [](const std::string& what) {
    return make_error(ErrorCode::kUnsupported, "the CUDA backend cannot run this model: " + what, "Run with --device cpu.");
  };
  if (c.head_dim > cuda::kMaxHeadDim) return unsupported("head_dim " + std::to_string(c.head_dim) + " > 256");
  if (c.rope_dim <= 0 || c.rope_dim % 2 != 0 || c.rope_dim > c.head_dim) return unsupported("rope_dim");
  if (c.n_embd % 32 != 0 || c.q_dim() % 32 != 0 || c.n_ff % 32 != 0)
    return unsupported("n_embd, q_dim and n_ff must be multiples of 32");
  std::vector<const WeightRef*> matrices = {&W.token_embd};
  if (W.output.present() && W.output.data != W.token_embd.data) matrices.push_back(&W.output);  // else tied
  for (const LayerWeights& L : W.layers)
    for (const WeightRef* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) matrices.push_back(w);
  for (const WeightRef* w : matrices)
    if (w->present() && !cuda::weight_type_supported(w->type))
      return unsupported("weight type " + std::string(type_name(static_cast<uint32_t>(w->type))));

  m.max_blocks = (opt.context + opt.block_tokens - 1) / opt.block_tokens;
  m.n_blocks = opt.n_blocks > 0 ? opt.n_blocks : opt.parallel * m.max_blocks;
  m.context = m.max_blocks * opt.block_tokens;
  m.max_k = std::max({c.n_embd, c.q_dim(), c.n_ff});

  // The memory plan (Property 14): checked before any allocation, so a plan that cannot fit gives
  // suggestions with numbers instead of a failure half-way through the upload.
  auto ctx = cuda::create_context(opt.device);
  if (!ctx.ok()) return ctx.error();
  m.ctx = std::move(ctx.value());
  size_t free_b = 0, total_b = 0;
  if (Status st = cuda::memory_info(&free_b, &total_b); !st.ok()) return st.error();
  const int half = c.rope_dim / 2;
  const int n_splits = (m.context + cuda::kDecodeSplitKeys - 1) / cuda::kDecodeSplitKeys;
  uint64_t weights = 0;
  for (const WeightRef* w : matrices) weights += tensor_bytes(*w) + cuda::kWeightPadBytes;
  for (const LayerWeights& L : W.layers)
    for (const WeightRef* w : {&L.attn_norm, &L.ffn_norm, &L.bq, &L.bk, &L.bv}) weights += tensor_bytes(*w);
  weights += tensor_bytes(W.output_norm);
  const uint64_t fixed = static_cast<uint64_t>(kDequantChunkRows) * m.max_k * 2 + static_cast<uint64_t>(m.context) * half * 8;
  MemoryPlan plan;
  plan.free_bytes = free_b;
  plan.weights_bytes = weights + fixed;
  plan.kv_elements_per_token = 2ull * c.n_layer * c.kv_dim();
  plan.kv_bytes_per_element = 2;
  plan.context = opt.n_blocks > 0 ? m.n_blocks * opt.block_tokens : m.context;
  plan.parallel = opt.n_blocks > 0 ? 1 : opt.parallel;
  plan.batch_tokens = opt.max_tokens;
  plan.activation_bytes_per_token = 4ull * (3 * c.n_embd + 2 * c.q_dim() + 2 * c.kv_dim() + 3 * c.n_ff + c.n_vocab) +
                                    2ull * m.max_k + 4ull * c.n_head * n_splits * (c.head_dim + 2) + 64;
  if (!plan.fits()) return oom_error(plan, "loading " + (c.name.empty() ? c.arch : c.name) + " on the GPU");

  // Weights, in their stored types.
  if (Status st = m.upload(W.token_embd, m.token_embd, "token_embd"); !st.ok()) return st.error();
  if (Status st = m.upload(W.output_norm, m.output_norm, "output_norm"); !st.ok()) return st.error();
  if (W.output.present() && W.output.data != W.token_embd.data)
    if (Status st = m.upload(W.output, m.output, "output"); !st.ok()) return st.error();
  m.layers.resize(W.layers.size());
  for (size_t i = 0; i < W.layers.size(); ++i) {
    const LayerWeights& L = W.layers[i];
    Impl::Layer& D = m.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    const std::pair<const WeightRef*, DevWeight*> all[] = {
        {&L.attn_norm, &D.attn_norm}, {&L.wq, &D.wq}, {&L.wk, &D.wk},           {&L.wv, &D.wv},
        {&L.wo, &D.wo},               {&L.bq, &D.bq}, {&L.bk, &D.bk},           {&L.bv, &D.bv},
        {&L.ffn_norm, &D.ffn_norm},   {&L.w_gate, &D.gate}, {&L.w_up, &D.up}, {&L.w_down, &D.down}};
    for (const auto& [src, dst] : all)
      if (Status st = m.upload(*src, *dst, p + (src->info ? src->info->name : std::string("weight"))); !st.ok())
        return st.error();
  }

  // RoPE table for every position, as ForwardPass::ensure_rope computes it (double angles,
  // optional per-dimension frequency factors), so both backends rotate by the same floats.
  {
    std::vector<float> cs(static_cast<size_t>(m.context) * half), sn(cs.size());
    const float* factors = W.rope_freqs.present() ? reinterpret_cast<const float*>(W.rope_freqs.data) : nullptr;
    for (int i = 0; i < half; ++i) {
      double inv_freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.rope_dim);
      if (factors) inv_freq /= factors[i];
      for (int p = 0; p < m.context; ++p) {
        const double a = p * inv_freq;
        cs[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(a));
        sn[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(a));
      }
    }
    for (auto [buf, host] : {std::pair{&m.rope_cos, &cs}, std::pair{&m.rope_sin, &sn}}) {
      auto b = cuda::DeviceBuffer::allocate(host->size() * 4, "RoPE table");
      if (!b.ok()) return b.error();
      *buf = std::move(b.value());
      if (Status st = put(*m.ctx, *buf, *host); !st.ok()) return st.error();
    }
  }

  // KV cache, activations, scratch and per-step metadata.
  const size_t T = static_cast<size_t>(opt.max_tokens);
  const size_t kv_elems = static_cast<size_t>(c.n_layer) * m.n_blocks * opt.block_tokens * c.kv_dim();
  m.mm_scratch_bytes = align256(T * m.max_k * 2) + static_cast<size_t>(kDequantChunkRows) * m.max_k * 2;
  cuda::AttentionShape shape{c.n_head, c.n_head_kv, c.head_dim, opt.block_tokens, m.max_blocks, 0.0f};
  m.attn_ws_floats = cuda::decode_workspace_floats(shape, opt.max_tokens, m.context);
  const std::pair<cuda::DeviceBuffer*, size_t> bufs[] = {
      {&m.k_cache, kv_elems * 2},
      {&m.v_cache, kv_elems * 2},
      {&m.x, T * c.n_embd * 4},
      {&m.xn, T * c.n_embd * 4},
      {&m.q, T * c.q_dim() * 4},
      {&m.k, T * c.kv_dim() * 4},
      {&m.v, T * c.kv_dim() * 4},
      {&m.attn, T * c.q_dim() * 4},
      {&m.proj, T * c.n_embd * 4},
      {&m.gate, T * c.n_ff * 4},
      {&m.up, T * c.n_ff * 4},
      {&m.ffn, T * c.n_ff * 4},
      {&m.logits, T * c.n_vocab * 4},
      {&m.mm_scratch, m.mm_scratch_bytes},
      {&m.attn_ws, m.attn_ws_floats * 4},
      {&m.d_tokens, T * 4},
      {&m.d_pos, T * 4},
      {&m.d_slots, T * 4},
      {&m.d_row_seq, T * 4},
      {&m.d_row_nkeys, T * 4},
      {&m.d_tables, static_cast<size_t>(opt.parallel) * m.max_blocks * 4},
      {&m.d_tiles, T * 3 * 4},
      {&m.d_out_rows, T * 4},
  };
  for (const auto& [buf, bytes] : bufs) {
    auto b = cuda::DeviceBuffer::allocate(bytes, "CUDA forward pass buffers");
    if (!b.ok()) return b.error();
    *buf = std::move(b.value());
  }
  if (Status st = cuda::synchronize(*m.ctx); !st.ok()) return st.error();
  return std::unique_ptr<CudaForwardPass>(new CudaForwardPass(std::move(impl)));
}

Status CudaForwardPass::run(std::span<const SeqBatch> batch) {
  Impl& m = *impl_;
  const ModelConfig& c = m.c;
  cuda::Context& ctx = *m.ctx;
  const int BT = m.opt.block_tokens, D = c.n_embd, QD = c.q_dim(), KVD = c.kv_dim(), FF = c.n_ff;
  if (batch.empty()) return {};
  if (Status st = cuda::use_context_device(ctx); !st.ok()) return st;  // run() may be on another thread
  if (static_cast<int>(batch.size()) > m.opt.parallel)
    return make_error(ErrorCode::kInvalidArgument, "CUDA forward pass: " + std::to_string(batch.size()) +
                                                       " sequences, room for " + std::to_string(m.opt.parallel));

  // Flatten the batch (as ForwardPass::run) and check what the kernels index with.
  std::vector<int32_t> tokens, pos, slots, row_seq, row_nkeys, tiles;
  std::vector<int32_t> tables(static_cast<size_t>(batch.size()) * m.max_blocks, 0);
  bool one_token_each = true;
  int max_nkeys = 0;
  for (size_t si = 0; si < batch.size(); ++si) {
    const SeqBatch& sq = batch[si];
    const int n = static_cast<int>(sq.tokens.size());
    if (n == 0) continue;
    one_token_each = one_token_each && n == 1;
    const int end = sq.pos0 + n;
    const int need_blocks = (end + BT - 1) / BT;
    if (sq.pos0 < 0 || need_blocks > m.max_blocks || static_cast<size_t>(need_blocks) > sq.block_table.size())
      return make_error(ErrorCode::kOutOfRange, "CUDA forward pass: positions up to " + std::to_string(end) +
                                                    " exceed the block table or the context (" + std::to_string(m.context) + ")");
    for (int b = 0; b < need_blocks; ++b) {
      const int blk = sq.block_table[static_cast<size_t>(b)];
      if (blk < 0 || blk >= m.n_blocks) return make_error(ErrorCode::kOutOfRange, "CUDA forward pass: bad KV block id");
      tables[si * m.max_blocks + static_cast<size_t>(b)] = blk;
    }
    for (int i = 0; i < n; ++i) {
      const int32_t tok = sq.tokens[static_cast<size_t>(i)];
      if (tok < 0 || tok >= c.n_vocab) return make_error(ErrorCode::kOutOfRange, "CUDA forward pass: token id out of range");
      const int p = sq.pos0 + i;
      if (i % cuda::kPrefillTileRows == 0) {
        tiles.push_back(static_cast<int32_t>(tokens.size()));
        tiles.push_back(std::min(cuda::kPrefillTileRows, n - i));
        tiles.push_back(static_cast<int32_t>(si));
      }
      tokens.push_back(tok);
      pos.push_back(p);
      slots.push_back(sq.block_table[static_cast<size_t>(p / BT)] * BT + p % BT);
      row_seq.push_back(static_cast<int32_t>(si));
      row_nkeys.push_back(p + 1);
      max_nkeys = std::max(max_nkeys, p + 1);
    }
  }
  const int T = static_cast<int>(tokens.size());
  if (T == 0) return {};
  if (T > m.opt.max_tokens)
    return make_error(ErrorCode::kInvalidArgument, "CUDA forward pass: " + std::to_string(T) + " tokens, room for " +
                                                       std::to_string(m.opt.max_tokens));
  for (auto [buf, host] : {std::pair{&m.d_tokens, &tokens}, std::pair{&m.d_pos, &pos}, std::pair{&m.d_slots, &slots},
                           std::pair{&m.d_row_seq, &row_seq}, std::pair{&m.d_row_nkeys, &row_nkeys},
                           std::pair{&m.d_tables, &tables}, std::pair{&m.d_tiles, &tiles}})
    if (Status st = put(ctx, *buf, *host); !st.ok()) return st;
  std::vector<LoraCall> lora_calls;
  std::vector<DevAdapter> transient;  // adapters without cache_adapter(): this step only
  if (Status st = m.prepare_lora(batch, lora_calls, transient); !st.ok()) return st;

  float* x = m.x.as<float>();
  float* xn = m.xn.as<float>();
  float* q = m.q.as<float>();
  float* k = m.k.as<float>();
  float* v = m.v.as<float>();
  float* attn = m.attn.as<float>();
  float* proj = m.proj.as<float>();
  float* gate = m.gate.as<float>();
  float* up = m.up.as<float>();
  float* ffn = m.ffn.as<float>();
  const int32_t* d_pos = m.d_pos.as<const int32_t>();
  const bool neox = c.rope_style == RopeStyle::kNeox;
  const cuda::AttentionShape shape{c.n_head, c.n_head_kv, c.head_dim, BT, m.max_blocks,
                                   1.0f / std::sqrt(static_cast<float>(c.head_dim))};

#define CYLLM_TRY(expr)                         \
  do {                                          \
    const Status cyllm_try_st_ = (expr);        \
    if (!cyllm_try_st_.ok()) return cyllm_try_st_; \
  } while (0)

  // The grouped LoRA delta of one call site (see prepare_lora), added to its products' outputs.
  auto lora = [&](int il, int site, const float* in, int n_in) -> Status {
    if (lora_calls.empty()) return {};
    const LoraCall& lc = lora_calls[static_cast<size_t>(il) * kLoraSites + static_cast<size_t>(site)];
    if (lc.n_segs == 0) return {};
    const cuda::LoraSegment* segs = m.d_lora_segs.as<const cuda::LoraSegment>() + lc.seg0;
    const int32_t* rows = m.d_lora_rows.as<const int32_t>();
    if (Status st = cuda::lora_shrink(ctx, segs, lc.n_segs, lc.max_count, rows, in, static_cast<size_t>(n_in), n_in,
                                      m.lora_tmp.as<float>());
        !st.ok())
      return st;
    return cuda::lora_expand(ctx, segs, lc.n_segs, lc.max_count, lc.max_out, rows, m.lora_tmp.as<const float>());
  };

  CYLLM_TRY(cuda::gather_rows_f32(ctx, m.token_embd.type, m.token_embd.buf.data(), m.token_embd.row_stride, D,
                                  m.d_tokens.as<const int32_t>(), T, x));
  for (int il = 0; il < c.n_layer; ++il) {
    const Impl::Layer& L = m.layers[static_cast<size_t>(il)];
    CYLLM_TRY(cuda::rmsnorm(ctx, x, L.attn_norm.f32(), xn, T, D, c.rms_eps));
    CYLLM_TRY(m.product(L.wq, xn, T, q));
    CYLLM_TRY(m.product(L.wk, xn, T, k));
    CYLLM_TRY(m.product(L.wv, xn, T, v));
    CYLLM_TRY(lora(il, 0, xn, D));
    if (c.attn_bias) {
      CYLLM_TRY(cuda::add_bias(ctx, q, L.bq.f32(), T, QD));
      CYLLM_TRY(cuda::add_bias(ctx, k, L.bk.f32(), T, KVD));
      CYLLM_TRY(cuda::add_bias(ctx, v, L.bv.f32(), T, KVD));
    }
    CYLLM_TRY(cuda::rope(ctx, q, T, c.n_head, c.head_dim, c.rope_dim, neox, d_pos, m.rope_cos.as<const float>(),
                         m.rope_sin.as<const float>()));
    CYLLM_TRY(cuda::rope(ctx, k, T, c.n_head_kv, c.head_dim, c.rope_dim, neox, d_pos, m.rope_cos.as<const float>(),
                         m.rope_sin.as<const float>()));
    const cuda::KvLayer kvl = m.kv_layer(il);
    CYLLM_TRY(cuda::kv_write(ctx, kvl, KVD, k, v, m.d_slots.as<const int32_t>(), T));
    if (one_token_each)
      CYLLM_TRY(cuda::attention_decode(ctx, shape, kvl, q, T, m.d_row_seq.as<const int32_t>(),
                                       m.d_row_nkeys.as<const int32_t>(), max_nkeys, m.d_tables.as<const int32_t>(),
                                       attn, m.attn_ws.as<float>(), m.attn_ws_floats));
    else
      CYLLM_TRY(cuda::attention_prefill(ctx, shape, kvl, q, m.d_tiles.as<const int32_t>(),
                                        static_cast<int>(tiles.size() / 3), d_pos, m.d_tables.as<const int32_t>(), attn));
    CYLLM_TRY(m.product(L.wo, attn, T, proj));
    CYLLM_TRY(lora(il, 1, attn, QD));
    CYLLM_TRY(cuda::add_inplace(ctx, x, proj, static_cast<int64_t>(T) * D));
    CYLLM_TRY(cuda::rmsnorm(ctx, x, L.ffn_norm.f32(), xn, T, D, c.rms_eps));
    CYLLM_TRY(m.product(L.gate, xn, T, gate));
    CYLLM_TRY(m.product(L.up, xn, T, up));
    CYLLM_TRY(lora(il, 2, xn, D));
    CYLLM_TRY(cuda::silu_mul(ctx, gate, up, ffn, static_cast<int64_t>(T) * FF));
    CYLLM_TRY(m.product(L.down, ffn, T, proj));
    CYLLM_TRY(lora(il, 3, ffn, FF));
    CYLLM_TRY(cuda::add_inplace(ctx, x, proj, static_cast<int64_t>(T) * D));
  }

  // Logits for the rows that want them: gather those rows of x (an F32 "matrix" of D-wide rows),
  // final norm, output product, one copy to the host, then out to each destination.
  std::vector<int32_t> out_rows;
  std::vector<float*> dests;
  {
    int t = 0;
    for (const SeqBatch& sq : batch) {
      const int n = static_cast<int>(sq.tokens.size());
      if (sq.logits == SeqBatch::Logits::kAll)
        for (int i = 0; i < n; ++i) {
          out_rows.push_back(t + i);
          dests.push_back(sq.logits_out + static_cast<size_t>(i) * c.n_vocab);
        }
      else if (sq.logits == SeqBatch::Logits::kLast && n > 0) {
        out_rows.push_back(t + n - 1);
        dests.push_back(sq.logits_out);
      }
      t += n;
    }
  }
  if (out_rows.empty()) return cuda::synchronize(ctx);
  const int R = static_cast<int>(out_rows.size());
  CYLLM_TRY(put(ctx, m.d_out_rows, out_rows));
  CYLLM_TRY(cuda::gather_rows_f32(ctx, GgmlType::F32, x, static_cast<size_t>(D) * 4, D, m.d_out_rows.as<const int32_t>(),
                                  R, xn));
  CYLLM_TRY(cuda::rmsnorm(ctx, xn, m.output_norm.f32(), xn, R, D, c.rms_eps));
  CYLLM_TRY(m.product(m.out_w(), xn, R, m.logits.as<float>()));
  m.host_logits.resize(static_cast<size_t>(R) * c.n_vocab);
  CYLLM_TRY(cuda::copy_to_host(ctx, m.host_logits.data(), m.logits.data(), m.host_logits.size() * 4));
#undef CYLLM_TRY
  for (int r = 0; r < R; ++r)
    std::memcpy(dests[static_cast<size_t>(r)], m.host_logits.data() + static_cast<size_t>(r) * c.n_vocab,
                sizeof(float) * c.n_vocab);
  return {};
}

Status CudaForwardPass::copy_block(int from, int to, int rows) {
  Impl& m = *impl_;
  if (from < 0 || to < 0 || from >= m.n_blocks || to >= m.n_blocks || rows < 0 || rows > m.opt.block_tokens)
    return make_error(ErrorCode::kOutOfRange, "CUDA forward pass: bad copy_block arguments");
  if (Status st = cuda::use_context_device(*m.ctx); !st.ok()) return st;
  const size_t row_halves = static_cast<size_t>(m.c.kv_dim());
  const size_t block_halves = row_halves * m.opt.block_tokens;
  for (int il = 0; il < m.c.n_layer; ++il) {
    const cuda::KvLayer kvl = m.kv_layer(il);
    for (uint16_t* base : {kvl.k, kvl.v})
      if (Status st = cuda::copy_device(*m.ctx, base + static_cast<size_t>(to) * block_halves,
                                        base + static_cast<size_t>(from) * block_halves, rows * row_halves * 2);
          !st.ok())
        return st;
  }
  return {};
}

}  // namespace cyllm
