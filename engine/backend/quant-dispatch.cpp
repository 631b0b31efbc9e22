// Public entry points of backend/quant.h: run-time ISA detection (with the CYLLM_CPU_ISA override),
// the weight -> activation vec-dot type table, and routing of each call to the AVX-512, AVX2 or
// scalar kernels. A SIMD entry point that has no kernel for a type returns false and the scalar
// reference runs instead, so every (ISA, type) pair works.
#include <cpuid.h>
#include <cstdlib>
#include <string_view>

#include "backend/quant-impl.h"

namespace cyllm::cpu {

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "unknown";
}

namespace {
// F16C through CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports does not know "f16c".
bool cpu_has_f16c() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & (1u << 29)) != 0;
}
}  // namespace

namespace {
bool detect(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case Isa::kAvx512:
      return detect(Isa::kAvx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  }
  return false;
}
}  // namespace

// Detected once: some __builtin_cpu_supports checks (f16c) execute CPUID, which traps to the
// hypervisor in a VM (microseconds), and every kernel call asks.
bool isa_supported(Isa isa) {
  static const bool supported[3] = {detect(Isa::kScalar), detect(Isa::kAvx2), detect(Isa::kAvx512)};
  const auto i = static_cast<unsigned>(isa);
  return i < 3 && supported[i];
}

Isa best_supported_isa() {
  if (isa_supported(Isa::kAvx512)) return Isa::kAvx512;
  if (isa_supported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

Isa active_isa() {
  static const Isa isa = [] {
    const char* env = std::getenv("CYLLM_CPU_ISA");
    if (env != nullptr) {
      const std::string_view v(env);
      for (Isa i : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512})
        if (v == isa_name(i) && isa_supported(i)) return i;
    }
    return best_supported_isa();  // unset, unknown or unsupported: the best this CPU runs
  }();
  return isa;
}

GgmlType vec_dot_type(GgmlType w) {
  switch (w) {
    case GgmlType::Q4_0:
    case GgmlType::Q5_0:
    case GgmlType::Q8_0: return GgmlType::Q8_0;
    case GgmlType::Q4_1:
    case GgmlType::Q5_1: return GgmlType::Q8_1;
    case GgmlType::Q4_K:
    case GgmlType::Q5_K:
    case GgmlType::Q6_K: return GgmlType::Q8_K;
    default: return GgmlType::F32;
  }
}

// An ISA the caller asks for but the CPU lacks falls back to the best one it has, never faults.
static Isa usable(Isa isa) { return isa_supported(isa) ? isa : best_supported_isa(); }

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n, Isa isa) {
  isa = usable(isa);
  if (isa == Isa::kAvx512 && avx512::dequantize_row(t, src, dst, n)) return;
  if (isa >= Isa::kAvx2 && avx2::dequantize_row(t, src, dst, n)) return;
  scalar::dequantize_row(t, src, dst, n);
}

void quantize_row_act(GgmlType act_type, const float* src, void* dst, int64_t n, Isa isa) {
  isa = usable(isa);
  if (isa == Isa::kAvx512 && avx512::quantize_row_act(act_type, src, dst, n)) return;
  if (isa >= Isa::kAvx2 && avx2::quantize_row_act(act_type, src, dst, n)) return;
  scalar::quantize_row_act(act_type, src, dst, n);
}

void quantize_row_ref(GgmlType t, const float* src, void* dst, int64_t n) { scalar::quantize_row_ref(t, src, dst, n); }

float vec_dot(GgmlType w, int64_t n, const void* w_row, const void* act_row, Isa isa) {
  isa = usable(isa);
  float out = 0.0f;
  if (isa == Isa::kAvx512 && avx512::vec_dot(w, n, w_row, act_row, &out)) return out;
  if (isa >= Isa::kAvx2 && avx2::vec_dot(w, n, w_row, act_row, &out)) return out;
  return scalar::vec_dot(w, n, w_row, act_row);
}

void matmul_tile(GgmlType w, int64_t n, const void* w_rows, size_t w_stride, int64_t nrows,
                 const void* act_rows, size_t act_stride, int64_t ncols, float* y, int64_t ldy, Isa isa) {
  if (nrows <= 0 || ncols <= 0) return;
  isa = usable(isa);
  if (isa == Isa::kAvx512 && avx512::matmul_tile(w, n, w_rows, w_stride, nrows, act_rows, act_stride, ncols, y, ldy)) return;
  if (isa >= Isa::kAvx2 && avx2::matmul_tile(w, n, w_rows, w_stride, nrows, act_rows, act_stride, ncols, y, ldy)) return;
  scalar::matmul_tile(w, n, w_rows, w_stride, nrows, act_rows, act_stride, ncols, y, ldy);
}

}  // namespace cyllm::cpu
