// Property 23 — alert threshold triggering: an alert fires once when its threshold is crossed,
// not again until the value recovers, and again after a new crossing.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/alerts.h"

namespace cyllm {
namespace {

RC_GTEST_PROP(P23AlertThresholds, FiresOncePerCrossing, ()) {
  const double threshold = *rc::gen::inRange(0, 100);
  const double hyst = *rc::gen::inRange(0, 10);
  Alerts alerts({{"queue_depth_high", threshold, hyst}, {"other", 1e9, 0}});
  const auto values = *rc::gen::container<std::vector<int>>(rc::gen::inRange(-20, 130));
  bool firing = false;  // reference state machine
  uint64_t crossings = 0;
  for (int v : values) {
    bool fire = false, recover = false;
    if (!firing && v > threshold) {
      firing = fire = true;
      ++crossings;
    } else if (firing && v <= threshold - hyst) {
      firing = false;
      recover = true;
    }
    const auto ev = alerts.observe("queue_depth_high", v);
    RC_ASSERT(ev.size() == static_cast<size_t>(fire || recover));
    if (!ev.empty()) {
      RC_ASSERT(ev[0].firing == fire);
      RC_ASSERT(ev[0].value == v);
    }
    RC_ASSERT(alerts.firing("queue_depth_high") == firing);
  }
  RC_ASSERT(alerts.fired_count("queue_depth_high") == crossings);
  RC_ASSERT(alerts.fired_count("other") == 0u);  // rules are independent
}

}  // namespace
}  // namespace cyllm
