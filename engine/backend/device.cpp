#include "backend/device.h"

#include <thread>

#include "backend/quant.h"

#ifdef CYLLM_HAVE_CUDA
#include "cuda-ops.h"
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
  r.cuda_ops = {"matvec (quantized GGUF blocks, f32 accumulation)",
                "dequantize (f32/f16/bf16) + cuBLAS GEMM (prefill)",
                "rmsnorm",
                "rope (normal, neox)",
                "silu_mul",
                "kv_write (paged f16 cache)",
                "attention_decode (split-K)",
                "attention_prefill (tiled causal)",
                "sampling (greedy, temperature, top-k, top-p, min-p)",
                "lora (grouped shrink/expand over mixed-adapter rows)"};
  for (uint32_t id = 0; id < 64; ++id) {
    const TypeTraits* t = type_traits(id);
    if (t && cuda::weight_type_supported(t->type)) r.cuda_weight_types.emplace_back(t->name);
  }
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
  // The CUDA kernels and forward pass (backend/cuda-forward.h) are written but not yet verified on
  // a GPU nor wired into the scheduler (issue "CUDA backend"); say so instead of pretending.
  c.note = "GPU " + r.gpus.front().name + " found, but the CUDA backend is not enabled yet; running on the CPU";
  return c;
}

}  // namespace cyllm
