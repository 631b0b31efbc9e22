// What CUDA devices this process can use. Plain C++ API (no CUDA types), so engine code can call it
// without including CUDA headers.
#pragma once

#include <string>
#include <vector>

namespace cyllm::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  size_t total_bytes = 0;
  size_t free_bytes = 0;
};

// Empty with `why` set when there is no usable device or driver.
std::vector<DeviceInfo> list_devices(std::string* why);

}  // namespace cyllm::cuda
