#include "tiny-train-model.h"

#include <cstring>
#include <random>
#include <string>

#include "backend/quant.h"
#include "gguf-writer.h"

namespace cyllm::test {

namespace {

std::vector<uint8_t> matrix(GgmlType type, uint64_t ne0, uint64_t ne1, std::mt19937& rng, float sd) {
  std::normal_distribution<float> d(0.0f, sd);
  std::vector<float> row(ne0);
  const size_t rb = *row_bytes(type, static_cast<int64_t>(ne0));
  std::vector<uint8_t> out(rb * ne1);
  for (uint64_t r = 0; r < ne1; ++r) {
    for (auto& v : row) v = d(rng);
    cpu::quantize_row_ref(type, row.data(), out.data() + r * rb, static_cast<int64_t>(ne0));
  }
  return out;
}

std::vector<uint8_t> norm_weights(uint64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(0.8f, 1.2f);
  std::vector<uint8_t> out(n * 4);
  for (uint64_t i = 0; i < n; ++i) {
    const float v = d(rng);
    std::memcpy(out.data() + i * 4, &v, 4);
  }
  return out;
}

}  // namespace

TinyTrainModel make_tiny_train_model(const TinyTrainSpec& s) {
  std::mt19937 rng(s.seed);
  GgufWriter w;
  const std::string a = s.arch;
  const bool qwen2 = a == "qwen2";
  w.add_string("general.architecture", a);
  w.add_u32(a + ".block_count", s.n_layer);
  w.add_u32(a + ".embedding_length", s.n_embd);
  w.add_u32(a + ".feed_forward_length", s.n_ff);
  w.add_u32(a + ".attention.head_count", s.n_head);
  w.add_u32(a + ".attention.head_count_kv", s.n_head_kv);
  w.add_u32(a + ".context_length", 256);
  w.add_f32(a + ".rope.freq_base", s.rope_theta);
  w.add_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
  const uint64_t d = s.n_embd, kv = d / s.n_head * s.n_head_kv, ff = s.n_ff, V = s.n_vocab;
  const uint32_t t = static_cast<uint32_t>(s.matrix_type);
  w.add_tensor("token_embd.weight", {d, V}, t, matrix(s.matrix_type, d, V, rng, 1.0f));
  w.add_tensor("output_norm.weight", {d}, 0, norm_weights(d, rng));
  if (!s.tied) w.add_tensor("output.weight", {d, V}, t, matrix(s.matrix_type, d, V, rng, 0.3f));
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    w.add_tensor(p + "attn_norm.weight", {d}, 0, norm_weights(d, rng));
    w.add_tensor(p + "attn_q.weight", {d, d}, t, matrix(s.matrix_type, d, d, rng, 0.25f));
    w.add_tensor(p + "attn_k.weight", {d, kv}, t, matrix(s.matrix_type, d, kv, rng, 0.25f));
    w.add_tensor(p + "attn_v.weight", {d, kv}, t, matrix(s.matrix_type, d, kv, rng, 0.25f));
    if (qwen2) {  // qwen2's q/k/v projections carry biases
      w.add_tensor(p + "attn_q.bias", {d}, 0, matrix(GgmlType::F32, d, 1, rng, 0.3f));
      w.add_tensor(p + "attn_k.bias", {kv}, 0, matrix(GgmlType::F32, kv, 1, rng, 0.3f));
      w.add_tensor(p + "attn_v.bias", {kv}, 0, matrix(GgmlType::F32, kv, 1, rng, 0.3f));
    }
    w.add_tensor(p + "attn_output.weight", {d, d}, t, matrix(s.matrix_type, d, d, rng, 0.15f));
    w.add_tensor(p + "ffn_norm.weight", {d}, 0, norm_weights(d, rng));
    w.add_tensor(p + "ffn_gate.weight", {d, ff}, t, matrix(s.matrix_type, d, ff, rng, 0.2f));
    w.add_tensor(p + "ffn_up.weight", {d, ff}, t, matrix(s.matrix_type, d, ff, rng, 0.2f));
    w.add_tensor(p + "ffn_down.weight", {ff, d}, t, matrix(s.matrix_type, ff, d, rng, 0.15f));
  }
  TinyTrainModel out;
  out.bytes = w.bytes();
  auto f = GgufFile::parse(out.bytes.data(), out.bytes.size());
  if (!f.ok()) return out;
  auto m = LlamaModel::from_gguf(std::move(f.value()));
  if (m.ok()) out.model = std::move(m.value());
  return out;
}

}  // namespace cyllm::test
