// GPU utilisation for the workbench and the trainer's reports, read through NVML (the driver's
// management library) when it is installed. The library is opened at run time with dlopen: the
// build needs no NVML headers or libraries (the CUDA toolkit here ships neither), and a machine
// without an NVIDIA driver simply reports "no GPU" with the reason. Qt-free and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cyllm {

struct GpuSample {
  int index = 0;
  std::string name;
  unsigned utilization_pct = 0;  // kernels running, % of the last sample period (1/6 s to 1 s)
  unsigned memory_busy_pct = 0;  // device memory read or written, same period
  uint64_t memory_used = 0, memory_total = 0;  // bytes
};

class GpuMonitor {
 public:
  // library: the NVML shared object to open (tests pass a missing one).
  explicit GpuMonitor(const std::string& library = "libnvidia-ml.so.1");
  ~GpuMonitor();
  GpuMonitor(const GpuMonitor&) = delete;
  GpuMonitor& operator=(const GpuMonitor&) = delete;

  bool available() const;
  // Why no GPU can be read ("" when available).
  const std::string& unavailable_reason() const { return reason_; }
  // One sample per GPU now (empty when unavailable or a read failed; reason says why).
  std::vector<GpuSample> sample();

 private:
  struct Api;
  std::unique_ptr<Api> api_;
  std::string reason_;
};

}  // namespace cyllm
