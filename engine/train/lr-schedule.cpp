#include "train/lr-schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cyllm::train {

std::optional<LrSchedule> parse_lr_schedule(const std::string& name) {
  if (name == "constant") return LrSchedule::kConstant;
  if (name == "linear") return LrSchedule::kLinear;
  if (name == "cosine") return LrSchedule::kCosine;
  return std::nullopt;
}

double learning_rate(const LrScheduleConfig& c, int64_t step) {
  if (step < c.warmup_steps) return c.lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, c.warmup_steps));
  if (c.kind == LrSchedule::kConstant) return c.lr;
  const double span = static_cast<double>(std::max<int64_t>(1, c.total_steps - c.warmup_steps));
  const double progress = static_cast<double>(step - c.warmup_steps) / span;
  if (c.kind == LrSchedule::kLinear) return c.lr * std::max(0.0, 1.0 - progress);
  return c.lr * std::max(0.0, 0.5 * (1.0 + std::cos(std::numbers::pi * progress)));
}

}  // namespace cyllm::train
