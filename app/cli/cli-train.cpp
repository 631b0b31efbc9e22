// `cyllm train CONFIG.json [--json-progress] [--threads N]`: LoRA fine-tuning on the CPU
// (engine/train/trainer.h). The config is validated up front and every problem is printed with
// its path (exit 2). A progress bar with the live loss goes to stderr; --json-progress writes one
// JSON object per event on stdout. Ctrl-C stops after the current step and saves a checkpoint;
// running the same command again resumes from it.
//
// `cyllm train --bench -m MODEL [--rank R] [--batch B] [--seq S] [--steps N]` measures training
// throughput on random tokens (LoRA on all seven projections) and prints one JSON object.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/train-progress.h"
#include "train/train-gemm-bf16.h"
#include "train/trainer.h"

namespace cyllm::cli {

namespace {

constexpr const char* kUsage =
    "usage: cyllm train CONFIG.json [--json-progress] [--threads N]\n"
    "       cyllm train --bench -m MODEL.gguf [--rank R] [--batch B] [--seq S] [--steps N] [--threads N]\n"
    "                           [--no-checkpointing] [--precision f32|bf16]\n"
    "\n"
    "Fine-tunes a LoRA adapter as CONFIG.json says (model, dataset, output_dir, lora, optim, eval,\n"
    "early_stopping, checkpoint; see docs/ARCHITECTURE.md, \"Trainer\"). Checkpoints go to\n"
    "<output_dir>/checkpoints; a second run resumes from the newest intact one. Ctrl-C saves and stops.\n"
    "  --json-progress  one JSON object per progress event on stdout\n"
    "  --bench          throughput on random tokens, r=R on q,k,v,o,gate,up,down (JSON on stdout)\n"
    "  --no-checkpointing  with --bench: keep every layer's activations (faster, more memory)\n"
    "  --precision P    with --bench: f32 (default) or bf16 (base-weight products in bf16; needs\n"
    "                   AVX512-BF16), as the config's \"precision\"\n";

std::atomic<bool> g_cancel{false};
void on_sigint(int) { g_cancel = true; }

double peak_rss_mb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

int run_bench(Args& a) {
  auto model_path = a.get("--model");
  if (!model_path) {
    std::fprintf(stderr, "cyllm train --bench: give -m MODEL\n");
    return 2;
  }
  const int rank = static_cast<int>(a.get_int("--rank", 16));
  const int batch = static_cast<int>(a.get_int("--batch", 8));
  const int seq = static_cast<int>(a.get_int("--seq", 512));
  const int steps = static_cast<int>(a.get_int("--steps", 3));
  const int threads = static_cast<int>(a.get_int("--threads", 0));
  if (!a.ok() || rank < 1 || batch < 1 || seq < 2 || steps < 1) {
    std::fprintf(stderr, "cyllm train --bench: bad option: %s\n", a.error().c_str());
    return 2;
  }
  auto model = LlamaModel::load(*model_path);
  if (!model) {
    std::fprintf(stderr, "cyllm train: %s\n", model.error().to_string().c_str());
    return 2;
  }
  ThreadPool pool(threads);
  std::mt19937 rng(1);
  std::vector<train::TrainExample> rows(static_cast<size_t>(batch) * (steps + 1));
  for (auto& r : rows) {
    r.ids.resize(static_cast<size_t>(seq));
    r.mask.assign(static_cast<size_t>(seq), 1);
    for (auto& id : r.ids) id = static_cast<int32_t>(rng() % static_cast<uint32_t>((*model)->config().n_vocab));
  }
  train::TrainConfig cfg;
  cfg.output_dir = (std::filesystem::temp_directory_path() / ("cyllm-train-bench-" + std::to_string(::getpid()))).string();
  cfg.resume = false;
  cfg.lora.rank = rank;
  cfg.lora.alpha = 2.0 * rank;
  cfg.optim.batch_size = batch;
  cfg.optim.max_steps = steps + 1;  // the first step warms up (allocations, page faults)
  cfg.gradient_checkpointing = !a.flag("--no-checkpointing");
  cfg.precision = a.get("--precision").value_or("f32");
  if (cfg.precision != "f32" && cfg.precision != "bf16") {
    std::fprintf(stderr, "cyllm train --bench: --precision must be f32 or bf16\n");
    return 2;
  }
  if (cfg.precision == "bf16" && !train::bf16_gemm_available()) {
    std::fprintf(stderr, "cyllm train --bench: bf16 needs a CPU with AVX512-BF16 and this one has none\n");
    return 2;
  }
  train::Trainer t(cfg, **model, std::move(rows), {}, pool);
  std::vector<double> step_s;
  auto last = std::chrono::steady_clock::now();
  auto r = t.run([&](const train::TrainEvent& e) {
    if (e.kind != train::TrainEvent::Kind::kStep) return;
    const auto now = std::chrono::steady_clock::now();
    step_s.push_back(std::chrono::duration<double>(now - last).count());
    last = now;
    std::fprintf(stderr, "step %lld: %.2f s, loss %.4f\n", static_cast<long long>(e.step), step_s.back(), e.loss);
  });
  std::filesystem::remove_all(cfg.output_dir);
  if (!r) {
    std::fprintf(stderr, "cyllm train: %s\n", r.error().to_string().c_str());
    return 1;
  }
  double timed = 0;
  for (size_t i = 1; i < step_s.size(); ++i) timed += step_s[i];
  const double tokens = static_cast<double>(batch) * seq * static_cast<double>(step_s.size() - 1);
  nlohmann::ordered_json j;
  j["model"] = *model_path;
  j["rank"] = rank;
  j["targets"] = "q,k,v,o,gate,up,down";
  j["batch"] = batch;
  j["seq"] = seq;
  j["threads"] = pool.size();
  j["steps_timed"] = static_cast<int>(step_s.size()) - 1;
  j["gradient_checkpointing"] = cfg.gradient_checkpointing;
  j["precision"] = cfg.precision;
  j["tokens_per_s"] = timed > 0 ? tokens / timed : 0.0;
  // Model FLOPs as the issue counts them (6 N per token, N = every weight matrix's elements, the
  // tied embedding once) against the measured peak multiply-add rate of this CPU's cores.
  double n_params = 0;
  const ModelWeights& W = (*model)->weights();
  auto count = [&](const WeightRef& w) { n_params += w.present() ? static_cast<double>(w.ne0) * w.ne1 : 0.0; };
  count(W.token_embd);
  if (W.output.data != W.token_embd.data) count(W.output);
  for (const LayerWeights& L : W.layers)
    for (const WeightRef* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) count(*w);
  const double model_flops = 6.0 * n_params * (timed > 0 ? tokens / timed : 0.0);
  const double peak = train::measured_core_peak_flops(cfg.precision == "bf16") * pool.size();
  j["params"] = n_params;
  j["model_gflops_per_s"] = model_flops / 1e9;
  j["peak_gflops_per_s"] = peak / 1e9;  // measured: cores x one core's 512-bit FMA or vdpbf16ps rate
  j["fraction_of_peak"] = peak > 0 ? model_flops / peak : 0.0;
  j["step_s"] = timed / static_cast<double>(std::max<size_t>(1, step_s.size() - 1));
  j["peak_rss_mb"] = peak_rss_mb();
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace

int cmd_train(int argc, char** argv) {
  Args a(argc, argv, {"--threads", "--model", "--rank", "--batch", "--seq", "--steps", "--precision"},
         {"--json-progress", "--bench", "--no-checkpointing", "--help"}, {{"-h", "--help"}, {"-m", "--model"}, {"-t", "--threads"}});
  if (!a.ok()) {
    std::fprintf(stderr, "cyllm train: %s\n\n%s", a.error().c_str(), kUsage);
    return 2;
  }
  if (a.flag("--help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (a.flag("--bench")) return run_bench(a);
  if (a.positionals().size() != 1) {
    std::fprintf(stderr, "cyllm train: give one CONFIG.json\n\n%s", kUsage);
    return 2;
  }
  std::string text;
  if (!read_input(a.positionals()[0], &text)) {
    std::fprintf(stderr, "cyllm train: cannot read %s\n", a.positionals()[0].c_str());
    return 2;
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    std::fprintf(stderr, "cyllm train: %s is not valid JSON\n", a.positionals()[0].c_str());
    return 2;
  }
  train::TrainConfig cfg;
  const auto problems = train::parse_train_config(j, &cfg);
  if (!problems.empty()) {
    std::fprintf(stderr, "cyllm train: %zu problem%s in %s:\n%s", problems.size(), problems.size() == 1 ? "" : "s",
                 a.positionals()[0].c_str(), ConfigSchema::format(problems).c_str());
    return 2;
  }
  if (cfg.device == "cuda")
    std::fprintf(stderr, "cyllm train: the CUDA trainer is not built yet; training on the CPU\n");
  const long long threads = a.get_int("--threads", cfg.threads);
  ThreadPool pool(static_cast<int>(threads));
  auto trainer = train::Trainer::create(cfg, pool);
  if (!trainer) {
    std::fprintf(stderr, "cyllm train: %s\n", trainer.error().to_string().c_str());
    return 2;
  }
  std::fprintf(stderr, "training %zu rows (%zu eval) for %lld steps on %d threads\n", (*trainer)->train_rows(),
               (*trainer)->eval_rows(), static_cast<long long>((*trainer)->total_steps()), pool.size());
  std::signal(SIGINT, on_sigint);
  const bool json = a.flag("--json-progress");
  std::optional<double> eval;
  bool bar_open = false;
  auto r = (*trainer)->run(
      [&](const train::TrainEvent& e) {
        if (e.eval_loss) eval = e.eval_loss;
        if (json) {
          std::printf("%s\n", train::to_json(e).dump().c_str());
          std::fflush(stdout);
        }
        if (e.kind == train::TrainEvent::Kind::kStep || e.kind == train::TrainEvent::Kind::kEval) {
          draw_train_bar(e, eval);
          bar_open = true;
        } else if (e.kind != train::TrainEvent::Kind::kDone) {
          if (bar_open) std::fputc('\n', stderr);
          bar_open = false;
          const char* what = e.kind == train::TrainEvent::Kind::kCheckpoint ? "checkpoint"
                             : e.kind == train::TrainEvent::Kind::kResumed  ? "resume"
                                                                            : "note";
          std::fprintf(stderr, "%s: %s\n", what, e.message.c_str());
        }
      },
      &g_cancel);
  if (bar_open) std::fputc('\n', stderr);
  std::signal(SIGINT, SIG_DFL);
  if (!r) {
    std::fprintf(stderr, "cyllm train: %s\n", r.error().to_string().c_str());
    return 1;
  }
  std::fprintf(stderr, "done: %lld steps, loss %.4f%s, %s; adapter in %s\n", static_cast<long long>(r->steps),
               r->last_loss, r->best_eval_loss ? (", best eval " + std::to_string(*r->best_eval_loss)).c_str() : "",
               r->stop_reason.c_str(), r->last_checkpoint.c_str());
  return r->stop_reason == "cancelled" ? 130 : 0;
}

}  // namespace cyllm::cli
