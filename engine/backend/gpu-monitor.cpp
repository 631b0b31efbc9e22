#include "backend/gpu-monitor.h"

#include <dlfcn.h>

#include <mutex>

namespace cyllm {

// The few NVML entry points used, with the documented C signatures (NVML API reference):
// nvmlReturn_t is an int (0 = NVML_SUCCESS), nvmlDevice_t an opaque pointer.
namespace {
using NvmlDevice = void*;
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct NvmlMemory {
  unsigned long long total, free, used;
};
}  // namespace

struct GpuMonitor::Api {
  void* lib = nullptr;
  std::mutex mu;
  int (*init)() = nullptr;
  int (*shutdown)() = nullptr;
  int (*count)(unsigned int*) = nullptr;
  int (*handle)(unsigned int, NvmlDevice*) = nullptr;
  int (*utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  int (*memory)(NvmlDevice, NvmlMemory*) = nullptr;
  int (*name)(NvmlDevice, char*, unsigned int) = nullptr;
  const char* (*error)(int) = nullptr;
  std::string why(int rc) const { return error ? error(rc) : "NVML error " + std::to_string(rc); }
};

GpuMonitor::GpuMonitor(const std::string& library) {
  void* lib = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = ::dlerror();
    reason_ = "no NVIDIA driver management library (" + library + (e ? std::string("): ") + e : std::string(")"));
    return;
  }
  auto api = std::make_unique<Api>();
  api->lib = lib;
  auto sym = [&](auto& fn, const char* n) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, n));
    return fn != nullptr;
  };
  sym(api->error, "nvmlErrorString");
  if (!sym(api->init, "nvmlInit_v2") || !sym(api->shutdown, "nvmlShutdown") || !sym(api->count, "nvmlDeviceGetCount_v2") ||
      !sym(api->handle, "nvmlDeviceGetHandleByIndex_v2") || !sym(api->utilization, "nvmlDeviceGetUtilizationRates") ||
      !sym(api->memory, "nvmlDeviceGetMemoryInfo") || !sym(api->name, "nvmlDeviceGetName")) {
    reason_ = library + " lacks the NVML functions needed";
    ::dlclose(lib);
    return;
  }
  if (const int rc = api->init(); rc != 0) {
    reason_ = "NVML did not start: " + api->why(rc);
    ::dlclose(lib);
    return;
  }
  api_ = std::move(api);
}

GpuMonitor::~GpuMonitor() {
  if (!api_) return;
  api_->shutdown();
  ::dlclose(api_->lib);
}

bool GpuMonitor::available() const { return api_ != nullptr; }

std::vector<GpuSample> GpuMonitor::sample() {
  std::vector<GpuSample> out;
  if (!api_) return out;
  std::lock_guard lk(api_->mu);
  unsigned int n = 0;
  if (const int rc = api_->count(&n); rc != 0) {
    reason_ = "NVML cannot count the GPUs: " + api_->why(rc);
    return out;
  }
  if (n == 0) reason_ = "the NVIDIA driver reports no GPU";
  for (unsigned int i = 0; i < n; ++i) {
    NvmlDevice d = nullptr;
    if (api_->handle(i, &d) != 0) continue;
    GpuSample s;
    s.index = static_cast<int>(i);
    char name[96] = {};
    if (api_->name(d, name, sizeof name) == 0) s.name = name;
    NvmlUtilization u{};
    if (api_->utilization(d, &u) == 0) {  // not supported on MIG instances: left at 0
      s.utilization_pct = u.gpu;
      s.memory_busy_pct = u.memory;
    }
    NvmlMemory m{};
    if (api_->memory(d, &m) == 0) {
      s.memory_used = m.used;
      s.memory_total = m.total;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace cyllm
