// What the generating subcommands (generate, chat, bench) share: loading a model and its
// tokenizer with a status line on stderr, the device choice, and sampling options.
#pragma once

#include <memory>
#include <string>

#include "cli/args.h"
#include "core/thread-pool.h"
#include "model/inference-context.h"
#include "serve/sampler.h"
#include "text/tokenizer.h"

namespace cyllm::cli {

// Options every generating command accepts (names for Args).
inline const std::set<std::string> kModelValueOpts = {"--model", "--threads", "--ctx", "--device"};
inline const std::map<std::string, std::string> kModelAliases = {{"-m", "--model"}, {"-t", "--threads"},
                                                                 {"-c", "--ctx"}, {"-h", "--help"}};
inline constexpr const char* kModelHelp =
    "  -m, --model PATH     GGUF model file\n"
    "  -t, --threads N      CPU threads (default: all cores)\n"
    "  -c, --ctx N          context length in tokens (default: 4096, at most the model's)\n"
    "      --device D       auto | cpu | cuda (default: auto)\n";

inline const std::set<std::string> kSamplingValueOpts = {"--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty",
                                                         "--presence-penalty", "--frequency-penalty", "--seed"};
inline constexpr const char* kSamplingHelp =
    "      --temp T         temperature, 0 = greedy (default: 0.8)\n"
    "      --top-k K        keep the K most likely tokens (default: 40, 0 = off)\n"
    "      --top-p P        nucleus sampling mass (default: 0.95)\n"
    "      --min-p P        drop tokens below P x the best one's probability (default: 0.05)\n"
    "      --repeat-penalty R, --presence-penalty P, --frequency-penalty F\n"
    "      --seed S         random seed (default: random; printed on stderr)\n";

struct LoadedModel {
  std::unique_ptr<LlamaModel> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<ThreadPool> pool;
  ContextOptions ctx_opts;
  double load_ms = 0;
};

// Loads per the parsed options; on failure prints the error (with what to do) and returns null.
std::unique_ptr<LoadedModel> load_model(const std::string& cmd, Args& args, bool quiet = false);

// Builds sampling parameters from the options; prints an error and returns false when invalid.
bool parse_sampling(const std::string& cmd, Args& args, int n_vocab, SamplingParams& out, bool quiet = false);

}  // namespace cyllm::cli
