#include "core/alerts.h"

namespace cyllm {

Alerts::Alerts(std::vector<AlertRule> rules) {
  for (auto& r : rules) states_.push_back({std::move(r), false, 0});
}

std::vector<AlertEvent> Alerts::observe(const std::string& name, double value) {
  std::lock_guard lock(mu_);
  std::vector<AlertEvent> out;
  for (auto& s : states_) {
    if (s.rule.name != name) continue;
    if (!s.firing && value > s.rule.threshold) {
      s.firing = true;
      ++s.fired;
      out.push_back({name, value, s.rule.threshold, true});
    } else if (s.firing && value <= s.rule.threshold - s.rule.hysteresis) {
      s.firing = false;
      out.push_back({name, value, s.rule.threshold, false});
    }
  }
  return out;
}

bool Alerts::firing(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& s : states_)
    if (s.rule.name == name) return s.firing;
  return false;
}

uint64_t Alerts::fired_count(const std::string& name) const {
  std::lock_guard lock(mu_);
  for (const auto& s : states_)
    if (s.rule.name == name) return s.fired;
  return 0;
}

std::vector<std::string> Alerts::active() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& s : states_)
    if (s.firing) out.push_back(s.rule.name);
  return out;
}

}  // namespace cyllm
