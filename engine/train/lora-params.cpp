#include "train/lora-params.h"

#include <cmath>
#include <cstring>

namespace cyllm::train {

namespace {
constexpr const char* kTargetNames[kLoraTargets] = {"q", "k", "v", "o", "gate", "up", "down"};
constexpr char kMagic[8] = {'C', 'Y', 'L', 'O', 'R', 'A', '0', '1'};

template <class U>
void put(std::string& s, U v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(U));
}
template <class U>
bool get(const std::string& s, size_t& off, U* v) {
  if (off + sizeof(U) > s.size()) return false;
  std::memcpy(v, s.data() + off, sizeof(U));
  off += sizeof(U);
  return true;
}
}  // namespace

double LoraSettings::scale() const {
  return rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / static_cast<double>(rank);
}

const char* lora_target_name(int target) { return target >= 0 && target < kLoraTargets ? kTargetNames[target] : "?"; }

int lora_target_from_name(const std::string& name) {
  for (int t = 0; t < kLoraTargets; ++t)
    if (name == kTargetNames[t]) return t;
  return -1;
}

std::array<std::array<int, 2>, kLoraTargets> lora_target_dims(const ModelConfig& c) {
  return {{{c.n_embd, c.q_dim()}, {c.n_embd, c.kv_dim()}, {c.n_embd, c.kv_dim()}, {c.q_dim(), c.n_embd},
           {c.n_embd, c.n_ff}, {c.n_embd, c.n_ff}, {c.n_ff, c.n_embd}}};
}

uint64_t mix64(uint64_t x) {  // SplitMix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

template <class T>
LoraSet<T> LoraSet<T>::zeros_like(const LoraSet& like) {
  LoraSet z;
  z.rank = like.rank;
  z.scale = like.scale;
  z.layers.resize(like.layers.size());
  for (size_t l = 0; l < like.layers.size(); ++l)
    for (int t = 0; t < kLoraTargets; ++t) {
      const auto& m = like.layers[l][static_cast<size_t>(t)];
      auto& o = z.layers[l][static_cast<size_t>(t)];
      o.rank = m.rank;
      o.in = m.in;
      o.out = m.out;
      o.a.assign(m.a.size(), T(0));
      o.b.assign(m.b.size(), T(0));
    }
  return z;
}

template <class T>
void LoraSet<T>::set_zero() {
  for_each_tensor([](T* p, size_t n) { std::fill(p, p + n, T(0)); });
}

template <class T>
size_t LoraSet<T>::n_params() const {
  size_t n = 0;
  for_each_tensor([&](const T*, size_t k) { n += k; });
  return n;
}

template struct LoraSet<float>;
template struct LoraSet<double>;

LoraSet<float> init_lora(const ModelConfig& c, const LoraSettings& s) {
  LoraSet<float> p;
  p.rank = s.rank;
  p.scale = s.scale();
  p.layers.resize(static_cast<size_t>(c.n_layer));
  const auto dims = lora_target_dims(c);
  uint64_t counter = 0;
  for (size_t l = 0; l < p.layers.size(); ++l)
    for (int t = 0; t < kLoraTargets; ++t) {
      if (!(s.targets & (1u << t))) continue;
      auto& m = p.layers[l][static_cast<size_t>(t)];
      m.rank = s.rank;
      m.in = dims[static_cast<size_t>(t)][0];
      m.out = dims[static_cast<size_t>(t)][1];
      m.a.resize(static_cast<size_t>(m.rank) * m.in);
      m.b.assign(static_cast<size_t>(m.out) * m.rank, 0.0f);
      const double bound = 1.0 / std::sqrt(static_cast<double>(m.in));
      for (auto& x : m.a) x = static_cast<float>((2.0 * uniform01(mix64(s.seed ^ mix64(++counter))) - 1.0) * bound);
    }
  return p;
}

LoraSet<double> to_double(const LoraSet<float>& p) {
  LoraSet<double> d;
  d.rank = p.rank;
  d.scale = p.scale;
  d.layers.resize(p.layers.size());
  for (size_t l = 0; l < p.layers.size(); ++l)
    for (size_t t = 0; t < kLoraTargets; ++t) {
      const auto& m = p.layers[l][t];
      auto& o = d.layers[l][t];
      o.rank = m.rank;
      o.in = m.in;
      o.out = m.out;
      o.a.assign(m.a.begin(), m.a.end());
      o.b.assign(m.b.begin(), m.b.end());
    }
  return d;
}

LoraAdapter to_adapter(const LoraSet<float>& p, const std::string& name) {
  LoraAdapter a;
  a.name = name;
  a.scale = static_cast<float>(p.scale);
  a.layers.resize(p.layers.size());
  for (size_t l = 0; l < p.layers.size(); ++l)
    for (size_t t = 0; t < kLoraTargets; ++t) {
      const auto& m = p.layers[l][t];
      auto& o = a.layers[l][t];
      o.rank = m.rank;
      o.in = m.in;
      o.out = m.out;
      o.a = m.a;
      o.b = m.b;
    }
  return a;
}

LoraSet<float> from_adapter(const LoraAdapter& a) {
  LoraSet<float> p;
  p.scale = a.scale;
  p.layers.resize(a.layers.size());
  for (size_t l = 0; l < a.layers.size(); ++l)
    for (size_t t = 0; t < kLoraTargets; ++t) {
      const auto& m = a.layers[l][t];
      auto& o = p.layers[l][t];
      o.rank = m.rank;
      o.in = m.in;
      o.out = m.out;
      o.a = m.a;
      o.b = m.b;
      if (m.rank > 0) p.rank = m.rank;
    }
  return p;
}

std::string serialize(const LoraSet<float>& p) {
  std::string s(kMagic, sizeof kMagic);
  put<int32_t>(s, p.rank);
  put<double>(s, p.scale);
  put<uint32_t>(s, static_cast<uint32_t>(p.layers.size()));
  for (const auto& layer : p.layers)
    for (const auto& m : layer) {
      put<int32_t>(s, m.rank);
      put<int32_t>(s, m.in);
      put<int32_t>(s, m.out);
      s.append(reinterpret_cast<const char*>(m.a.data()), m.a.size() * sizeof(float));
      s.append(reinterpret_cast<const char*>(m.b.data()), m.b.size() * sizeof(float));
    }
  return s;
}

Result<LoraSet<float>> deserialize_lora(const std::string& s) {
  auto bad = [] { return make_error(ErrorCode::kMalformedFile, "adapter blob is truncated or malformed"); };
  if (s.size() < sizeof kMagic || std::memcmp(s.data(), kMagic, sizeof kMagic) != 0) return bad();
  size_t off = sizeof kMagic;
  LoraSet<float> p;
  int32_t rank = 0;
  uint32_t n_layers = 0;
  if (!get(s, off, &rank) || !get(s, off, &p.scale) || !get(s, off, &n_layers) || n_layers > 4096) return bad();
  p.rank = rank;
  p.layers.resize(n_layers);
  for (auto& layer : p.layers)
    for (auto& m : layer) {
      if (!get(s, off, &m.rank) || !get(s, off, &m.in) || !get(s, off, &m.out)) return bad();
      if (m.rank < 0 || m.in < 0 || m.out < 0 || m.rank > 65536 || m.in > (1 << 20) || m.out > (1 << 20)) return bad();
      const size_t na = static_cast<size_t>(m.rank) * m.in, nb = static_cast<size_t>(m.out) * m.rank;
      if (off + (na + nb) * sizeof(float) > s.size()) return bad();
      m.a.resize(na);
      m.b.resize(nb);
      std::memcpy(m.a.data(), s.data() + off, na * sizeof(float));
      off += na * sizeof(float);
      std::memcpy(m.b.data(), s.data() + off, nb * sizeof(float));
      off += nb * sizeof(float);
    }
  if (off != s.size()) return bad();
  return p;
}

}  // namespace cyllm::train
