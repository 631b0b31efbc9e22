// The CPU kernel paths a test can run on this machine: the scalar reference, then AVX2 and
// AVX-512 where the CPU has them (backend/quant.h). Kernels without an AVX2 version run their
// portable code for kAvx2, as for kScalar.
#pragma once

#include <vector>

#include "backend/quant.h"

namespace cyllm::test {

inline std::vector<cpu::Isa> runnable_isas() {
  std::vector<cpu::Isa> v{cpu::Isa::kScalar};
  if (cpu::isa_supported(cpu::Isa::kAvx2)) v.push_back(cpu::Isa::kAvx2);
  if (cpu::isa_supported(cpu::Isa::kAvx512)) v.push_back(cpu::Isa::kAvx512);
  return v;
}

}  // namespace cyllm::test
