// The training progress line on stderr shared by `cyllm train` and `cyllm jobs run`: a bar with
// step / total, live loss, last eval loss, learning rate, grad norm, tokens/s and ETA, redrawn in
// place ("\r").
#pragma once

#include <optional>
#include <string>

#include "train/trainer.h"

namespace cyllm::cli {

// "1h02m" / "3m07s"; "?" when unknown.
std::string format_duration(double seconds);
// Draws the bar for a step or eval event; prefix (e.g. "job 3 ") goes before it.
void draw_train_bar(const train::TrainEvent& e, const std::optional<double>& eval, const std::string& prefix = {});

}  // namespace cyllm::cli
