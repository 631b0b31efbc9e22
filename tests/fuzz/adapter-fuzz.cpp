// Fuzz target: the PEFT adapter reader — the safetensors parser and adapter_config.json together,
// through to the checks against a base. Input: a u16 little-endian length L, then L bytes of
// adapter_config.json, then the safetensors bytes (seeds: cyllm_adapter_tool fuzz-seed). Any input
// must give an adapter or an Error, never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/adapter-io.h"
#include "model/safetensors.h"
#include "support/tiny-adapter-config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The safetensors parser on the whole input, alone.
  if (auto f = cyllm::SafetensorsFile::parse(data, size, "fuzz"); f.ok())
    for (const auto& t : f->tensors()) (void)cyllm::safetensors_to_f32(t);
  if (size < 2) return 0;
  size_t n = data[0] | (static_cast<size_t>(data[1]) << 8);
  if (n > size - 2) n = size - 2;
  const std::string_view config(reinterpret_cast<const char*>(data + 2), n);
  // The base the seeds were written for (cyllm_adapter_tool's tiny config).
  const cyllm::ModelConfig c = cyllm::test::tiny_adapter_base();
  auto a = cyllm::parse_peft_adapter(config, data + 2 + n, size - 2 - n, c, "fuzz");
  if (a.ok()) (void)cyllm::validate_adapter(a->adapter, c);
  return 0;
}
