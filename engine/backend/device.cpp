#include "backend/device.h"

#include <thread>

#include "backend/quant.h"

#ifdef CYLLM_HAVE_CUDA
#include "device-info.h"
#endif

namespace cyllm {

DeviceReport probe_devices() {
  DeviceReport r;
  r.cpu_isa = std::string(cpu::isa_name(cpu::active_isa()));
  r.cpu_threads = static_cast<int>(std::thread::hardware_concurrency());
#ifdef CYLLM_HAVE_CUDA
  r.cuda_built = true;
  std::string why;
  for (const auto& d : cuda::list_devices(&why))
    r.gpus.push_back({d.index, d.name, std::to_string(d.cc_major) + std::to_string(d.cc_minor), d.total_bytes, d.free_bytes});
  if (r.gpus.empty()) r.cuda_note = why.empty() ? "no CUDA device found" : why;
#else
  r.cuda_note = "this build has no CUDA kernels (nvcc was not found at build time)";
#endif
  return r;
}

bool is_valid_device_name(std::string_view name) { return name == "auto" || name == "cpu" || name == "cuda"; }

DeviceChoice choose_device(std::string_view requested) {
  DeviceChoice c;
  if (requested == "cpu") return c;
  if (!is_valid_device_name(requested)) {
    c.note = "unknown device '" + std::string(requested) + "'; using the CPU";
    return c;
  }
  const DeviceReport r = probe_devices();
  if (r.gpus.empty()) {
    if (requested == "cuda") c.note = "no usable GPU (" + r.cuda_note + "); running on the CPU";
    return c;
  }
  // The CUDA forward pass is not implemented yet (issue "CUDA backend"); say so instead of
  // pretending.
  c.note = "GPU " + r.gpus.front().name + " found, but the CUDA backend is not implemented yet; running on the CPU";
  return c;
}

}  // namespace cyllm
