#include "cli/train-progress.h"

#include <cstdio>

namespace cyllm::cli {

std::string format_duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

void draw_train_bar(const train::TrainEvent& e, const std::optional<double>& eval, const std::string& prefix) {
  constexpr int kWidth = 24;
  const double frac = e.total_steps > 0 ? static_cast<double>(e.step) / static_cast<double>(e.total_steps) : 0.0;
  const int filled = static_cast<int>(frac * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '-');
  char ev[32] = "";
  if (eval) std::snprintf(ev, sizeof ev, " eval %.4f", *eval);
  char gpu[64] = "";
  if (!e.gpus.empty())  // the first GPU: utilisation and memory
    std::snprintf(gpu, sizeof gpu, " GPU %u%% %.1f/%.0f GiB", e.gpus[0].utilization_pct,
                  static_cast<double>(e.gpus[0].memory_used) / (1u << 30),
                  static_cast<double>(e.gpus[0].memory_total) / (1u << 30));
  std::fprintf(stderr, "\r%s[%s] %lld/%lld loss %.4f%s lr %.2e gnorm %.3f %.0f tok/s%s ETA %s   ", prefix.c_str(),
               bar.c_str(), static_cast<long long>(e.step), static_cast<long long>(e.total_steps), e.loss, ev, e.lr,
               e.grad_norm, e.tokens_per_s, gpu, format_duration(e.eta_s).c_str());
  std::fflush(stderr);
}

}  // namespace cyllm::cli
