// The LoRA trainer's optimiser, schedule, config and loop (engine/train/{adamw,lr-schedule,
// train-config,trainer}.h) on a tiny generated model: AdamW against the formula, the schedules'
// shapes, clipping, the loss going down, exact resume (Property 7 at the trainer level: the loss
// sequence and the adapter after a resume are bitwise those of an uninterrupted run), early
// stopping inside the loop, and config validation reporting every problem.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <unistd.h>

#include "support/test-paths.h"
#include "tiny-train-model.h"
#include "model/adapter-io.h"
#include "train/adamw.h"
#include "train/checkpoint-adapter.h"
#include "train/lr-schedule.h"
#include "train/train-config.h"
#include "train/train-gemm-bf16.h"
#include "train/trainer.h"

namespace cyllm::train {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& tag) {
  static int n = 0;
  auto p = fs::temp_directory_path() / ("cyllm-trainer-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  fs::remove_all(p);
  return p.string();
}

TEST(AdamW, MatchesTheFormulaInDouble) {
  ModelConfig c;
  c.n_layer = 1;
  c.n_embd = 4;
  c.n_head = 1;
  c.n_head_kv = 1;
  c.head_dim = 4;
  c.n_ff = 4;
  LoraSettings s;
  s.rank = 1;
  s.targets = 1;  // q only: A [1 x 4], B [4 x 1]
  LoraSet<float> p = init_lora(c, s);
  const float p0 = p.layers[0][0].a[0];
  LoraSet<float> g = LoraSet<float>::zeros_like(p);
  AdamWConfig cfg{0.9, 0.99, 1e-8, 0.1};
  AdamW opt(cfg, p);
  double pd = p0, m = 0, v = 0;
  const double grads[] = {0.5, -0.25, 1.0};
  for (int t = 1; t <= 3; ++t) {
    g.layers[0][0].a[0] = static_cast<float>(grads[t - 1]);
    const double lr = 0.01 * t;
    opt.step(p, g, lr);
    pd -= lr * 0.1 * pd;
    m = 0.9 * m + 0.1 * grads[t - 1];
    v = 0.99 * v + 0.01 * grads[t - 1] * grads[t - 1];
    pd -= lr * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.99, t))) + 1e-8);
    // float32 state against the double formula: a few ulps of values of order 0.5.
    EXPECT_NEAR(p.layers[0][0].a[0], pd, 1e-6) << "step " << t;
  }
  EXPECT_EQ(opt.steps(), 3);
  // A parameter whose gradient is always zero only decays.
  EXPECT_NE(p.layers[0][0].a[1], 0.0f);
}

TEST(AdamW, StateRoundTripsBitExactly) {
  ModelConfig c{.n_layer = 2, .n_embd = 8, .n_ff = 16, .n_head = 2, .n_head_kv = 1, .head_dim = 4};
  LoraSettings s{.rank = 2};
  LoraSet<float> p = init_lora(c, s), g = LoraSet<float>::zeros_like(p);
  g.for_each_tensor([](float* x, size_t n) {
    for (size_t i = 0; i < n; ++i) x[i] = std::sin(static_cast<float>(i));
  });
  AdamW a({}, p);
  a.step(p, g, 1e-3);
  AdamW b({}, p);
  ASSERT_TRUE(b.restore(a.serialize()).ok());
  LoraSet<float> pa = p, pb = p;
  a.step(pa, g, 1e-3);
  b.step(pb, g, 1e-3);
  EXPECT_EQ(serialize(pa), serialize(pb));
  EXPECT_FALSE(b.restore("ADAMW001garbage").ok());
}

TEST(LrSchedule, WarmupThenDecayAsHf) {
  LrScheduleConfig c{LrSchedule::kCosine, 1.0, 10, 110};
  EXPECT_EQ(learning_rate(c, 0), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(c, 5), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(c, 10), 1.0);
  EXPECT_NEAR(learning_rate(c, 60), 0.5, 1e-12);  // half way through the cosine
  EXPECT_NEAR(learning_rate(c, 110), 0.0, 1e-12);
  c.kind = LrSchedule::kLinear;
  EXPECT_DOUBLE_EQ(learning_rate(c, 60), 0.5);
  EXPECT_DOUBLE_EQ(learning_rate(c, 85), 0.25);
  c.kind = LrSchedule::kConstant;
  EXPECT_DOUBLE_EQ(learning_rate(c, 100), 1.0);
}

TEST(GradClip, ScalesToMaxNorm) {
  ModelConfig c{.n_layer = 1, .n_embd = 8, .n_ff = 16, .n_head = 2, .n_head_kv = 1, .head_dim = 4};
  LoraSet<float> g = LoraSet<float>::zeros_like(init_lora(c, {.rank = 2}));
  g.layers[0][0].a[0] = 3;
  g.layers[0][6].b[1] = 4;
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 0.0), 5.0);  // 0: report only
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 1.0), 5.0);
  EXPECT_NEAR(grad_norm(g), 1.0, 1e-6);  // scaled by 1 / (5 + 1e-6)
}

// Rows that follow a fixed rule (next = 3 * current + 1 mod V) so a LoRA can learn them.
std::vector<TrainExample> pattern_rows(int n, int vocab, int len) {
  std::vector<TrainExample> rows;
  for (int r = 0; r < n; ++r) {
    TrainExample ex;
    int x = (r * 7 + 1) % vocab;
    for (int i = 0; i < len; ++i) {
      ex.ids.push_back(x);
      ex.mask.push_back(i >= 2 ? 1 : 0);
      x = (3 * x + 1) % vocab;
    }
    rows.push_back(ex);
  }
  return rows;
}

TrainConfig tiny_config(const std::string& out) {
  TrainConfig c;
  c.output_dir = out;
  c.seed = 1234;
  c.lora.rank = 4;
  c.lora.alpha = 8;
  c.lora.dropout = 0.1;
  c.optim.lr = 1e-2;
  c.optim.batch_size = 2;
  c.optim.grad_accum = 2;
  c.optim.warmup_steps = 2;
  c.optim.max_steps = 8;
  c.optim.weight_decay = 0.01;
  c.eval_every = 2;
  c.checkpoint_every = 2;
  c.keep_checkpoints = 10;
  c.gradient_checkpointing = true;
  return c;
}

TEST(Trainer, LossGoesDown) {
  auto tm = test::make_tiny_train_model({.matrix_type = GgmlType::Q8_0});
  ThreadPool pool(2);
  TrainConfig cfg = tiny_config(temp_dir("down"));
  cfg.lora.dropout = 0;
  cfg.optim.max_steps = 30;
  cfg.optim.lr = 3e-2;
  cfg.checkpoint_every = 0;
  Trainer t(cfg, *tm.model, pattern_rows(8, tm.model->config().n_vocab, 12), {}, pool);
  int step_events = 0;
  auto r = t.run([&](const TrainEvent& e) { step_events += e.kind == TrainEvent::Kind::kStep; });
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ(r->losses.size(), 30u);
  EXPECT_EQ(step_events, 30);
  // A rank-4 adapter learns the rule well within 30 steps; half the initial loss is a loose bar.
  EXPECT_LT(r->losses.back(), 0.5 * r->losses.front()) << r->losses.front() << " -> " << r->losses.back();
  EXPECT_FALSE(r->last_checkpoint.empty());  // the end of a run is always saved
  fs::remove_all(cfg.output_dir);
}

// GPU readings in progress events: through a stand-in NVML library they appear in step and eval
// events and their JSON; with no driver (a missing library) the field is absent.
TEST(Trainer, ProgressEventsCarryGpuReadingsWhenThereIsAGpu) {
  auto tm = test::make_tiny_train_model({.matrix_type = GgmlType::Q8_0});
  ThreadPool pool(2);
  const int V = tm.model->config().n_vocab;
  for (const bool gpu : {true, false}) {
    TrainConfig cfg = tiny_config(temp_dir(gpu ? "gpu" : "nogpu"));
    cfg.optim.max_steps = 2;
    cfg.checkpoint_every = 0;
    cfg.nvml_library = gpu ? CYLLM_FAKE_NVML : "libcyllm-no-such-nvml.so.1";
    Trainer t(cfg, *tm.model, pattern_rows(4, V, 8), pattern_rows(2, V, 8), pool);
    int steps = 0, evals = 0;
    auto r = t.run([&](const TrainEvent& e) {
      if (e.kind != TrainEvent::Kind::kStep && e.kind != TrainEvent::Kind::kEval) return;
      (e.kind == TrainEvent::Kind::kStep ? steps : evals) += 1;
      const auto j = to_json(e);
      if (!gpu) {
        EXPECT_TRUE(e.gpus.empty());
        EXPECT_FALSE(j.contains("gpus"));
        return;
      }
      ASSERT_EQ(e.gpus.size(), 1u);
      EXPECT_EQ(e.gpus[0].name, "Fake GPU");
      EXPECT_EQ(e.gpus[0].utilization_pct, 42u);
      ASSERT_TRUE(j.contains("gpus"));
      EXPECT_EQ(j["gpus"][0]["utilization_pct"], 42);
      EXPECT_EQ(j["gpus"][0]["memory_busy_pct"], 7);
      EXPECT_DOUBLE_EQ(j["gpus"][0]["memory_used_mb"].get<double>(), 1024.0);
      EXPECT_DOUBLE_EQ(j["gpus"][0]["memory_total_mb"].get<double>(), 80.0 * 1024);
    });
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(steps, 2);
    EXPECT_EQ(evals, 1);
    fs::remove_all(cfg.output_dir);
  }
}

TEST(Trainer, ResumeRepeatsTheUninterruptedRunBitwise) {
  auto tm = test::make_tiny_train_model({.matrix_type = GgmlType::Q4_1});
  ThreadPool pool(2);
  const int V = tm.model->config().n_vocab;
  const auto rows = pattern_rows(7, V, 10);  // 7 rows, 4 per step: epochs end on partial steps
  const auto eval = pattern_rows(2, V, 8);

  TrainConfig a_cfg = tiny_config(temp_dir("a"));
  Trainer a(a_cfg, *tm.model, rows, eval, pool);
  auto ra = a.run(nullptr);
  ASSERT_TRUE(ra.ok()) << ra.error().to_string();
  ASSERT_EQ(ra->losses.size(), 8u);

  // Interrupted: cancelled after step 5 (a checkpoint is written), then resumed.
  TrainConfig b_cfg = tiny_config(temp_dir("b"));
  std::atomic<bool> cancel{false};
  {
    Trainer b(b_cfg, *tm.model, rows, eval, pool);
    auto rb = b.run([&](const TrainEvent& e) {
      if (e.kind == TrainEvent::Kind::kStep && e.step == 5) cancel = true;
    }, &cancel);
    ASSERT_TRUE(rb.ok());
    EXPECT_EQ(rb->stop_reason, "cancelled");
    ASSERT_EQ(rb->losses.size(), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(rb->losses[static_cast<size_t>(i)], ra->losses[static_cast<size_t>(i)]);
  }
  {
    Trainer b2(b_cfg, *tm.model, rows, eval, pool);
    auto rb2 = b2.run(nullptr);
    ASSERT_TRUE(rb2.ok());
    ASSERT_EQ(rb2->losses.size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(rb2->losses[static_cast<size_t>(i)], ra->losses[static_cast<size_t>(i) + 5]) << i;
    EXPECT_EQ(serialize(b2.params()), serialize(a.params()));
  }
  // Killed: the newest checkpoints are gone (as if the process died before writing them); the
  // run continues from step 4 and still ends bitwise where the uninterrupted one did.
  TrainConfig c_cfg = tiny_config(temp_dir("c"));
  {
    std::atomic<bool> stop{false};
    Trainer c1(c_cfg, *tm.model, rows, eval, pool);
    ASSERT_TRUE(c1.run([&](const TrainEvent& e) {
      if (e.kind == TrainEvent::Kind::kStep && e.step == 7) stop = true;
    }, &stop).ok());
    fs::remove_all(fs::path(c1.checkpoint_root()) / CheckpointStore::dir_name(7));
    fs::remove_all(fs::path(c1.checkpoint_root()) / CheckpointStore::dir_name(6));
    // A half-written newer checkpoint must be skipped, not trusted.
    fs::create_directories(fs::path(c1.checkpoint_root()) / CheckpointStore::dir_name(6));
  }
  {
    Trainer c2(c_cfg, *tm.model, rows, eval, pool);
    std::vector<std::string> messages;
    auto rc2 = c2.run([&](const TrainEvent& e) {
      if (e.kind == TrainEvent::Kind::kResumed) messages.push_back(e.message);
    });
    ASSERT_TRUE(rc2.ok());
    ASSERT_EQ(rc2->losses.size(), 4u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(rc2->losses[static_cast<size_t>(i)], ra->losses[static_cast<size_t>(i) + 4]) << i;
    EXPECT_EQ(serialize(c2.params()), serialize(a.params()));
    bool resumed_from_4 = false;
    for (const auto& m : messages) resumed_from_4 |= m.find(CheckpointStore::dir_name(4)) != std::string::npos;
    EXPECT_TRUE(resumed_from_4);
  }
  for (const auto& c : {a_cfg, b_cfg, c_cfg}) fs::remove_all(c.output_dir);
}

// A checkpoint carries what export needs: the base model's shape and the provenance (chat
// template hash, EOS) the adapter was trained with; load_checkpoint_adapter turns it into an
// adapter + meta that save as PEFT and GGUF LoRA and load back bit for bit.
TEST(Trainer, CheckpointsRecordBaseAndProvenanceForExport) {
  auto tm = test::make_tiny_train_model({.matrix_type = GgmlType::Q8_0});
  ThreadPool pool(2);
  TrainConfig cfg = tiny_config(temp_dir("export"));
  cfg.optim.max_steps = 3;
  cfg.lora.rslora = true;
  cfg.lora.targets = 0x43;  // q, k (permuted rows in GGUF) and down
  Trainer t(cfg, *tm.model, pattern_rows(6, tm.model->config().n_vocab, 10), {}, pool);
  const AdapterProvenance prov = make_adapter_provenance("{{ messages }}", 2, "<|im_end|>");
  t.set_provenance(prov);
  auto r = t.run(nullptr);
  ASSERT_TRUE(r.ok()) << r.error().to_string();

  for (const std::string& path : {cfg.output_dir, t.checkpoint_root(), r->last_checkpoint}) {
    auto ck = load_checkpoint_adapter(path);
    ASSERT_TRUE(ck.ok()) << path << ": " << ck.error().to_string();
    EXPECT_EQ(ck->dir, r->last_checkpoint) << path;
    EXPECT_EQ(ck->state.step, 3);
    EXPECT_EQ(ck->meta.provenance, prov);
    ASSERT_TRUE(ck->base.has_value());
    EXPECT_EQ(ck->base->n_head_kv, tm.model->config().n_head_kv);
    EXPECT_EQ(ck->meta.target_modules, (std::vector<std::string>{"q_proj", "k_proj", "down_proj"}));
    EXPECT_FLOAT_EQ(ck->meta.alpha, 8.0f);
    EXPECT_TRUE(ck->meta.use_rslora);
    EXPECT_EQ(serialize(from_adapter(ck->adapter)), serialize(t.params()));
  }
  EXPECT_TRUE(is_checkpoint_path(cfg.output_dir));
  EXPECT_FALSE(is_checkpoint_path(fs::temp_directory_path().string() + "/no-such-dir"));

  auto ck = load_checkpoint_adapter(cfg.output_dir);
  ASSERT_TRUE(ck.ok());
  const ModelConfig& base = tm.model->config();
  const std::string peft = cfg.output_dir + "/peft", gguf = cfg.output_dir + "/a.gguf";
  ASSERT_TRUE(save_peft_adapter(peft, ck->adapter, ck->meta, *ck->base).ok());
  ASSERT_TRUE(save_gguf_adapter(gguf, ck->adapter, ck->meta, *ck->base).ok());
  for (const std::string& path : {peft, gguf}) {
    auto la = load_adapter(path, base);
    ASSERT_TRUE(la.ok()) << la.error().to_string();
    EXPECT_EQ(la->meta.provenance, prov) << path;
    // f32 files and an exact permutation round trip: the loaded adapter is bitwise the trained one.
    LoraSet<float> loaded = from_adapter(la->adapter);
    loaded.scale = t.params().scale;  // LoraAdapter keeps the scale as float
    EXPECT_EQ(serialize(loaded), serialize(t.params())) << path;
    EXPECT_FLOAT_EQ(la->adapter.scale, static_cast<float>(t.params().scale));
  }
  fs::remove_all(cfg.output_dir);
}

// Starting from an existing adapter: it must fit the LoRA settings, and the run starts from it.
TEST(Trainer, StartsFromAGivenAdapter) {
  auto tm = test::make_tiny_train_model({});
  ThreadPool pool(1);
  TrainConfig cfg = tiny_config(temp_dir("init"));
  cfg.optim.lr = 0;  // the adapter stays what it was given
  cfg.optim.weight_decay = 0;
  cfg.optim.max_steps = 1;
  cfg.checkpoint_every = 0;
  Trainer t(cfg, *tm.model, pattern_rows(4, tm.model->config().n_vocab, 8), {}, pool);
  LoraAdapter wrong = LoraAdapter::random(tm.model->config(), 2, 8.0f, 9);
  EXPECT_FALSE(t.set_initial_adapter(wrong).ok());  // rank 2, the settings say 4
  LoraAdapter ad = LoraAdapter::random(tm.model->config(), 4, 4.0f, 9);
  EXPECT_FALSE(t.set_initial_adapter(ad).ok());  // scale 1, the settings say 2
  ad = LoraAdapter::random(tm.model->config(), 4, 8.0f, 9);
  ASSERT_TRUE(t.set_initial_adapter(ad).ok());
  ASSERT_TRUE(t.run(nullptr).ok());
  EXPECT_EQ(t.params().layers[1][6].b, ad.layers[1][6].b);
  fs::remove_all(cfg.output_dir);
}

TEST(Trainer, EarlyStoppingEndsTheRunAtPatience) {
  auto tm = test::make_tiny_train_model({});
  ThreadPool pool(1);
  TrainConfig cfg = tiny_config(temp_dir("early"));
  cfg.optim.lr = 0;  // the eval loss never improves
  cfg.optim.max_steps = 20;
  cfg.eval_every = 1;
  cfg.checkpoint_every = 0;
  cfg.early.patience = 2;
  const int V = tm.model->config().n_vocab;
  Trainer t(cfg, *tm.model, pattern_rows(4, V, 8), pattern_rows(2, V, 8), pool);
  int evals = 0;
  auto r = t.run([&](const TrainEvent& e) { evals += e.kind == TrainEvent::Kind::kEval; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop_reason, "early_stopping");
  EXPECT_EQ(evals, 3);  // the first sets the best, two more fail to improve: stop
  EXPECT_EQ(r->steps, 3);
  fs::remove_all(cfg.output_dir);
}

TEST(TrainConfig, EveryProblemIsReported) {
  const auto j = nlohmann::json::parse(R"({
    "model": "/nonexistent/model.gguf",
    "dataset": "/nonexistent/data.jsonl",
    "output_dir": "out",
    "lora": {"rank": 0, "targets": ["q", "mlp"]},
    "optim": {"lr": -1, "schedule": "exponential"},
    "eval": {"split": 0.1},
    "precision": "fp8",
    "colour": "blue"
  })");
  const auto problems = parse_train_config(j, nullptr);
  std::set<std::string> paths;
  for (const auto& p : problems) paths.insert(p.path);
  const std::set<std::string> expect = {"model", "dataset", "lora.rank", "lora.targets[1]", "optim.lr",
                                        "optim.schedule", "precision", "colour"};
  EXPECT_EQ(paths, expect) << ConfigSchema::format(problems);
}

TEST(TrainConfig, ParsesAValidConfigWithDefaults) {
  const auto j = nlohmann::json::parse(R"({
    "model": "m.gguf", "dataset": "d.json", "output_dir": "out", "seed": 7,
    "lora": {"rank": 8, "alpha": 16, "rslora": true, "targets": ["q", "v"]},
    "optim": {"lr": 0.001, "schedule": "linear", "batch_size": 4},
    "eval": {"split": 0.1, "every": 10},
    "early_stopping": {"patience": 3, "min_delta": 0.01, "stop_at_loss": 0.2},
    "replace": ["{{name}}=CY-LLM"]
  })");
  TrainConfig c;
  const auto problems = parse_train_config(j, &c, /*check_files=*/false);
  ASSERT_TRUE(problems.empty()) << ConfigSchema::format(problems);
  EXPECT_EQ(c.lora.targets, 0x5u);
  EXPECT_DOUBLE_EQ(c.lora.scale(), 16 / std::sqrt(8.0));
  EXPECT_EQ(c.optim.schedule, LrSchedule::kLinear);
  EXPECT_EQ(c.optim.grad_accum, 1);
  ASSERT_TRUE(c.early.stop_at_loss.has_value());
  EXPECT_EQ(c.replace.at(0).second, "CY-LLM");
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.precision, "f32");
}

TEST(TrainConfig, Bf16PrecisionNeedsTheCpuForIt) {
  const auto j = nlohmann::json::parse(R"({"model": "m.gguf", "dataset": "d.json", "output_dir": "out",
    "lora": {"rank": 8}, "precision": "bf16"})");
  TrainConfig c;
  const auto problems = parse_train_config(j, &c, /*check_files=*/false);
  if (bf16_gemm_available()) {
    ASSERT_TRUE(problems.empty()) << ConfigSchema::format(problems);
    EXPECT_EQ(c.precision, "bf16");
    TrainConfig f32 = c;
    f32.precision = "f32";
    EXPECT_NE(train_config_hash(c), train_config_hash(f32));  // a different trajectory
  } else {
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0].path, "precision");
    EXPECT_NE(problems[0].reason.find("AVX512-BF16"), std::string::npos);
  }
}

// Real data through the trainer's data path: identity.json rendered with SmolLM2's template and
// tokenizer, placeholders replaced, every row trained on its assistant reply only.
TEST(TrainData, IdentityRowsRenderWithPlaceholdersFilled) {
  CYLLM_REQUIRE_DEFAULT_MODEL(model_path);
  CYLLM_REQUIRE_SHARED_FILE(data_path, "data/datasets/identity.json");
  auto rm = RenderModel::from_gguf(model_path);
  ASSERT_TRUE(rm.ok()) << rm.error().to_string();
  DataOptions o;
  o.replace = {{"{{name}}", "CY-LLM"}, {"{{author}}", "CY Lab"}};
  o.max_seq_len = 1024;
  auto ex = load_examples(data_path, *rm, o);
  ASSERT_TRUE(ex.ok()) << ex.error().to_string();
  EXPECT_EQ(ex->rows.size(), 91u);
  EXPECT_EQ(ex->invalid + ex->untrained + ex->truncated, 0u);
  int mentions = 0;
  for (const auto& r : ex->rows) {
    std::vector<int32_t> trained;
    for (size_t i = 0; i < r.ids.size(); ++i)
      if (r.mask[i]) trained.push_back(r.ids[i]);
    const std::string reply = rm->tokenizer->decode(trained);
    EXPECT_EQ(reply.find("{{"), std::string::npos) << reply;
    EXPECT_EQ(reply.find("<|im_start|>"), std::string::npos) << "prompt tokens must not be trained: " << reply;
    mentions += reply.find("CY-LLM") != std::string::npos;
  }
  EXPECT_GT(mentions, 45);  // most identity replies name the assistant
}

}  // namespace
}  // namespace cyllm::train
