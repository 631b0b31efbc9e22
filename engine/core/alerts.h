// Threshold alerts (queue depth, KV usage, GPU utilisation): an alert fires once when its value
// crosses the threshold, stays quiet while the value remains beyond it, and can fire again only
// after the value has recovered (Property 23). Recovery has an optional hysteresis so a value
// hovering at the threshold does not flap.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace cyllm {

struct AlertRule {
  std::string name;        // e.g. "queue_depth_high"
  double threshold = 0;    // fires when value > threshold
  double hysteresis = 0;   // recovered when value <= threshold - hysteresis
};

struct AlertEvent {
  std::string name;
  double value;
  double threshold;
  bool firing;  // true: crossed; false: recovered
};

class Alerts {
 public:
  explicit Alerts(std::vector<AlertRule> rules);
  // Feeds the current value of rule `name`; returns the event this value caused, if any.
  std::vector<AlertEvent> observe(const std::string& name, double value);
  bool firing(const std::string& name) const;
  uint64_t fired_count(const std::string& name) const;
  std::vector<std::string> active() const;

 private:
  struct State {
    AlertRule rule;
    bool firing = false;
    uint64_t fired = 0;
  };
  mutable std::mutex mu_;
  std::vector<State> states_;
};

}  // namespace cyllm
