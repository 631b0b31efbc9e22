// GPU utilisation through NVML: a missing library or one without NVML's functions gives "no GPU"
// with a reason that says which; on a machine with the driver, every GPU reads sensible values.
#include "backend/gpu-monitor.h"

#include <gtest/gtest.h>

namespace cyllm {
namespace {

TEST(GpuMonitor, MissingLibraryIsReportedNotFatal) {
  GpuMonitor m("libcyllm-no-such-nvml.so.1");
  EXPECT_FALSE(m.available());
  EXPECT_NE(m.unavailable_reason().find("libcyllm-no-such-nvml.so.1"), std::string::npos) << m.unavailable_reason();
  EXPECT_TRUE(m.sample().empty());
}

TEST(GpuMonitor, ALibraryWithoutNvmlIsRejected) {
  GpuMonitor m("libz.so.1");  // loads, but is not NVML
  EXPECT_FALSE(m.available());
  EXPECT_NE(m.unavailable_reason().find("lacks the NVML functions"), std::string::npos) << m.unavailable_reason();
}

TEST(GpuMonitor, TheDriverWhenPresent) {
  GpuMonitor m;
  if (!m.available()) {
    EXPECT_FALSE(m.unavailable_reason().empty());
    GTEST_SKIP() << "no NVIDIA driver here: " << m.unavailable_reason();
  }
  const auto gpus = m.sample();
  ASSERT_FALSE(gpus.empty()) << m.unavailable_reason();
  for (const auto& g : gpus) {
    EXPECT_FALSE(g.name.empty());
    EXPECT_LE(g.utilization_pct, 100u);
    EXPECT_GT(g.memory_total, 0u);
    EXPECT_LE(g.memory_used, g.memory_total);
  }
}

}  // namespace
}  // namespace cyllm
