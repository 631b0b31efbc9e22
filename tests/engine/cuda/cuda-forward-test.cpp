// The CUDA forward pass (engine/backend/cuda-forward.h) against the CPU ForwardPass on random
// models written to GGUF in memory (tests/engine/train/tiny-train-model.h): logits after a batched
// prefill (GEMM path, tiled attention), several batched decode steps (matvec path, split-K
// attention) and a multi-token step, for llama (normal RoPE) and qwen2 (NeoX RoPE, biases) and
// every weight type the kernels decode. Skips without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "backend/cuda-forward.h"
#include "core/thread-pool.h"
#include "cuda-test-util.h"
#include "model/forward.h"
#include "model/kv-storage.h"
#include "cuda-test-models.h"

namespace cyllm::test {
namespace {

std::string tname(GgmlType t) { return std::string(type_name(static_cast<uint32_t>(t))); }

int argmax(const std::vector<float>& v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

double stddev(const std::vector<float>& v) {
  double s = 0, s2 = 0;
  for (float x : v) s += x, s2 += static_cast<double>(x) * x;
  const double m = s / v.size();
  return std::sqrt(std::max(0.0, s2 / v.size() - m * m));
}

// Runs the same steps on both backends and compares each step's logits.
//  - NMSE tolerance `tol` (see the callers for where it comes from);
//  - greedy choice: the GPU's argmax must be the CPU's, unless the CPU's own logits put the two
//    within 1% of a standard deviation (a near tie that rounding may flip).
// Each sequence continues with the CPU's greedy token, so both sides see the same inputs.
struct SeqSpec {
  int prompt;           // prompt tokens (first step)
  std::vector<int> blocks;  // its block table
};

void compare_backends(const LlamaModel& model, const std::vector<SeqSpec>& seqs, int decode_steps, double tol,
                      int block_tokens, int n_blocks, int context, const std::string& label) {
  const ModelConfig& c = model.config();
  ThreadPool pool(static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  const int max_tokens = 128;
  ForwardPass cpu(model, pool, max_tokens, /*exact=*/true);
  KvStorage kv(c.n_layer, c.kv_dim(), block_tokens, n_blocks);
  CudaForwardOptions opt;
  opt.max_tokens = max_tokens;
  opt.context = context;
  opt.parallel = static_cast<int>(seqs.size());
  opt.block_tokens = block_tokens;
  opt.n_blocks = n_blocks;
  auto gpu = CudaForwardPass::create(model, opt);
  ASSERT_TRUE(gpu.ok()) << gpu.error().message;

  std::mt19937 rng(5);
  const size_t S = seqs.size();
  std::vector<std::vector<int32_t>> step_tokens(S);
  std::vector<int> pos(S, 0);
  for (size_t s = 0; s < S; ++s)
    for (int i = 0; i < seqs[s].prompt; ++i) step_tokens[s].push_back(std::uniform_int_distribution<int32_t>(0, c.n_vocab - 1)(rng));

  double worst = 0.0;
  for (int step = 0; step <= decode_steps + 1; ++step) {
    // Last step: the first sequence takes 3 tokens at once with logits for all of them (a small
    // multi-token step: matvec products, tiled attention); the others one token.
    const bool multi = step == decode_steps + 1;
    std::vector<std::vector<float>> lc(S), lg(S);
    std::vector<SeqBatch> bc(S), bg(S);
    for (size_t s = 0; s < S; ++s) {
      const int n = static_cast<int>(step_tokens[s].size());
      const bool all = multi && s == 0;
      lc[s].assign(static_cast<size_t>(all ? n : 1) * c.n_vocab, 0.0f);
      lg[s].assign(lc[s].size(), -1.0f);
      for (auto* b : {&bc[s], &bg[s]}) {
        b->tokens = step_tokens[s];
        b->pos0 = pos[s];
        b->block_table = seqs[s].blocks;
        b->logits = all ? SeqBatch::Logits::kAll : SeqBatch::Logits::kLast;
      }
      bc[s].logits_out = lc[s].data();
      bg[s].logits_out = lg[s].data();
    }
    cpu.run(bc, kv);
    const Status st = (*gpu)->run(bg);
    ASSERT_TRUE(st.ok()) << st.error().message;
    for (size_t s = 0; s < S; ++s) {
      SCOPED_TRACE(label + " step " + std::to_string(step) + " seq " + std::to_string(s));
      EXPECT_CLOSE_NMSE(lc[s], lg[s], tol);
      worst = std::max(worst, nmse(lc[s], lg[s]));
      // Greedy agreement on the last row.
      const std::vector<float> cl(lc[s].end() - c.n_vocab, lc[s].end()), gl(lg[s].end() - c.n_vocab, lg[s].end());
      const int a = argmax(cl), b = argmax(gl);
      if (a != b) EXPECT_LT(cl[static_cast<size_t>(a)] - cl[static_cast<size_t>(b)], 0.01 * stddev(cl)) << "greedy tokens differ";
      pos[s] += static_cast<int>(step_tokens[s].size());
      step_tokens[s].assign(step == decode_steps && s == 0 ? 3 : 1, a);
    }
  }
  std::printf("%s: worst logits NMSE %.3g (tolerance %.3g)\n", label.c_str(), worst, tol);
}

TEST(CudaForward, NoDeviceIsAnErrorNotACrash) {
  if (cuda::no_device_reason().empty()) GTEST_SKIP() << "a CUDA device is present (this checks the no-device path)";
  TinyTrainSpec spec;
  const TinyTrainModel tm = make_tiny_train_model(spec);
  ASSERT_TRUE(tm.model);
  auto gpu = CudaForwardPass::create(*tm.model, CudaForwardOptions{});
  ASSERT_FALSE(gpu.ok());
  EXPECT_EQ(gpu.error().code, ErrorCode::kUnsupported);
}

// Tiny random models, every weight type (token_embd and output included). Differences from the
// CPU's float32 reference: the fp16 KV cache (relative 2^-11 per element) and, in the prefill step,
// f16 activations and weights in the GEMM (bf16 for BF16 models, relative 2^-8). Through two layers
// that is NMSE ~1e-6 (f16) / ~3e-5 (bf16) in the logits; tolerances 1e-4 / 1e-3. Wrong RoPE
// pairing, attention masking or block addressing give NMSE ~0.1-1.
TEST(CudaForward, TinyModelsMatchTheCpu) {
  CYLLM_REQUIRE_CUDA();
  const GgmlType types[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                            GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K,
                            GgmlType::Q6_K};
  for (const char* arch : {"llama", "qwen2"})
    for (GgmlType t : types) {
      TinyTrainSpec spec = cuda_test_spec(arch, t);
      spec.tied = t != GgmlType::Q4_1 && t != GgmlType::Q6_K;  // two types with a separate output matrix
      const TinyTrainModel tm = make_tiny_train_model(spec);
      ASSERT_TRUE(tm.model) << arch << " " << tname(t);
      // Two sequences, shuffled non-contiguous blocks: a 21-token and a 6-token prompt (27 tokens:
      // GEMM products), then 6 decode steps, then a 3-token step.
      const std::vector<SeqSpec> seqs = {{21, {3, 7, 1, 12, 5, 9}}, {6, {0, 14, 2, 11, 6, 10}}};
      compare_backends(*tm.model, seqs, 6, t == GgmlType::BF16 ? 1e-3 : 1e-4, 16, 16, 96,
                       std::string(arch) + " " + tname(t));
      if (HasFatalFailure()) return;
    }
}

// A sequence forked from another (shared full block, the partial block copied with copy_block)
// must give bitwise the same logits for the same next token: every row's arithmetic is
// independent of the other rows of the batch.
TEST(CudaForward, CopyBlockForksASequence) {
  CYLLM_REQUIRE_CUDA();
  TinyTrainSpec spec;
  spec.n_embd = 128;
  spec.n_head = 4;
  spec.n_head_kv = 2;
  spec.n_ff = 256;
  spec.matrix_type = GgmlType::Q8_0;
  const TinyTrainModel tm = make_tiny_train_model(spec);
  ASSERT_TRUE(tm.model);
  const int V = tm.model->config().n_vocab;
  CudaForwardOptions opt;
  opt.max_tokens = 32;
  opt.context = 64;
  opt.parallel = 2;
  opt.block_tokens = 16;
  opt.n_blocks = 8;
  auto gpu = CudaForwardPass::create(*tm.model, opt);
  ASSERT_TRUE(gpu.ok()) << gpu.error().message;
  std::vector<int32_t> prompt(20);
  for (int i = 0; i < 20; ++i) prompt[static_cast<size_t>(i)] = (i * 7 + 3) % V;
  const std::vector<int> a_blocks = {4, 1, 6, 0}, b_blocks = {4, 5, 7, 2};
  std::vector<float> la(V), lb(V);
  SeqBatch a;
  a.tokens = prompt;
  a.block_table = a_blocks;
  a.logits_out = la.data();
  ASSERT_TRUE((*gpu)->run(std::span<const SeqBatch>(&a, 1)).ok());
  ASSERT_TRUE((*gpu)->copy_block(1, 5, 4).ok());  // positions 16..19 of A into B's second block
  const int32_t next = 11;
  SeqBatch ad, bd;
  ad.tokens = std::span<const int32_t>(&next, 1);
  ad.pos0 = 20;
  ad.block_table = a_blocks;
  ad.logits_out = la.data();
  bd = ad;
  bd.block_table = b_blocks;
  bd.logits_out = lb.data();
  const SeqBatch both[] = {ad, bd};
  ASSERT_TRUE((*gpu)->run(both).ok());
  EXPECT_EQ(count_non_finite(la), 0u);
  EXPECT_EQ(la, lb);
}

// SmolLM2-135M's shapes (30 layers, 576 wide, 9/3 heads of 64, 1536 FFN, 49152 vocabulary) with
// random Q4_1 weights, the type of the project's default model. Thirty random layers amplify the
// fp16 rounding of the KV cache and of the prefill GEMM more than two do, hence the looser 1e-2
// (structural bugs still give ~1). Prints the NMSE it saw.
TEST(CudaForward, SmolLM2ShapedRandomModelMatchesTheCpu) {
  CYLLM_REQUIRE_CUDA();
  TinyTrainSpec spec;
  spec.n_layer = 30;
  spec.n_embd = 576;
  spec.n_head = 9;
  spec.n_head_kv = 3;
  spec.n_ff = 1536;
  spec.n_vocab = 49152;
  spec.rope_theta = 100000.0f;
  spec.matrix_type = GgmlType::Q4_1;
  const TinyTrainModel tm = make_tiny_train_model(spec);
  ASSERT_TRUE(tm.model);
  compare_backends(*tm.model, {{40, {2, 0, 3, 1}}}, 8, 1e-2, 16, 4, 64, "SmolLM2-shaped Q4_1");
}

}  // namespace
}  // namespace cyllm::test
