// The one place that decides which compute backend runs: probes the CPU's kernel ISA and the CUDA
// devices (when the build has the CUDA kernels), and resolves a user's `--device` request.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cyllm {

struct GpuInfo {
  int index = 0;
  std::string name;
  std::string compute_capability;  // e.g. "90"
  size_t total_bytes = 0;
  size_t free_bytes = 0;
};

struct DeviceReport {
  std::string cpu_isa;   // kernel ISA in use: scalar, avx2, avx512
  int cpu_threads = 1;
  bool cuda_built = false;
  std::vector<GpuInfo> gpus;
  std::string cuda_note;  // why no GPU is usable, when none is
  // What the CUDA backend of this build offers (empty without CUDA): the kernels compiled in
  // (kernels/cuda-ops.h) and the weight types they decode. The CUDA forward pass
  // (backend/cuda-forward.h) exists but is not chosen yet: it has not been verified on a GPU.
  std::vector<std::string> cuda_ops;
  std::vector<std::string> cuda_weight_types;
};

DeviceReport probe_devices();

enum class DeviceKind { kCpu, kCuda };

struct DeviceChoice {
  DeviceKind kind = DeviceKind::kCpu;
  std::string note;  // one line for the user when the request could not be honoured as asked
};

// requested: "auto" (CUDA when usable, else CPU), "cpu" or "cuda". An unknown value is an error
// reported through note with kind CPU; callers validate first with is_valid_device_name().
DeviceChoice choose_device(std::string_view requested);
bool is_valid_device_name(std::string_view name);

}  // namespace cyllm
