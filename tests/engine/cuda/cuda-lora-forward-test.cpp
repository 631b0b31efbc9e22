// LoRA in the CUDA forward pass (engine/backend/cuda-forward.h) against the CPU ForwardPass: a
// batch mixing two adapters of different ranks and targets with base rows, through a prefill and
// decode steps; Property 12 on the GPU (a row's logits with adapter A alone are bitwise the same
// when rows with adapter B, other rows with A and base rows share its steps); the adapter cache's
// lifetime rule. Part of cuda_forward_test; the GPU tests skip without a CUDA device, the first
// test (the adapters really move the logits, so the tolerances below mean something) runs anywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend/cuda-forward.h"
#include "core/thread-pool.h"
#include "cuda-test-util.h"
#include "model/forward.h"
#include "model/kv-storage.h"
#include "model/lora.h"
#include "cuda-test-models.h"

namespace cyllm::test {
namespace {

int argmax(const std::vector<float>& v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

double stddev(const std::vector<float>& v) {
  double s = 0, s2 = 0;
  for (float x : v) s += x, s2 += static_cast<double>(x) * x;
  const double m = s / static_cast<double>(v.size());
  return std::sqrt(std::max(0.0, s2 / static_cast<double>(v.size()) - m * m));
}

TinyTrainModel model_of(const char* arch, GgmlType t) { return make_tiny_train_model(cuda_test_spec(arch, t)); }

// Adapter A: rank 8 on every target. Adapter B: rank 40 (two rank chunks in the expand kernel) on
// q, v, o and down only (bits of LoraTarget). alpha = 2 x rank: scale 2.
std::shared_ptr<const LoraAdapter> adapter_a(const ModelConfig& c) {
  return std::make_shared<LoraAdapter>(LoraAdapter::random(c, 8, 16.0f, 101));
}
LoraAdapter adapter_b(const ModelConfig& c) { return LoraAdapter::random(c, 40, 80.0f, 202, 0x4d); }

struct Seq {
  std::vector<int32_t> tokens;  // this step's
  int pos = 0;
  std::vector<int> blocks;
  const LoraAdapter* lora = nullptr;
  std::vector<float> logits;
};

std::vector<SeqBatch> batch_of(std::vector<Seq*> seqs, int n_vocab) {
  std::vector<SeqBatch> b;
  for (Seq* s : seqs) {
    s->logits.assign(static_cast<size_t>(n_vocab), 0.0f);
    SeqBatch sb;
    sb.tokens = s->tokens;
    sb.pos0 = s->pos;
    sb.block_table = s->blocks;
    sb.logits_out = s->logits.data();
    sb.lora = s->lora;
    b.push_back(sb);
  }
  return b;
}
void advance(std::vector<Seq*> seqs) {
  for (Seq* s : seqs) {
    s->pos += static_cast<int>(s->tokens.size());
    s->tokens.assign(1, argmax(s->logits));
  }
}

// Runs anywhere: on the CPU ForwardPass, each adapter moves the last-token logits of a prompt by
// NMSE > 1e-2, far above the 1e-4 the GPU comparison allows, so a LoRA path that did nothing (or
// applied the wrong adapter) could not pass it.
TEST(CudaLoraForward, TestAdaptersMoveTheLogits) {
  const TinyTrainModel tm = model_of("llama", GgmlType::F32);
  ASSERT_TRUE(tm.model);
  const ModelConfig& c = tm.model->config();
  ThreadPool pool(2);
  ForwardPass cpu(*tm.model, pool, 64, /*exact=*/true);
  const auto a = adapter_a(c);
  const LoraAdapter b = adapter_b(c);
  std::vector<float> base;
  for (const LoraAdapter* ad : {static_cast<const LoraAdapter*>(nullptr), a.get(), &b}) {
    KvStorage kv(c.n_layer, c.kv_dim(), 16, 2);
    Seq s{{5, 17, 3, 250, 9, 77}, 0, {0, 1}, ad, {}};
    cpu.run(batch_of({&s}, c.n_vocab), kv);
    if (ad == nullptr) {
      base = s.logits;
      continue;
    }
    std::printf("adapter %s moves the logits by NMSE %.3g\n", ad->name.c_str(), nmse(base, s.logits));
    EXPECT_GT(nmse(base, s.logits), 1e-2) << ad->name;
  }
}

// A mixed batch on both backends: sequences with adapter A (two of them), adapter B and none; a
// 27-token prefill (GEMM products, tiled attention) then 5 decode steps (matvec, split-K). The LoRA
// products are f32 on both sides (relative error ~1e-7), so the tolerances of TinyModelsMatchTheCpu
// hold unchanged: the fp16 KV cache and f16 prefill GEMM dominate, NMSE ~1e-6; tolerance 1e-4.
// A is cached (cache_adapter), B goes by bare pointer (uploaded per step): both paths of the rule.
TEST(CudaLoraForward, MixedAdapterBatchMatchesTheCpu) {
  CYLLM_REQUIRE_CUDA();
  for (const char* arch : {"llama", "qwen2"})
    for (GgmlType t : {GgmlType::F32, GgmlType::Q8_0}) {
      const std::string label = std::string(arch) + " " + std::string(type_name(static_cast<uint32_t>(t)));
      SCOPED_TRACE(label);
      const TinyTrainModel tm = model_of(arch, t);
      ASSERT_TRUE(tm.model);
      const ModelConfig& c = tm.model->config();
      ThreadPool pool(static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
      ForwardPass cpu(*tm.model, pool, 64, /*exact=*/true);
      KvStorage kv(c.n_layer, c.kv_dim(), 16, 8);
      CudaForwardOptions opt;
      opt.max_tokens = 64;
      opt.context = 32;
      opt.parallel = 4;
      opt.n_blocks = 8;
      auto gpu = CudaForwardPass::create(*tm.model, opt);
      ASSERT_TRUE(gpu.ok()) << gpu.error().message;
      auto a = adapter_a(c);
      const LoraAdapter b = adapter_b(c);
      ASSERT_TRUE((*gpu)->cache_adapter(a).ok());
      EXPECT_EQ((*gpu)->cached_adapters(), 1);
      EXPECT_GT((*gpu)->adapter_bytes(), 0u);
      std::vector<Seq> sc = {{{}, 0, {3, 0}, a.get(), {}}, {{}, 0, {1, 6}, &b, {}}, {{}, 0, {7, 2}, nullptr, {}},
                             {{}, 0, {5, 4}, a.get(), {}}};
      const int prompts[] = {12, 5, 7, 3};
      for (size_t s = 0; s < sc.size(); ++s)
        for (int i = 0; i < prompts[s]; ++i) sc[s].tokens.push_back(static_cast<int32_t>((s * 37 + i * 11 + 1) % c.n_vocab));
      std::vector<Seq> sg = sc;
      double worst = 0.0;
      for (int step = 0; step <= 5; ++step) {
        std::vector<Seq*> pc, pg;
        for (size_t s = 0; s < sc.size(); ++s) pc.push_back(&sc[s]), pg.push_back(&sg[s]);
        cpu.run(batch_of(pc, c.n_vocab), kv);
        const Status st = (*gpu)->run(batch_of(pg, c.n_vocab));
        ASSERT_TRUE(st.ok()) << st.error().message;
        for (size_t s = 0; s < sc.size(); ++s) {
          SCOPED_TRACE("step " + std::to_string(step) + " seq " + std::to_string(s));
          EXPECT_CLOSE_NMSE(sc[s].logits, sg[s].logits, 1e-4);
          worst = std::max(worst, nmse(sc[s].logits, sg[s].logits));
          const int x = argmax(sc[s].logits), y = argmax(sg[s].logits);
          if (x != y)  // only a near tie of the CPU's own logits may flip (as in TinyModelsMatchTheCpu)
            EXPECT_LT(sc[s].logits[static_cast<size_t>(x)] - sc[s].logits[static_cast<size_t>(y)], 0.01 * stddev(sc[s].logits))
                << "greedy tokens differ";
        }
        advance(pc);
        for (size_t s = 0; s < sc.size(); ++s) {
          sg[s].pos = sc[s].pos;
          sg[s].tokens = sc[s].tokens;  // both continue with the CPU's greedy token
        }
      }
      std::printf("%s with LoRA: worst logits NMSE %.3g (tolerance 1e-4)\n", label.c_str(), worst);
      // The lifetime rule: B was never cached; A's copy goes once A is destroyed and a step runs.
      EXPECT_EQ((*gpu)->cached_adapters(), 1);
      a.reset();
      sg[2].tokens.assign(1, 1);
      ASSERT_TRUE((*gpu)->run(batch_of({&sg[2]}, c.n_vocab)).ok());
      EXPECT_EQ((*gpu)->cached_adapters(), 0);
      EXPECT_EQ((*gpu)->adapter_bytes(), 0u);
      if (HasFatalFailure()) return;
    }
}

// Property 12 on the GPU. Phase 1: sequence A (adapter A) prefills 6 tokens and decodes 5 steps
// alone. Phase 2: the same prompt again (other blocks) alone, then B (adapter B), C (no adapter)
// and D (adapter A, so A shares its LoRA tile with D) prefill, and A decodes the same tokens in
// steps with all of them. Every kernel of a <= 8-row step computes a row independently of the
// others (matvec columns, split-K attention with one chunk per row, the LoRA tiles), so A's logits
// must be bitwise those of phase 1.
TEST(CudaLoraForward, RowWithAnAdapterIsTheSameInAnyBatch) {
  CYLLM_REQUIRE_CUDA();
  const TinyTrainModel tm = model_of("llama", GgmlType::Q8_0);
  ASSERT_TRUE(tm.model);
  const ModelConfig& c = tm.model->config();
  CudaForwardOptions opt;
  opt.max_tokens = 64;
  opt.context = 32;
  opt.parallel = 4;
  opt.n_blocks = 10;
  auto gpu = CudaForwardPass::create(*tm.model, opt);
  ASSERT_TRUE(gpu.ok()) << gpu.error().message;
  const auto a = adapter_a(c);
  const LoraAdapter b = adapter_b(c);
  ASSERT_TRUE((*gpu)->cache_adapter(a).ok());
  const std::vector<int32_t> prompt = {5, 17, 3, 250, 9, 77};

  Seq alone{prompt, 0, {0, 1}, a.get(), {}};
  ASSERT_TRUE((*gpu)->run(batch_of({&alone}, c.n_vocab)).ok());
  std::vector<std::vector<float>> ref = {alone.logits};
  std::vector<std::vector<int32_t>> fed;
  for (int step = 0; step < 5; ++step) {
    advance({&alone});
    fed.push_back(alone.tokens);
    ASSERT_TRUE((*gpu)->run(batch_of({&alone}, c.n_vocab)).ok());
    ref.push_back(alone.logits);
  }

  Seq A{prompt, 0, {2, 3}, a.get(), {}};
  ASSERT_TRUE((*gpu)->run(batch_of({&A}, c.n_vocab)).ok());
  EXPECT_EQ(A.logits, ref[0]) << "the same prefill alone";
  Seq B{{8, 8, 1, 2}, 0, {4, 5}, &b, {}}, C{{40, 41, 42, 43, 44}, 0, {6, 7}, nullptr, {}},
      D{{100, 3, 7, 11, 13, 200, 17}, 0, {8, 9}, a.get(), {}};
  ASSERT_TRUE((*gpu)->run(batch_of({&B, &C, &D}, c.n_vocab)).ok());
  advance({&B, &C, &D});
  for (int step = 0; step < 5; ++step) {
    SCOPED_TRACE("decode step " + std::to_string(step));
    A.pos = static_cast<int>(prompt.size()) + step;
    A.tokens = fed[static_cast<size_t>(step)];
    ASSERT_TRUE((*gpu)->run(batch_of({&B, &A, &C, &D}, c.n_vocab)).ok());
    EXPECT_EQ(A.logits, ref[static_cast<size_t>(step) + 1]) << "logits of the row with adapter A differ from alone";
    EXPECT_EQ(argmax(A.logits), argmax(ref[static_cast<size_t>(step) + 1]));
    advance({&B, &C, &D});
  }
}

TEST(CudaLoraForward, MisShapedAdapterIsRefused) {
  CYLLM_REQUIRE_CUDA();
  const TinyTrainModel tm = model_of("llama", GgmlType::F32);
  ASSERT_TRUE(tm.model);
  CudaForwardOptions opt;
  opt.max_tokens = 16;
  opt.context = 32;
  opt.parallel = 1;
  auto gpu = CudaForwardPass::create(*tm.model, opt);
  ASSERT_TRUE(gpu.ok()) << gpu.error().message;
  auto bad = std::make_shared<LoraAdapter>(LoraAdapter::random(tm.model->config(), 4, 8.0f, 3));
  bad->layers[1][2].a.pop_back();
  const Status st = (*gpu)->cache_adapter(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ((*gpu)->cached_adapters(), 0);
}

}  // namespace
}  // namespace cyllm::test
