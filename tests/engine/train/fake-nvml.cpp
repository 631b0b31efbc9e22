// A stand-in for the NVIDIA management library (libnvidia-ml.so.1) with the functions
// backend/gpu-monitor.cpp opens: one GPU named "Fake GPU" at 42% utilisation, 7% memory busy,
// 1 GiB of 80 GiB used. Lets trainer tests check the GPU fields of progress events on machines
// without a driver.
#include <cstring>

extern "C" {
int nvmlInit_v2() { return 0; }
int nvmlShutdown() { return 0; }
const char* nvmlErrorString(int) { return "fake NVML error"; }
int nvmlDeviceGetCount_v2(unsigned int* n) {
  *n = 1;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void** d) {
  static int dev;
  if (i != 0) return 2;
  *d = &dev;
  return 0;
}
int nvmlDeviceGetName(void*, char* name, unsigned int len) {
  std::strncpy(name, "Fake GPU", len);
  return 0;
}
struct Utilization {
  unsigned int gpu, memory;
};
int nvmlDeviceGetUtilizationRates(void*, Utilization* u) {
  u->gpu = 42;
  u->memory = 7;
  return 0;
}
struct Memory {
  unsigned long long total, free, used;
};
int nvmlDeviceGetMemoryInfo(void*, Memory* m) {
  m->total = 80ull << 30;
  m->used = 1ull << 30;
  m->free = m->total - m->used;
  return 0;
}
}
