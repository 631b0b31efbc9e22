#include "train/adamw.h"

#include <cmath>
#include <cstring>

namespace cyllm::train {

AdamW::AdamW(AdamWConfig cfg, const LoraSet<float>& like)
    : cfg_(cfg), m_(LoraSet<float>::zeros_like(like)), v_(LoraSet<float>::zeros_like(like)) {}

void AdamW::step(LoraSet<float>& params, const LoraSet<float>& grads, double lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(cfg_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(cfg_.beta2, static_cast<double>(t_));
  const float b1 = static_cast<float>(cfg_.beta1), b2 = static_cast<float>(cfg_.beta2);
  const float decay = static_cast<float>(1.0 - lr * cfg_.weight_decay);
  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float eps = static_cast<float>(cfg_.eps);
  for (size_t l = 0; l < params.layers.size(); ++l)
    for (size_t t = 0; t < kLoraTargets; ++t) {
      auto& p = params.layers[l][t];
      if (!p.present()) continue;
      const auto& g = grads.layers[l][t];
      auto& m = m_.layers[l][t];
      auto& v = v_.layers[l][t];
      auto update = [&](std::vector<float>& pw, const std::vector<float>& gw, std::vector<float>& mw,
                        std::vector<float>& vw) {
        for (size_t i = 0; i < pw.size(); ++i) {
          const float gi = gw[i];
          mw[i] = b1 * mw[i] + (1.0f - b1) * gi;
          vw[i] = b2 * vw[i] + (1.0f - b2) * gi * gi;
          pw[i] = pw[i] * decay - step_size * mw[i] / (std::sqrt(vw[i]) * inv_sqrt_bc2 + eps);
        }
      };
      update(p.a, g.a, m.a, v.a);
      update(p.b, g.b, m.b, v.b);
    }
}

std::string AdamW::serialize() const {
  std::string s("ADAMW001", 8);
  s.append(reinterpret_cast<const char*>(&t_), sizeof t_);
  const std::string m = train::serialize(m_), v = train::serialize(v_);
  const uint64_t nm = m.size();
  s.append(reinterpret_cast<const char*>(&nm), sizeof nm);
  s += m;
  s += v;
  return s;
}

Status AdamW::restore(const std::string& blob) {
  auto bad = [] { return make_error(ErrorCode::kMalformedFile, "optimizer blob is truncated or malformed"); };
  if (blob.size() < 24 || blob.compare(0, 8, "ADAMW001") != 0) return bad();
  int64_t t = 0;
  uint64_t nm = 0;
  std::memcpy(&t, blob.data() + 8, 8);
  std::memcpy(&nm, blob.data() + 16, 8);
  if (nm > blob.size() - 24) return bad();
  auto m = deserialize_lora(blob.substr(24, nm));
  auto v = deserialize_lora(blob.substr(24 + nm));
  if (!m.ok()) return m.error();
  if (!v.ok()) return v.error();
  if (m->n_params() != m_.n_params() || v->n_params() != v_.n_params())
    return make_error(ErrorCode::kInvalidArgument, "optimizer state does not match the adapter's shapes",
                      "Resume with the LoRA settings the checkpoint was written with.");
  t_ = t;
  m_ = std::move(*m);
  v_ = std::move(*v);
  return {};
}

double grad_norm(const LoraSet<float>& grads) {
  double ss = 0;
  grads.for_each_tensor([&](const float* g, size_t n) {
    for (size_t i = 0; i < n; ++i) ss += static_cast<double>(g[i]) * g[i];
  });
  return std::sqrt(ss);
}

double clip_grad_norm(LoraSet<float>& grads, double max_norm) {
  const double norm = grad_norm(grads);
  if (max_norm > 0 && norm > max_norm) {
    const float coef = static_cast<float>(max_norm / (norm + 1e-6));
    grads.for_each_tensor([&](float* g, size_t n) {
      for (size_t i = 0; i < n; ++i) g[i] *= coef;
    });
  }
  return norm;
}

}  // namespace cyllm::train
