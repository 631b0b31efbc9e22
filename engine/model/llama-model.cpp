#include "model/llama-model.h"

#include "backend/packed.h"

namespace cyllm {

Result<std::unique_ptr<LlamaModel>> LlamaModel::load(const std::string& path) {
  auto f = GgufFile::open(path);
  if (!f) return f.error();
  return from_gguf(std::move(f.value()));
}

Result<std::unique_ptr<LlamaModel>> LlamaModel::from_gguf(GgufFile file) {
  auto m = std::unique_ptr<LlamaModel>(new LlamaModel());
  m->file_ = std::move(file);
  auto cfg = ModelConfig::from_gguf(m->file_);
  if (!cfg) return cfg.error();
  m->config_ = std::move(cfg.value());
  auto w = ModelWeights::resolve(m->file_, m->config_);
  if (!w) return w.error();
  m->weights_ = std::move(w.value());
  // Row-interleaved copies of the 2-D projection weights and the output matrix for the packed
  // CPU kernels (only where they run: AVX-512 VNNI; types Q4_1 and Q8_0).
  // They share one arena in the order the forward pass reads them.
  std::vector<WeightRef*> mats;
  for (LayerWeights& L : m->weights_.layers)
    for (WeightRef* r : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) mats.push_back(r);
  mats.push_back(&m->weights_.output);
  cpu::pack_weights(mats);
  return m;
}

}  // namespace cyllm
