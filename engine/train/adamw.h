// AdamW with decoupled weight decay (Loshchilov & Hutter; PyTorch's torch.optim.AdamW semantics):
//   p -= lr * wd * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²;
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// plus the global gradient norm and clipping (torch.nn.utils.clip_grad_norm_: scale by
// max_norm / (norm + 1e-6) when the norm exceeds max_norm). Every update is element-wise and the
// norm is summed in double in one fixed order, so a step is deterministic and a run resumed from
// saved moments continues bitwise as the uninterrupted one.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "train/lora-params.h"

namespace cyllm::train {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class AdamW {
 public:
  AdamW(AdamWConfig cfg, const LoraSet<float>& like);

  // One update of params with grads at learning rate lr.
  void step(LoraSet<float>& params, const LoraSet<float>& grads, double lr);

  int64_t steps() const { return t_; }
  const LoraSet<float>& first_moment() const { return m_; }
  const LoraSet<float>& second_moment() const { return v_; }

  // Checkpoint blob: step count and both moments, bit-exact.
  std::string serialize() const;
  Status restore(const std::string& blob);

 private:
  AdamWConfig cfg_;
  int64_t t_ = 0;
  LoraSet<float> m_, v_;
};

// sqrt(sum of squares) over every gradient tensor, in the fixed order of LoraSet::for_each_tensor.
double grad_norm(const LoraSet<float>& grads);
// Scales grads so their norm is at most max_norm (no-op when max_norm <= 0); returns the norm
// before clipping.
double clip_grad_norm(LoraSet<float>& grads, double max_norm);

}  // namespace cyllm::train
