// Learning-rate schedules as HF transformers defines them (get_linear_schedule_with_warmup,
// get_cosine_schedule_with_warmup, constant with warmup): the rate for the update that follows
// `step` completed updates is lr * factor(step), with a linear warmup from 0 over warmup_steps,
// then linear decay to 0 at total_steps, half a cosine to 0, or constant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cyllm::train {

enum class LrSchedule { kConstant, kLinear, kCosine };
std::optional<LrSchedule> parse_lr_schedule(const std::string& name);  // "constant", "linear", "cosine"

struct LrScheduleConfig {
  LrSchedule kind = LrSchedule::kCosine;
  double lr = 2e-4;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
};

double learning_rate(const LrScheduleConfig& c, int64_t step);

}  // namespace cyllm::train
