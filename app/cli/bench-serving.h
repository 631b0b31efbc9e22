// `cyllm bench --concurrency N`: the serving scheduler under N concurrent streams.
#pragma once

#include <nlohmann/json.hpp>

#include "cli/session.h"

namespace cyllm::cli {

struct ServingBenchOptions {
  int concurrency = 8;
  int prompt_tokens = 128;
  int gen_tokens = 128;
  int shared_prefix_tokens = 1024;
  int adapters = 0;      // > 0: also run the N streams with this many random LoRA adapters, round robin
  int adapter_rank = 16;  // on all seven projections
  // Rounds of single / N streams (/ mixed adapters), run one after another so a busy machine
  // slows both sides of each ratio alike; ratios are per round, the median reported.
  int rounds = 3;
};

// Runs single-stream and N-stream decode through the scheduler, and the shared-prefix TTFT test
// (cache cold vs warm); returns the JSON report.
nlohmann::json run_serving_bench(LoadedModel& lm, const ServingBenchOptions& o);

}  // namespace cyllm::cli
