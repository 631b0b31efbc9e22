// TrainGraph's driver: flattens the micro-batch, runs the layers forward (keeping every layer's
// activations, or only their inputs under gradient checkpointing), the fused head, and the
// layers backward.
#include "train/train-graph.h"

#include <algorithm>

#include "train/train-graph-impl.h"

namespace cyllm::train {

template <class T>
struct TrainGraph<T>::Impl : detail::GraphState<T> {
  using detail::GraphState<T>::GraphState;
  std::vector<detail::LayerActs<T>> acts;  // per layer, or one (reused) under checkpointing
  std::vector<std::vector<T>> inputs;      // per layer input under checkpointing
  std::vector<T> x, dx;
};

template <class T>
TrainGraph<T>::TrainGraph(const LlamaModel& model, ThreadPool& pool, GraphOptions opts)
    : impl_(std::make_unique<Impl>(model, pool, opts)) {}

template <class T>
TrainGraph<T>::~TrainGraph() = default;

template <class T>
LossSum TrainGraph<T>::run(std::span<const TrainSeq> seqs, const LoraSet<T>& params, LoraSet<T>* grads,
                           double grad_scale, DropoutSpec dropout) {
  Impl& s = *impl_;
  const ModelConfig& c = s.c;
  s.seq_begin.clear();
  s.pos.clear();
  s.ids.clear();
  s.label.clear();
  int max_len = 0;
  for (const auto& sq : seqs) {
    s.seq_begin.push_back(static_cast<int>(s.ids.size()));
    const int L = static_cast<int>(sq.ids.size());
    for (int i = 0; i < L; ++i) {
      s.ids.push_back(sq.ids[static_cast<size_t>(i)]);
      s.pos.push_back(i);
      const bool labelled = i + 1 < L && sq.mask[static_cast<size_t>(i) + 1] != 0;
      s.label.push_back(labelled ? sq.ids[static_cast<size_t>(i) + 1] : -1);
    }
    max_len = std::max(max_len, L);
  }
  s.seq_begin.push_back(static_cast<int>(s.ids.size()));
  s.n = static_cast<int>(s.ids.size());
  if (s.n == 0) return {};
  s.ensure_rope(max_len);
  s.params = &params;
  s.grads = grads;
  s.grad_scale = grad_scale;
  s.drop = grads ? dropout : DropoutSpec{};  // evaluation runs without dropout

  const size_t nd = static_cast<size_t>(s.n) * c.n_embd;
  s.x.resize(nd);
  s.embed(s.x.data());
  const bool store_all = grads && !s.opts.checkpointing;
  s.acts.resize(store_all ? static_cast<size_t>(c.n_layer) : 1);
  if (grads && s.opts.checkpointing) s.inputs.resize(static_cast<size_t>(c.n_layer));
  for (int l = 0; l < c.n_layer; ++l) {
    auto& a = s.acts[store_all ? static_cast<size_t>(l) : 0];
    a.x_in.assign(s.x.begin(), s.x.end());
    if (grads && s.opts.checkpointing) s.inputs[static_cast<size_t>(l)].assign(s.x.begin(), s.x.end());
    s.layer_forward(l, a, s.x.data());
  }
  if (!grads) return s.head(s.x.data(), nullptr);

  s.dx.resize(nd);
  const LossSum loss = s.head(s.x.data(), s.dx.data());
  for (int l = c.n_layer - 1; l >= 0; --l) {
    if (store_all) {
      s.layer_backward(l, s.acts[static_cast<size_t>(l)], s.dx.data());
    } else {
      auto& a = s.acts[0];
      a.x_in = s.inputs[static_cast<size_t>(l)];
      s.layer_forward(l, a, s.x.data());  // recompute (x is scratch now)
      s.layer_backward(l, a, s.dx.data());
    }
  }
  return loss;
}

template class TrainGraph<float>;
template class TrainGraph<double>;

}  // namespace cyllm::train
