// Drives the trainer for the PyTorch + peft oracle (tests/python/test_train_torch_oracle.py).
//   cyllm_train_tool grads MODEL.gguf ADAPTER DATA.json OUT_DIR
//     loss and gradients of one batch: OUT_DIR/loss.json, OUT_DIR/grads = the gradients as a PEFT
//     adapter (HF layout, so q/k's B rows are un-permuted exactly as adapters are).
//   cyllm_train_tool train MODEL.gguf ADAPTER DATA.json OUT_DIR STEPS LR [MAX_GRAD_NORM WEIGHT_DECAY
//                    [PRECISION]]  (PRECISION: f32, the default, or bf16)
//     full-batch training from ADAPTER (AdamW, constant LR): OUT_DIR/losses.json (every step's loss,
//     the final adapter's loss, seconds), checkpoints under OUT_DIR/run (for `cyllm export`).
// DATA.json: {"seqs": [{"ids": [...], "mask": [...]}, ...]} (mask[i] = 1: ids[i] is a label).
// ADAPTER: a PEFT directory or GGUF LoRA (model/adapter-io.h).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/adapter-io.h"
#include "train/train-graph.h"
#include "train/trainer.h"

using namespace cyllm;

namespace {

int fail(const std::string& m) {
  std::fprintf(stderr, "cyllm_train_tool: %s\n", m.c_str());
  return 1;
}

std::vector<train::TrainExample> read_data(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto j = nlohmann::json::parse(ss.str());
  std::vector<train::TrainExample> rows;
  for (const auto& s : j.at("seqs")) {
    train::TrainExample ex;
    ex.ids = s.at("ids").get<std::vector<int32_t>>();
    ex.mask = s.at("mask").get<std::vector<uint8_t>>();
    rows.push_back(std::move(ex));
  }
  return rows;
}

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream(path) << j.dump(1) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) return fail("usage: grads|train MODEL.gguf ADAPTER DATA.json OUT_DIR [STEPS LR [MAX_GRAD_NORM WEIGHT_DECAY]]");
  const std::string cmd = argv[1], out = argv[5];
  auto model = LlamaModel::load(argv[2]);
  if (!model) return fail(model.error().to_string());
  const ModelConfig& c = (*model)->config();
  auto ad = load_adapter(argv[3], c);
  if (!ad) return fail(ad.error().to_string());
  const auto rows = read_data(argv[4]);
  std::filesystem::create_directories(out);
  ThreadPool pool(0);

  if (cmd == "grads") {
    const train::LoraSet<float> params = train::from_adapter(ad->adapter);
    train::LoraSet<float> grads = train::LoraSet<float>::zeros_like(params);
    std::vector<train::TrainSeq> seqs;
    int64_t labels = 0;
    for (const auto& r : rows) {
      seqs.push_back({r.ids, r.mask});
      labels += r.trained();
    }
    train::TrainGraph<float> g(**model, pool);
    const train::LossSum l = g.run(seqs, params, &grads, 1.0 / static_cast<double>(labels));
    write_json(out + "/loss.json", {{"loss", l.sum / static_cast<double>(l.count)}, {"labels", l.count}});
    AdapterMeta meta = ad->meta;
    LoraAdapter ga = train::to_adapter(grads, "grads");
    if (auto st = save_peft_adapter(out + "/grads", ga, meta, c); !st) return fail(st.error().to_string());
    return 0;
  }
  if (cmd == "train" && argc >= 8) {
    train::TrainConfig cfg;
    cfg.output_dir = out + "/run";
    cfg.resume = false;
    cfg.seed = 1;
    int rank = 0;
    unsigned targets = 0;
    for (const auto& layer : ad->adapter.layers)
      for (int t = 0; t < kLoraTargets; ++t)
        if (layer[static_cast<size_t>(t)].present()) {
          rank = layer[static_cast<size_t>(t)].rank;
          targets |= 1u << t;
        }
    cfg.lora.rank = rank;
    cfg.lora.alpha = static_cast<double>(ad->adapter.scale) * rank;
    cfg.lora.targets = targets;
    cfg.optim.lr = std::stod(argv[7]);
    cfg.optim.schedule = train::LrSchedule::kConstant;
    cfg.optim.max_grad_norm = argc > 8 ? std::stod(argv[8]) : 1.0;
    cfg.optim.weight_decay = argc > 9 ? std::stod(argv[9]) : 0.0;
    cfg.optim.batch_size = static_cast<int>(rows.size());  // full batch: one optimizer step per epoch
    cfg.optim.max_steps = std::stoll(argv[6]);
    cfg.checkpoint_every = 0;
    cfg.gradient_checkpointing = false;
    cfg.precision = argc > 10 ? argv[10] : "f32";
    train::Trainer t(cfg, **model, rows, {}, pool);
    if (auto st = t.set_initial_adapter(ad->adapter); !st) return fail(st.error().to_string());
    const auto t0 = std::chrono::steady_clock::now();
    auto r = t.run(nullptr);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r) return fail(r.error().to_string());
    // The final adapter's loss on the same batch (what peft must compute with it after export).
    std::vector<train::TrainSeq> seqs;
    for (const auto& row : rows) seqs.push_back({row.ids, row.mask});
    train::TrainGraph<float> g(**model, pool);
    const train::LossSum l = g.run(seqs, t.params(), nullptr, 1.0);
    int64_t tokens = 0;
    for (const auto& row : rows) tokens += static_cast<int64_t>(row.ids.size());
    write_json(out + "/losses.json", {{"losses", r->losses},
                                      {"final_loss", l.sum / static_cast<double>(l.count)},
                                      {"seconds", secs},
                                      {"tokens_per_s", static_cast<double>(tokens) * static_cast<double>(r->steps) / secs},
                                      {"checkpoint", r->last_checkpoint}});
    return 0;
  }
  return fail("unknown command " + cmd);
}
