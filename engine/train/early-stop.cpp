#include "train/early-stop.h"

#include <cmath>

namespace cyllm {

bool EarlyStopping::update(double eval_loss) {
  if (stopped_) return true;
  if (cfg_.stop_at_loss && eval_loss <= *cfg_.stop_at_loss) return stopped_ = true;
  // NaN never improves (and counts against patience); the first finite loss always does.
  if (!std::isnan(eval_loss) && (std::isinf(best_) || eval_loss < best_ - cfg_.min_delta)) {
    best_ = eval_loss;
    bad_ = 0;
    return false;
  }
  ++bad_;
  if (cfg_.patience > 0 && bad_ >= cfg_.patience) stopped_ = true;
  return stopped_;
}

}  // namespace cyllm
