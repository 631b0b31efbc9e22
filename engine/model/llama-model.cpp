#include "model/llama-model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu-matmul.h"
#include "backend/cpu-ops.h"
#include "backend/quant.h"

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
  return m;
}

// Per-chunk buffers, sized once for n_batch tokens.
struct InferenceContext::Scratch {
  std::vector<float> x, xn, q, k, v, attn, proj, gate, up, ffn;
  cpu::QuantizedActs act;
};

InferenceContext::InferenceContext(const LlamaModel& model, ContextOptions opts, ThreadPool& pool)
    : model_(model), opts_(opts), pool_(pool), s_(std::make_unique<Scratch>()) {
  const ModelConfig& c = model.config();
  opts_.n_ctx = std::max(1, opts_.n_ctx);
  opts_.n_batch = std::clamp(opts_.n_batch, 1, opts_.n_ctx);
  const size_t kv = static_cast<size_t>(c.n_layer) * opts_.n_ctx * c.kv_dim();
  k_cache_.assign(kv, 0.0f);
  v_cache_.assign(kv, 0.0f);

  // RoPE angles: theta_i = pos * base^(-2i/rope_dim), divided by the optional frequency factors.
  const int half = c.rope_dim / 2;
  rope_cos_.resize(static_cast<size_t>(opts_.n_ctx) * half);
  rope_sin_.resize(rope_cos_.size());
  const float* factors = model.weights().rope_freqs.present()
                             ? reinterpret_cast<const float*>(model.weights().rope_freqs.data) : nullptr;
  for (int i = 0; i < half; ++i) {
    double inv_freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.rope_dim);
    if (factors) inv_freq /= factors[i];
    for (int p = 0; p < opts_.n_ctx; ++p) {
      const double a = p * inv_freq;
      rope_cos_[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(a));
      rope_sin_[static_cast<size_t>(p) * half + i] = static_cast<float>(std::sin(a));
    }
  }

  const size_t B = static_cast<size_t>(opts_.n_batch);
  s_->x.resize(B * c.n_embd);
  s_->xn.resize(B * c.n_embd);
  s_->q.resize(B * c.q_dim());
  s_->k.resize(B * c.kv_dim());
  s_->v.resize(B * c.kv_dim());
  s_->attn.resize(B * c.q_dim());
  s_->proj.resize(B * c.n_embd);
  s_->gate.resize(B * c.n_ff);
  s_->up.resize(B * c.n_ff);
  s_->ffn.resize(B * c.n_ff);
}

InferenceContext::~InferenceContext() = default;

size_t InferenceContext::kv_bytes() const { return (k_cache_.size() + v_cache_.size()) * sizeof(float); }

void InferenceContext::truncate(int n) { n_past_ = std::clamp(n, 0, n_past_); }

Status InferenceContext::eval(std::span<const int32_t> tokens, bool all_logits) {
  const ModelConfig& c = model_.config();
  if (tokens.empty()) return make_error(ErrorCode::kInvalidArgument, "eval() needs at least one token");
  if (n_past_ + static_cast<int64_t>(tokens.size()) > opts_.n_ctx)
    return make_error(ErrorCode::kOutOfRange,
                      "the context holds " + std::to_string(opts_.n_ctx) + " tokens; " + std::to_string(n_past_) +
                          " are used and " + std::to_string(tokens.size()) + " more were given",
                      "Start a new conversation, shorten the prompt, or raise the context size (--ctx).");
  for (int32_t t : tokens)
    if (t < 0 || t >= c.n_vocab)
      return make_error(ErrorCode::kOutOfRange, "token id " + std::to_string(t) + " is outside the vocabulary of " +
                                                    std::to_string(c.n_vocab));
  const size_t n = tokens.size();
  logits_.resize((all_logits ? n : 1) * static_cast<size_t>(c.n_vocab));
  for (size_t b = 0; b < n; b += static_cast<size_t>(opts_.n_batch)) {
    const int chunk = static_cast<int>(std::min(n - b, static_cast<size_t>(opts_.n_batch)));
    const bool last = b + chunk == n;
    float* out = all_logits ? logits_.data() + b * c.n_vocab : (last ? logits_.data() : nullptr);
    forward_chunk(tokens.data() + b, chunk, all_logits, out);
  }
  return {};
}

GgmlType InferenceContext::act_type(GgmlType weight) const {
  return opts_.exact_activations ? GgmlType::F32 : cpu::vec_dot_type(weight);
}

void InferenceContext::forward_chunk(const int32_t* tokens, int T, bool all_logits, float* logits_out) {
  const ModelConfig& c = model_.config();
  const ModelWeights& W = model_.weights();
  Scratch& s = *s_;
  const int D = c.n_embd, QD = c.q_dim(), KVD = c.kv_dim(), HD = c.head_dim, FF = c.n_ff;
  const int pos0 = n_past_;
  const int half = c.rope_dim / 2;
  const cpu::Isa isa = cpu::active_isa();

  // Token embeddings.
  for (int t = 0; t < T; ++t)
    cpu::dequantize_row(W.token_embd.type, W.token_embd.row(tokens[t]), s.x.data() + static_cast<size_t>(t) * D, D, isa);

  const float attn_scale = 1.0f / std::sqrt(static_cast<float>(HD));
  const int group = c.n_head / c.n_head_kv;

  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = W.layers[static_cast<size_t>(il)];
    float* kc = k_cache_.data() + static_cast<size_t>(il) * opts_.n_ctx * KVD;
    float* vc = v_cache_.data() + static_cast<size_t>(il) * opts_.n_ctx * KVD;

    // --- attention block ---
    for (int t = 0; t < T; ++t)
      cpu::rmsnorm(s.x.data() + static_cast<size_t>(t) * D, reinterpret_cast<const float*>(L.attn_norm.data),
                   s.xn.data() + static_cast<size_t>(t) * D, D, c.rms_eps);
    cpu::quantize_acts(s.xn.data(), T, D, act_type(L.wq.type), s.act, pool_);
    if (act_type(L.wk.type) == s.act.type && act_type(L.wv.type) == s.act.type) {
      const cpu::MatmulJob jobs[] = {{&L.wq, s.q.data()}, {&L.wk, s.k.data()}, {&L.wv, s.v.data()}};
      cpu::matmul(jobs, s.act, pool_);
    } else {  // mixed quantization across q/k/v: one product per activation type
      const cpu::MatmulJob jq[] = {{&L.wq, s.q.data()}};
      cpu::matmul(jq, s.act, pool_);
      for (auto [w, y] : {std::pair{&L.wk, s.k.data()}, std::pair{&L.wv, s.v.data()}}) {
        cpu::quantize_acts(s.xn.data(), T, D, act_type(w->type), s.act, pool_);
        const cpu::MatmulJob j[] = {{w, y}};
        cpu::matmul(j, s.act, pool_);
      }
    }
    for (int t = 0; t < T; ++t) {
      float* q = s.q.data() + static_cast<size_t>(t) * QD;
      float* k = s.k.data() + static_cast<size_t>(t) * KVD;
      float* v = s.v.data() + static_cast<size_t>(t) * KVD;
      if (c.attn_bias) {
        cpu::add_f32(q, reinterpret_cast<const float*>(L.bq.data), QD);
        cpu::add_f32(k, reinterpret_cast<const float*>(L.bk.data), KVD);
        cpu::add_f32(v, reinterpret_cast<const float*>(L.bv.data), KVD);
      }
      const size_t p = static_cast<size_t>(pos0 + t);
      cpu::rope_adjacent(q, c.n_head, HD, c.rope_dim, &rope_cos_[p * half], &rope_sin_[p * half]);
      cpu::rope_adjacent(k, c.n_head_kv, HD, c.rope_dim, &rope_cos_[p * half], &rope_sin_[p * half]);
      std::memcpy(kc + p * KVD, k, sizeof(float) * KVD);
      std::memcpy(vc + p * KVD, v, sizeof(float) * KVD);
    }
    // Causal attention, one (token, head) pair per work item.
    pool_.parallel_for(static_cast<int64_t>(T) * c.n_head, 1, [&](int64_t b, int64_t e) {
      for (int64_t item = b; item < e; ++item) {
        const int t = static_cast<int>(item / c.n_head), h = static_cast<int>(item % c.n_head);
        const int g = h / group;
        const int n_keys = pos0 + t + 1;
        thread_local std::vector<float> scores;  // one row per thread, grown to the context size
        if (scores.size() < static_cast<size_t>(n_keys)) scores.resize(static_cast<size_t>(opts_.n_ctx));
        const float* q = s.q.data() + static_cast<size_t>(t) * QD + static_cast<size_t>(h) * HD;
        for (int j = 0; j < n_keys; ++j)
          scores[j] = cpu::dot_f32(q, kc + static_cast<size_t>(j) * KVD + static_cast<size_t>(g) * HD, HD) * attn_scale;
        cpu::softmax_inplace(scores.data(), n_keys);
        float* out = s.attn.data() + static_cast<size_t>(t) * QD + static_cast<size_t>(h) * HD;
        std::fill(out, out + HD, 0.0f);
        for (int j = 0; j < n_keys; ++j)
          cpu::axpy_f32(scores[j], vc + static_cast<size_t>(j) * KVD + static_cast<size_t>(g) * HD, out, HD);
      }
    });
    cpu::quantize_acts(s.attn.data(), T, QD, act_type(L.wo.type), s.act, pool_);
    {
      const cpu::MatmulJob jobs[] = {{&L.wo, s.proj.data()}};
      cpu::matmul(jobs, s.act, pool_);
    }
    cpu::add_f32(s.x.data(), s.proj.data(), T * D);

    // --- feed-forward block (SwiGLU) ---
    for (int t = 0; t < T; ++t)
      cpu::rmsnorm(s.x.data() + static_cast<size_t>(t) * D, reinterpret_cast<const float*>(L.ffn_norm.data),
                   s.xn.data() + static_cast<size_t>(t) * D, D, c.rms_eps);
    cpu::quantize_acts(s.xn.data(), T, D, act_type(L.w_gate.type), s.act, pool_);
    if (act_type(L.w_up.type) == s.act.type) {
      const cpu::MatmulJob jobs[] = {{&L.w_gate, s.gate.data()}, {&L.w_up, s.up.data()}};
      cpu::matmul(jobs, s.act, pool_);
    } else {
      const cpu::MatmulJob jg[] = {{&L.w_gate, s.gate.data()}};
      cpu::matmul(jg, s.act, pool_);
      cpu::quantize_acts(s.xn.data(), T, D, act_type(L.w_up.type), s.act, pool_);
      const cpu::MatmulJob ju[] = {{&L.w_up, s.up.data()}};
      cpu::matmul(ju, s.act, pool_);
    }
    cpu::silu_mul(s.gate.data(), s.up.data(), s.ffn.data(), T * FF);
    cpu::quantize_acts(s.ffn.data(), T, FF, act_type(L.w_down.type), s.act, pool_);
    {
      const cpu::MatmulJob jobs[] = {{&L.w_down, s.proj.data()}};
      cpu::matmul(jobs, s.act, pool_);
    }
    cpu::add_f32(s.x.data(), s.proj.data(), T * D);
  }
  n_past_ = pos0 + T;

  if (logits_out == nullptr) return;
  // Final norm and output projection: every row, or only the last token's.
  const int first = all_logits ? 0 : T - 1;
  const int rows = T - first;
  for (int t = first; t < T; ++t)
    cpu::rmsnorm(s.x.data() + static_cast<size_t>(t) * D, reinterpret_cast<const float*>(W.output_norm.data),
                 s.xn.data() + static_cast<size_t>(t - first) * D, D, c.rms_eps);
  cpu::quantize_acts(s.xn.data(), rows, D, act_type(W.output.type), s.act, pool_);
  const cpu::MatmulJob jobs[] = {{&W.output, logits_out}};
  cpu::matmul(jobs, s.act, pool_);
}

}  // namespace cyllm
