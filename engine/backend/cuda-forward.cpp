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
#include "cuda-ops.h"

namespace cyllm {

namespace {

// A weight on the device in its stored type and layout (plus kWeightPadBytes).
struct DevWeight {
  cuda::DeviceBuffer buf;
  GgmlType type = GgmlType::F32;
  int64_t ne0 = 0, ne1 = 0;
  size_t row_stride = 0;
  bool present() const { return buf.data() != nullptr; }
  const float* f32() const { return buf.as<const float>(); }
};

constexpr int64_t kDequantChunkRows = 4096;  // rows per dequantize+GEMM step in prefill products

size_t align256(size_t b) { return (b + 255) / 256 * 256; }
size_t tensor_bytes(const WeightRef& w) { return w.present() ? w.row_stride * static_cast<size_t>(w.ne1) : 0; }

// Host vector -> a device buffer of at least its size (grown when needed).
template <class T>
Status put(cuda::Context& ctx, cuda::DeviceBuffer& buf, const std::vector<T>& v) {
  return cuda::copy_to_device(ctx, buf.data(), v.data(), v.size() * sizeof(T));
}

// Grows `buf` to at least `bytes` (contents are not kept; run() synchronises before returning, so
// no kernel of an earlier step still reads the old allocation when it is freed).
Status grow(cuda::DeviceBuffer& buf, size_t bytes, const char* what) {
  if (buf.size() >= bytes) return {};
  auto b = cuda::DeviceBuffer::allocate(std::max<size_t>(bytes, 2 * buf.size()), what);
  if (!b.ok()) return b.error();
  buf = std::move(b.value());
  return {};
}

// One adapter's matrices on the device: every matrix that the forward pass would apply (present,
// `in`/`out` equal to the model's dimensions for its target, as the CPU ForwardPass checks) in
// one allocation; a and b are float offsets into it, -1 for a matrix that is skipped.
struct DevLoraMatrix {
  int64_t a = -1, b = -1;
  int rank = 0;
};
struct DevAdapter {
  std::weak_ptr<const LoraAdapter> owner;  // cached adapters; empty for a one-run upload
  cuda::DeviceBuffer buf;
  float scale = 1.0f;
  std::vector<std::array<DevLoraMatrix, kLoraTargets>> layers;
  size_t bytes() const { return buf.size(); }
};

// in/out of each LoraTarget for this model (LoraAdapter::random's table).
std::array<std::pair<int, int>, kLoraTargets> lora_dims(const ModelConfig& c) {
  return {{{c.n_embd, c.q_dim()}, {c.n_embd, c.kv_dim()}, {c.n_embd, c.kv_dim()}, {c.q_dim(), c.n_embd},
           {c.n_embd, c.n_ff}, {c.n_embd, c.n_ff}, {c.n_ff, c.n_embd}}};
}

Result<DevAdapter> upload_adapter(cuda::Context& ctx, const ModelConfig& c, const LoraAdapter& ad) {
  DevAdapter d;
  d.scale = ad.scale;
  const auto dims = lora_dims(c);
  const size_t n_layers = std::min(ad.layers.size(), static_cast<size_t>(c.n_layer));
  d.layers.resize(n_layers);
  std::vector<float> host;
  for (size_t il = 0; il < n_layers; ++il)
    for (int t = 0; t < kLoraTargets; ++t) {
      const LoraMatrix& m = ad.layers[il][static_cast<size_t>(t)];
      if (!m.present() || m.in != dims[static_cast<size_t>(t)].first || m.out != dims[static_cast<size_t>(t)].second) continue;
      if (m.a.size() != static_cast<size_t>(m.rank) * m.in || m.b.size() != static_cast<size_t>(m.out) * m.rank)
        return make_error(ErrorCode::kInvalidArgument, "LoRA adapter '" + ad.name + "': layer " + std::to_string(il) +
                                                           " has a matrix whose sizes do not match its rank");
      DevLoraMatrix& dm = d.layers[il][static_cast<size_t>(t)];
      dm.rank = m.rank;
      dm.a = static_cast<int64_t>(host.size());
      host.insert(host.end(), m.a.begin(), m.a.end());
      dm.b = static_cast<int64_t>(host.size());
      host.insert(host.end(), m.b.begin(), m.b.end());
    }
  if (host.empty()) return d;
  auto b = cuda::DeviceBuffer::allocate(host.size() * sizeof(float), "LoRA adapter '" + ad.name + "'");
  if (!b.ok()) return b.error();
  d.buf = std::move(b.value());
  if (Status st = cuda::copy_to_device(ctx, d.buf.data(), host.data(), host.size() * sizeof(float)); !st.ok())
    return st.error();
  return d;
}

// One grouped LoRA call (a call site of one layer): segments [seg0, seg0 + n_segs) of the step's
// segment table, all reading the same input.
struct LoraCall {
  int seg0 = 0, n_segs = 0, max_count = 0, max_out = 0;
};
constexpr int kLoraSites = 4;  // q/k/v, o, gate/up, down

}  // namespace

struct CudaForwardPass::Impl {
  ModelConfig c;
  CudaForwardOptions opt;
  cuda::ContextPtr ctx;
  int max_blocks = 0;  // block-table width
  int n_blocks = 0;
  int context = 0;     // positions covered by the RoPE table
  int max_k = 0;       // longest product input (n_embd, q_dim or n_ff)
  size_t weight_bytes = 0;

  struct Layer {
    DevWeight attn_norm, wq, wk, wv, wo, bq, bk, bv, ffn_norm, gate, up, down;
  };
  DevWeight token_embd, output_norm, output;  // output empty when the embeddings are tied
  std::vector<Layer> layers;
  cuda::DeviceBuffer k_cache, v_cache;    // [layer][block][row][kv_dim] halves
  cuda::DeviceBuffer rope_cos, rope_sin;  // [position][rope_dim / 2]
  cuda::DeviceBuffer x, xn, q, k, v, attn, proj, gate, up, ffn, logits, mm_scratch, attn_ws;
  cuda::DeviceBuffer d_tokens, d_pos, d_slots, d_row_seq, d_row_nkeys, d_tables, d_tiles, d_out_rows;
  size_t mm_scratch_bytes = 0, attn_ws_floats = 0;
  std::vector<float> host_logits;
  // LoRA: cached adapters (see cache_adapter in the header) and the per-step segment tables.
  std::unordered_map<const LoraAdapter*, DevAdapter> adapters;
  cuda::DeviceBuffer d_lora_rows, d_lora_segs, lora_tmp;
  void drop_stale_adapters() {
    for (auto it = adapters.begin(); it != adapters.end();) it = it->second.owner.expired() ? adapters.erase(it) : std::next(it);
  }

  const DevWeight& out_w() const { return output.present() ? output : token_embd; }
  cuda::KvLayer kv_layer(int il) const {
    const size_t off = static_cast<size_t>(il) * n_blocks * opt.block_tokens * c.kv_dim();
    return {k_cache.as<uint16_t>() + off, v_cache.as<uint16_t>() + off};
  }
  Status upload(const WeightRef& w, DevWeight& out, const std::string& name);
  Status product(const DevWeight& w, const float* in, int cols, float* out);
  Status prepare_lora(std::span<const SeqBatch> batch, std::vector<LoraCall>& calls,
                      std::vector<DevAdapter>& transient);
};

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

// The step's LoRA tables: rows grouped by adapter in order of first appearance (as the CPU
// ForwardPass groups them), then for every layer and call site (0: q/k/v on xn, 1: o on attn,
// 2: gate/up on xn, 3: down on ffn) one segment per (target, adapter) whose matrix applies; all
// segments and rows go to the device in one copy each. Adapters not cached are uploaded into
// `transient` (freed by the caller after the step). calls stays empty when nothing applies.
Status CudaForwardPass::Impl::prepare_lora(std::span<const SeqBatch> batch, std::vector<LoraCall>& calls,
                                           std::vector<DevAdapter>& transient) {
  calls.clear();
  drop_stale_adapters();
  std::vector<const LoraAdapter*> keys;
  std::vector<std::vector<int32_t>> group_rows;
  int t = 0;
  for (const SeqBatch& sq : batch) {
    const int n = static_cast<int>(sq.tokens.size());
    if (sq.lora != nullptr && n > 0) {
      const size_t g = static_cast<size_t>(std::find(keys.begin(), keys.end(), sq.lora) - keys.begin());
      if (g == keys.size()) {
        keys.push_back(sq.lora);
        group_rows.emplace_back();
      }
      for (int i = 0; i < n; ++i) group_rows[g].push_back(t + i);
    }
    t += n;
  }
  if (keys.empty()) return {};
  std::vector<const DevAdapter*> dev(keys.size());
  transient.reserve(keys.size());  // no reallocation below: dev keeps pointers into it
  for (size_t g = 0; g < keys.size(); ++g) {
    const auto it = adapters.find(keys[g]);  // stale entries were dropped above
    if (it != adapters.end()) {
      dev[g] = &it->second;
      continue;
    }
    auto d = upload_adapter(*ctx, c, *keys[g]);
    if (!d.ok()) return d.error();
    transient.push_back(std::move(d.value()));
    dev[g] = &transient.back();
  }
  std::vector<int32_t> rows;
  std::vector<int32_t> first(keys.size());
  for (size_t g = 0; g < keys.size(); ++g) {
    first[g] = static_cast<int32_t>(rows.size());
    rows.insert(rows.end(), group_rows[g].begin(), group_rows[g].end());
  }
  struct Out {
    LoraTarget target;
    float* y;
    int n_out;
  };
  const std::vector<Out> sites[kLoraSites] = {
      {{LoraTarget::kQ, q.as<float>(), c.q_dim()}, {LoraTarget::kK, k.as<float>(), c.kv_dim()},
       {LoraTarget::kV, v.as<float>(), c.kv_dim()}},
      {{LoraTarget::kO, proj.as<float>(), c.n_embd}},
      {{LoraTarget::kGate, gate.as<float>(), c.n_ff}, {LoraTarget::kUp, up.as<float>(), c.n_ff}},
      {{LoraTarget::kDown, proj.as<float>(), c.n_embd}}};
  std::vector<cuda::LoraSegment> segs;
  size_t tmp_floats = 0;
  calls.resize(static_cast<size_t>(c.n_layer) * kLoraSites);
  for (int il = 0; il < c.n_layer; ++il)
    for (int site = 0; site < kLoraSites; ++site) {
      LoraCall& call = calls[static_cast<size_t>(il) * kLoraSites + static_cast<size_t>(site)];
      call.seg0 = static_cast<int>(segs.size());
      int64_t tmp = 0;
      for (const Out& o : sites[site])
        for (size_t g = 0; g < keys.size(); ++g) {
          if (static_cast<size_t>(il) >= dev[g]->layers.size()) continue;
          const DevLoraMatrix& dm = dev[g]->layers[static_cast<size_t>(il)][static_cast<size_t>(o.target)];
          if (dm.a < 0) continue;
          cuda::LoraSegment sg;
          sg.a = dev[g]->buf.as<const float>() + dm.a;
          sg.b = dev[g]->buf.as<const float>() + dm.b;
          sg.y = o.y;
          sg.ldy = o.n_out;
          sg.rank = dm.rank;
          sg.out = o.n_out;
          sg.scale = dev[g]->scale;
          sg.first = first[g];
          sg.count = static_cast<int32_t>(group_rows[g].size());
          sg.tmp = tmp;
          tmp += static_cast<int64_t>(sg.count) * sg.rank;
          call.max_count = std::max(call.max_count, sg.count);
          call.max_out = std::max(call.max_out, sg.out);
          segs.push_back(sg);
        }
      call.n_segs = static_cast<int>(segs.size()) - call.seg0;
      tmp_floats = std::max(tmp_floats, static_cast<size_t>(tmp));
    }
  if (segs.empty()) {
    calls.clear();
    return {};
  }
  if (Status st = grow(d_lora_rows, rows.size() * sizeof(int32_t), "LoRA rows"); !st.ok()) return st;
  if (Status st = grow(d_lora_segs, segs.size() * sizeof(cuda::LoraSegment), "LoRA segments"); !st.ok()) return st;
  if (Status st = grow(lora_tmp, tmp_floats * sizeof(float), "LoRA intermediate"); !st.ok()) return st;
  if (Status st = cuda::copy_to_device(*ctx, d_lora_rows.data(), rows.data(), rows.size() * sizeof(int32_t)); !st.ok())
    return st;
  return cuda::copy_to_device(*ctx, d_lora_segs.data(), segs.data(), segs.size() * sizeof(cuda::LoraSegment));
}

CudaForwardPass::CudaForwardPass(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaForwardPass::~CudaForwardPass() = default;

int CudaForwardPass::max_tokens() const { return impl_->opt.max_tokens; }
int CudaForwardPass::n_blocks() const { return impl_->n_blocks; }
int CudaForwardPass::block_tokens() const { return impl_->opt.block_tokens; }
size_t CudaForwardPass::weight_bytes() const { return impl_->weight_bytes; }
size_t CudaForwardPass::kv_bytes() const { return impl_->k_cache.size() + impl_->v_cache.size(); }

Status CudaForwardPass::cache_adapter(std::shared_ptr<const LoraAdapter> adapter) {
  Impl& m = *impl_;
  m.drop_stale_adapters();
  if (!adapter || m.adapters.count(adapter.get())) return {};
  if (Status st = cuda::use_context_device(*m.ctx); !st.ok()) return st;
  auto d = upload_adapter(*m.ctx, m.c, *adapter);
  if (!d.ok()) return d.error();
  d->owner = adapter;
  m.adapters.emplace(adapter.get(), std::move(d.value()));
  return cuda::synchronize(*m.ctx);
}

void CudaForwardPass::release_adapter(const LoraAdapter* adapter) {
  if (cuda::use_context_device(*impl_->ctx).ok()) impl_->adapters.erase(adapter);
}

int CudaForwardPass::cached_adapters() const {
  int n = 0;
  for (const auto& [p, d] : impl_->adapters) n += d.owner.expired() ? 0 : 1;
  return n;
}

size_t CudaForwardPass::adapter_bytes() const {
  size_t b = 0;
  for (const auto& [p, d] : impl_->adapters) b += d.bytes();
  return b;
}

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
