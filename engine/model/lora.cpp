#include "model/lora.h"

#include <cmath>
#include <random>

#include "backend/cpu-ops.h"

namespace cyllm {

LoraAdapter LoraAdapter::random(const ModelConfig& c, int rank, float alpha, uint64_t seed, unsigned targets) {
  LoraAdapter ad;
  ad.name = "random-" + std::to_string(seed);
  ad.scale = alpha / static_cast<float>(rank);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int dims[kLoraTargets][2] = {{c.n_embd, c.q_dim()}, {c.n_embd, c.kv_dim()}, {c.n_embd, c.kv_dim()},
                                     {c.q_dim(), c.n_embd}, {c.n_embd, c.n_ff},     {c.n_embd, c.n_ff},
                                     {c.n_ff, c.n_embd}};
  ad.layers.resize(static_cast<size_t>(c.n_layer));
  for (auto& layer : ad.layers)
    for (int t = 0; t < kLoraTargets; ++t) {
      if (!(targets & (1u << t))) continue;
      LoraMatrix& m = layer[static_cast<size_t>(t)];
      m.rank = rank;
      m.in = dims[t][0];
      m.out = dims[t][1];
      m.a.resize(static_cast<size_t>(rank) * m.in);
      m.b.resize(static_cast<size_t>(m.out) * rank);
      for (auto& x : m.a) x = nd(rng) / std::sqrt(static_cast<float>(m.in));
      for (auto& x : m.b) x = nd(rng) * 0.05f;  // a trained-looking, non-zero B
    }
  return ad;
}

void lora_apply(const LoraMatrix& m, float scale, const float* x, float* y, float* tmp) {
  for (int r = 0; r < m.rank; ++r) tmp[r] = cpu::dot_f32(m.a.data() + static_cast<size_t>(r) * m.in, x, m.in);
  for (int r = 0; r < m.rank; ++r) tmp[r] *= scale;
  for (int o = 0; o < m.out; ++o) y[o] += cpu::dot_f32(m.b.data() + static_cast<size_t>(o) * m.rank, tmp, m.rank);
}

}  // namespace cyllm
