// Merging a LoRA adapter into the base weights (engine/model/merge-lora.h): the merged model must
// compute what the base model computes with the adapter applied at run time, every other tensor
// and all metadata must survive byte for byte, and a mismatched adapter must leave no file.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "greedy.h"
#include "model/adapter-io.h"
#include "model/merge-lora.h"
#include "tiny-train-model.h"

namespace cyllm {
namespace {

namespace fs = std::filesystem;

std::string temp_file(const std::string& tag) {
  static int n = 0;
  return (fs::temp_directory_path() / ("cyllm-merge-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".gguf"))
      .string();
}

std::vector<int32_t> prompt_ids(int vocab) {
  std::vector<int32_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back((i * 7 + 3) % vocab);
  return ids;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

std::unique_ptr<LlamaModel> load(const std::string& path) {
  auto m = LlamaModel::load(path);
  EXPECT_TRUE(m.ok()) << m.error().to_string();
  return m ? std::move(m.value()) : nullptr;
}

TEST(MergeLora, F32MergeComputesWhatTheRuntimeAdapterComputes) {
  auto tm = test::make_tiny_train_model({.tied = false});
  const ModelConfig& c = tm.model->config();
  const LoraAdapter ad = LoraAdapter::random(c, 4, 8.0f, 11);
  ThreadPool pool(2);
  const std::string out = temp_file("f32");
  auto r = merge_lora(tm.model->gguf(), ad, out, {.type = MergeType::kF32}, &pool);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->merged, c.n_layer * kLoraTargets);
  EXPECT_EQ(r->merged + r->copied, static_cast<int>(tm.model->gguf().tensors().size()));
  EXPECT_GT(r->update_norm, 0.1);
  EXPECT_EQ(r->rounding_norm, 0.0);  // F32 stores W + update exactly
  auto merged = load(out);
  ASSERT_TRUE(merged);

  const auto ids = prompt_ids(c.n_vocab);
  const auto want = test::all_logits(*tm.model, pool, ids, &ad, /*exact=*/true);
  const auto got = test::all_logits(*merged, pool, ids, nullptr, true);
  const auto base = test::all_logits(*tm.model, pool, ids, nullptr, true);
  // Same arithmetic up to float32 association (W x + s B (A x) vs (W + s B A) x) over two layers:
  // logits of order 1 agree to ~1e-6; 1e-4 leaves room and still fails on any wrong row or scale.
  EXPECT_LT(max_abs_diff(got, want), 1e-4f);
  // ... while the adapter really changes the model (else the check above proves nothing).
  EXPECT_GT(max_abs_diff(base, want), 1e-2f);

  test::GreedyOptions g{.max_new = 16, .exact = true};
  EXPECT_EQ(test::greedy(*merged, pool, ids, nullptr, g), test::greedy(*tm.model, pool, ids, &ad, g));
  fs::remove(out);
}

TEST(MergeLora, KeepsEveryOtherTensorAndAllMetadata) {
  auto tm = test::make_tiny_train_model({.matrix_type = GgmlType::Q8_0});
  const ModelConfig& c = tm.model->config();
  // q and down only: the other five projections must be copied untouched.
  const LoraAdapter ad = LoraAdapter::random(c, 2, 4.0f, 5, 0x41);
  const std::string out = temp_file("meta");
  auto r = merge_lora(tm.model->gguf(), ad, out, {.adapter_name = "mine"});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->merged, 2 * c.n_layer);
  auto g = GgufFile::open(out);
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  const GgufFile& b = tm.model->gguf();
  ASSERT_EQ(g->tensors().size(), b.tensors().size());
  for (size_t i = 0; i < b.tensors().size(); ++i) {
    const auto &x = b.tensors()[i], &y = g->tensors()[i];
    EXPECT_EQ(x.name, y.name);
    const bool merged_one = x.name.find("attn_q.weight") != std::string::npos || x.name.find("ffn_down.weight") != std::string::npos;
    if (merged_one) {
      EXPECT_EQ(y.type(), GgmlType::F16) << x.name;  // the default storage
    } else {
      EXPECT_EQ(y.type_id, x.type_id) << x.name;
      ASSERT_EQ(y.nbytes, x.nbytes) << x.name;
      EXPECT_EQ(std::memcmp(x.data, y.data, x.nbytes), 0) << x.name << " must be copied byte for byte";
    }
  }
  for (const auto& [key, value] : b.metadata()) {
    const GgufValue* v = g->find(key);
    ASSERT_NE(v, nullptr) << key;
    EXPECT_EQ(v->type, value.type) << key;
    EXPECT_EQ(v->to_display(1000), value.to_display(1000)) << key;
  }
  EXPECT_EQ(g->get_string("cyllm.merged_lora.name").value_or(""), "mine");
  EXPECT_FLOAT_EQ(static_cast<float>(g->get_float("cyllm.merged_lora.scale").value_or(0)), 2.0f);
  EXPECT_EQ(g->get_string("cyllm.merged_lora.type").value_or(""), "f16");

  // Merging into the merged file again replaces the records instead of adding duplicates.
  const std::string out2 = temp_file("meta2");
  ASSERT_TRUE(merge_lora(*g, ad, out2, {.type = MergeType::kBase, .scale = 0.5f}).ok());
  auto g2 = GgufFile::open(out2);
  ASSERT_TRUE(g2.ok());
  EXPECT_EQ(g2->metadata().size(), g->metadata().size());
  EXPECT_FLOAT_EQ(static_cast<float>(g2->get_float("cyllm.merged_lora.scale").value_or(0)), 1.0f);
  fs::remove(out);
  fs::remove(out2);
}

TEST(MergeLora, RequantizedToTheBaseTypeStaysCloseAndF16MatchesGreedily) {
  auto tm = test::make_tiny_train_model({.matrix_type = GgmlType::Q8_0, .tied = false});
  const ModelConfig& c = tm.model->config();
  const LoraAdapter ad = LoraAdapter::random(c, 4, 8.0f, 3);
  ThreadPool pool(2);
  const auto ids = prompt_ids(c.n_vocab);
  const auto want = test::all_logits(*tm.model, pool, ids, &ad, true);
  const auto base = test::all_logits(*tm.model, pool, ids, nullptr, true);
  const float adapter_effect = max_abs_diff(base, want);
  for (MergeType t : {MergeType::kBase, MergeType::kF16}) {
    const std::string out = temp_file(merge_type_name(t));
    auto r = merge_lora(tm.model->gguf(), ad, out, {.type = t}, &pool);
    ASSERT_TRUE(r.ok());
    // The reported storage error: F16 keeps ~11 bits of each weight, Q8_0 ~7 bits of its block's max.
    EXPECT_GT(r->rounding_norm, 0.0);
    EXPECT_LT(r->rounding_norm, (t == MergeType::kF16 ? 0.01 : 0.2) * r->update_norm) << merge_type_name(t);
    auto merged = load(out);
    ASSERT_TRUE(merged);
    if (t == MergeType::kBase) {
      for (const auto& ti : merged->gguf().tensors())
        if (ti.n_dims == 2) EXPECT_EQ(ti.type(), GgmlType::Q8_0) << ti.name;
    }
    const float err = max_abs_diff(test::all_logits(*merged, pool, ids, nullptr, true), want);
    // Requantizing W + dW to Q8_0 rounds every weight to 1/127 of its block's max (F16: 2^-11
    // relative): the logits move by a small fraction of what the adapter itself changes.
    EXPECT_LT(err, (t == MergeType::kF16 ? 0.01f : 0.1f) * adapter_effect) << merge_type_name(t);
    if (t == MergeType::kF16) {
      test::GreedyOptions g{.max_new = 12, .exact = true};
      EXPECT_EQ(test::greedy(*merged, pool, ids, nullptr, g), test::greedy(*tm.model, pool, ids, &ad, g));
    }
    fs::remove(out);
  }
}

TEST(MergeLora, AMismatchedAdapterWritesNothing) {
  auto tm = test::make_tiny_train_model({});
  ModelConfig other = tm.model->config();
  other.n_layer += 1;
  const LoraAdapter ad = LoraAdapter::random(other, 2, 4.0f, 1);
  const std::string out = temp_file("bad");
  auto r = merge_lora(tm.model->gguf(), ad, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(fs::temp_directory_path()))
    EXPECT_EQ(e.path().filename().string().find(fs::path(out).filename().string() + ".tmp-"), std::string::npos);
}

}  // namespace
}  // namespace cyllm
