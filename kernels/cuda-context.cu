// Context (device, stream, cuBLAS handle), device memory, copies and error conversion.
#include "cuda-context.h"

#include <string>
#include <utility>

namespace cyllm::cuda {

namespace {

std::string mib(size_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }

const char* cublas_name(cublasStatus_t st) {
  switch (st) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "cuBLAS error";
  }
}

}  // namespace

Status cuda_status(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return {};
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  std::string msg = std::string(what) + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
  switch (err) {
    case cudaErrorMemoryAllocation: {
      size_t free_b = 0, total_b = 0;
      if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
        msg += "; " + mib(free_b) + " free of " + mib(total_b);
      else
        cudaGetLastError();
      return make_error(ErrorCode::kOutOfMemory, "GPU out of memory: " + msg,
                        "Use a smaller context or fewer parallel sequences, or run with --device cpu.");
    }
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorInvalidDevice:
      return make_error(ErrorCode::kUnsupported, "no usable GPU: " + msg, "Run with --device cpu.");
    default:
      return make_error(ErrorCode::kInternal, "CUDA error in " + msg);
  }
}

Status cublas_status(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return {};
  const std::string msg = std::string(what) + ": " + cublas_name(st);
  if (st == CUBLAS_STATUS_ALLOC_FAILED)
    return make_error(ErrorCode::kOutOfMemory, "GPU out of memory in cuBLAS: " + msg,
                      "Use a smaller prefill batch or context, or run with --device cpu.");
  if (st == CUBLAS_STATUS_NOT_SUPPORTED || st == CUBLAS_STATUS_ARCH_MISMATCH)
    return make_error(ErrorCode::kUnsupported, "cuBLAS cannot run this: " + msg);
  return make_error(ErrorCode::kInternal, "cuBLAS error in " + msg);
}

Status launch_status(const char* kernel) { return cuda_status(cudaGetLastError(), kernel); }

// ---- context -------------------------------------------------------------------------------------

void ContextDeleter::operator()(Context* c) const {
  if (c == nullptr) return;
  cudaSetDevice(c->device);
  if (c->stream) cudaStreamSynchronize(c->stream);
  if (c->blas) cublasDestroy(c->blas);
  if (c->stream) cudaStreamDestroy(c->stream);
  cudaGetLastError();
  delete c;
}

std::string no_device_reason() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(err);
  }
  if (n <= 0) return "cudaGetDeviceCount found no CUDA device";
  return {};
}

Result<ContextPtr> create_context(int device) {
  const std::string why = no_device_reason();
  if (!why.empty()) return make_error(ErrorCode::kUnsupported, "no usable GPU: " + why, "Run with --device cpu.");
  ContextPtr ctx(new Context);
  ctx->device = device;
  if (Status st = cuda_status(cudaSetDevice(device), "cudaSetDevice"); !st.ok()) return st.error();
  if (Status st = cuda_status(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking), "cudaStreamCreate");
      !st.ok())
    return st.error();
  if (Status st = cublas_status(cublasCreate(&ctx->blas), "cublasCreate"); !st.ok()) return st.error();
  if (Status st = cublas_status(cublasSetStream(ctx->blas, ctx->stream), "cublasSetStream"); !st.ok())
    return st.error();
  return std::move(ctx);
}

int context_device(const Context& ctx) { return ctx.device; }

Status use_context_device(Context& ctx) { return cuda_status(cudaSetDevice(ctx.device), "cudaSetDevice"); }

Status memory_info(size_t* free_bytes, size_t* total_bytes) {
  return cuda_status(cudaMemGetInfo(free_bytes, total_bytes), "cudaMemGetInfo");
}

Status synchronize(Context& ctx) { return cuda_status(cudaStreamSynchronize(ctx.stream), "cudaStreamSynchronize"); }

// ---- memory --------------------------------------------------------------------------------------

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

Result<DeviceBuffer> DeviceBuffer::allocate(size_t bytes, const std::string& what) {
  DeviceBuffer b;
  if (bytes == 0) return std::move(b);
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, bytes);
  if (err != cudaSuccess) {
    const std::string label = "allocating " + mib(bytes) + " for " + what;
    return cuda_status(err, label.c_str()).error();
  }
  b.ptr_ = p;
  b.bytes_ = bytes;
  return std::move(b);
}

// Every copy is ordered on the context's stream. Host -> device also waits for the copy, so the
// host buffer (pageable or not) may be reused at once: simple and safe; the per-step uploads are
// small. TODO(perf): pinned staging and a single upload per step, then CUDA graphs.
Status copy_to_device(Context& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return {};
  CYLLM_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.stream), "cudaMemcpyAsync(host->device)");
  return cuda_status(cudaStreamSynchronize(ctx.stream), "cudaStreamSynchronize after host->device copy");
}

Status copy_to_host(Context& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return {};
  CYLLM_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx.stream), "cudaMemcpyAsync(device->host)");
  return cuda_status(cudaStreamSynchronize(ctx.stream), "cudaStreamSynchronize after device->host copy");
}

Status copy_device(Context& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return {};
  return cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx.stream),
                     "cudaMemcpyAsync(device->device)");
}

Status memset_device(Context& ctx, void* dst, int value, size_t bytes) {
  if (bytes == 0) return {};
  return cuda_status(cudaMemsetAsync(dst, value, bytes, ctx.stream), "cudaMemsetAsync");
}

bool weight_type_supported(GgmlType t) {
  switch (t) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q5_0:
    case GgmlType::Q5_1:
    case GgmlType::Q8_0:
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

}  // namespace cyllm::cuda
