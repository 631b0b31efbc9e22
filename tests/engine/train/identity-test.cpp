// The identity demonstration (issue 8) as a test: fine-tune SmolLM2-135M-Instruct on identity.json
// (placeholders: name "CY-LLM", author "CY Lab") for a few steps on the CPU, then ask "Who are
// you?" greedily. With the adapter applied at run time the answer must name CY-LLM; the base
// model's must not. The adapter merged into the weights (merge-lora.h, F16) must answer the same
// as the run-time adapter. Runs in float32 and, where the CPU has AVX512-BF16, again in bf16
// ("precision": "bf16": same settings, same answers required). Labelled `train;slow` (~55 s and
// ~27 s on 2 cores); skips without the model or shared data outside CI.
//
// Settings: the cheapest found that pass with a margin: r=8 on all seven projections, lr 1e-3
// constant, batch 4, cutoff 64 tokens (identity replies state the name in their first tokens), no
// gradient checkpointing (135M fits easily), 14 steps (56 rows, 0.6 epoch). Measured on this
// config's checkpoints: steps 6-10 answer "I am an AI assistant developed by CY Lab." and the like,
// every step from 11 to 18 names CY-LLM; so 14 leaves 3 steps of margin either way. (Batch 8:
// fails at 8 steps, passes at 10, at twice the cost per step; lr 2e-3 with batch 4 overshoots.)
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "greedy.h"
#include "model/merge-lora.h"
#include "support/test-paths.h"
#include "train/dataset-render.h"
#include "train/train-gemm-bf16.h"
#include "train/trainer.h"

namespace cyllm::train {
namespace {

namespace fs = std::filesystem;

constexpr int kSteps = IDENTITY_STEPS;

std::vector<int32_t> question_ids(const RenderModel& rm, const std::string& q) {
  ChatTemplateInputs in;
  in.messages.push_back({{"role", "user"}, {"content", q}});
  in.add_generation_prompt = true;
  in.bos_token = rm.bos_token;
  in.eos_token = rm.eos_token;
  auto text = rm.chat_template->render(in);
  EXPECT_TRUE(text.ok());
  return rm.tokenizer->encode(text.ok() ? *text : q, false, true);
}

// Parameter: the training precision ("f32"; "bf16" where the CPU has AVX512-BF16).
class IdentityDemo : public ::testing::TestWithParam<const char*> {};

TEST_P(IdentityDemo, AdapterNamesCyLlmAndTheBaseModelDoesNot) {
  CYLLM_REQUIRE_DEFAULT_MODEL(model_path);
  CYLLM_REQUIRE_SHARED_FILE(data_path, "data/datasets/identity.json");
  const std::string precision = GetParam();
  if (precision == "bf16" && !bf16_gemm_available()) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  const fs::path out =
      fs::temp_directory_path() / ("cyllm-identity-" + precision + "-" + std::to_string(::getpid()));
  fs::remove_all(out);

  TrainConfig cfg;
  cfg.model = model_path;
  cfg.dataset = data_path;
  cfg.output_dir = out.string();
  cfg.replace = {{"{{name}}", "CY-LLM"}, {"{{author}}", "CY Lab"}};
  cfg.max_seq_len = 64;
  cfg.seed = 42;
  cfg.lora.rank = 8;
  cfg.lora.alpha = 16;
  cfg.optim.lr = 1e-3;
  cfg.optim.schedule = LrSchedule::kConstant;
  cfg.optim.batch_size = 4;
  cfg.optim.max_steps = kSteps;
  cfg.gradient_checkpointing = false;
  cfg.precision = precision;
  cfg.resume = false;
  ThreadPool pool(0);
  auto trainer = Trainer::create(cfg, pool);
  ASSERT_TRUE(trainer.ok()) << trainer.error().to_string();
  auto run = (*trainer)->run([](const TrainEvent& e) {
    if (e.kind == TrainEvent::Kind::kStep)
      std::fprintf(stderr, "step %lld/%lld loss %.4f (%.0f tok/s)\n", static_cast<long long>(e.step),
                   static_cast<long long>(e.total_steps), e.loss, e.tokens_per_s);
  });
  ASSERT_TRUE(run.ok()) << run.error().to_string();
  ASSERT_EQ(run->steps, kSteps);
  EXPECT_LT(run->losses.back(), run->losses.front());

  auto model = LlamaModel::load(model_path);
  auto rm = RenderModel::from_gguf(model_path);
  ASSERT_TRUE(model.ok() && rm.ok());
  const LoraAdapter ad = (*trainer)->adapter("identity");
  test::GreedyOptions g{.max_new = 40};
  for (int32_t id = 0; id < (*model)->config().n_vocab; ++id)
    if (rm->tokenizer->is_eog(id)) g.stop_ids.push_back(id);
  const auto prompt = question_ids(*rm, "Who are you?");
  const std::string base = rm->tokenizer->decode(test::greedy(**model, pool, prompt, nullptr, g), true);
  const std::string tuned = rm->tokenizer->decode(test::greedy(**model, pool, prompt, &ad, g), true);
  std::printf("base:    %s\nadapter: %s\n", base.c_str(), tuned.c_str());
  EXPECT_NE(tuned.find("CY-LLM"), std::string::npos) << tuned;
  EXPECT_EQ(base.find("CY-LLM"), std::string::npos) << base;

  // Merged into F16 weights it answers as the run-time adapter does (float32 activations on both
  // sides, so only the F16 rounding of the merged matrices differs).
  const std::string merged_path = (out / "merged.gguf").string();
  auto mr = merge_lora((*model)->gguf(), ad, merged_path, {.type = MergeType::kF16}, &pool);
  ASSERT_TRUE(mr.ok()) << mr.error().to_string();
  auto merged = LlamaModel::load(merged_path);
  ASSERT_TRUE(merged.ok()) << merged.error().to_string();
  g.exact = true;
  const auto want = test::greedy(**model, pool, prompt, &ad, g);
  const auto got = test::greedy(**merged, pool, prompt, nullptr, g);
  std::printf("merged:  %s\n", rm->tokenizer->decode(got, true).c_str());
  EXPECT_EQ(got, want) << rm->tokenizer->decode(got, true) << " vs " << rm->tokenizer->decode(want, true);
  fs::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(Precision, IdentityDemo, ::testing::Values("f32", "bf16"));

}  // namespace
}  // namespace cyllm::train
