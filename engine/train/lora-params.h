// Trainable LoRA parameters: the adapter's A and B matrices for each layer and target in the
// engine's layout (model/lora.h: A [rank x in], B [out x rank], y += scale * B (A x)), held in the
// training precision T (float for training, double for the gradient-check reference). The same
// type holds gradients and optimizer moments, so every per-parameter loop walks one layout.
//
// Initialisation follows peft: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform with a = sqrt(5)),
// B = 0, from our own SplitMix64 stream so a seed gives the same adapter on every platform.
// scale = alpha / rank, or alpha / sqrt(rank) with rsLoRA.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/lora.h"
#include "model/model-config.h"

namespace cyllm::train {

struct LoraSettings {
  int rank = 16;
  double alpha = 32;
  bool rslora = false;
  double dropout = 0.0;      // on the LoRA branch's input, as peft's lora_dropout
  unsigned targets = 0x7f;   // bit i = LoraTarget i (q, k, v, o, gate, up, down)
  uint64_t seed = 0;

  double scale() const;
};

// "q","k","v","o","gate","up","down" <-> LoraTarget.
const char* lora_target_name(int target);
int lora_target_from_name(const std::string& name);  // -1 when unknown

// (in, out) of each target's projection for a model.
std::array<std::array<int, 2>, kLoraTargets> lora_target_dims(const ModelConfig& c);

template <class T>
struct LoraMat {
  int rank = 0, in = 0, out = 0;
  std::vector<T> a;  // [rank][in]
  std::vector<T> b;  // [out][rank]
  bool present() const { return rank > 0; }
};

template <class T>
struct LoraSet {
  int rank = 0;
  double scale = 1.0;
  std::vector<std::array<LoraMat<T>, kLoraTargets>> layers;

  // Same shapes as `like`, all zero (gradients, moments).
  static LoraSet zeros_like(const LoraSet& like);
  void set_zero();
  size_t n_params() const;
  // Calls fn(T* data, size_t n) for every tensor (A then B, by layer and target): the one fixed
  // order every reduction over the parameters uses.
  template <class F>
  void for_each_tensor(F&& fn) {
    for (auto& layer : layers)
      for (auto& m : layer)
        if (m.present()) {
          fn(m.a.data(), m.a.size());
          fn(m.b.data(), m.b.size());
        }
  }
  template <class F>
  void for_each_tensor(F&& fn) const {
    for (const auto& layer : layers)
      for (const auto& m : layer)
        if (m.present()) {
          fn(m.a.data(), m.a.size());
          fn(m.b.data(), m.b.size());
        }
  }
};

// A fresh adapter for training (A random, B zero).
LoraSet<float> init_lora(const ModelConfig& c, const LoraSettings& s);

// Precision conversions and the engine's inference type.
LoraSet<double> to_double(const LoraSet<float>& p);
LoraAdapter to_adapter(const LoraSet<float>& p, const std::string& name);
LoraSet<float> from_adapter(const LoraAdapter& a);

// Raw little-endian serialisation (checkpoint blobs): shapes, scale and values, bit-exact.
std::string serialize(const LoraSet<float>& p);
Result<LoraSet<float>> deserialize_lora(const std::string& bytes);

// Counter-based random numbers: the same (seed, counter) always gives the same value, so dropout
// masks can be recomputed in the backward pass and after a resume without stored state.
uint64_t mix64(uint64_t x);
inline double uniform01(uint64_t h) { return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0); }

}  // namespace cyllm::train
