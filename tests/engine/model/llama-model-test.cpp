// The llama forward pass on tiny generated models (random F32 weights written to GGUF in memory):
// incremental decode equals full prefill, chunking does not change results, and bad models or
// inputs give clear errors; qwen2 (NeoX RoPE) equals llama with converter-permuted Q/K rows.
#include "model/inference-context.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <span>

#include "backend/cpu-ops.h"
#include "gguf-writer.h"
#include "support/test-paths.h"

namespace cyllm {
namespace {

struct TinySpec {
  int n_layer = 2, n_embd = 32, n_head = 4, n_head_kv = 2, n_ff = 64, n_vocab = 50;
  bool tied = true;
  bool qwen2 = false;
  bool drop_tensor = false;
  // The same random weights (qwen2's biases included) written as a llama file, optionally with
  // the Q/K rows and biases permuted as convert_hf_to_gguf.py does for llama.
  bool as_llama = false;
  bool permute_qk = false;
};

std::vector<uint8_t> f32_bytes(size_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<uint8_t> out(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float v = d(rng);
    std::memcpy(out.data() + i * 4, &v, 4);
  }
  return out;
}

std::vector<uint8_t> ones(size_t n) {
  std::vector<uint8_t> out(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float v = 1.0f;
    std::memcpy(out.data() + i * 4, &v, 4);
  }
  return out;
}

// HF row order -> llama GGUF order for a [n_heads * hd rows][cols] float32 matrix (cols = 1 for a
// bias): within each head, HF row j*hd/2 + i (j: first or second half) becomes row 2i + j.
std::vector<uint8_t> to_adjacent_rows(const std::vector<uint8_t>& m, int n_heads, size_t cols) {
  const size_t row_bytes = cols * 4, rows = m.size() / row_bytes, hd = rows / static_cast<size_t>(n_heads);
  std::vector<uint8_t> out(m.size());
  for (size_t h = 0; h < static_cast<size_t>(n_heads); ++h)
    for (size_t i = 0; i < hd / 2; ++i)
      for (size_t j = 0; j < 2; ++j)
        std::memcpy(out.data() + (h * hd + 2 * i + j) * row_bytes, m.data() + (h * hd + j * hd / 2 + i) * row_bytes,
                    row_bytes);
  return out;
}

std::vector<uint8_t> tiny_model(const TinySpec& s) {
  std::mt19937 rng(42);
  test::GgufWriter w;
  const std::string arch = s.qwen2 && !s.as_llama ? "qwen2" : "llama";
  w.add_string("general.architecture", arch);
  w.add_u32(arch + ".block_count", s.n_layer);
  w.add_u32(arch + ".embedding_length", s.n_embd);
  w.add_u32(arch + ".feed_forward_length", s.n_ff);
  w.add_u32(arch + ".attention.head_count", s.n_head);
  w.add_u32(arch + ".attention.head_count_kv", s.n_head_kv);
  w.add_u32(arch + ".context_length", 128);
  w.add_f32(arch + ".rope.freq_base", 10000.0f);
  w.add_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f);
  const uint64_t d = s.n_embd, kv = d / s.n_head * s.n_head_kv, ff = s.n_ff, V = s.n_vocab;
  w.add_tensor("token_embd.weight", {d, V}, 0, f32_bytes(d * V, rng, 1.0f));
  w.add_tensor("output_norm.weight", {d}, 0, ones(d));
  if (!s.tied) w.add_tensor("output.weight", {d, V}, 0, f32_bytes(d * V, rng, 0.2f));
  for (int i = 0; i < s.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    w.add_tensor(p + "attn_norm.weight", {d}, 0, ones(d));
    auto qk = [&](std::vector<uint8_t> m, int heads, size_t cols) {
      return s.permute_qk ? to_adjacent_rows(m, heads, cols) : m;
    };
    w.add_tensor(p + "attn_q.weight", {d, d}, 0, qk(f32_bytes(d * d, rng, 0.3f), s.n_head, d));
    w.add_tensor(p + "attn_k.weight", {d, kv}, 0, qk(f32_bytes(d * kv, rng, 0.3f), s.n_head_kv, d));
    if (!(s.drop_tensor && i == 1)) w.add_tensor(p + "attn_v.weight", {d, kv}, 0, f32_bytes(d * kv, rng, 0.3f));
    w.add_tensor(p + "attn_output.weight", {d, d}, 0, f32_bytes(d * d, rng, 0.2f));
    if (s.qwen2) {
      w.add_tensor(p + "attn_q.bias", {d}, 0, qk(f32_bytes(d, rng, 0.1f), s.n_head, 1));
      w.add_tensor(p + "attn_k.bias", {kv}, 0, qk(f32_bytes(kv, rng, 0.1f), s.n_head_kv, 1));
      w.add_tensor(p + "attn_v.bias", {kv}, 0, f32_bytes(kv, rng, 0.1f));
    }
    w.add_tensor(p + "ffn_norm.weight", {d}, 0, ones(d));
    w.add_tensor(p + "ffn_gate.weight", {d, ff}, 0, f32_bytes(d * ff, rng, 0.2f));
    w.add_tensor(p + "ffn_up.weight", {d, ff}, 0, f32_bytes(d * ff, rng, 0.2f));
    w.add_tensor(p + "ffn_down.weight", {ff, d}, 0, f32_bytes(ff * d, rng, 0.2f));
  }
  return w.bytes();
}

std::unique_ptr<LlamaModel> load(const std::vector<uint8_t>& bytes) {
  auto f = GgufFile::parse(bytes.data(), bytes.size());
  EXPECT_TRUE(f.ok());
  auto m = LlamaModel::from_gguf(std::move(f.value()));
  EXPECT_TRUE(m.ok()) << m.error().to_string();
  return std::move(m.value());
}

class TinyModels : public ::testing::TestWithParam<TinySpec> {};

// Feeding a prompt at once, in chunks, or token by token must give the same logits: this checks
// the KV cache, positions and the causal mask.
TEST_P(TinyModels, IncrementalDecodeMatchesPrefill) {
  auto bytes = tiny_model(GetParam());
  auto model = load(bytes);
  ThreadPool pool(2);
  const std::vector<int32_t> ids = {3, 17, 42, 8, 8, 1, 49, 0, 23, 11};
  const int V = model->config().n_vocab;

  InferenceContext full(*model, {64, 64}, pool);
  ASSERT_TRUE(full.eval(ids, true).ok());
  std::vector<float> all(full.logits(), full.logits() + ids.size() * V);

  InferenceContext step(*model, {64, 64}, pool);
  InferenceContext chunked(*model, {64, 3}, pool);
  ASSERT_TRUE(chunked.eval(ids, true).ok());
  for (size_t t = 0; t < ids.size(); ++t) {
    ASSERT_TRUE(step.eval(std::span(&ids[t], 1)).ok());
    for (int v = 0; v < V; ++v) {
      // Same kernels; only float summation order may differ between the paths.
      ASSERT_NEAR(step.logits()[v], all[t * V + v], 1e-3f) << "token " << t << " vocab " << v;
      ASSERT_NEAR(chunked.logits()[t * V + v], all[t * V + v], 1e-3f);
    }
  }
  EXPECT_EQ(step.n_past(), static_cast<int>(ids.size()));
}

INSTANTIATE_TEST_SUITE_P(Variants, TinyModels,
                         ::testing::Values(TinySpec{}, TinySpec{.tied = false},
                                           TinySpec{.n_head = 4, .n_head_kv = 4, .qwen2 = true},
                                           TinySpec{.n_layer = 1, .n_head = 2, .n_head_kv = 1}));

std::vector<float> all_logits(const LlamaModel& m, std::span<const int32_t> ids) {
  ThreadPool pool(2);
  ContextOptions o;
  o.n_ctx = 64;
  o.n_batch = 64;
  o.exact_activations = true;
  InferenceContext ctx(m, o, pool);
  EXPECT_TRUE(ctx.eval(ids, true).ok());
  return std::vector<float>(ctx.logits(), ctx.logits() + ids.size() * static_cast<size_t>(m.config().n_vocab));
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float m = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// llama.cpp's llama_model_rope_type(): LLM_ARCH_LLAMA is NORM, LLM_ARCH_QWEN2 is NEOX.
TEST(ModelConfig, RopeStyleFollowsArchitecture) {
  EXPECT_EQ(rope_style_for_arch("llama"), RopeStyle::kNormal);
  EXPECT_EQ(rope_style_for_arch("qwen2"), RopeStyle::kNeox);
  EXPECT_FALSE(rope_style_for_arch("mamba").has_value());
  EXPECT_FALSE(is_supported_arch("mamba"));
  EXPECT_STREQ(rope_style_name(RopeStyle::kNeox), "neox");
  const auto qwen2 = tiny_model({.qwen2 = true});
  const auto llama = tiny_model({});
  EXPECT_EQ(load(qwen2)->config().rope_style, RopeStyle::kNeox);
  EXPECT_EQ(load(llama)->config().rope_style, RopeStyle::kNormal);
}

// The NeoX rotation of a head equals the adjacent-pair rotation of the same head with its
// dimensions reordered as the llama converter reorders Q/K rows; dimensions past rope_dim stay.
TEST(RopeKernels, NeoxIsAdjacentUnderTheConverterPermutation) {
  constexpr int kHeads = 3, kHd = 16;
  std::mt19937 rng(5);
  std::normal_distribution<float> nd;
  for (int rope_dim : {16, 8}) {
    const int half = rope_dim / 2;
    std::vector<float> cs(half), sn(half), x(kHeads * kHd);
    for (int i = 0; i < half; ++i) {
      const double a = 1.7 * std::pow(10000.0, -2.0 * i / rope_dim);
      cs[i] = static_cast<float>(std::cos(a));
      sn[i] = static_cast<float>(std::sin(a));
    }
    for (float& v : x) v = nd(rng);
    // Reorder only the rotated part of each head: rotated dim j*half + i -> 2i + j.
    std::vector<float> y = x;
    for (int h = 0; h < kHeads; ++h)
      for (int i = 0; i < half; ++i)
        for (int j = 0; j < 2; ++j) y[h * kHd + 2 * i + j] = x[h * kHd + j * half + i];
    std::vector<float> neox = x;
    cpu::rope_neox(neox.data(), kHeads, kHd, rope_dim, cs.data(), sn.data());
    cpu::rope_adjacent(y.data(), kHeads, kHd, rope_dim, cs.data(), sn.data());
    for (int h = 0; h < kHeads; ++h) {
      for (int i = 0; i < half; ++i)
        for (int j = 0; j < 2; ++j)
          ASSERT_EQ(neox[h * kHd + j * half + i], y[h * kHd + 2 * i + j]) << "rope_dim " << rope_dim;
      for (int k = rope_dim; k < kHd; ++k) ASSERT_EQ(neox[h * kHd + k], x[h * kHd + k]);
      // A real rotation happened: the first pair moved.
      ASSERT_NE(neox[h * kHd], x[h * kHd]);
    }
  }
}

// The same HF weights as a qwen2 file (HF row order, NeoX RoPE) and as a llama file with Q/K rows
// and biases permuted (adjacent RoPE) are one model; written as llama without the permutation
// they are not (so the first check cannot pass by RoPE doing nothing).
TEST(LlamaModel, Qwen2NeoxEqualsLlamaOnPermutedRows) {
  const TinySpec base{.n_head = 4, .n_head_kv = 2, .qwen2 = true};
  TinySpec permuted = base, unpermuted = base;
  permuted.as_llama = permuted.permute_qk = true;
  unpermuted.as_llama = true;
  const auto qb = tiny_model(base), pb = tiny_model(permuted), ub = tiny_model(unpermuted);
  auto q = load(qb), p = load(pb), u = load(ub);
  ASSERT_EQ(p->config().arch, "llama");
  ASSERT_TRUE(p->config().attn_bias);
  const std::vector<int32_t> ids = {3, 17, 42, 8, 8, 1, 49, 0, 23, 11};
  const auto lq = all_logits(*q, ids), lp = all_logits(*p, ids), lu = all_logits(*u, ids);
  float scale = 0.0f;
  for (float v : lq) scale = std::max(scale, std::fabs(v));
  // Same products in another row order: float32 reassociation only (observed ~1e-6 relative).
  EXPECT_LT(max_abs_diff(lq, lp), 1e-5f * scale);
  // Position 0 is not rotated, so only later positions tell the pairings apart.
  EXPECT_GT(max_abs_diff(lq, lu), 1e-2f * scale);
}

TEST(LlamaModel, TruncateAndReplayGivesSameLogits) {
  const auto bytes = tiny_model({});  // the model points into these bytes
  auto model = load(bytes);
  ThreadPool pool(1);
  InferenceContext ctx(*model, {32, 8}, pool);
  const std::vector<int32_t> a = {1, 2, 3, 4}, b = {9, 9};
  ASSERT_TRUE(ctx.eval(a).ok());
  ASSERT_TRUE(ctx.eval(b).ok());
  std::vector<float> first(ctx.logits(), ctx.logits() + model->config().n_vocab);
  ctx.truncate(4);
  ASSERT_TRUE(ctx.eval(b).ok());
  for (int v = 0; v < model->config().n_vocab; ++v) ASSERT_FLOAT_EQ(first[v], ctx.logits()[v]);
}

TEST(LlamaModel, ReportsMissingTensor) {
  auto bytes = tiny_model({.drop_tensor = true});
  auto f = GgufFile::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok());
  auto m = LlamaModel::from_gguf(std::move(f.value()));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("blk.1.attn_v.weight"), std::string::npos) << m.error().message;
}

TEST(LlamaModel, RejectsContextOverflowAndBadTokens) {
  const auto bytes = tiny_model({});  // the model points into these bytes
  auto model = load(bytes);
  ThreadPool pool(1);
  InferenceContext ctx(*model, {4, 4}, pool);
  std::vector<int32_t> five = {1, 2, 3, 4, 5};
  auto st = ctx.eval(five);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kOutOfRange);
  std::vector<int32_t> bad = {1000};
  st = ctx.eval(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("vocabulary"), std::string::npos);
  EXPECT_EQ(ctx.n_past(), 0);
}

TEST(LlamaModel, RejectsUnsupportedArchitecture) {
  test::GgufWriter w;
  w.add_string("general.architecture", "mamba");
  auto bytes = w.bytes();
  auto f = GgufFile::parse(bytes.data(), bytes.size());
  ASSERT_TRUE(f.ok());
  auto m = LlamaModel::from_gguf(std::move(f.value()));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ErrorCode::kUnsupported);
}

TEST(LlamaModel, LoadsTheDefaultModel) {
  CYLLM_REQUIRE_DEFAULT_MODEL(path);
  auto m = LlamaModel::load(path);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  const ModelConfig& c = (*m)->config();
  EXPECT_EQ(c.n_layer, 30);
  EXPECT_EQ(c.n_embd, 576);
  EXPECT_EQ(c.n_head, 9);
  EXPECT_EQ(c.n_head_kv, 3);
  EXPECT_EQ(c.n_vocab, 49152);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_FLOAT_EQ(c.rope_theta, 100000.0f);
}

}  // namespace
}  // namespace cyllm
