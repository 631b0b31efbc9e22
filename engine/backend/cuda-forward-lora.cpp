// CudaForwardPass's LoRA side: the device cache of adapters (cache_adapter, see the header) and
// the per-step tables of the grouped LoRA calls (kernels/lora.cu).
#include <algorithm>
#include <string>
#include <vector>

#include "backend/cuda-forward-impl.h"

namespace cyllm {

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

}  // namespace cyllm
