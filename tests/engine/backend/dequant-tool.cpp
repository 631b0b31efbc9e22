// cyllm_dequant_tool TYPE_NAME INFILE N OUTFILE [ISA]: reads the raw blocks of N elements of a ggml
// type from INFILE and writes N little-endian float32 values to OUTFILE, using dequantize_row with
// the given ISA (default: scalar, the reference). Used by tests/python/test_quant_oracle.py to check
// our dequantization against the gguf Python package.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string_view>
#include <vector>

#include "backend/quant.h"

int main(int argc, char** argv) {
  using namespace cyllm;
  if (argc != 5 && argc != 6) {
    std::fprintf(stderr, "usage: %s TYPE_NAME INFILE N OUTFILE [scalar|avx2|avx512]\n", argv[0]);
    return 2;
  }
  const TypeTraits* tr = nullptr;
  for (uint32_t id = 0; id < 64 && tr == nullptr; ++id)
    if (const TypeTraits* t = type_traits(id); t != nullptr && t->name == std::string_view(argv[1])) tr = t;
  if (tr == nullptr || !tr->computable) {
    std::fprintf(stderr, "unknown or unsupported type %s\n", argv[1]);
    return 2;
  }
  cpu::Isa isa = cpu::Isa::kScalar;
  if (argc == 6) {
    const std::string_view want(argv[5]);
    bool found = false;
    for (cpu::Isa i : {cpu::Isa::kScalar, cpu::Isa::kAvx2, cpu::Isa::kAvx512})
      if (cpu::isa_name(i) == want) isa = i, found = true;
    if (!found) {
      std::fprintf(stderr, "unknown ISA %s\n", argv[5]);
      return 2;
    }
  }
  const long long n = std::atoll(argv[3]);
  const auto bytes = row_bytes(tr->type, n);
  if (n <= 0 || !bytes) {
    std::fprintf(stderr, "N=%s is not a positive multiple of the block size %lld\n", argv[3], static_cast<long long>(tr->block_size));
    return 2;
  }
  std::ifstream in(argv[2], std::ios::binary);
  std::vector<char> src((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return std::perror("read"), 1;
  if (src.size() != *bytes) {
    std::fprintf(stderr, "%s holds %zu bytes, expected %zu\n", argv[2], src.size(), *bytes);
    return 1;
  }
  std::vector<float> dst(static_cast<size_t>(n));
  cpu::dequantize_row(tr->type, src.data(), dst.data(), n, isa);
  std::ofstream out(argv[4], std::ios::binary);
  out.write(reinterpret_cast<const char*>(dst.data()), static_cast<std::streamsize>(dst.size() * sizeof(float)));
  return out.good() ? 0 : 1;
}
